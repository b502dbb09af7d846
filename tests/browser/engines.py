"""The engine-neutral driver layer: one phone API over Chromium (Playwright), WebKit
(WebKitGTK's MiniBrowser through WebKitWebDriver and Selenium, under Xvfb) and Firefox ESR
(WebDriver BiDi through puppeteer-core, tests/browser/node/firefox_bridge.mjs).

Every engine reaches the server through `Proxy`, a small HTTP reverse proxy of our own:
- "offline": Chromium uses its real offline switch (Playwright `set_offline`); WebDriver has
  none for WebKit, and Firefox's BiDi has none that covers the service worker, so for them
  the proxy drops every connection (kept-alive ones too) without an answer, which the page
  sees as a network error, exactly like a phone without signal;
- "the app is killed after the server answered": the proxy forwards the request, the server
  commits and answers, and the proxy keeps the answer (`hold`); the test then closes the page.

A page here offers the subset of Playwright's `Page` that app_driver.py uses (goto, click,
fill, check, wait_for_selector, wait_for_function, evaluate, inner_text, input_value,
set_input_files, reload, close, screenshot, wait_for_timeout) plus `count(css)` and
`stroke(points)`, so one test body drives all three.
"""

from __future__ import annotations

import fcntl
import fnmatch
import gzip
import http.client
import itertools
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = Path(__file__).resolve().parent / "node"
MINIBROWSER = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser"
WEBKITDRIVER = "/usr/bin/WebKitWebDriver"
FIREFOX = "/usr/bin/firefox-esr"
PHONE = (390, 844)
ENGINES = ("chromium", "webkit", "firefox")
# WebKit's mock camera (a generated test pattern) and getUserMedia without a prompt.
WEBKIT_CAMERA = ["--enable-mock-capture-devices=true", "--enable-media-stream=true"]
# How long a held answer keeps the app waiting before its connection drops unanswered.
HOLD_SECONDS = 5
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


def missing(engine: str) -> str | None:
    """Why this engine cannot run here (None when it can)."""
    need = {
        "chromium": ["/usr/bin/chromium"],
        "webkit": [MINIBROWSER, WEBKITDRIVER, shutil.which("Xvfb") or "/usr/bin/Xvfb"],
        "firefox": [FIREFOX, shutil.which("node") or "/usr/bin/node", str(NODE_DIR / "node_modules" / "puppeteer-core")],
    }[engine]
    gone = [p for p in need if not Path(p).exists()]
    return f"{engine}: missing {', '.join(gone)}" if gone else None


# --- the proxy -------------------------------------------------------------------------


class Proxy:
    """HTTP reverse proxy on its own port in front of the live server; the origin the phone sees."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.offline = False
        self.holds: list[tuple[str, list]] = []  # (path glob, answers kept)
        self.drops: list[str] = []  # path globs answered with a dropped connection
        self._release = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                path = self.path.split("?")[0]
                if proxy.offline or any(fnmatch.fnmatch(path, p) for p in proxy.drops):
                    self.close_connection = True  # no answer at all: a network error
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=120)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                except OSError:
                    self.close_connection = True  # the server is down: connection refused
                    return
                finally:
                    conn.close()
                for pattern, kept in proxy.holds:
                    if fnmatch.fnmatch(path, pattern):
                        kept.append({"path": self.path, "status": resp.status, "body": _json(data, resp)})
                        # The app waits for the answer while the test closes it; then the
                        # connection drops unanswered (a network error, if anyone still listens).
                        proxy._release.wait(HOLD_SECONDS)
                        self.close_connection = True
                        return
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in HOP and k.lower() != "content-length":
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _any

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a page closed or a connection dropped mid-answer: what the tests do on purpose

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def hold(self, pattern: str) -> list:
        """Let requests to `pattern` reach the server, keep the answers from the phone; returns them."""
        kept: list = []
        self.holds.append((pattern, kept))
        return kept

    def drop(self, pattern: str) -> None:
        """Requests to `pattern` fail as on a network without signal; the rest of the site answers."""
        self.drops.append(pattern)

    def undrop(self) -> None:
        self.drops.clear()

    def unhold(self) -> None:
        self.holds.clear()
        self._release.set()
        self._release = threading.Event()

    def close(self) -> None:
        self.unhold()
        self.server.shutdown()
        self.server.server_close()


def _json(data: bytes, resp):
    if "json" not in (resp.getheader("Content-Type") or ""):
        return None
    if resp.getheader("Content-Encoding") == "gzip":
        data = gzip.decompress(data)
    return json.loads(data or b"null")


# --- pages -----------------------------------------------------------------------------

FUNCTION_START = ("(", "async ", "async(", "function")


def as_function(js: str) -> str:
    """Playwright takes a function's source or an expression; give a function either way."""
    src = js.strip()
    return src if src.startswith(FUNCTION_START) else f"() => ({src})"


VISIBLE_JS = """(css) => { const el = document.querySelector(css);
  return !!el && !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length)
    && getComputedStyle(el).visibility !== 'hidden'; }"""


_SHOTS = itertools.count(1)
# Scroll an element into view once it is there: a screen may be drawn again between a wait
# for the element and the next script (the outbox when a sync ends), leaving no element for
# a moment; the wait then tries again instead of failing on null.
SCROLL_JS = "(css) => { const el = document.querySelector(css); if (!el) return false; el.scrollIntoView({block: 'center'}); return true; }"

STABLE_JS = """async (css) => {
  const box = () => { const el = document.querySelector(css); if (!el) return null; const r = el.getBoundingClientRect(); return [r.x, r.y, r.width, r.height].join(); };
  const frame = () => new Promise((ok) => { requestAnimationFrame(() => ok()); setTimeout(ok, 250); });
  const a = box(); await frame(); await frame(); const b = box();
  return a !== null && a === b;
}"""


class EngineGone(RuntimeError):
    """The browser process itself went away mid-test (WebDriver: invalid session id).

    Not an app outcome: a page cannot end its browser's session. The test is run once more
    (tests/browser/conftest.py, pytest-rerunfailures limited to this error) and the report
    keeps the driver's log tail, so a repeated crash still fails and says why."""


class NeutralPage:
    """What every engine's page has, built on evaluate(); subclasses do input and navigation."""

    base_url: str

    def wait_for_timeout(self, ms: float) -> None:
        time.sleep(ms / 1000)

    def _url(self, path: str) -> str:
        return path if "://" in path or path.startswith("about:") else self.base_url + path

    def wait_for_function(self, js: str, arg=None, timeout: float = 30000) -> object:
        deadline = time.monotonic() + timeout / 1000
        last = None
        while True:
            try:
                value = self.evaluate(js, arg)
                if value:
                    return value
            except Exception as e:  # a navigation in between: try again
                if type(e).__name__ == "InvalidSessionIdException":
                    raise EngineGone(f"{self.engine}: the browser's session ended while waiting for {js[:120]}{self._gone()}") from e
                last = e
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.engine}: never true: {js[:120]} ({last}){self._evidence()}")
            time.sleep(0.1)

    def _gone(self) -> str:
        """The engine's own last words (its driver's log), when it has them."""
        return ""

    def _evidence(self) -> str:
        """What the page showed when a wait failed: its URL, its text and a screenshot, so a
        failure in CI says what the person would have seen."""
        parts = []
        try:
            seen = self.evaluate("() => [location.href, document.body ? document.body.innerText : '(no body)']")
            parts.append(f"\n  at {seen[0]}\n  page text: {seen[1][:600]!r}")
        except Exception as e:  # noqa: BLE001 - the page may be what hangs
            parts.append(f"\n  page unreadable: {e!s:.200}")
        try:
            out = ROOT / "tests" / "screenshots" / "failures"
            out.mkdir(parents=True, exist_ok=True)
            path = out / f"{self.engine}-{time.strftime('%H%M%S')}-{next(_SHOTS)}.png"
            self.screenshot(str(path))
            parts.append(f"\n  screenshot: {path}")
        except Exception as e:  # noqa: BLE001
            parts.append(f"\n  no screenshot: {e!s:.200}")
        return "".join(parts)

    def wait_for_selector(self, css: str, timeout: float = 30000) -> None:
        self.wait_for_function(VISIBLE_JS, css, timeout)

    def count(self, css: str) -> int:
        return self.evaluate("(css) => document.querySelectorAll(css).length", css)

    def inner_text(self, css: str) -> str:
        self.wait_for_selector(css)
        return self.evaluate("(css) => document.querySelector(css).innerText", css)

    def input_value(self, css: str) -> str:
        self.wait_for_selector(css)
        return self.evaluate("(css) => document.querySelector(css).value", css)

    def box(self, css: str) -> dict:
        self.wait_for_function(SCROLL_JS, css, 5000)
        return self.evaluate("(css) => { const r = document.querySelector(css).getBoundingClientRect(); return {x: r.x, y: r.y, width: r.width, height: r.height}; }", css)

    def _files(self, files: list[dict]) -> list[str]:
        out = []
        for f in files:
            d = Path(tempfile.mkdtemp(prefix="upload-"))
            p = d / f["name"]
            p.write_bytes(f["buffer"])
            out.append(str(p))
        return out


class WebKitPage(NeutralPage):
    """A MiniBrowser window, driven by WebKitWebDriver (Selenium)."""

    engine = "webkit"

    def __init__(self, device: "WebKitDevice", handle: str):
        self.device, self.handle, self.base_url = device, handle, device.base_url

    @property
    def driver(self):
        d = self.device.driver
        if d.current_window_handle != self.handle:
            d.switch_to.window(self.handle)
        return d

    def goto(self, path: str) -> None:
        self.driver.get(self._url(path))

    def reload(self) -> None:
        self.driver.refresh()

    def _gone(self) -> str:
        return self.device.log_tail()

    def evaluate(self, js: str, arg=None):
        script = (
            "const done = arguments[arguments.length - 1];"
            f"Promise.resolve().then(() => ({as_function(js)})(arguments[0]))"
            ".then((v) => done({ok: v === undefined ? null : v}), (e) => done({error: String(e && e.stack || e)}));"
        )
        out = self.driver.execute_async_script(script, arg)
        if out is None or "error" in out:
            raise RuntimeError(f"webkit: {out and out['error']}")
        return out["ok"]

    def _element(self, css: str):
        from selenium.webdriver.common.by import By

        self.wait_for_selector(css)
        el = self.driver.find_element(By.CSS_SELECTOR, css)
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
        # WebDriver clicks at the element's centre as measured now: wait until it stops moving
        # (same box over two animation frames, Playwright's "stable"), or a layout shift
        # between measuring and clicking sends the tap elsewhere.
        self.wait_for_function(STABLE_JS, css, 5000)
        return el

    def _act(self, css: str, action) -> None:
        """Do `action(element)`, again on a fresh element if the app redrew it meanwhile
        (its screens rebuild their DOM on each change; Playwright retries the same way)."""
        from selenium.common.exceptions import StaleElementReferenceException

        for attempt in range(20):
            try:
                return action(self._element(css))
            except StaleElementReferenceException:
                if attempt == 19:
                    raise
                time.sleep(0.1)

    def click(self, css: str) -> None:
        self._act(css, lambda el: el.click())

    def fill(self, css: str, value: str) -> None:
        def fill(el):
            el.clear()
            el.send_keys(value)

        self._act(css, fill)

    def check(self, css: str) -> None:
        self._act(css, lambda el: el.is_selected() or el.click())

    def select_option(self, css: str, value: str) -> None:
        from selenium.webdriver.support.select import Select

        self._act(css, lambda el: Select(el).select_by_value(value))

    def set_input_files(self, css: str, files: list[dict]) -> None:
        from selenium.webdriver.common.by import By

        self.wait_for_function("(css) => !!document.querySelector(css)", css)
        self.driver.find_element(By.CSS_SELECTOR, css).send_keys("\n".join(self._files(files)))

    def stroke(self, points: list[tuple[float, float]]) -> None:
        from selenium.webdriver.common.actions.action_builder import ActionBuilder
        from selenium.webdriver.common.actions.pointer_input import PointerInput
        from selenium.webdriver.common.actions import interaction

        actions = ActionBuilder(self.driver, mouse=PointerInput(interaction.POINTER_MOUSE, "mouse"))
        actions.pointer_action.move_to_location(int(points[0][0]), int(points[0][1])).pointer_down()
        for x, y in points[1:]:
            actions.pointer_action.move_to_location(int(x), int(y))
        actions.pointer_action.pointer_up()
        actions.perform()

    def screenshot(self, path: str, full_page: bool = False) -> None:
        self.driver.save_screenshot(path)

    def close(self) -> None:
        self.device.close_page(self)


class FirefoxPage(NeutralPage):
    """A Firefox tab, driven over WebDriver BiDi by the puppeteer-core bridge."""

    engine = "firefox"

    def __init__(self, device: "FirefoxDevice", page_id: int):
        self.device, self.id, self.base_url = device, page_id, device.base_url

    def _do(self, cmd: str, **args):
        return self.device.bridge.call(cmd, page=self.id, **args)

    def goto(self, path: str) -> None:
        self._do("goto", url=self._url(path))

    def reload(self) -> None:
        self._do("reload")

    def evaluate(self, js: str, arg=None):
        return self._do("evaluate", expression=f"({as_function(js)})({json.dumps(arg)})")

    def _scroll(self, css: str) -> None:
        self.wait_for_selector(css)
        self.wait_for_function(SCROLL_JS, css, 5000)
        self.wait_for_function(STABLE_JS, css, 5000)

    def click(self, css: str) -> None:
        self._scroll(css)
        self._do("click", selector=css)

    def fill(self, css: str, value: str) -> None:
        self._scroll(css)
        self._do("fill", selector=css, value=value)

    def check(self, css: str) -> None:
        if not self.evaluate("(css) => document.querySelector(css).checked", css):
            self.click(css)

    def select_option(self, css: str, value: str) -> None:
        self._scroll(css)
        self._do("fill", selector=css, value=value)

    def set_input_files(self, css: str, files: list[dict]) -> None:
        self._do("upload", selector=css, paths=self._files(files))

    def stroke(self, points) -> None:
        self._do("stroke", points=[[x, y] for x, y in points])

    def screenshot(self, path: str, full_page: bool = False) -> None:
        self._do("screenshot", path=str(path))

    def close(self) -> None:
        self._do("closePage")


# --- devices: a browser profile (one phone), its pages and its network -----------------


class Device:
    """One phone: a browser profile with its storage, talking to the server through the proxy."""

    engine: str

    def __init__(self, proxy: Proxy):
        self.proxy = proxy
        self.base_url = proxy.url

    def set_offline(self, offline: bool) -> None:
        self.proxy.offline = offline


class ChromiumDevice(Device):
    engine = "chromium"

    def __init__(self, proxy: Proxy, playwright, executable: str, args: list[str], **context_kw):
        super().__init__(proxy)
        self.browser = playwright.chromium.launch(executable_path=executable, args=args)
        self.context = self.browser.new_context(
            viewport={"width": PHONE[0], "height": PHONE[1]}, device_scale_factor=1, has_touch=True, base_url=proxy.url, **context_kw
        )
        self.context.grant_permissions(["camera"], origin=proxy.url)
        from .conftest import RECORD_ERRORS_JS

        self.context.add_init_script(RECORD_ERRORS_JS)

    def new_page(self):
        return self.context.new_page()

    def set_offline(self, offline: bool) -> None:
        self.context.set_offline(offline)  # the browser's own switch: the real thing

    def quit(self) -> None:
        self.browser.close()


class WebKitDevice(Device):
    engine = "webkit"

    def __init__(self, proxy: Proxy, display: str, extra_args: list[str] = ()):
        from selenium import webdriver
        from selenium.webdriver.webkitgtk.options import Options
        from selenium.webdriver.webkitgtk.service import Service

        super().__init__(proxy)
        # One WebKit session at a time on this machine: two at once (pytest-xdist workers)
        # stalled each other's WebDriver commands for minutes here.
        self._lock = open(Path(tempfile.gettempdir()) / "patrol-webkit.lock", "w")
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        options = Options()
        options.binary_location = MINIBROWSER
        # Full screen on a 390x844 X screen: the page gets exactly a phone's viewport
        # (MiniBrowser's window is never narrower than its toolbar otherwise).
        for a in ["--automation", "--full-screen", *WEBKIT_CAMERA, *extra_args]:
            options.add_argument(a)
        env = {**os.environ, "DISPLAY": display}
        # WebKitWebDriver's log, with MiniBrowser's and its web process's stderr: what a crash left.
        self.log = Path(tempfile.mkdtemp(prefix="webkit-log-")) / "webkitdriver.log"
        try:
            self.driver = webdriver.WebKitGTK(options=options, service=Service(executable_path=WEBKITDRIVER, env=env,
                                                                                log_output=str(self.log)))
        except Exception:
            self._lock.close()  # closing the file lets the next session have the lock
            raise
        self.driver.set_script_timeout(60)
        # A WebDriver command that never answers (WebKitWebDriver stuck on a page mid-navigation)
        # fails this test after 90 s with the page's evidence, instead of stalling the suite.
        self.driver.command_executor._client_config.timeout = 90
        # MiniBrowser's --full-screen hides its toolbar (whose width is the window's minimum);
        # the window is then sized to the screen, a phone's.
        self.driver.set_window_size(*PHONE)
        deadline = time.monotonic() + 20
        while (size := self.driver.execute_script("return [innerWidth, innerHeight]")) != list(PHONE):
            if time.monotonic() > deadline:
                raise RuntimeError(f"MiniBrowser is {size}, not full screen at {PHONE} on {display}")
            time.sleep(0.1)
        self.pages: list[WebKitPage] = []
        self._fresh = True  # the first window is there already, blank

    def log_tail(self, lines: int = 30) -> str:
        try:
            tail = self.log.read_text(errors="replace").splitlines()[-lines:]
        except OSError as e:
            return f"\n  no driver log: {e}"
        return "\n  WebKitWebDriver log (last lines):\n    " + "\n    ".join(tail) if tail else "\n  WebKitWebDriver log: empty"

    def new_page(self) -> WebKitPage:
        if self._fresh:
            self._fresh = False
            handle = self.driver.current_window_handle
        else:
            before = set(self.driver.window_handles)
            self.driver.switch_to.new_window("tab")
            handle = (set(self.driver.window_handles) - before).pop()
        page = WebKitPage(self, handle)
        self.pages.append(page)
        return page

    def close_page(self, page: WebKitPage) -> None:
        self.pages.remove(page)
        if not self.pages:
            # MiniBrowser ends the session with its last window: keep a blank one, as a
            # phone keeps the browser running after the app's tab is gone.
            self.driver.switch_to.new_window("tab")
            spare = self.driver.current_window_handle
            self.driver.switch_to.window(page.handle)
            self.driver.close()
            self.driver.switch_to.window(spare)
            self._fresh = True
            return
        self.driver.switch_to.window(page.handle)
        self.driver.close()
        self.driver.switch_to.window(self.pages[-1].handle)

    def quit(self) -> None:
        try:
            self.driver.quit()
        except Exception:
            pass
        finally:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()


class Bridge:
    """The node process running firefox_bridge.mjs; call(cmd, **args) → its value."""

    def __init__(self):
        env = {**os.environ, "PUPPETEER_SKIP_DOWNLOAD": "1"}
        self.proc = subprocess.Popen(
            ["node", str(NODE_DIR / "firefox_bridge.mjs")], cwd=NODE_DIR, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1,
        )
        self.ids = itertools.count(1)
        self.lock = threading.Lock()

    def call(self, cmd: str, **args):
        with self.lock:
            n = next(self.ids)
            self.proc.stdin.write(json.dumps({"id": n, "cmd": cmd, "args": args}) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the Firefox bridge died")
        out = json.loads(line)
        if not out["ok"]:
            raise RuntimeError(f"firefox: {cmd}: {out['error']}")
        return out["value"]

    def close(self) -> None:
        try:
            self.call("quit")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class FirefoxDevice(Device):
    engine = "firefox"

    def __init__(self, proxy: Proxy, profile: Path, prefs: dict | None = None):
        super().__init__(proxy)
        self.bridge = Bridge()
        base = {
            # A fake camera (a test pattern) and no permission prompt.
            "media.navigator.streams.fake": True,
            "media.navigator.permission.disabled": True,
            # Quiet: no update checks or telemetry on the closed network.
            "app.update.enabled": False,
            "datareporting.policy.dataSubmissionEnabled": False,
            "browser.shell.checkDefaultBrowser": False,
        }
        self.bridge.call("launch", executablePath=FIREFOX, userDataDir=str(profile), prefs={**base, **(prefs or {})})

    def new_page(self) -> FirefoxPage:
        return FirefoxPage(self, self.bridge.call("newPage", width=PHONE[0], height=PHONE[1]))

    def quit(self) -> None:
        self.bridge.close()


class Xvfb:
    """A virtual X screen the size of a phone, for MiniBrowser; Xvfb picks a free display."""

    def __init__(self):
        read, write = os.pipe()
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write), "-screen", "0", f"{PHONE[0]}x{PHONE[1]}x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(write,),
        )
        os.close(write)
        with os.fdopen(read) as f:
            number = f.readline().strip()
        if not number:
            raise RuntimeError("Xvfb did not start")
        self.display = f":{number}"

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
