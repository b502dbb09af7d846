"""Pages outside the JSON API: the phone app, QR links, API docs, service worker."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import zlib
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response, current_app, redirect, request, send_from_directory, url_for
from werkzeug.wsgi import get_input_stream

from .errors import ApiError

web = Blueprint("web", __name__)

PWA = Path(__file__).parent / "static" / "pwa"
PWA_URL = "/static/pwa/"
# Loaded on first use, so kept out of the precache (the patroller's first load stays small): the
# QR decoder (the service worker fetches it once the app is installed), and the desk and archive
# screens, which work online only.
LAZY = ("vendor/jsqr/", "ui/manage/", "ui/archive/", "ui/online.js", "manage.css")
SHELL_SUFFIXES = (".js", ".mjs", ".css", ".json", ".png", ".webmanifest", ".html")
COMPRESSIBLE = ("text/", "application/javascript", "application/json", "application/manifest+json", "image/svg+xml")


def shell_files() -> list[str]:
    """The app shell the service worker precaches: every module, style, icon and the translation table."""
    out = []
    for path in sorted(PWA.rglob("*")):
        rel = path.relative_to(PWA).as_posix()
        if not path.is_file() or not rel.endswith(SHELL_SUFFIXES) or rel.startswith(LAZY):
            continue
        if rel in ("index.html", "sw.js", "manifest.webmanifest") or rel.startswith("icons/make"):
            continue
        out.append(PWA_URL + rel)
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
    resp = Response(text, mimetype="text/javascript")
    resp.headers["Cache-Control"] = "no-cache"
    return resp


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
    return gzip.compress(body, compresslevel=6, mtime=0)


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
