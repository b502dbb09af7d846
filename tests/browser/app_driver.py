"""Driving the phone app the way a person does, plus peeks into its IndexedDB."""

from __future__ import annotations

import gzip
import json
import time

from .conftest import AXE, SCREENSHOTS

# How often `until` looks again.
POLL_MS = 100

COUNT_JS = """async (store) => {
  const db = await new Promise((ok, no) => { const r = indexedDB.open('patrol'); r.onsuccess = () => ok(r.result); r.onerror = () => no(r.error); });
  if (!db.objectStoreNames.contains(store)) { db.close(); return -1; }
  const n = await new Promise((ok) => { const r = db.transaction(store).objectStore(store).count(); r.onsuccess = () => ok(r.result); });
  db.close();
  return n;
}"""

ROWS_JS = """async (store) => {
  const db = await new Promise((ok, no) => { const r = indexedDB.open('patrol'); r.onsuccess = () => ok(r.result); r.onerror = () => no(r.error); });
  const rows = await new Promise((ok) => { const r = db.transaction(store).objectStore(store).getAll(); r.onsuccess = () => ok(r.result); });
  db.close();
  return rows.map((x) => { const c = { ...x }; if (c.bytes) c.bytes = c.bytes.byteLength; return c; });
}"""


# What the phone knew when a checkpoint did not open: the screen, its storage and its errors.
SEEN_JS = """async (code) => {
  const out = { at: location.href, screen: document.getElementById('app')?.innerText, typed: document.getElementById('code')?.value,
    banners: document.getElementById('banners')?.innerText, errors: window.__page_errors || null };
  try {
    const db = await import('/static/pwa/db.js');
    const { get } = await import('/static/pwa/store.js');
    out.found = (await db.checkpointsByCode(code)).map((c) => [c.id, c.site_id]);
    out.draft = (await db.getDraft('visit'))?.checkpoint_id ?? null;
    out.syncing = get().syncing;
    out.site = (await import('/static/pwa/patrol.js')).siteId();
  } catch (e) { out.storage = String(e); }
  return out;
}"""


def login(page, username: str = "patroller", password: str = "patrol-demo") -> None:
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")
    page.wait_for_selector("#nav a")


def open_by_code(page, code: str) -> None:
    """Reach a checkpoint by typing the short code printed under its QR."""
    page.goto("/#/scan")
    page.fill("#code", code)
    page.click("#code-open")
    try:
        page.wait_for_selector("#all-fine")
    except Exception as e:  # say what the person saw instead of the checkpoint
        seen = page.evaluate(SEEN_JS, code)
        raise AssertionError(f"checkpoint {code} never opened: {seen}") from e


def record_all_fine(page, code: str) -> None:
    """Open a checkpoint by its code and save it with the one "all fine" tap."""
    open_by_code(page, code)
    page.click("#all-fine")
    page.wait_for_selector(".screen-home")


def record_failed_with_photo(page, code: str, item: str, note: str, photo: bytes) -> None:
    """Open a checkpoint, mark one item failed with a note and a photo, and save."""
    open_by_code(page, code)
    page.click(f"button[data-item='{item}'][data-result='fail']")
    slug = item.replace(".", "-")
    page.fill(f"#note-{slug}", note)
    page.set_input_files(f"#photo-{slug}", files=[{"name": "a.jpg", "mimeType": "image/jpeg", "buffer": photo}])
    page.wait_for_selector(".thumbs img")
    page.click("#save-visit")
    page.wait_for_selector(".screen-home")


def sign(page, canvas: str, strokes: int = 1) -> None:
    """Draw a signature on a signature pad with mouse movements (down, a zigzag, up), per stroke."""
    if hasattr(page, "stroke"):  # an engines.py page (WebKit, Firefox)
        box = page.box(canvas)
    else:
        pad = page.locator(canvas)
        pad.scroll_into_view_if_needed()
        box = pad.bounding_box()
    for n in range(strokes):
        y0 = box["y"] + box["height"] * (0.3 + 0.3 * n / max(1, strokes))
        points = [(box["x"] + 20 + i * (box["width"] - 40) / 12, y0 + (i % 3) * box["height"] / 8) for i in range(12)]
        if hasattr(page, "stroke"):
            page.stroke(points)
            continue
        page.mouse.move(*points[0])
        page.mouse.down()
        for x, y in points[1:]:
            page.mouse.move(x, y)
        page.mouse.up()


def wait_installed(page) -> None:
    """The service worker controls the page, the shell and QR decoder are cached, data pulled."""
    page.wait_for_function("() => navigator.serviceWorker && navigator.serviceWorker.controller !== null", timeout=20000)
    page.wait_for_function(
        """async () => (await caches.keys()).some((k) => k.startsWith('patrol-shell-'))
          && !!(await (await caches.open('patrol-lazy')).match('/static/pwa/vendor/jsqr/jsqr.mjs'))""",
        timeout=20000,
    )
    wait_count(page, "checkpoints", lambda n: n > 0)
    wait_count(page, "checklists", lambda n: n >= 6)


def json_body(request) -> dict:
    """The JSON body of an intercepted request, gunzipped when the app compressed it (Content-Encoding: gzip)."""
    raw = request.post_data_buffer or b""
    if (request.headers.get("content-encoding") or "").lower() == "gzip":
        raw = gzip.decompress(raw)
    return json.loads(raw or b"{}")


def count(page, store: str) -> int:
    return page.evaluate(COUNT_JS, store)


def rows(page, store: str) -> list:
    return page.evaluate(ROWS_JS, store)


def until(page, cond, what: str, timeout: float = 30):
    """Wait for a condition, never a fixed time: `cond` is a Python callable, or a JS function
    (a string) run in the page; returns its first truthy value. Between polls the page's
    event loop runs (Playwright's route handlers answer there), so a short
    `wait_for_timeout` is the poll interval, not a guess at how long something takes."""
    check = cond if callable(cond) else (lambda: page.evaluate(cond))
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        page.wait_for_timeout(POLL_MS)


def wait_ready(page, screen: str | None = None, timeout: float = 20) -> None:
    """Wait until the app has rendered a screen (`screen`, or whichever): #app[data-ready] is its signal."""
    css = f"#app[data-ready='{screen}']" if screen else "#app[data-ready]"
    page.wait_for_selector(css, state="attached", timeout=timeout * 1000)


def wait_count(page, store: str, ok, timeout: float = 20) -> int:
    last = []

    def counted():
        last[:] = [count(page, store)]
        return ok(last[0])

    try:
        until(page, counted, store, timeout)
    except AssertionError:
        raise AssertionError(f"IndexedDB store {store} has {last[0]} rows") from None
    return last[0]


def wait_outbox(page, ok, timeout: float = 30) -> list:
    return wait_rows(page, "outbox", ok, timeout)


def wait_rows(page, store: str, ok, timeout: float = 30) -> list:
    last: list = []

    def got():
        last[:] = rows(page, store)
        return ok(last)

    try:
        until(page, got, store, timeout)
    except AssertionError:
        raise AssertionError(f"{store} never got there: {[(x.get('kind'), x['status'], x.get('message')) for x in last]}") from None
    return list(last)


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


def serious_violations(page) -> list:
    """axe-core's serious and critical violations on the page (the context must bypass the CSP to inject axe)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document)).violations.map((v) => ({id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5)}))")
    return [v for v in found if v["impact"] in ("serious", "critical")]


def installed_app(browser, server, username: str = "patroller"):
    """A phone-sized context with the app opened, logged in and installed: (context, page)."""
    from .conftest import new_context

    context = new_context(browser, server)
    page = context.new_page()
    page.goto("/")
    login(page, username)
    wait_installed(page)
    return context, page


def install(device, username: str = "patroller"):
    """An engines.py device's first page: the app opened, logged in and installed."""
    page = device.new_page()
    page.goto("/")
    login(page, username)
    wait_installed(page)
    return page
