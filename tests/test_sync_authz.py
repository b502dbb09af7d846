"""Who may call the sync, photo and device endpoints, on their own site and on another one.

SYNC_SAMPLES uses the format of SAMPLES in test_authorization.py, ready to merge there.
"""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from server import choices, photos
from server.extensions import db
from server.models import User

from .helpers import ApiClient
from .test_authorization import Ctx, _call, api_endpoints

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
}


@pytest.fixture
def world(app, demo, other_site):
    ctx = Ctx(demo)
    add_photo(ctx)
    clients = {}
    for prefix, site in (("", "own"), ("other-", "other")):
        for role in choices.ROLES:
            c = ApiClient(app.test_client())
            c.login(prefix + role)
            clients[(site, role)] = c
    return ctx, clients


def test_sync_endpoints_have_samples(app):
    mine = {(m, r) for m, r, _ in api_endpoints(app) if r.startswith(("/api/sync", "/api/photos", "/api/devices"))}
    assert mine == set(SYNC_SAMPLES)


def test_sync_photo_and_device_authorisation_matrix(app, world):
    """Own site: allowed roles pass, others 403; another site: 404 (403 for roles never allowed);
    anonymous: 401. Push, pull and expected are per user, not per site (unscoped)."""
    ctx, clients = world
    policies = {(m, r): p for m, r, p in api_endpoints(app)}
    failures = []
    for (method, rule), sample in SYNC_SAMPLES.items():
        spec = sample(ctx)
        allowed = set(policies[(method, rule)]["roles"])
        anon = _call(ApiClient(app.test_client()), method, spec)
        if anon.status_code != 401:
            failures.append(f"{method} {rule}: anonymous got {anon.status_code}")
        for role in choices.ROLES:
            r = _call(clients[("other", role)], method, spec)
            if role not in allowed:
                want = {403}
            elif spec.get("unscoped"):
                want = {200}
            else:
                want = {404}
            if r.status_code not in want:
                failures.append(f"{method} {rule}: other-site {role} got {r.status_code}, expected {sorted(want)}")
        for role in choices.ROLES:
            r = _call(clients[("own", role)], method, spec)
            if role in allowed and r.status_code != 200:
                failures.append(f"{method} {rule}: {role} is allowed but got {r.status_code} {r.get_json(silent=True)}")
            if role not in allowed and r.status_code != 403:
                failures.append(f"{method} {rule}: {role} is not allowed but got {r.status_code}")
    assert not failures, "\n".join(failures)
