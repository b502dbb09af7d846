"""Sending stored files (photos, month bundles) to phones and desks: streamed through the app, never redirected.

Why streamed and not a redirect to a presigned bucket URL (docs/deploy.md, "Downloads"):
- the page's Content-Security-Policy allows images and fetches from 'self' only, and the
  service worker caches photos under the app's own URLs for offline use; a redirect to
  the bucket's host would need both opened to another origin, and CORS set on the bucket;
- the bucket can stay on a private network that phones never reach, with no public
  endpoint and no link that works for anyone who copies it within its lifetime;
- every download is authorised by the app on the request that makes it.
The cost is the bytes passing through an app node: photo copies are 20-400 KB, and bundles
are fetched a few times a month.
"""

from __future__ import annotations

from flask import Response, request, send_file

from ..storage import CHUNK, MissingObject, Store


def send_stored(store: Store, key: str, *, mimetype: str, etag: str, download_name: str | None = None, max_age: int = 0) -> Response:
    """The object as a response with a strong ETag; 304 for a matching If-None-Match without reading the store."""
    path = store.local_path(key)
    if path is not None:
        return send_file(path, mimetype=mimetype, max_age=max_age, conditional=True, etag=etag,
                         as_attachment=download_name is not None, download_name=download_name)
    if request.if_none_match.contains(etag):
        resp = Response(status=304)
        resp.set_etag(etag)
        return resp
    size = store.size(key)
    opened = store.open(key)
    body = opened.__enter__()

    def chunks():
        try:
            while chunk := body.read(CHUNK):
                yield chunk
        finally:
            opened.__exit__(None, None, None)

    resp = Response(chunks(), mimetype=mimetype, direct_passthrough=True)
    resp.content_length = size
    resp.set_etag(etag)
    if download_name is not None:
        resp.headers["Content-Disposition"] = f'attachment; filename="{download_name}"'
    if max_age:
        resp.cache_control.max_age = max_age
    return resp


__all__ = ["send_stored", "MissingObject"]
