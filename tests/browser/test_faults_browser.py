"""Phone-side failure modes not covered elsewhere: two tabs syncing at once, browser storage cleared."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from server.models import Mutation, Visit

from .app_driver import login, record_all_fine, wait_installed, wait_outbox
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


@pytest.mark.quarantine(
    reason="Known bug: after the browser clears all site storage and the person logs in again, the "
    "re-pull sometimes leaves the checkpoints store empty for more than 20 s when the machine is "
    "loaded (full suite on 2 cores); it passes run alone. To be fixed in the app's sync start-up."
)
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
