"""The server killed in the middle of a sync, and a new app version under an open form."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from server.models import Finding, Photo, Task, Visit

from server.i18n import table

from .app_driver import installed_app, open_by_code, rows, shot, until, wait_outbox
from .conftest import jpeg_bytes

pytestmark = pytest.mark.browser


def test_server_killed_after_committing_a_push_still_syncs_exactly_once(live_server, launch, query):
    browser = launch()
    context, page = installed_app(browser, live_server)
    page.close()

    context.set_offline(True)
    page = context.new_page()
    page.goto("/")
    page.wait_for_selector("#nav a")
    open_by_code(page, "f05")
    page.click("button[data-item='floor.fire_escape_clear'][data-result='fail']")
    page.fill("#note-floor-fire_escape_clear", "消防通道堆放杂物")
    page.set_input_files("#photo-floor-fire_escape_clear", files=[{"name": "a.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes()}])
    page.wait_for_selector("#item-floor-fire_escape_clear .thumbs img")
    page.click("#save-visit")
    page.wait_for_selector(".screen-home")

    # The push reaches the server and commits; the server then dies before the phone
    # hears the answer (a response lost after commit).
    state = {"killed": 0}

    def kill_after_commit(route):
        if state["killed"]:
            route.continue_()
            return
        resp = route.fetch()
        if resp.status != 200:
            route.fulfill(response=resp)
            return
        state["killed"] += 1
        live_server.kill()
        route.abort("connectionreset")

    context.route("**/api/sync/push", kill_after_commit)
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    until(page, lambda: state["killed"], "the push reached the server", timeout=20)
    assert state["killed"] == 1
    assert rows(page, "outbox")[0]["status"] == "pending"  # the phone never heard: it keeps it
    assert query(lambda s: s.scalar(select(func.count()).select_from(Visit))) == 1

    live_server.start()
    page.click("#sync-now")
    out = wait_outbox(page, lambda r: r and all(x["status"] == "sent" for x in r))
    assert out[0]["result"]["visit_id"] == out[0]["payload"]["visit_id"]
    page.wait_for_function("() => document.querySelector('#unsent').textContent.endsWith(' 0')", timeout=20000)

    def counts(s):
        return [s.scalar(select(func.count()).select_from(m)) for m in (Visit, Finding, Task)] + [
            s.scalar(select(func.count()).select_from(Photo).where(Photo.status == "received"))
        ]

    assert query(counts) == [1, 1, 1, 1]


def test_new_version_while_a_form_is_open_loses_nothing(live_server, launch, query):
    browser = launch()
    context, page = installed_app(browser, live_server)
    old = page.evaluate("caches.keys()")
    open_by_code(page, "EL1")
    page.click("button[data-item='elevator_car.clean'][data-result='fail']")
    page.fill("#note-elevator_car-clean", "轿厢地面有污渍")
    page.fill("#resident-note", "住户说空调很吵")

    # A new version is deployed while the form is open.
    live_server.restart(PWA_VERSION="v-next")
    page.evaluate("navigator.serviceWorker.getRegistration().then((r) => r.update())")
    page.wait_for_selector("#update-reload", timeout=20000)
    shot(page, "update_banner")
    page.click("#update-reload")
    # The form stays: the app answers that the update waits until the form is closed.
    page.wait_for_selector("#toast.show")
    assert page.inner_text("#toast") in table()["update_after_form"]
    assert page.input_value("#note-elevator_car-clean") == "轿厢地面有污渍"
    assert page.locator(".screen-checkpoint").count() == 1

    # Even a reload under the form (the OS killed the tab) keeps what was typed.
    page.reload()
    page.wait_for_selector("#note-elevator_car-clean")
    assert page.input_value("#note-elevator_car-clean") == "轿厢地面有污渍"
    assert page.input_value("#resident-note") == "住户说空调很吵"

    page.click("#save-visit")
    # Leaving the form lets the new version take over (one reload, on a screen without a form).
    page.wait_for_function("() => caches.keys().then((k) => k.includes('patrol-shell-v-next'))", timeout=20000)
    page.wait_for_function("() => caches.keys().then((k) => k.length && !k.some((x) => x.startsWith('patrol-shell-') && x !== 'patrol-shell-v-next'))", timeout=20000)
    page.wait_for_selector("#nav a")
    out = wait_outbox(page, lambda r: r and all(x["status"] == "sent" for x in r))
    visit = out[0]["payload"]
    assert visit["resident_note"] == "住户说空调很吵"
    assert [r["finding"]["description"] for r in visit["results"] if r["result"] == "fail"] == ["轿厢地面有污渍"]
    assert query(lambda s: s.scalar(select(func.count()).select_from(Finding))) == 1
    assert old != page.evaluate("caches.keys()")
