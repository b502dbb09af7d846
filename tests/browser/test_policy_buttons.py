"""Buttons follow the server's policy table (served at /api/meta, kept on the phone), not copied role lists."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from server.models import Checkpoint

from .app_driver import installed_app, login, wait_count
from .conftest import api_session, new_context

pytestmark = pytest.mark.browser


def report(server, query, code: str, item_id: str, description: str) -> int:
    """A finding reported by the demo patroller through the API; returns its task's id."""
    checkpoint_id = query(lambda s: s.execute(select(Checkpoint.id).where(Checkpoint.short_code == code)).scalar_one())
    patroller = api_session(server, "patroller")
    r = patroller.post(f"{server.url}/api/findings/", json={"checkpoint_id": checkpoint_id, "item_id": item_id, "description": description})
    assert r.status_code == 201, r.text
    return r.json()["task_id"]


def serve_policy(context, change) -> None:
    """Answer /api/meta with the server's own table after `change(actions)` edits it."""

    def handle(route):
        meta = route.fetch().json()
        change(meta["policy"]["actions"])
        route.fulfill(status=200, content_type="application/json", body=json.dumps(meta))

    context.route("**/api/meta", handle)


def test_a_policy_change_hides_and_shows_the_desk_buttons_it_governs(live_server, launch, query):
    task_id = report(live_server, query, "F03", "floor.clean", "楼道有积水 water on the floor")
    context = new_context(launch(), live_server)
    page = context.new_page()
    page.goto("/")
    login(page, "supervisor")
    page.goto(f"/#/manage/tasks/{task_id}")
    expect(page.locator("#assign-submit")).to_be_visible()
    expect(page.locator("#cancel-submit")).to_be_attached()
    expect(page.locator("#nav a[href='#/manage']")).to_be_visible()

    # The table now says only managers assign, and nobody opens the desk: the supervisor's
    # assign card and desk link go; routing and cancelling, still theirs, stay.
    def no_supervisor(actions):
        actions["task.assign"]["roles"] = ["manager"]
        actions["desk.open"]["roles"] = ["manager", "admin"]

    serve_policy(context, no_supervisor)
    page.reload()
    expect(page.locator("#assign-submit")).to_have_count(0)
    expect(page.locator("#nav a[href='#/manage']")).to_have_count(0)
    expect(page.locator("#route-confirm")).to_be_visible()
    expect(page.locator("#cancel-submit")).to_be_attached()

    # The server's own table again: they come back.
    context.unroute("**/api/meta")
    page.reload()
    expect(page.locator("#assign-submit")).to_be_visible()
    expect(page.locator("#nav a[href='#/manage']")).to_be_visible()
    context.close()


def test_the_assignees_buttons_follow_the_relation_in_the_table_and_the_phone_keeps_the_table_offline(live_server, launch, query):
    task_id = report(live_server, query, "F04", "floor.lights_doors_windows", "走廊灯坏了 corridor light out")
    supervisor = api_session(live_server, "supervisor")
    patroller_id = api_session(live_server, "patroller").me["id"]
    r = supervisor.post(f"{live_server.url}/api/tasks/{task_id}/assign", json={"assignee_id": patroller_id})
    assert r.status_code == 200, r.text

    context, page = installed_app(launch(), live_server)
    wait_count(page, "tasks", lambda n: n >= 1)
    page.goto(f"/#/tasks/{task_id}")
    expect(page.locator("#task-start")).to_be_visible()  # the assignee starts the work
    page.goto("/#/tasks")
    expect(page.locator(f"a[data-task='{task_id}']")).to_be_visible()

    # Starting work is no longer the assignee's (only supervisors and managers, by role).
    def not_by_relation(actions):
        actions["task.start"]["relations"] = []

    serve_policy(context, not_by_relation)
    page.reload()
    expect(page.locator(f"a[data-task='{task_id}']")).to_have_count(0)
    page.goto(f"/#/tasks/{task_id}")
    expect(page.locator("#task-state")).to_be_visible()
    expect(page.locator("#task-start")).to_have_count(0)

    # Offline, the phone goes by the table it was last given, even though the server's differs.
    context.unroute("**/api/meta")
    context.set_offline(True)
    page.reload()
    expect(page.locator("#task-state")).to_be_visible()
    expect(page.locator("#task-start")).to_have_count(0)

    # Back online, the next start brings the server's table, and the button.
    context.set_offline(False)
    page.reload()
    expect(page.locator("#task-start")).to_be_visible()
    context.close()
