"""Live task screens: what a sync changes shows on the screen that is open, with no navigation."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from server.models import Checkpoint, Task

from .app_driver import installed_app, open_by_code, rows, shot, until, wait_outbox, wait_ready
from .conftest import api_session

pytestmark = pytest.mark.browser

SYNC = "async () => { await (await import('/static/pwa/sync.js')).syncNow(); }"


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def my_task(page, live_server) -> tuple[int, object]:
    """The patroller reports a broken light at F07 and the supervisor assigns its task back to
    them; the phone has synced. Returns (task id, the supervisor's API session)."""
    open_by_code(page, "F07")
    page.click("button[data-item='floor.lights_doors_windows'][data-result='fail']")
    page.fill("#note-floor-lights_doors_windows", "7楼走廊灯不亮")
    page.click("#save-visit")
    out = wait_outbox(page, lambda r: r and all(x["status"] == "sent" for x in r))
    task_id = out[0]["result"]["task_ids"][0]
    supervisor = api_session(live_server, "supervisor")
    me = page.evaluate("async () => (await import('/static/pwa/store.js')).get().me.id")
    r = supervisor.post(f"{live_server.url}/api/tasks/{task_id}/assign", json={"assignee_id": me})
    assert r.status_code == 200, r.text
    page.evaluate(SYNC)
    return task_id, supervisor


def my_task_open(page, live_server) -> tuple[int, object]:
    """`my_task`, then its page on the phone, offering "start"."""
    task_id, supervisor = my_task(page, live_server)
    page.goto("/#/tasks")
    page.click(f"a[data-task='{task_id}']")
    page.wait_for_selector("#task-start")
    return task_id, supervisor


def test_task_page_follows_the_server_from_in_progress_to_awaiting_verification_to_verified(live_server, launch, query):
    browser = launch()
    context, page = installed_app(browser, live_server)

    # The patroller reports a broken light at F07; the supervisor assigns the task back to them.
    task_id, supervisor = my_task_open(page, live_server)

    # From here on the page is never left: a marker on the window and the address stay.
    page.evaluate("() => { window.__stayed = true; }")
    url = page.url

    page.click("#task-start")
    page.wait_for_selector("#task-done")
    page.click("#task-done")
    # Sent and pulled by the sync the save starts: the page says 待验收 (done) and offers verifying.
    page.wait_for_selector("#task-state [data-state='done']")
    page.wait_for_selector("#task-verify", timeout=20000)
    assert page.locator("#task-pending").count() == 0
    shot(page, "task_live_awaiting_verification")
    assert query(lambda s: s.get(Task, task_id).state) == "done"

    # The supervisor verifies it on site from their own phone; this phone's next sync shows it.
    f07 = query(lambda s: s.execute(select(Checkpoint.id).where(Checkpoint.short_code == "F07")).scalar_one())
    when = now_iso()
    body = {
        "device_id": str(uuid.uuid4()), "device_time": when, "app_version": "test",
        "mutations": [{
            "mutation_id": str(uuid.uuid4()), "seq": 1, "kind": "task.verify", "observed_at": when,
            "payload": {
                "verification_id": str(uuid.uuid4()), "task_id": task_id,
                "visit": {"visit_id": str(uuid.uuid4()), "checkpoint_id": f07, "scanned_at": when, "scan_method": "qr"},
                "result": "pass", "note": "灯已换", "after_photo_ids": [str(uuid.uuid4())],
                "signatures": {"verifier": str(uuid.uuid4())},
            },
        }],
    }
    r = supervisor.post(f"{live_server.url}/api/sync/push", json=body)
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "applied", r.text
    assert page.locator("#task-state [data-state='done']").count() == 1
    page.evaluate(SYNC)  # what the app does on its timer or when it comes back to the front
    page.wait_for_selector("#task-state [data-state='verified']", timeout=20000)
    assert page.locator("#task-verify").count() == 0
    assert page.locator("#task-done, #task-start").count() == 0
    assert page.evaluate("() => window.__stayed === true") and page.url == url
    shot(page, "task_live_verified")

    # 我的任务 no longer lists it.
    page.goto("/#/tasks")
    page.wait_for_selector("#task-list")
    assert page.locator(f"a[data-task='{task_id}']").count() == 0


def test_my_tasks_drop_a_task_verified_on_this_phone_before_it_is_sent(live_server, launch, query):
    """A pending verification (pass) moves the task out of 我的任务 at once, online or not."""
    browser = launch()
    context, page = installed_app(browser, live_server)
    task_id, _ = my_task(page, live_server)
    page.goto("/#/tasks")
    page.wait_for_selector(f"a[data-task='{task_id}']")
    context.set_offline(True)
    page.evaluate(
        """async (id) => {
          const db = await import('/static/pwa/db.js');
          for (const to of ['in_progress', 'done']) await db.enqueue('task.transition', { task_id: id, to });
          await db.enqueue('task.verify', { task_id: id, result: 'pass' });
          (await import('/static/pwa/sync.js')).refreshCounts();
        }""",
        task_id,
    )
    # The list redraws where it is (no navigation) and no longer offers the task.
    page.wait_for_function(f"() => !document.querySelector(\"a[data-task='{task_id}']\")")


def test_a_move_sent_shows_on_the_task_page_until_the_pull_brings_the_server_copy(live_server, launch, query):
    """The push answered the move, the pull has not come (held back, then failing): the task
    page, drawn anew, shows the move made and offers the next one, never the state before it."""
    browser = launch()
    context, page = installed_app(browser, live_server)
    task_id, _ = my_task_open(page, live_server)

    # Every pull from here on is held back unanswered, and later fails.
    pulls = {"fail": False, "held": []}

    def pull(route):
        if pulls["fail"]:
            route.abort("connectionreset")
        else:
            pulls["held"].append(route)

    context.route("**/api/sync/pull*", pull)
    page.click("#task-start")
    wait_outbox(page, lambda r: len(r) == 2 and r[1]["kind"] == "task.transition" and r[1]["status"] == "sent")
    until(page, lambda: pulls["held"], "the sync after the push asked for a pull")
    assert query(lambda s: s.get(Task, task_id).state) == "in_progress"

    def reopen():
        page.goto("/#/tasks")
        page.click(f"a[data-task='{task_id}']")
        wait_ready(page, "task")

    # Sent, the server's copy not pulled: the page opened anew shows it in progress and offers "done".
    reopen()
    page.wait_for_selector("#task-state [data-state='in_progress']")
    assert page.locator("#task-start").count() == 0
    assert page.locator("#task-pending").count() == 0  # sent: nothing waits on the phone
    page.wait_for_selector("#task-done")

    # The pull fails (the connection lost after the push): the page stays where the move put it,
    # and "done" tapped now is queued and sent.
    pulls["fail"] = True
    for route in pulls["held"]:
        route.abort("connectionreset")
    page.click("#task-done")
    wait_outbox(page, lambda r: len(r) == 3 and r[2]["payload"]["to"] == "done" and r[2]["status"] == "sent")
    assert query(lambda s: s.get(Task, task_id).state) == "done"
    reopen()
    page.wait_for_selector("#task-state [data-state='done']")
    assert page.locator("#task-start, #task-done, #task-pending").count() == 0
    page.wait_for_selector("#task-verify")  # the server has seen it done
    shot(page, "task_sent_not_pulled")

    # The pull comes back: the server's copy says the same.
    context.unroute("**/api/sync/pull*")
    page.evaluate(SYNC)
    until(page, "async () => !(await import('/static/pwa/store.js')).get().syncError", "a sync with its pull")
    page.wait_for_selector("#task-state [data-state='done']")
    assert [x["status"] for x in rows(page, "outbox")] == ["sent"] * 3


def test_a_move_the_server_rejects_leaves_the_task_as_the_server_has_it(live_server, launch, query):
    """A supervisor cancelled the task before the patroller's "start" reached the server: the move
    is set aside with its reason, and the task page shows the server's state, not the move."""
    browser = launch()
    context, page = installed_app(browser, live_server)
    task_id, supervisor = my_task_open(page, live_server)
    r = supervisor.post(f"{live_server.url}/api/tasks/{task_id}/cancel", json={"reason": "重复报修"})
    assert r.status_code == 200, r.text

    held = []
    context.route("**/api/sync/pull*", lambda route: held.append(route))
    page.click("#task-start")
    out = wait_outbox(page, lambda r: len(r) == 2 and r[1]["status"] == "rejected")
    assert out[1]["code"]
    until(page, lambda: held, "the sync after the push asked for a pull")
    # Before the pull: the phone's copy as the server last gave it (the move is not on it).
    page.goto("/#/tasks")
    page.click(f"a[data-task='{task_id}']")
    wait_ready(page, "task")
    page.wait_for_selector("#task-state [data-state='assigned']")
    assert page.locator("#task-pending, #task-done").count() == 0

    # The pull brings the cancellation: the page says so, with no move to make, and the bar
    # asks for attention to the move set aside.
    for route in held:
        route.continue_()
    context.unroute("**/api/sync/pull*")
    page.wait_for_selector("#task-state [data-state='cancelled']", timeout=20000)
    assert page.locator("#task-start, #task-done, #task-verify").count() == 0
    page.wait_for_selector("#unsent.attention")
    # The outbox says why in the reader's words, with both states (the rejection's details kept).
    assert out[1]["details"] == {"state": "cancelled", "to": "in_progress", "vocabulary": "task_states"}
    page.goto("/#/outbox")
    row = page.locator(f"#outbox-refused .out-row[data-seq='{out[1]['seq']}'], .out-row[data-seq='{out[1]['seq']}']").first
    expect(row).to_contain_text("原因：“已取消”的任务不能改为“处理中”。")


def test_the_next_move_does_not_jump_when_the_one_before_is_sent(live_server, launch, query):
    """A move made offline says "not sent yet"; when it is sent that hint goes, and the buttons
    must not move under the patroller's finger (a tap on "done" landed on no button in WebKit)."""
    browser = launch()
    context, page = installed_app(browser, live_server)
    task_id, _ = my_task_open(page, live_server)

    context.set_offline(True)
    page.click("#task-start")
    page.wait_for_selector("#task-pending")
    page.wait_for_selector("#task-done")
    before = page.locator("#task-done").bounding_box()
    context.set_offline(False)
    page.evaluate(SYNC)
    wait_outbox(page, lambda r: len(r) == 2 and r[1]["status"] == "sent")
    page.wait_for_selector("#task-pending", state="detached")
    page.wait_for_selector("#task-done")
    after = page.locator("#task-done").bounding_box()
    assert after is not None and abs(after["y"] - before["y"]) < 1, (before, after)
    assert query(lambda s: s.get(Task, task_id).state) == "in_progress"
