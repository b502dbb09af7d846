"""Security headers on every response, and upload-safe content types."""

import logging

from flask import Flask, request
from sqlalchemy.exc import DataError

from .errors import error_response
from .extensions import db

log = logging.getLogger(__name__)

# The page policy: the app shell, the API docs and every other HTML page. No inline
# script or style anywhere (STYLE.md 9), so neither 'unsafe-inline' nor 'unsafe-eval'.
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob: data:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "worker-src 'self'",
        "manifest-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

# API answers (JSON, photos, QR codes, CSV) are data, never documents: should a browser be
# tricked into rendering one as a page, it gets an opaque origin and may run nothing.
DATA_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox"
# The app's modules, styles, icons and JSON files: never documents themselves (a document's own
# policy governs what they do); should one be opened as a page, it may load and run nothing.
STATIC_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Chrome refuses to show a PDF (the QR label sheet) in a sandboxed document.
NOT_SANDBOXED = ("text/html", "application/pdf")


def _is_data(resp) -> bool:
    return request.path.startswith("/api/") and (resp.mimetype or "") not in NOT_SANDBOXED


def _is_static_file(resp) -> bool:
    """A module, style, icon or JSON file of the app: never a document itself, fetched by one.

    The page policy governs documents and workers only; on these it would be ~330 bytes of no
    effect on every request of a phone's first load. They get the short STATIC_CSP instead
    (stricter: opened directly as a page, one may load and run nothing), and neither
    Permissions-Policy (documents only) nor a Content-Disposition naming the file."""
    return request.path.startswith(("/static/", "/i18n/")) and (resp.mimetype or "") not in NOT_SANDBOXED


def init_app(app: Flask) -> None:
    @app.errorhandler(OverflowError)
    @app.errorhandler(DataError)
    def _out_of_range(exc):
        # A number too big for the database (2**70 as an id or filter) or text the
        # database cannot hold is the client's input, not a server fault: answer 422
        # instead of 500, and save nothing. Schemas should bound such fields; this is the
        # net under those that do not.
        db.session.rollback()
        log.warning("value out of range on %s %s: %s", request.method, request.path, str(exc).splitlines()[0][:200])
        return error_response(422, "A value in the request is out of range.", "out_of_range")

    @app.after_request
    def _headers(resp):
        h = resp.headers
        static_file = _is_static_file(resp)
        h.setdefault("Content-Security-Policy", STATIC_CSP if static_file else DATA_CSP if _is_data(resp) else CSP)
        h["X-Content-Type-Options"] = "nosniff"
        h["X-Frame-Options"] = "DENY"
        h["Referrer-Policy"] = "no-referrer"
        h["Cross-Origin-Opener-Policy"] = "same-origin"
        h["Cross-Origin-Resource-Policy"] = "same-origin"
        if static_file:
            h.pop("Content-Disposition", None)
        else:
            h["Permissions-Policy"] = "camera=(self), geolocation=(), microphone=(self)"
        if app.config.get("SESSION_COOKIE_SECURE"):
            h["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        if request.path.startswith("/api/photos/") and (resp.mimetype or "").startswith("image/"):
            # A saved photo opens as a picture named after its id, never as anything else.
            # (Only a validated UUID reaches an image answer, so the name needs no escaping.)
            photo_id = (request.view_args or {}).get("photo_id", "photo")
            h.setdefault("Content-Disposition", f'inline; filename="{photo_id}.jpg"')
        if request.path.startswith("/api/") and "Cache-Control" not in h:
            h["Cache-Control"] = "no-store"
        return resp
