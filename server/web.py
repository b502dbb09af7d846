"""Pages outside the JSON API: the phone app, QR links, API docs, service worker."""

from pathlib import Path

from flask import Blueprint, current_app, redirect, send_from_directory, url_for

web = Blueprint("web", __name__)

PWA = Path(__file__).parent / "static" / "pwa"


def _pwa_file(name: str, mimetype: str | None = None, max_age: int = 0):
    resp = send_from_directory(PWA, name, mimetype=mimetype, max_age=max_age)
    return resp


@web.route("/")
def index():
    """The phone app's shell."""
    resp = _pwa_file("index.html")
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@web.route("/sw.js")
def service_worker():
    """Served from the root so that it controls the whole app."""
    resp = _pwa_file("sw.js", "text/javascript")
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@web.route("/manifest.webmanifest")
def manifest():
    return _pwa_file("manifest.webmanifest", "application/manifest+json")


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
