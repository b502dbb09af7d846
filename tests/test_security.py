"""Security: headers on every kind of answer, CSRF on every write, uploads that can never run,
hostile ids and filters. (Session fixation and login throttling: tests/test_accounts.py.)"""

from __future__ import annotations

import hashlib
import io
import re
import uuid
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from server.models import Checkpoint
from server.extensions import db

from .conftest import PG_URL
from .support.api import ApiClient, error_of

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


def csp_of(resp) -> dict[str, list[str]]:
    policy = resp.headers.get("Content-Security-Policy", "")
    out = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def assert_secure_headers(resp, where: str) -> None:
    h = resp.headers
    assert h.get("X-Content-Type-Options") == "nosniff", where
    assert h.get("X-Frame-Options") == "DENY", where
    assert h.get("Referrer-Policy") == "no-referrer", where
    assert h.get("Cross-Origin-Opener-Policy") == "same-origin", where
    csp = csp_of(resp)
    assert csp, f"{where}: no Content-Security-Policy"
    assert csp.get("frame-ancestors") == ["'none'"], where
    for directive in ("script-src", "style-src"):
        # A missing directive falls back to default-src.
        sources = csp.get(directive, csp.get("default-src"))
        assert sources is not None, f"{where}: neither {directive} nor default-src"
        assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources, f"{where}: {directive} {sources}"
        assert "*" not in sources and "data:" not in sources, f"{where}: {directive} {sources}"
    assert csp.get("object-src", csp.get("default-src")) in (["'none'"],), where


def png_bytes(text: str | None = None, size=(64, 48)) -> bytes:
    im = Image.new("RGB", size, (200, 30, 30))
    info = PngImagePlugin.PngInfo()
    if text:
        info.add_text("Comment", text)
    out = io.BytesIO()
    im.save(out, "PNG", pnginfo=info)
    return out.getvalue()


def jpeg_bytes(comment: bytes = b"", size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (30, 30, 200)).save(out, "JPEG", comment=comment)
    return out.getvalue()


POLYGLOT_HTML = "<html><body><script>fetch('/api/auth/me').then(r=>r.text()).then(alert)</script></body></html>"


def put_photo(api: ApiClient, data: bytes, content_type: str, photo_id: str | None = None):
    photo_id = photo_id or str(uuid.uuid4())
    r = api.put(f"/api/photos/{photo_id}", data=data, headers={"Content-Type": content_type, "X-Content-SHA256": hashlib.sha256(data).hexdigest()})
    return photo_id, r


@pytest.fixture
def patroller(as_role):
    return as_role("patroller")


# --- headers on every kind of answer ----------------------------------------------------


def test_security_headers_on_pages_static_files_and_api_answers(client, demo, patroller):
    cp = db.session.execute(db.select(Checkpoint).where(Checkpoint.site_id == demo.id)).scalars().first()
    photo_id, up = put_photo(patroller, jpeg_bytes(), "image/jpeg")
    assert up.status_code == 201, up.get_json()
    answers = {
        "PWA index": client.get("/"),
        "service worker": client.get("/sw.js"),
        "manifest": client.get("/manifest.webmanifest"),
        "static module": client.get("/static/pwa/app.js"),
        "static style": client.get("/static/pwa/app.css"),
        "API docs": client.get("/api/docs"),
        "OpenAPI": client.get("/api/openapi.json"),
        "API JSON": client.get("/api/health"),
        "QR link redirect": client.get(f"/c/{cp.token}"),
        "anonymous 401": client.get("/api/auth/me"),
        "API 404": client.get("/api/nothing-here"),
        "page 404": client.get("/nothing-here"),
        "static 404": client.get("/static/pwa/missing.js"),
        "405": client.post("/api/health"),
        "logged-in JSON": patroller.get("/api/auth/me"),
        "photo display": patroller.get(f"/api/photos/{photo_id}"),
        "photo thumb": patroller.get(f"/api/photos/{photo_id}?size=thumb"),
        "QR PNG": patroller.get(f"/api/checkpoints/{cp.id}/qr.png"),
    }
    assert answers["PWA index"].status_code == 200 and answers["API docs"].status_code == 200
    assert answers["photo display"].status_code == 200 and answers["405"].status_code == 405
    for where, resp in answers.items():
        assert_secure_headers(resp, where)


def test_api_answers_are_sandboxed_data_never_a_page(client, patroller):
    for resp in (client.get("/api/health"), client.get("/api/nothing-here"), patroller.get("/api/auth/me")):
        csp = csp_of(resp)
        assert csp["default-src"] == ["'none'"] and "sandbox" in csp
        assert resp.headers["Cache-Control"] == "no-store"


def test_app_pages_keep_a_strict_policy_the_app_can_run_under(client):
    for url in ("/", "/api/docs"):
        csp = csp_of(client.get(url))
        assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
        assert csp["base-uri"] == ["'none'"] and "sandbox" not in csp


def test_oversized_body_and_server_error_still_carry_the_headers(app, as_role, demo, monkeypatch):
    admin = as_role("admin")
    app.config["MAX_CONTENT_LENGTH"] = 1024
    big = admin.post("/api/checkpoints/", data=b"x" * 4096, headers={"Content-Type": "application/json"})
    assert big.status_code == 413
    assert_secure_headers(big, "413")
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024 * 1024

    import server.sites as sites

    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(sites, "record_change", boom)
    err = admin.post("/api/checkpoints/", json={"site_id": demo.id, "kind": "floor", "name_zh": "x"})
    assert err.status_code == 500
    assert_secure_headers(err, "500")


def test_production_sends_hsts(app, client):
    app.config["SESSION_COOKIE_SECURE"] = True
    assert client.get("/api/health").headers["Strict-Transport-Security"].startswith("max-age=31536000")


# --- CSRF on every cookie-authenticated write ---------------------------------------------


def unsafe_api_endpoints(app) -> list[tuple[str, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.rule == "/api/auth/login":
            continue
        for method in sorted(rule.methods & set(UNSAFE)):
            out.append((method, rule.rule))
    return out


def sample_url(rule: str) -> str:
    url = re.sub(r"<int:[^>]+>", "1", rule)
    return re.sub(r"<(?:[a-z]+:)?[^>]+>", str(uuid.uuid4()), url)


def test_every_unsafe_api_endpoint_refuses_a_logged_in_write_without_the_csrf_token(app, as_role, demo):
    """A page on another origin can make the browser send the cookie, never the header."""
    admin = as_role("admin")
    endpoints = unsafe_api_endpoints(app)
    assert len(endpoints) > 20  # the walk really found the API
    failures = []
    for method, rule in endpoints:
        url = sample_url(rule)
        for headers in ({}, {"X-CSRF-Token": "guessed-token"}, {"X-CSRF-Token": ""}):
            r = admin.client.open(url, method=method, json={}, headers=headers)
            if r.status_code != 403 or r.get_json()["error"]["code"] != "csrf_failed":
                failures.append(f"{method} {rule} with {headers or 'no header'}: {r.status_code} {r.get_data(as_text=True)[:120]}")
    assert not failures, "\n".join(failures)
    # The session survived all that and still works with its own token.
    assert admin.get("/api/auth/me").status_code == 200


def test_csrf_token_of_another_session_is_refused(app, as_role, demo):
    patroller, supervisor = as_role("patroller"), as_role("supervisor")
    r = patroller.client.post("/api/auth/logout", headers={"X-CSRF-Token": supervisor.csrf})
    assert r.status_code == 403 and error_of(r)["code"] == "csrf_failed"
    assert patroller.get("/api/auth/me").status_code == 200


def test_session_cookie_cannot_be_read_by_script_or_sent_cross_site(client, demo):
    # (Fixation and throttling: test_accounts.py::test_login_issues_a_new_session_so_a_planted_cookie_is_useless
    #  and ::test_login_is_locked_after_five_failures_even_with_the_right_password.)
    cookie = client.post("/api/auth/login", json={"username": "patroller", "password": "patrol-demo"}).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_session_cookie_lasts_as_long_as_the_login_and_slides_with_it(app, client, demo):
    """The cookie is not re-sent with every answer; it is when the login's expiry slides (every 5 minutes of use)."""
    from datetime import timedelta
    from email.utils import parsedate_to_datetime

    from server.models import AuthSession, utcnow

    def expires(resp):
        cookie = resp.headers["Set-Cookie"]
        return parsedate_to_datetime(re.search(r"Expires=([^;]+)", cookie).group(1)).replace(tzinfo=None)

    hours = app.config["SESSION_HOURS"]
    login = client.post("/api/auth/login", json={"username": "patroller", "password": "patrol-demo"})
    assert abs(expires(login) - (utcnow() + timedelta(hours=hours))) < timedelta(minutes=1)
    assert client.get("/api/auth/me").headers.get("Set-Cookie") is None  # a plain answer: no cookie again
    # Ten minutes later (the login's last use moved back): the login slides, and so does the cookie.
    row = db.session.query(AuthSession).one()
    row.last_seen_at -= timedelta(minutes=10)
    row.expires_at -= timedelta(minutes=10)
    db.session.commit()
    slid = client.get("/api/auth/me")
    assert slid.status_code == 200
    assert abs(expires(slid) - (utcnow() + timedelta(hours=hours))) < timedelta(minutes=1)
    db.session.expire_all()
    assert db.session.query(AuthSession).one().expires_at > utcnow() + timedelta(hours=hours) - timedelta(minutes=1)


# --- uploads can never be served as HTML or script ------------------------------------------


@pytest.mark.parametrize(
    "name, data, content_type",
    [
        ("png with an html comment chunk", png_bytes(POLYGLOT_HTML), "image/png"),
        ("jpeg with a script comment", jpeg_bytes(POLYGLOT_HTML.encode()), "image/jpeg"),
        ("png followed by an html page", png_bytes() + POLYGLOT_HTML.encode(), "image/png"),
    ],
    ids=["png-text-chunk", "jpeg-comment", "png-then-html"],
)
def test_image_carrying_html_is_served_only_as_a_clean_reencoded_jpeg(app, patroller, name, data, content_type):
    photo_id, r = put_photo(patroller, data, content_type)
    assert r.status_code == 201, (name, r.get_json())
    for size in ("display", "thumb"):
        got = patroller.get(f"/api/photos/{photo_id}?size={size}")
        assert got.status_code == 200
        assert got.mimetype == "image/jpeg"
        assert got.headers["X-Content-Type-Options"] == "nosniff"
        disposition = got.headers["Content-Disposition"]
        assert disposition.startswith("inline;") and disposition.rstrip('"').endswith(".jpg"), disposition
        assert "sandbox" in csp_of(got)
        body = got.get_data()
        assert body[:3] == b"\xff\xd8\xff", "not a JPEG"
        assert b"<script" not in body and b"<html" not in body
        Image.open(io.BytesIO(body)).verify()
    # Nothing on disk keeps the payload either (Pillow re-encoded; the original is not kept).
    for path in Path(app.config["PHOTO_DIR"]).rglob("*"):
        if path.is_file():
            assert b"<script" not in path.read_bytes(), path


@pytest.mark.parametrize(
    "data, content_type, status, code",
    [
        (POLYGLOT_HTML.encode(), "text/html", 415, "unsupported_media_type"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "image/svg+xml", 415, "unsupported_media_type"),
        (POLYGLOT_HTML.encode(), "image/jpeg", 422, "not_an_image"),
        (b"GIF89a" + POLYGLOT_HTML.encode(), "image/png", 422, "not_an_image"),
        (png_bytes(), "application/javascript", 415, "unsupported_media_type"),
    ],
    ids=["html", "svg-with-script", "html-labelled-jpeg", "gif-html-labelled-png", "png-labelled-script"],
)
def test_html_script_or_svg_upload_is_refused_and_nothing_is_stored(app, patroller, data, content_type, status, code):
    photo_id, r = put_photo(patroller, data, content_type)
    assert r.status_code == status and error_of(r)["code"] == code
    assert patroller.get(f"/api/photos/{photo_id}").status_code == 404
    stored = [p for p in Path(app.config["PHOTO_DIR"]).rglob("*") if p.is_file()] if Path(app.config["PHOTO_DIR"]).exists() else []
    assert stored == []


def test_photo_of_one_uploader_is_not_visible_to_a_patroller_of_another_site(patroller, as_role, other_site):
    photo_id, r = put_photo(patroller, jpeg_bytes(), "image/jpeg")
    assert r.status_code == 201
    stranger = ApiClient(patroller.client.application.test_client())
    stranger.login("other-patroller")
    got = stranger.get(f"/api/photos/{photo_id}")
    assert got.status_code == 404 and got.mimetype == "application/json"


# --- hostile ids, filters and paths ---------------------------------------------------------

HOSTILE = ["1 OR 1=1", "1; DROP TABLE users;--", "' OR '1'='1", "../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "%00", "1e309", "-1", "99999999999999999999999", "\u202e\u0000"]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_ids_and_filters_get_their_exact_4xx_never_a_500(as_role, demo, value):
    from urllib.parse import quote

    admin = as_role("admin")
    q = quote(value, safe="")
    # The answer to each: a path id that names nothing is a 404, a filter that is not valid a 422.
    urls = [
        (f"/api/checkpoints/{q}", 404),
        (f"/api/checkpoints/?site_id={q}", 422),
        # A token with a NUL is not a token at all (422); any other string names no checkpoint.
        (f"/api/checkpoints/resolve?token={q}", 422 if "\x00" in value else 404),
        (f"/api/findings/{q}", 404),
        (f"/api/findings/?site_id={demo.id}&category={q}", 422),
        (f"/api/tasks/{q}", 404),
        (f"/api/tasks/?site_id={q}&state={q}", 422),
        (f"/api/photos/{q}", 404),
        # visit_id is free text: an id that names no visit has no photos. PostgreSQL cannot
        # even compare text with a NUL in it: that is the API's 422 out_of_range there.
        (f"/api/photos/?visit_id={q}", 422 if PG_URL and "\x00" in value else 200),
        # A cursor past the end of the change log: start over (410); not a number: 422.
        (f"/api/sync/pull?cursor={q}", 410 if value == "99999999999999999999999" else 422),
        # -1 is a well-formed site id that names no site.
        (f"/api/users/?site_id={q}", 404 if value == "-1" else 422),
        (f"/api/sites/{q}/checklists/", 404),
    ]
    for url, status in urls:
        r = admin.get(url)
        assert r.status_code == status, (url, r.status_code, r.get_data(as_text=True)[:200])
        if r.status_code >= 400:
            error_of(r)
    put = admin.put(f"/api/photos/{q}", data=jpeg_bytes(), headers={"Content-Type": "image/jpeg", "X-Content-SHA256": hashlib.sha256(jpeg_bytes()).hexdigest()})
    assert put.status_code == 404, (value, put.status_code)
    error_of(put)


def test_path_traversal_cannot_reach_files_outside_the_app(client, patroller, app):
    # A doubled slash is merged by a redirect (308, to /static/etc/passwd, itself a 404); the rest are not found.
    for url, status in (("/static/../server/config.py", 404), ("/static/%2e%2e/server/config.py", 404),
                        ("/static/pwa/..%2F..%2F..%2Finstance%2Fsecret_key", 404), ("/static//etc/passwd", 308),
                        ("/c/..%2F..%2Fapi%2Fauth%2Fme", 404)):
        r = client.get(url)
        assert r.status_code == status, (url, r.status_code)
        if status == 308:
            assert client.get(r.headers["Location"]).status_code == 404
        assert b"SECRET" not in r.get_data() and b"root:" not in r.get_data()
    photo_id, r = put_photo(patroller, jpeg_bytes(), "image/jpeg", photo_id="..%2F..%2Fpwned")
    assert r.status_code == 404
    assert not any(p.name.startswith("pwned") for p in Path(app.config["PHOTO_DIR"]).parent.rglob("pwned*"))


# --- the threat model stays honest ------------------------------------------------------------


def test_every_test_named_in_the_threat_model_exists():
    root = Path(__file__).resolve().parent
    doc = (root.parent / "docs" / "security.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`([\w/]+\.py)::(\w+)`", doc))
    assert len(named) > 30
    missing = [f"{f}::{t}" for f, t in sorted(named) if not (root / f).exists() or not re.search(rf"def {t}\b", (root / f).read_text(encoding="utf-8"))]
    assert not missing, f"docs/security.md names tests that do not exist: {missing}"
