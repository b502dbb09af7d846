"""Phone-side failure modes not covered elsewhere: two tabs syncing at once, browser storage
cleared (while the app is closed, and while it is open), the phone's storage full, and the
app killed between the server's acknowledgement and writing it down."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from server.models import Finding, Mutation, Photo, Task, Visit

from .app_driver import installed_app, json_body, login, open_by_code, record_all_fine, rows, until, wait_installed, wait_outbox, wait_rows
from .conftest import jpeg_bytes, new_context
from .storage_js import CLEAR_SITE_STORAGE_JS, FILL_STORAGE_JS, FREE_STORAGE_JS

pytestmark = pytest.mark.browser


def test_two_tabs_syncing_at_once_send_each_record_once(live_server, launch, query):
    browser = launch()
    context = new_context(browser, live_server)
    first = context.new_page()
    first.goto("/")
    login(first)
    wait_installed(first)

    context.set_offline(True)
    record_all_fine(first, "f03")
    record_all_fine(first, "f04")
    second = context.new_page()
    second.goto("/")
    second.wait_for_selector("#nav a")

    sent: list[str] = []
    answers: dict[str, list[str]] = {}
    steals: list[str] = []
    for page in (first, second):
        page.on("console", lambda m: steals.append(m.text) if "taking it" in m.text else None)

    def count_push(route):
        body = json_body(route.request)
        sent.extend(m["mutation_id"] for m in body.get("mutations", []))
        resp = route.fetch()
        for r in resp.json().get("results", []):
            answers.setdefault(r["mutation_id"], []).append(r["status"])
        route.fulfill(response=resp)

    context.route("**/api/sync/push", count_push)
    context.set_offline(False)
    # Both tabs hear "online" at the same moment and both try to sync.
    for page in (first, second):
        page.evaluate("window.dispatchEvent(new Event('online'))")
    for page in (first, second):
        wait_outbox(page, lambda r: len(r) == 2 and all(x["status"] == "sent" for x in r))

    assert query(lambda s: s.scalar(select(func.count()).select_from(Visit))) == 2
    assert query(lambda s: s.scalar(select(func.count()).select_from(Mutation))) == 2
    # Each record applied once; anything sent again was answered "duplicate".
    assert sorted(answers) == sorted(set(sent)) and all(a[0] == "applied" and set(a[1:]) <= {"duplicate"} for a in answers.values()), answers
    # One sync at a time across tabs (navigator.locks): each record went up once, unless the
    # first tab held the lock past LOCK_WAIT_MS and the second took it (sync.js: a page that
    # long is taken for frozen), which only a loaded machine makes happen here.
    if not steals:
        assert sorted(set(sent)) == sorted(sent), f"records sent more than once: {sent}"


def test_storage_cleared_by_the_browser_the_app_recovers_and_the_server_keeps_everything(live_server, launch, query):
    browser = launch()
    context, page = installed_app(browser, live_server)
    record_all_fine(page, "f05")
    wait_outbox(page, lambda r: len(r) == 1 and r[0]["status"] == "sent")
    assert query(lambda s: s.scalar(select(func.count()).select_from(Visit))) == 1

    # The browser evicts all of the site's storage (Safari after 7 days unused, or the
    # user's "clear site data"): IndexedDB, localStorage, caches, the service worker, the cookie.
    page.goto("/static/pwa/manifest.webmanifest")  # leave the app so no tab holds the database open
    page.evaluate(
        """async () => {
            for (const r of await navigator.serviceWorker.getRegistrations()) await r.unregister();
            localStorage.clear(); sessionStorage.clear();
            for (const k of await caches.keys()) await caches.delete(k);
            for (const d of await indexedDB.databases()) {
              await new Promise((ok) => { const r = indexedDB.deleteDatabase(d.name); r.onsuccess = r.onerror = r.onblocked = ok; });
            }
        }"""
    )
    context.clear_cookies()
    # Storage is evicted while the app is not in use: the person comes back to it later.
    page.close()
    page = context.new_page()
    page.goto("/")
    login(page)
    wait_installed(page)  # installed and pulled again from nothing, as on a new phone
    # Logging in on an empty phone may as well be a new phone: what the server has is said,
    # without claiming that the browser cleared anything.
    page.wait_for_selector("#lost-banner")
    text = page.inner_text("#lost-banner")
    assert "服务器已收到你的 1 条记录" in text and "新手机，或浏览器清除过数据" in text and "已被浏览器清除" not in text
    record_all_fine(page, "f06")
    wait_outbox(page, lambda r: len(r) == 1 and r[0]["status"] == "sent")
    assert query(lambda s: s.scalar(select(func.count()).select_from(Visit))) == 2


def test_site_data_cleared_while_the_app_is_open_it_starts_again_at_login_and_pulls_everything(live_server, launch, query):
    browser = launch()
    context, page = installed_app(browser, live_server)
    record_all_fine(page, "f05")
    wait_outbox(page, lambda r: len(r) == 1 and r[0]["status"] == "sent")

    # The person clears the site's data in the browser's settings while the app is open
    # on the home screen: Chromium's own "clear site data", which closes the app's database
    # under it and removes the service worker, caches and cookie.
    cdp = context.new_cdp_session(page)
    cdp.send("Storage.clearDataForOrigin", {"origin": live_server.url, "storageTypes": "all"})
    # The app notices and starts again from what is left (nothing): it asks for the login
    # rather than carrying on with a closed database and a user it no longer has.
    page.wait_for_selector("#login-submit", timeout=20000)
    login(page)
    wait_installed(page)  # installed and pulled again from nothing
    record_all_fine(page, "f06")
    wait_outbox(page, lambda r: len(r) == 1 and r[0]["status"] == "sent")
    assert query(lambda s: s.scalar(select(func.count()).select_from(Visit))) == 2


def test_storage_cleared_from_one_tab_while_the_app_opens_in_another_it_installs_again_and_opens_offline(live_server, launch, query):
    browser = launch()
    context = new_context(browser, live_server)
    first = context.new_page()
    first.goto("/")
    login(first)
    wait_installed(first)

    # The site's storage is cleared from a page that is not the app but is still open, so
    # the browser keeps the unregistered service worker for it; the app is opened again in
    # another tab meanwhile. Registering again revives that worker, which will not install
    # or activate a second time by itself.
    first.goto("/manifest.webmanifest")
    first.evaluate(CLEAR_SITE_STORAGE_JS)
    context.clear_cookies()
    second = context.new_page()
    second.goto("/")
    login(second)
    wait_installed(second)  # controlled, shell cached again, data pulled
    first.close()
    second.close()

    # Installed for real: with no network the app still opens, and records.
    context.set_offline(True)
    page = context.new_page()
    page.goto("/")
    page.wait_for_selector("#nav a")
    record_all_fine(page, "f07")
    assert [r["status"] for r in rows(page, "outbox")] == ["pending"]
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    wait_outbox(page, lambda r: len(r) == 1 and r[0]["status"] == "sent")
    assert query(lambda s: s.scalar(select(func.count()).select_from(Visit))) == 1


def test_storage_full_while_saving_a_visit_says_so_loses_nothing_and_saves_once_there_is_room(live_server, launch, query):
    browser = launch()
    context = new_context(browser, live_server)
    page = context.new_page()
    # A phone with little room: Chromium grants this origin 16 MiB (the app needs about 1).
    cdp = context.new_cdp_session(page)
    cdp.send("Storage.overrideQuotaForOrigin", {"origin": live_server.url, "quotaSize": 16 << 20})
    page.goto("/")
    login(page)
    wait_installed(page)
    context.set_offline(True)
    record_all_fine(page, "f03")
    saved_before = rows(page, "outbox")
    assert [(r["kind"], r["status"], r["device_seq"]) for r in saved_before] == [("visit.record", "pending", 1)]

    item = "floor.fire_escape_clear"
    dom = "floor-fire_escape_clear"
    note = "消防通道堆放杂物 boxes in the fire escape"
    open_by_code(page, "f04")
    page.click(f"button[data-item='{item}'][data-result='fail']")
    page.fill(f"#note-{dom}", note)

    # The phone runs out of space while the form is open.
    assert page.evaluate(FILL_STORAGE_JS) == "QuotaExceededError"
    photo = [{"name": "a.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes()}]
    page.set_input_files(f"#photo-{dom}", files=photo)
    page.wait_for_selector("#save-notice:has-text('手机存储空间已满，照片没有保存')")
    assert page.locator(f"#item-{dom} .thumbs img").count() == 0
    page.click("#save-visit")
    page.wait_for_selector("#save-notice:has-text('手机存储空间已满，这条记录还没有保存')")
    # In English too, the other half of the one translation table.
    page.click("#bar button.lang")
    page.wait_for_selector(f"#note-{dom}")
    assert page.input_value(f"#note-{dom}") == note  # the form is still there, as typed
    page.click("#save-visit")
    page.wait_for_selector("#save-notice:has-text(\"The phone's storage is full: this record is NOT saved yet\")")

    # Nothing saved before was lost or changed, and nothing half-saved was added.
    assert rows(page, "outbox") == saved_before
    assert rows(page, "photos") == []

    # Space is freed (the person deletes videos): the photo and the visit save.
    page.evaluate(FREE_STORAGE_JS)
    page.set_input_files(f"#photo-{dom}", files=photo)
    page.wait_for_selector(f"#item-{dom} .thumbs img")
    assert page.inner_text("#save-notice") == ""
    page.click("#save-visit")
    page.wait_for_selector(".screen-home")
    outbox = rows(page, "outbox")
    assert outbox[0] == saved_before[0]
    # The refused tries took no sequence number: the server will see no gap.
    assert [(r["kind"], r["status"], r["device_seq"]) for r in outbox] == [("visit.record", "pending", 1), ("visit.record", "pending", 2)]

    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    wait_outbox(page, lambda r: len(r) == 2 and all(x["status"] == "sent" for x in r))
    wait_rows(page, "photos", lambda r: len(r) == 1 and r[0]["status"] == "uploaded")
    assert query(lambda s: s.scalar(select(func.count()).select_from(Visit))) == 2
    assert query(lambda s: [f.description for f in s.scalars(select(Finding))]) == [note]
    assert query(lambda s: [p.status for p in s.scalars(select(Photo))]) == ["received"]
    assert query(lambda s: sorted(m.seq for m in s.scalars(select(Mutation)))) == [1, 2]


def _hold_after_server_answers(context, pattern: str, held: list) -> None:
    """Let the request reach the server (which commits and answers), then hold the answer:
    the app is still waiting for it when the test kills it."""

    def hold(route):
        resp = route.fetch()
        held.append({"url": route.request.url, "status": resp.status, "body": resp.json() if "json" in resp.headers.get("content-type", "") else None})

    context.route(pattern, hold)


def test_app_killed_after_the_server_acknowledged_resends_gets_duplicate_and_ends_clean(live_server, launch, query):
    browser = launch()
    context, page = installed_app(browser, live_server)
    # Two visits recorded offline, one with a problem and its photo.
    context.set_offline(True)
    record_all_fine(page, "f03")
    open_by_code(page, "f04")
    page.click("button[data-item='floor.fire_escape_clear'][data-result='fail']")
    page.fill("#note-floor-fire_escape_clear", "消防通道堆放杂物")
    page.set_input_files("#photo-floor-fire_escape_clear", files=[{"name": "a.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes()}])
    page.wait_for_selector("#item-floor-fire_escape_clear .thumbs img")
    page.click("#save-visit")
    page.wait_for_selector(".screen-home")
    recorded = [r["mutation_id"] for r in rows(page, "outbox")]
    assert len(recorded) == 2

    # Back online, the push reaches the server, which stores both records and answers; the
    # app is killed before it can write the answer down.
    pushes: list = []
    _hold_after_server_answers(context, "**/api/sync/push", pushes)
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    until(page, lambda: pushes, "the push answered")
    page.close()
    assert [r["status"] for r in pushes[0]["body"]["results"]] == ["applied", "applied"]
    assert query(lambda s: s.scalar(select(func.count()).select_from(Visit))) == 2
    context.unroute("**/api/sync/push")

    # Started again: the records are still pending. With a photo to upload, the app first
    # asks what the server already holds (POST /api/sync/held): both records, so they are
    # marked as a `duplicate` answer would and not pushed again. This time the photo upload
    # is the one answered and then killed.
    answers: list = []
    questions: list = []

    def observe(route):
        resp = route.fetch()
        (questions if route.request.url.endswith("/held") else answers).append(resp.json())
        route.fulfill(response=resp)

    context.route("**/api/sync/push", observe)
    context.route("**/api/sync/held", observe)
    uploads: list = []
    _hold_after_server_answers(context, "**/api/photos/*", uploads)
    page = context.new_page()
    page.goto("/")
    until(page, lambda: uploads, "the photo upload answered")
    page.close()
    assert [[(h["mutation_id"], h["status"]) for h in q["held"]] for q in questions] == [[(m, "applied") for m in recorded]]
    assert answers == []
    assert uploads[0]["status"] == 201
    context.unroute("**/api/photos/*")

    # Started once more: the server holds the photo with that SHA-256, so the app marks it
    # uploaded without sending its bytes again, and everything is clean.
    puts: list = []
    context.route("**/api/photos/*", lambda route: (puts.append(route.request.method), route.continue_()))
    page = context.new_page()
    page.goto("/")
    wait_outbox(page, lambda r: len(r) == 2 and all(x["status"] == "sent" for x in r))
    wait_rows(page, "photos", lambda r: len(r) == 1 and r[0]["status"] == "uploaded")
    page.wait_for_function("() => document.querySelector('#unsent').textContent.endsWith(' 0')")
    assert "PUT" not in puts and questions[-1]["photo_ids"] == [rows(page, "photos")[0]["id"]]
    assert [r["mutation_id"] for r in rows(page, "outbox")] == recorded

    def stored(s):
        return {
            "visits": s.scalar(select(func.count()).select_from(Visit)),
            "findings": s.scalar(select(func.count()).select_from(Finding)),
            "tasks": s.scalar(select(func.count()).select_from(Task)),
            "mutations": s.scalar(select(func.count()).select_from(Mutation)),
            "photos": [p.status for p in s.scalars(select(Photo))],
        }

    assert query(stored) == {"visits": 2, "findings": 1, "tasks": 1, "mutations": 2, "photos": ["received"]}
