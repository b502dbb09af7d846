"""Authorisation-matrix samples for the sync, photo and device endpoints (see test_authorization.py)."""

from __future__ import annotations

import hashlib
import io

from PIL import Image

from server import photos
from server.extensions import db
from server.models import User


PHOTO_ID = "00000000-0000-4000-8000-00000000a11d"


def photo_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (9, 9, 9)).save(buf, "JPEG")
    return buf.getvalue()


def add_photo(ctx) -> None:
    """A received photo on the demo site, for the photo endpoints' samples."""
    data = photo_bytes()
    photo, _ = photos.upload(db.session.get(User, ctx.user_id), PHOTO_ID, data, "image/jpeg", hashlib.sha256(data).hexdigest())
    photo.site_id = ctx.site_id
    db.session.commit()
    ctx.photo_id, ctx.photo_bytes = PHOTO_ID, data


SYNC_SAMPLES = {
    ("POST", "/api/sync/push"): lambda c: {"url": "/api/sync/push", "unscoped": True,
                                          "json": {"device_id": "authz-matrix-device", "device_time": "2026-01-01T00:00:00Z", "mutations": []}},
    ("GET", "/api/sync/pull"): lambda c: {"url": "/api/sync/pull?cursor=0&limit=5", "unscoped": True},
    ("GET", "/api/sync/expected"): lambda c: {"url": "/api/sync/expected", "unscoped": True},
    ("GET", "/api/photos/"): lambda c: {"url": f"/api/photos/?site_id={c.site_id}"},
    ("PUT", "/api/photos/<photo_id>"): lambda c: {"url": f"/api/photos/{c.photo_id}", "data": c.photo_bytes, "content_type": "image/jpeg",
                                                 "headers": {"X-Content-SHA256": hashlib.sha256(c.photo_bytes).hexdigest()}},
    ("GET", "/api/photos/<photo_id>"): lambda c: {"url": f"/api/photos/{c.photo_id}?size=thumb"},
    ("GET", "/api/devices/"): lambda c: {"url": f"/api/devices/?site_id={c.site_id}"},
    ("GET", "/api/devices/mine"): lambda c: {"url": "/api/devices/mine", "unscoped": True},
}
