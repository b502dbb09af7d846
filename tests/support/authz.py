"""Samples for the authorisation matrix (tests/test_authorization.py): objects in every state and one request per endpoint."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

from PIL import Image

from server import choices, photos, tasks
from server.extensions import db
from server.models import Site, User, Webhook, WebhookDelivery

from .ids import iso, new_id
from .tasks import checkpoint, finding, user, work_done


# The API's own documentation, served to anyone: not an endpoint of the matrix.
DOCS = {"api-docs.openapi_json", "web.api_docs"}


def api_endpoints(app):
    """(method, rule, policy) for every API method the app serves."""
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint in DOCS:
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            fn = getattr(view.view_class, method.lower()) if hasattr(view, "view_class") else view
            out.append((method, rule.rule, getattr(fn, "_patrol_policy", None)))
    return out


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
    ("POST", "/api/sync/held"): lambda c: {"url": "/api/sync/held", "unscoped": True,
                                          "json": {"device_id": "authz-matrix-device", "seqs": [[1, 5]]}},
    ("GET", "/api/photos/"): lambda c: {"url": f"/api/photos/?site_id={c.site_id}"},
    ("PUT", "/api/photos/<photo_id>"): lambda c: {"url": f"/api/photos/{c.photo_id}", "data": c.photo_bytes, "content_type": "image/jpeg",
                                                 "headers": {"X-Content-SHA256": hashlib.sha256(c.photo_bytes).hexdigest()}},
    ("GET", "/api/photos/<photo_id>"): lambda c: {"url": f"/api/photos/{c.photo_id}?size=thumb"},
    ("GET", "/api/devices/"): lambda c: {"url": f"/api/devices/?site_id={c.site_id}"},
    ("GET", "/api/devices/mine"): lambda c: {"url": "/api/devices/mine", "unscoped": True},
}


class AuthzContext:
    """Tasks on the demo site in the states each endpoint sample needs."""

    def __init__(self, site: Site):
        self.site_id = site.id
        patroller = user("patroller")
        _, self.task = finding(site)  # open
        _, assigned = finding(site, "F02")
        tasks.assign(assigned, actor=user("supervisor"), assignee_id=patroller.id)
        self.assigned_id = assigned.id
        _, case = finding(site, "F03", category="renovation_violation", route="resident_violation")
        tasks.assign(case, actor=user("supervisor"), assignee_id=patroller.id)
        self.case_id = case.id
        _, done = finding(site, "F04")
        work_done(done)
        self.done_id = done.id
        self.done_token = checkpoint(site, "F04").token
        _, extended = finding(site, "F05")
        tasks.assign(extended, actor=user("supervisor"), assignee_id=patroller.id)
        ext = tasks.request_extension(extended, actor=patroller, requested_due_at=extended.due_at + timedelta(days=7), reason="parts on order")
        self.extension_id = ext.id
        self.task_id = self.task.id
        self.finding_id = self.task.finding_id
        self.checkpoint_id = checkpoint(site).id
        hook = Webhook(site_id=site.id, url="http://127.0.0.1:9/hook", preset="generic")
        db.session.add(hook)
        db.session.flush()
        delivery = WebhookDelivery(webhook_id=hook.id, dedupe_key="sample", payload={"event": "sample"}, status=choices.WEBHOOK_FAILED, attempts=8, last_error="HTTP 500")
        db.session.add(delivery)
        spare = Webhook(site_id=site.id, url="http://127.0.0.1:9/spare", preset="wecom")
        db.session.add(spare)
        db.session.commit()
        self.spare_webhook_id = spare.id
        self.webhook_id = hook.id
        self.delivery_id = delivery.id
        self.verification_id = new_id()
        self.later = iso(self.task.due_at + timedelta(days=3))
        self.assignee_id = patroller.id
        self.dept_id = tasks.department_by_code(site.id, "engineering").id


def authz_context(site: Site) -> AuthzContext:
    return AuthzContext(site)


T = "/api/tasks"
AUTHZ_SAMPLES = {
    ("GET", f"{T}/"): lambda c: {"url": f"{T}/?site_id={c.t.site_id}"},
    ("GET", f"{T}/summary"): lambda c: {"url": f"{T}/summary?site_id={c.t.site_id}"},
    ("GET", f"{T}/repeats"): lambda c: {"url": f"{T}/repeats?site_id={c.t.site_id}"},
    ("GET", f"{T}/<int:task_id>"): lambda c: {"url": f"{T}/{c.t.task_id}"},
    ("POST", f"{T}/<int:task_id>/transition"): lambda c: {"url": f"{T}/{c.t.assigned_id}/transition", "json": {"to": "in_progress"}},
    ("POST", f"{T}/<int:task_id>/cancel"): lambda c: {"url": f"{T}/{c.t.task_id}/cancel", "json": {"reason": "duplicate report"}},
    ("POST", f"{T}/<int:task_id>/route"): lambda c: {"url": f"{T}/{c.t.task_id}/route", "json": {"route": "facility_repair"}},
    ("POST", f"{T}/<int:task_id>/assign"): lambda c: {"url": f"{T}/{c.t.assigned_id}/assign", "json": {"assignee_id": c.t.assignee_id, "department_id": c.t.dept_id}},
    # The sample task's assignee is the site's patroller, so the `assignee` relation allows them too.
    ("PATCH", f"{T}/<int:task_id>/case"): lambda c: {"url": f"{T}/{c.t.case_id}/case", "json": {"notice_given_at": c.t.later}, "related": {"patroller"}},
    ("GET", f"{T}/<int:task_id>/comments"): lambda c: {"url": f"{T}/{c.t.task_id}/comments"},
    ("POST", f"{T}/<int:task_id>/comments"): lambda c: {"url": f"{T}/{c.t.task_id}/comments", "json": {"body": "on it"}},
    ("GET", f"{T}/<int:task_id>/extensions"): lambda c: {"url": f"{T}/{c.t.task_id}/extensions"},
    ("POST", f"{T}/<int:task_id>/extensions"): lambda c: {"url": f"{T}/{c.t.assigned_id}/extensions", "json": {"requested_due_at": c.t.later, "reason": "parts"}, "related": {"patroller"}},
    ("POST", f"{T}/extensions/<int:extension_id>/decision"): lambda c: {"url": f"{T}/extensions/{c.t.extension_id}/decision", "json": {"approve": True}},
    ("POST", f"{T}/<int:task_id>/verify"): lambda c: {"url": f"{T}/{c.t.done_id}/verify", "json": {
        "verification_id": c.t.verification_id, "token": c.t.done_token, "result": "pass",
        "after_photo_ids": [new_id()], "signatures": {"verifier": new_id()}}},
    ("GET", "/api/findings/"): lambda c: {"url": f"/api/findings/?site_id={c.t.site_id}"},
    ("POST", "/api/findings/"): lambda c: {"url": "/api/findings/", "json": {"checkpoint_id": c.t.checkpoint_id, "category": "cleanliness", "description": "spill"}},
    ("GET", "/api/findings/<finding_id>"): lambda c: {"url": f"/api/findings/{c.t.finding_id}"},
    ("GET", "/api/notifications/"): lambda c: {"url": "/api/notifications/", "unscoped": True},
    ("GET", "/api/notifications/unread-count"): lambda c: {"url": "/api/notifications/unread-count", "unscoped": True},
    ("POST", "/api/notifications/read"): lambda c: {"url": "/api/notifications/read", "json": {"all": True}, "unscoped": True},
    ("GET", "/api/webhooks/"): lambda c: {"url": f"/api/webhooks/?site_id={c.t.site_id}"},
    ("POST", "/api/webhooks/"): lambda c: {"url": "/api/webhooks/", "json": {"site_id": c.t.site_id, "url": "https://example.com/hook"}},
    ("GET", "/api/webhooks/<int:webhook_id>"): lambda c: {"url": f"/api/webhooks/{c.t.webhook_id}"},
    ("PATCH", "/api/webhooks/<int:webhook_id>"): lambda c: {"url": f"/api/webhooks/{c.t.webhook_id}", "json": {"active": True}},
    ("DELETE", "/api/webhooks/<int:webhook_id>"): lambda c: {"url": f"/api/webhooks/{c.t.spare_webhook_id}"},
    ("GET", "/api/webhooks/<int:webhook_id>/deliveries"): lambda c: {"url": f"/api/webhooks/{c.t.webhook_id}/deliveries"},
    ("POST", "/api/webhooks/deliveries/<int:delivery_id>/retry"): lambda c: {"url": f"/api/webhooks/deliveries/{c.t.delivery_id}/retry"},
}
