"""A shared shift phone: one person logs out, the next logs in; records stay their author's."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from server.models import User, Visit

from .app_driver import installed_app, login, record_all_fine, rows, shot, wait_outbox

pytestmark = pytest.mark.browser


def visits_by(query) -> dict:
    """{username: number of visits the server holds}."""
    return dict(query(lambda s: s.execute(select(User.username, func.count(Visit.id)).join(Visit, Visit.user_id == User.id).group_by(User.username)).all()))


def test_records_saved_offline_wait_for_their_author_and_go_once(live_server, launch, query):
    browser = launch()
    context, page = installed_app(browser, live_server, "patroller")
    me_a = page.evaluate("async () => (await import('/static/pwa/store.js')).get().me.id")

    # A records two checkpoints offline, then logs out (still offline): the app warns first.
    context.set_offline(True)
    record_all_fine(page, "F08")
    record_all_fine(page, "F09")
    shot(page, "shared_phone_bar_zh")
    warnings = []

    def answer(dialog):
        warnings.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    page.click("#logout")
    page.wait_for_selector("#login-submit")
    assert warnings and "2 条记录" in warnings[0]
    # The login screen does not offer A's name to the next person.
    assert page.input_value("#username") == ""
    out = rows(page, "outbox")
    assert [(r["status"], r["user_id"]) for r in out if r["kind"] == "visit.record"] == [("pending", me_a)] * 2

    # B logs in on the same phone, online, and syncs: A's records are not B's to send.
    context.set_offline(False)
    login(page, "supervisor")
    me_b = page.evaluate("async () => (await import('/static/pwa/store.js')).get().me.id")
    assert me_b != me_a
    assert page.inner_text("#unsent").strip().endswith("0")
    page.goto("/#/outbox")
    page.click("#sync-now")
    page.wait_for_function("async () => !(await import('/static/pwa/store.js')).get().syncing && !!localStorage.getItem('patrol.last_sync')")
    # B's own record goes; A's stay on the phone, pending, in A's name.
    record_all_fine(page, "F10")
    out = wait_outbox(page, lambda r: any(x["user_id"] == me_b and x["status"] == "sent" and x["kind"] == "visit.record" for x in r))
    assert sorted(x["status"] for x in out if x["user_id"] == me_a and x["kind"] == "visit.record") == ["pending", "pending"]
    assert visits_by(query) == {"supervisor": 1}

    # B logs out (nothing of B's unsent: no warning); A logs in again and A's records go, once.
    warnings.clear()
    page.click("#logout")
    page.wait_for_selector("#login-submit")
    assert warnings == []
    login(page, "patroller")
    wait_outbox(page, lambda r: all(x["status"] == "sent" for x in r))
    assert visits_by(query) == {"supervisor": 1, "patroller": 2}
    page.goto("/#/outbox")
    page.click("#sync-now")
    page.wait_for_function("async () => !(await import('/static/pwa/store.js')).get().syncing")
    assert visits_by(query) == {"supervisor": 1, "patroller": 2}


def test_logged_out_phone_does_not_take_the_server_session_back(live_server, launch):
    """Logging out offline leaves the server's cookie; reopening the app still asks who is there."""
    browser = launch()
    context, page = installed_app(browser, live_server, "patroller")
    context.set_offline(True)
    page.click("#logout")
    page.wait_for_selector("#login-submit")
    context.set_offline(False)
    page.goto("/")
    page.reload()
    page.wait_for_selector("#login-submit")
    page.wait_for_timeout(500)
    assert page.locator("#nav a").count() == 0
