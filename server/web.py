"""Pages outside the JSON API: the phone app, QR links, API docs, service worker."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import zlib
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, redirect, request, send_from_directory, url_for
from werkzeug.wsgi import get_input_stream

from . import choices, i18n
from .errors import ApiError

web = Blueprint("web", __name__)

PWA = Path(__file__).parent / "static" / "pwa"
PWA_URL = "/static/pwa/"
# Loaded on first use, so kept out of the precache (the patroller's first load stays small): the
# QR decoder (the service worker fetches it once the app is installed), and the desk and archive
# screens, which work online only.
LAZY = ("vendor/jsqr/", "ui/manage/", "ui/archive/", "ui/online.js", "manage.css")
# Kept with the shell but fetched only once the service worker is active, after the first screen:
# the large icons, which only installing the app to the home screen uses (online).
AFTER_INSTALL = ("icons/icon-512.png", "icons/icon-maskable-512.png", "icons/apple-touch-icon.png")
SHELL_SUFFIXES = (".js", ".mjs", ".css", ".json", ".png", ".webmanifest", ".html")
COMPRESSIBLE = ("text/", "application/javascript", "application/json", "application/manifest+json", "image/svg+xml")


# The translation table is one file (static/pwa/strings.json, which the server reads whole).
# The phone is served it in two parts: what the desk's and archive's screens alone name waits
# for their first screen, so a patroller's first load carries only the patrol screens' words.
STRINGS_URL = "/i18n/{part}.json"
STRINGS_PARTS = ("phone", "desk")
DESK_MODULES = ("ui/manage/", "ui/archive/", "ui/online.js")  # = LAZY's screens
# A name built in code ('err_' + code, `st_${state}`) is kept for the phone whatever it is.
_DYNAMIC_KEY = (re.compile(r"`([a-z][a-z0-9_]*_)\$\{"), re.compile(r"'([a-z][a-z0-9_]*_)'\s*\+"))


@lru_cache(maxsize=1)
def strings_parts() -> dict[str, bytes]:
    """The one table split for the phone: `desk` holds the keys that only the desk's and the
    archive's modules name (quoted, literally) and no patrol-screen module mentions at all; every
    other key, and every key a module builds from a prefix (the vocabulary's labels, error codes),
    is in `phone`. Worked out from the files, so a key a patrol screen starts to use moves back
    to `phone` by itself. Keys a desk module builds from a prefix go with the desk unless a
    patrol module builds or names them too."""
    phone_src, desk_src = [], []
    for path in sorted(PWA.rglob("*.js")):
        rel = path.relative_to(PWA).as_posix()
        if rel.startswith("vendor/") or rel == "sw.js":
            continue
        (desk_src if rel.startswith(DESK_MODULES) else phone_src).append(path.read_text(encoding="utf-8"))
    phone_text, desk_text = "\n".join(phone_src), "\n".join(desk_src)
    # A vocabulary list's labels (vocab.label('task_states', …)) go with the side that names the
    # list; a list neither side names stays with the phone.
    lists = {name: prefix for name, prefix in choices.LABEL_KEYS.items()}
    desk_lists = {p for n, p in lists.items() if f"'{n}'" in desk_text and f"'{n}'" not in phone_text}
    phone_built = {m for rx in _DYNAMIC_KEY for m in rx.findall(phone_text)} | (set(lists.values()) - desk_lists)
    desk_built = {m for rx in _DYNAMIC_KEY for m in rx.findall(desk_text)} | desk_lists
    quoted = set(re.findall(r"['\"`]([a-z][a-z0-9_]*)['\"`]", desk_text))
    table = i18n.table()
    desk = {
        k for k in table
        if (k in quoted or k.startswith(tuple(desk_built))) and k not in phone_text and not k.startswith(tuple(phone_built))
    }
    parts = {"phone": {k: v for k, v in table.items() if k not in desk}, "desk": {k: v for k, v in table.items() if k in desk}}
    return {name: json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode() for name, rows in parts.items()}


def shell_files() -> list[str]:
    """The app shell the service worker precaches: every module, style, icon and the phone's part of the translation table."""
    out = [STRINGS_URL.format(part="phone")]
    for path in sorted(PWA.rglob("*")):
        rel = path.relative_to(PWA).as_posix()
        if not path.is_file() or not rel.endswith(SHELL_SUFFIXES) or rel.startswith(LAZY) or rel in AFTER_INSTALL:
            continue
        if rel in ("index.html", "sw.js", "manifest.webmanifest", "strings.json") or rel.startswith("icons/make"):
            continue
        out.append(PWA_URL + rel)
    return out


def strip_comments(text: str, css: bool = False) -> str:
    """The app's own source without its comments, as phones are served it (they pay per byte;
    about a quarter of the shell's compressed bytes are comments). Only whole comment lines go,
    and `/* … */` blocks that start a line, never a line inside a template literal, so what
    remains is the file's code exactly, line for line in order; a comment after code on a line
    stays. Vendored libraries are served untouched (their licence headers stay)."""
    if css:
        return re.sub(r"(?m)^[ \t]*/\*.*?\*/[ \t]*\n", "", text, flags=re.S)
    out: list[str] = []
    in_block = False
    in_template = False  # inside a `…` spanning lines: every line is string content
    for line in text.splitlines(keepends=True):
        head = line.lstrip()
        if not in_template:
            if in_block:
                if "*/" in line:
                    in_block = False
                    rest = line.split("*/", 1)[1]
                    if rest.strip():
                        out.append(rest)
                continue
            if head.startswith("//"):
                continue
            if head.startswith("/*"):
                if "*/" not in head:
                    in_block = True
                    continue
                rest = head.split("*/", 1)[1]
                if not rest.strip():
                    continue
        if line.count("`") % 2:
            in_template = not in_template
        out.append(line)
    return "".join(out)


@lru_cache(maxsize=512)
def _served(rel: str, mtime_ns: int) -> bytes:
    raw = (PWA / rel).read_bytes()
    if rel.startswith("vendor/") or not rel.endswith((".js", ".css")) or rel == "sw.js":
        return raw
    return strip_comments(raw.decode("utf-8"), css=rel.endswith(".css")).encode("utf-8")


def served_bytes(rel: str) -> bytes:
    """The bytes /static/pwa/<rel> answers with (the app's modules and styles without comments)."""
    return _served(rel, (PWA / rel).stat().st_mtime_ns)


def shell_hashes() -> dict[str, str]:
    """SHA-256 of each precached file's bytes: the service worker takes the copy the page just
    loaded from the browser's cache when its bytes are these, instead of asking the server again."""
    out = {}
    for url in ["/static/pwa/index.html", "/static/pwa/manifest.webmanifest", *shell_files()]:
        if url.startswith("/i18n/"):
            out[url] = hashlib.sha256(strings_parts()["phone"]).hexdigest()
            continue
        rel = url[len(PWA_URL):]
        key = {"index.html": "/", "manifest.webmanifest": "/manifest.webmanifest"}.get(rel, url)
        out[key] = hashlib.sha256(served_bytes(rel) if key.startswith(PWA_URL) else (PWA / rel).read_bytes()).hexdigest()
    return out


def pwa_version() -> str:
    """The app's version: PWA_VERSION when set, else a hash of every file of the app.

    Any change to a file gives a new service worker, which precaches the new shell
    beside the old one and waits until the app says it may take over.
    """
    forced = os.environ.get("PWA_VERSION")
    if forced:
        return forced
    # Only the release's own files count (not their times, nor Python's byte-code caches),
    # so every node built from one commit answers the same version (docs/deploy.md).
    digest = hashlib.sha256()
    for path in sorted(PWA.rglob("*")):
        if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts:
            digest.update(path.relative_to(PWA).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _pwa_file(name: str, mimetype: str | None = None, max_age: int = 0):
    return send_from_directory(PWA, name, mimetype=mimetype, max_age=max_age)


@web.route("/")
def index():
    """The phone app's shell."""
    resp = _pwa_file("index.html")
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@web.route("/sw.js")
def service_worker():
    """Served from the root so that it controls the whole app; version and shell list filled in."""
    text = (PWA / "sw.js").read_text(encoding="utf-8")
    text = text.replace("__PWA_VERSION__", pwa_version()).replace("/*__SHELL__*/", json.dumps(shell_files())[1:-1])
    text = text.replace("/*__HASHES__*/", json.dumps(shell_hashes())[1:-1])
    text = text.replace("/*__AFTER__*/", json.dumps([PWA_URL + rel for rel in AFTER_INSTALL])[1:-1])
    resp = Response(text, mimetype="text/javascript")
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@web.route("/static/pwa/<path:rel>")
def pwa_file(rel: str):
    """The phone app's files; its own modules and styles without their comments (strip_comments)."""
    if not rel.endswith((".js", ".css")) or rel.startswith("vendor/"):
        return current_app.send_static_file("pwa/" + rel)
    path = (PWA / rel).resolve()
    if PWA.resolve() not in path.parents or not path.is_file():
        abort(404)
    body = served_bytes(path.relative_to(PWA.resolve()).as_posix())
    resp = Response(body, mimetype="text/css" if rel.endswith(".css") else "text/javascript")
    resp.set_etag(hashlib.sha256(body).hexdigest()[:32])
    return resp.make_conditional(request)


@web.route("/i18n/<part>.json")
def strings_part(part: str):
    """A part of the one translation table (see strings_parts), revalidated by its hash."""
    if part not in STRINGS_PARTS:
        abort(404)
    body = strings_parts()[part]
    resp = Response(body, mimetype="application/json")
    resp.set_etag(hashlib.sha256(body).hexdigest()[:32])
    resp.headers["Cache-Control"] = "no-cache"
    return resp.make_conditional(request)


@web.route("/manifest.webmanifest")
def manifest():
    """The web app manifest (name, icons, colours) that makes the app installable."""
    resp = _pwa_file("manifest.webmanifest", "application/manifest+json")
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@web.route("/c/<token>")
def checkpoint_link(token: str):
    """A QR label's URL: opens the app at that checkpoint (the app resolves the token)."""
    return redirect(url_for("web.index") + f"#/scan/{token}")


@web.route("/api/docs")
def api_docs():
    """Browsable API documentation, served entirely from this server."""
    resp = send_from_directory(Path(current_app.static_folder) / "apidocs", "index.html")
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@web.before_app_request
def conditional_gzip():
    """Let a gzip ETag ("…-gz") revalidate: compare it as the file's own ETag, so the answer is 304."""
    tag = request.environ.get("HTTP_IF_NONE_MATCH")
    if tag and '-gz"' in tag:
        request.environ["HTTP_IF_NONE_MATCH"] = tag.replace('-gz"', '"')


INFLATE_CHUNK = 1 << 16


def _inflate(raw, limit: int) -> bytes:
    """The gzip body `raw` decompressed, in bounded steps: never more than `limit` + one chunk in memory.

    413 as soon as the decompressed bytes pass `limit` (a gzip bomb stops there), 400 for
    bytes that are not gzip or end early. Several gzip members one after another are one body.
    """
    out = bytearray()
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    pending = b""
    started = False
    while True:
        if not pending:
            pending = raw.read(INFLATE_CHUNK)
            if not pending:
                break
        started = True
        try:
            out += inflater.decompress(pending, limit + 1 - len(out))
            if len(out) > limit:
                raise ApiError(413, f"The request body is larger than {limit // (1024 * 1024)} MiB once decompressed.", "too_large",
                               {"limit_bytes": limit})
            pending = inflater.unconsumed_tail
            if inflater.eof:
                # The next gzip member, if any (RFC 1952 allows several).
                pending = inflater.unused_data + pending
                inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if pending else inflater
                if pending:
                    started = False
        except zlib.error:
            raise ApiError(400, "The body is marked Content-Encoding: gzip but is not valid gzip.", "bad_encoding") from None
    if started and not inflater.eof:
        raise ApiError(400, "The gzip body ends early (cut off on the way): send it again.", "bad_encoding")
    return bytes(out)


@web.before_app_request
def inflate_request_body():
    """Accept request bodies sent with `Content-Encoding: gzip` (the phone compresses its pushes).

    The body is decompressed before any view reads it, and every size limit applies to
    the decompressed bytes: MAX_CONTENT_LENGTH here (413 `too_large`), and the views'
    own limits after it. Any other encoding is refused (415).
    """
    encoding = request.environ.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if not encoding or encoding == "identity":
        return
    if encoding not in ("gzip", "x-gzip"):
        raise ApiError(415, "Only gzip is accepted as a request Content-Encoding.", "unsupported_encoding")
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    # The compressed body is held to the same limit (413 from werkzeug before anything is read).
    body = _inflate(get_input_stream(request.environ, max_content_length=limit), limit)
    environ = request.environ
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_CONTENT_ENCODING", None)
    environ.pop("wsgi.input_terminated", None)


@lru_cache(maxsize=256)
def _gzipped(key: str, body: bytes) -> bytes:
    # Keyed by path + ETag so each static file is compressed once per content.
    # Compressed once per content and kept: the slowest level costs nothing after the first answer.
    return gzip.compress(body, compresslevel=9, mtime=0)


@web.after_app_request
def compress(resp: Response) -> Response:
    """Gzip text responses (the app shell, JSON) when the client accepts it: phones pay per byte."""
    if (
        resp.status_code != 200
        or "gzip" not in request.headers.get("Accept-Encoding", "")
        or "Content-Encoding" in resp.headers
        or not (resp.mimetype or "").startswith(COMPRESSIBLE)
        or request.method == "HEAD"
    ):
        return resp
    resp.direct_passthrough = False
    body = resp.get_data()
    if len(body) < 512:
        return resp
    etag = resp.headers.get("ETag", "")
    packed = _gzipped(request.path + etag, body) if etag else gzip.compress(body, compresslevel=6, mtime=0)
    resp.set_data(packed)
    resp.headers["Content-Encoding"] = "gzip"
    resp.headers["Content-Length"] = str(len(packed))
    resp.headers.add("Vary", "Accept-Encoding")
    if etag:
        # A different representation needs a different validator.
        resp.headers["ETag"] = etag[:-1] + '-gz"' if etag.endswith('"') else etag + "-gz"
    return resp
