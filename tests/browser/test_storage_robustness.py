"""Faults WebKit revealed (issue 12), and the app's defence against any stuck storage request.

- The hang after the camera: WebKit puts the page being left into its back-forward cache
  (pagehide with persisted=true) and freezes its scripts there. A read-write IndexedDB
  transaction that page had in flight (the scan screen's new visit draft, written when a
  code is opened) then never finishes, and every later read-write transaction on the same
  stores, in the next page, waits behind it for ever: "加载中…" until the browser restarts.
  The camera's frame decoding only makes it likelier that a write is in flight at that
  moment. The test leaves the scan screen, camera on (WebKit's mock camera), right after
  opening a code, by loading a label's URL, as the phone's camera app does.
- A stuck storage request: a transaction held open on purpose; the app's deadline aborts it,
  reconnects, says so, and nothing saved is lost.
- The false "new version" banner on a first install (WebKit): never offered without a
  waiting worker that installed while another one controlled the page.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from server.models import Checkpoint, Mutation, Visit

from .app_driver import install, open_by_code, record_all_fine, rows, shot, wait_installed, wait_outbox
from .storage_js import EVICT_JS, NOT_THE_APP

pytestmark = pytest.mark.browser

# Leaving the page while its IndexedDB writes may be in flight, every time.
LEAVES = 15

# A transaction on the app's own connection that never ends by itself: each answer asks again.
HOLD_TRANSACTION_JS = """async () => {
  const db = await import('/static/pwa/db.js');
  const tx = (await db.db()).transaction(['outbox', 'meta', 'photos', 'drafts'], 'readwrite');
  const meta = tx.objectStore('meta');
  window.heldUntil = null;
  const spin = () => meta.get('seq').then(() => (window.heldUntil ? undefined : spin()));
  window.held = spin().then(() => 'released', (e) => e.name);
  return true;
}"""


def _visits(query) -> int:
    return query(lambda s: s.scalar(select(func.count()).select_from(Visit)))


@pytest.mark.parametrize("engine", ["webkit"], indirect=True)
def test_leaving_the_scan_screen_mid_save_never_hangs_the_next_page(engine, phone, query):
    tokens = query(lambda s: [t for (t,) in s.execute(select(Checkpoint.token).order_by(Checkpoint.id))])
    device = phone()  # WebKit with its mock camera
    page = install(device)
    cached = 0
    for n in range(LEAVES):
        page.goto("/#/scan")
        page.wait_for_function("() => { const v = document.querySelector('video.camera'); return v && v.readyState >= 2; }")
        page.evaluate("() => addEventListener('pagehide', (e) => { if (e.persisted) localStorage.setItem('bfcached', String(1 + Number(localStorage.getItem('bfcached') || 0))); })")
        page.fill("#code", ["F01", "F02", "F03", "F04", "F05"][n % 5])
        page.click("#code-open")  # a new visit draft is being written…
        page.goto(f"/c/{tokens[(n + 7) % len(tokens)]}")  # …when a label's URL opens
        try:
            page.wait_for_selector("#all-fine", timeout=20000)
        except TimeoutError:
            shot(page, "webkit_hang")
            raise AssertionError(f"leave {n + 1}: the next page hangs on {page.evaluate('() => document.querySelector(`#app`).innerText')!r}")
        cached = int(page.evaluate("() => localStorage.getItem('bfcached') || 0"))
    # The condition was real: WebKit did keep left pages in its back-forward cache.
    assert cached > 0
    page.click("#all-fine")
    page.wait_for_selector(".screen-home")
    wait_outbox(page, lambda r: len(r) == 1 and r[0]["status"] == "sent")
    assert _visits(query) == 1


def test_a_transaction_held_open_is_aborted_the_app_reconnects_says_so_and_loses_nothing(engine, phone, query):
    device = phone()
    page = install(device)
    device.set_offline(True)
    record_all_fine(page, "F02")
    saved = rows(page, "outbox")
    open_by_code(page, "F03")

    # Something holds the outbox and drafts open and never lets go.
    assert page.evaluate(HOLD_TRANSACTION_JS) is True
    page.click("#all-fine")
    # The save waits, then the deadline passes: the app aborts, reconnects and says so.
    page.wait_for_selector("#storage-banner", timeout=30000)
    shot(page, f"{engine}_storage_recovered")
    assert "已重新连接" in page.inner_text("#storage-banner")
    # The holder's transaction was ended by the app (its next request finds it aborted:
    # Chromium and Firefox say AbortError, WebKit may say TransactionInactiveError first).
    assert page.evaluate("() => window.held") in ("AbortError", "TransactionInactiveError")
    page.wait_for_function("() => document.querySelector('#save-notice').textContent !== ''")
    assert page.evaluate("() => document.querySelectorAll('.screen-checkpoint').length") == 1  # the form is still there

    # Tapping again works at once, on a new connection; what was saved before is untouched.
    page.click("#storage-banner-ok")
    page.click("#all-fine")
    page.wait_for_selector(".screen-home")
    outbox = rows(page, "outbox")
    assert outbox[0] == saved[0]
    assert [(r["status"], r["device_seq"]) for r in outbox] == [("pending", 1), ("pending", 2)]
    device.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    wait_outbox(page, lambda r: len(r) == 2 and all(x["status"] == "sent" for x in r))
    assert _visits(query) == 2
    assert query(lambda s: sorted(m.seq for m in s.scalars(select(Mutation)))) == [1, 2]


@pytest.mark.parametrize("engine", ["chromium"], indirect=True)
def test_a_checkpoint_that_cannot_open_says_why_and_the_next_tap_opens_it(engine, phone):
    device = phone()
    page = install(device)
    page.goto("/#/scan")
    page.wait_for_selector("#code")
    # The storage holds the drafts and does not answer: the scan screen cannot look for an
    # unsaved visit, and must not sit there silently (a patroller would think the label is broken).
    assert page.evaluate(HOLD_TRANSACTION_JS) is True
    page.fill("#code", "F03")
    page.click("#code-open")
    page.wait_for_function("() => document.querySelector('#scan-error').textContent !== ''", timeout=30000)
    assert "点位没有打开" in page.inner_text("#scan-error")
    shot(page, f"{engine}_scan_storage_stuck")
    assert page.evaluate("() => window.held") in ("AbortError", "TransactionInactiveError")
    # Nothing was started, and the next tap works.
    assert [r for r in rows(page, "drafts") if r["key"] == "visit"] == []
    page.click("#code-open")
    page.wait_for_selector("#all-fine")


FRESH_INSTALLS = 20


@pytest.mark.parametrize("engine", ["webkit"], indirect=True)
def test_a_first_install_never_offers_an_update_and_a_real_update_is_offered(engine, phone, live_server):
    device = phone()
    page = install(device)
    for n in range(FRESH_INSTALLS):
        assert page.evaluate("() => document.querySelectorAll('#update-banner').length") == 0, f"install {n + 1} offered an update"
        # Everything the site wrote is deleted: the next open is a first install again
        # (the server's cookie stays, so the app carries on as the same person).
        page.goto(NOT_THE_APP)
        page.evaluate(EVICT_JS)
        page.goto("/")
        wait_installed(page)
        page.wait_for_function("() => navigator.serviceWorker.getRegistration().then((r) => !!r && !r.installing && !r.waiting)")
    assert page.evaluate("() => document.querySelectorAll('#update-banner').length") == 0

    # A new version is deployed: that one is offered, and taking it reloads into it.
    live_server.restart(PWA_VERSION="v-next")
    page.evaluate("() => navigator.serviceWorker.getRegistration().then((r) => r.update())")
    page.wait_for_selector("#update-reload", timeout=30000)
    shot(page, "webkit_update_banner")
    page.click("#update-reload")
    page.wait_for_function("() => caches.keys().then((k) => k.includes('patrol-shell-v-next') && !k.some((x) => x.startsWith('patrol-shell-') && x !== 'patrol-shell-v-next'))", timeout=30000)
    page.wait_for_selector("#nav a")
    assert page.evaluate("() => document.querySelectorAll('#update-banner').length") == 0
