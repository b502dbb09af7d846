"""Browser fixtures: a real gunicorn server on a fresh database, headless Chromium, fake cameras,
and (engines.py) the same phone in Chromium, WebKit and Firefox.

Browser tests are skipped where their browser is missing, except in CI (CI=true), where a
missing browser fails them: they are never skipped there.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from server import create_app
from server.extensions import db

from ..conftest import demo_site
from . import engines

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = ROOT / "tests" / "screenshots"
AXE = ROOT / "tests" / "vendor" / "axe.min.js"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PHONE = {"width": 390, "height": 844}


def pytest_collection_modifyitems(config, items):
    """WebKit and Firefox (Debian's packages, driven over WebDriver): a test whose browser
    process died under it (engines.EngineGone, or Selenium's invalid session id) runs once
    more in a new browser. Nothing else is retried: an assertion, a timeout on the app or a
    JavaScript error fails the first time, and a second crash fails with the driver's log."""
    here = Path(__file__).parent
    for item in items:
        spec = getattr(item, "callspec", None)
        if spec is None or spec.params.get("engine") not in ("webkit", "firefox") or here not in Path(item.fspath).parents:
            continue
        item.add_marker(pytest.mark.flaky(reruns=1, only_rerun=[engines.EngineGone, "InvalidSessionIdException"]))


def _need(why: str | None) -> None:
    """Fail in CI, skip elsewhere, when a browser this test needs is not installed."""
    if not why:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why}: browser tests never skip in CI (.ci/run installs them)")
    pytest.skip(f"{why}; browser tests skipped outside CI")


@pytest.fixture(autouse=True)
def _chromium_present(request):
    if request.node.get_closest_marker("browser") is None or "engine" in request.fixturenames:
        return
    _need(None if Path(CHROMIUM).exists() else f"{CHROMIUM} is missing (apt-get install -y chromium)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """gunicorn serving the app on a fixed port; kill() is SIGKILL, start() brings it back."""

    def __init__(self, db_url: str, tmp: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "PHOTO_DIR": str(tmp / "photos"),
            "SECRET_KEY": "browser-tests-secret",
            "PATROL_ENV": "development",
        }
        self.env.pop("PWA_VERSION", None)
        self.log = open(tmp / "gunicorn.log", "ab")
        self.proc: subprocess.Popen | None = None

    def start(self, **env) -> None:
        cmd = [str(Path(sys.executable).parent / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{self.port}", "--graceful-timeout", "1", "wsgi:app"]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env={**self.env, **env}, stdout=self.log, stderr=self.log)
        # Generous: on a loaded machine importing the app in two workers takes a while.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/api/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: see {self.log.name}")
            time.sleep(0.1)
        self.kill()
        raise RuntimeError("gunicorn did not start")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            # The whole process group would include workers; kill the master, then its workers.
            try:
                children = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout.split()
            except FileNotFoundError:
                children = []
            self.proc.send_signal(signal.SIGKILL)
            for pid in children:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            self.proc.wait(timeout=10)

    def restart(self, **env) -> None:
        self.kill()
        self.start(**env)


@pytest.fixture
def seeded(db_url, tmp_path):
    """The demo site in a fresh database (copied from its template: `seeded` names that data
    set in tests/conftest.py); yields an app for checking the database."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": db_url, "PHOTO_DIR": str(tmp_path / "photos")})
    with app.app_context():
        demo_site()
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def browser(launch):
    """One Chromium for the test (files that need other options call `launch` themselves)."""
    return launch()


@pytest.fixture
def dispose_db_connections(seeded):
    """For files that read through the shared `query` fixture: its pooled connections closed after
    each test (on PostgreSQL an open one is a ResourceWarning, an error here). Use with
    `pytest.mark.usefixtures("dispose_db_connections")`."""
    yield
    with seeded.app_context():
        db.engine.dispose()


@pytest.fixture
def live_server(seeded, db_url, tmp_path):
    server = LiveServer(db_url, tmp_path)
    server.start()
    yield server
    server.kill()
    server.log.close()


@pytest.fixture
def query(seeded):
    """Run a function against the test database, in a fresh session (sees the server's commits)."""

    def run(fn):
        with seeded.app_context():
            try:
                return fn(db.session)
            finally:
                db.session.remove()

    return run


@pytest.fixture
def playwright():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture
def launch(playwright, tmp_path):
    """launch(video=None, audio=False) → a Chromium; with a y4m file, that file is the camera; audio: a fake microphone."""
    browsers = []

    def make(video: Path | None = None, audio: bool = False):
        args = list(LAUNCH_ARGS)
        if video:
            args += ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", f"--use-file-for-fake-video-capture={video}"]
        elif audio:  # Chromium's fake microphone (a beep) for sound clips
            args += ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
        b = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        browsers.append(b)
        return b

    yield make
    for b in browsers:
        b.close()


# Every page keeps what went wrong in it, so a failing test can say (window.__page_errors).
RECORD_ERRORS_JS = """(() => {
  const seen = [];
  Object.defineProperty(window, '__page_errors', { value: seen });
  addEventListener('error', (e) => seen.push(`error: ${e.message} at ${e.filename}:${e.lineno}`));
  addEventListener('unhandledrejection', (e) => seen.push(`unhandled: ${e.reason && (e.reason.stack || e.reason)}`));
})()"""


def new_context(browser, server: LiveServer, **kw):
    ctx = browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=False, has_touch=True, base_url=server.url, **kw)
    ctx.grant_permissions(["camera"], origin=server.url)
    ctx.add_init_script(RECORD_ERRORS_JS)
    return ctx


def guard_origin(page, server: LiveServer, seen: list) -> None:
    """Record every request that would leave the origin (none may)."""

    def check(req):
        if not req.url.startswith((server.url, "data:", "blob:")):
            seen.append(req.url)

    page.on("request", check)


# --- images ---------------------------------------------------------------------------


def qr_image(text: str, box: int = 8):
    import qrcode

    qr = qrcode.QRCode(border=4, box_size=box)
    qr.add_data(text)
    qr.make(fit=True)
    return qr.make_image(fill_color="black", back_color="white").convert("RGB")


def write_y4m(image, path: Path, size=(640, 480), frames: int = 15) -> Path:
    """A still picture as a y4m video: Chromium's fake camera plays it in a loop."""
    from PIL import Image

    w, h = size
    canvas = Image.new("RGB", (w, h), "white")
    img = image.copy()
    img.thumbnail((h - 20, h - 20))
    canvas.paste(img, ((w - img.width) // 2, (h - img.height) // 2))
    ycbcr = canvas.convert("YCbCr")
    y, cb, cr = ycbcr.split()
    cb = cb.resize((w // 2, h // 2))
    cr = cr.resize((w // 2, h // 2))
    frame = b"FRAME\n" + y.tobytes() + cb.tobytes() + cr.tobytes()
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F15:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(frame)
    return path


def jpeg_bytes(size=(2400, 1800), color=(200, 60, 40)) -> bytes:
    """A real JPEG, larger than the phone keeps (so the downscale is exercised)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", size, color)
    d = ImageDraw.Draw(img)
    for i in range(0, size[0], 120):
        d.line([(i, 0), (size[0] - i, size[1])], fill=(255, 255, 255), width=9)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


def api_session(server: LiveServer, username: str, password: str = "patrol-demo") -> requests.Session:
    """A logged-in requests session that sends the CSRF header, for the parts done outside the phone."""
    s = requests.Session()
    r = s.post(server.url + "/api/auth/login", json={"username": username, "password": password}, timeout=10)
    r.raise_for_status()
    s.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    s.me = r.json()
    return s


# --- one phone, three engines (engines.py) -------------------------------------------


@pytest.fixture(params=engines.ENGINES)
def engine(request) -> str:
    """Each test that takes `engine` runs once in Chromium, once in WebKit, once in Firefox."""
    _need(engines.missing(request.param))
    return request.param


@pytest.fixture(scope="session")
def xvfb():
    screen = engines.Xvfb()
    before = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = screen.display  # MiniBrowser, started by WebKitWebDriver, draws there
    yield screen
    screen.close()
    if before is None:
        os.environ.pop("DISPLAY", None)
    else:
        os.environ["DISPLAY"] = before


@pytest.fixture
def proxy(live_server):
    p = engines.Proxy(live_server.port)
    yield p
    p.close()


@pytest.fixture
def phone(engine, proxy, request, tmp_path):
    """phone(**opts) → a new Device of this test's engine (a browser profile of its own).

    opts: webkit_args=[...] (MiniBrowser options), firefox_prefs={...}, chromium_args=[...].
    """
    made = []

    def make(webkit_args=(), firefox_prefs=None, chromium_args=()):
        if engine == "chromium":
            from playwright.sync_api import sync_playwright

            pw = sync_playwright().start()
            made.append(pw.stop)
            device = engines.ChromiumDevice(proxy, pw, CHROMIUM, LAUNCH_ARGS + list(chromium_args))
        elif engine == "webkit":
            device = engines.WebKitDevice(proxy, request.getfixturevalue("xvfb").display, list(webkit_args))
        else:
            profile = tmp_path / f"firefox-{len(made)}"
            profile.mkdir()
            device = engines.FirefoxDevice(proxy, profile, firefox_prefs)
        made.append(device.quit)
        return device

    yield make
    for stop in reversed(made):
        try:
            stop()
        except Exception as e:  # one browser failing to close must not hide the test's result
            print(f"closing {engine}: {e}")
