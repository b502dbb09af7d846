"""Phone-side failure modes not covered elsewhere: two tabs syncing at once, browser storage
cleared (while the app is closed, and while it is open)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from server.models import Mutation, Visit

from .app_driver import login, record_all_fine, rows, wait_installed, wait_outbox
from .conftest import new_context

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

    def count_push(route):
        body = json.loads(route.request.post_data or "{}")
        sent.extend(m["mutation_id"] for m in body.get("mutations", []))
        route.continue_()

    context.route("**/api/sync/push", count_push)
    context.set_offline(False)
    # Both tabs hear "online" at the same moment and both try to sync.
    for page in (first, second):
        page.evaluate("window.dispatchEvent(new Event('online'))")
    for page in (first, second):
        wait_outbox(page, lambda r: len(r) == 2 and all(x["status"] == "sent" for x in r))

    assert query(lambda s: s.scalar(select(func.count()).select_from(Visit))) == 2
    assert query(lambda s: s.scalar(select(func.count()).select_from(Mutation))) == 2
    # One sync at a time across tabs (navigator.locks): each record went up once.
    assert sorted(set(sent)) == sorted(sent), f"records sent more than once: {sent}"


def test_storage_cleared_by_the_browser_the_app_recovers_and_the_server_keeps_everything(live_server, launch, query):
    browser = launch()
    context = new_context(browser, live_server)
    page = context.new_page()
    page.goto("/")
    login(page)
    wait_installed(page)
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
    record_all_fine(page, "f06")
    wait_outbox(page, lambda r: len(r) == 1 and r[0]["status"] == "sent")
    assert query(lambda s: s.scalar(select(func.count()).select_from(Visit))) == 2


def test_site_data_cleared_while_the_app_is_open_it_starts_again_at_login_and_pulls_everything(live_server, launch, query):
    browser = launch()
    context = new_context(browser, live_server)
    page = context.new_page()
    page.goto("/")
    login(page)
    wait_installed(page)
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


CLEAR_SITE_STORAGE_JS = """async () => {
    for (const r of await navigator.serviceWorker.getRegistrations()) await r.unregister();
    localStorage.clear(); sessionStorage.clear();
    for (const k of await caches.keys()) await caches.delete(k);
    for (const d of await indexedDB.databases()) {
      await new Promise((ok) => { const r = indexedDB.deleteDatabase(d.name); r.onsuccess = r.onerror = r.onblocked = ok; });
    }
}"""


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
