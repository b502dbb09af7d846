"""Helpers for the task, finding, notification, webhook and audit tests (no tests here).

Also `authz_context(site)` and `AUTHZ_SAMPLES`: the requests the authorisation matrix
(tests/test_authorization.py) can use for the endpoints of issue 4.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from server import choices, tasks
from server.extensions import db
from server.findings import record_finding
from server.models import Checkpoint, Site, Task, User, Webhook, WebhookDelivery, utcnow


def new_id() -> str:
    return str(uuid.uuid4())


def iso(dt: datetime) -> str:
    """Naive UTC or aware → ISO with Z."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def user(username: str) -> User:
    return db.session.execute(select(User).where(User.username == username)).scalar_one()


def checkpoint(site: Site, code: str = "F01") -> Checkpoint:
    return db.session.execute(select(Checkpoint).where(Checkpoint.site_id == site.id, Checkpoint.short_code == code)).scalar_one()


def finding(site: Site, code: str = "F01", *, observed_at: datetime | None = None, item_id: str | None = "floor.lights_doors_windows",
            severity: str = "normal", dealt_on_spot: bool = False, reporter: str = "patroller", category: str = "facilities",
            route: str = "facility_repair", spot_note: str = "", commit: bool = True):
    """Record a finding the way sync and the web API do; returns (finding, task or None)."""
    f = record_finding(
        finding_id=new_id(), site=site, checkpoint=checkpoint(site, code), reported_by=user(reporter).id,
        observed_at=observed_at or utcnow(), item_id=item_id, category=category, route=route,
        description="灯不亮 light out", severity=severity, dealt_on_spot=dealt_on_spot, spot_note=spot_note,
    )
    if commit:
        db.session.commit()
    task = db.session.execute(select(Task).where(Task.finding_id == f.id)).scalar_one_or_none()
    return f, task


def work_done(task: Task, assignee: str = "patroller") -> Task:
    """Assign the task, start it and mark it done (awaiting verification)."""
    tasks.assign(task, actor=user("supervisor"), assignee_id=user(assignee).id)
    tasks.transition(task, actor=user(assignee), to_state=choices.TASK_IN_PROGRESS)
    tasks.transition(task, actor=user(assignee), to_state=choices.TASK_DONE)
    db.session.commit()
    return task


class Phone:
    """A phone pushing mutations through /api/sync/push, on a clock that may be off."""

    def __init__(self, api, site: Site, clock_off: timedelta = timedelta(0)):
        self.api = api
        self.site = site
        self.clock_off = clock_off
        self.device_id = new_id()
        self.seq = 0

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.clock_off

    def mutation(self, kind: str, payload: dict, observed_at: datetime) -> dict:
        self.seq += 1
        return {"mutation_id": new_id(), "seq": self.seq, "kind": kind, "observed_at": iso(observed_at), "payload": payload}

    def failed_visit(self, code: str = "F01", *, scanned_at: datetime, severity: str = "normal", item_index: int = 0, dealt_on_spot: bool = False) -> dict:
        """A visit.record with one failed item (and its finding), phone clock time `scanned_at`."""
        cp = checkpoint(self.site, code)
        r = self.api.get(f"/api/sites/{self.site.id}/checklists/")
        assert r.status_code == 200, r.get_json()
        version = next(v for v in r.get_json() if v["kind"] == cp.kind)
        results = []
        for n, item in enumerate(version["body"]["items"]):
            if n == item_index:
                results.append({"item_id": item["id"], "result": "fail", "finding": {
                    "finding_id": new_id(), "severity": severity, "dealt_on_spot": dealt_on_spot,
                    "spot_note": "fixed it" if dealt_on_spot else "", "description": "灯不亮 light out"}})
            else:
                results.append({"item_id": item["id"], "result": "ok"})
        payload = {"visit_id": new_id(), "site_id": self.site.id, "checkpoint_id": cp.id, "checklist_version_id": version["id"],
                   "scanned_at": iso(scanned_at), "scan_method": "qr", "results": results}
        return self.mutation("visit.record", payload, scanned_at)

    def push(self, mutations: list[dict], device_time: datetime | None = None):
        body = {"device_id": self.device_id, "device_time": iso(device_time or self.now()), "app_version": "test", "mutations": mutations}
        r = self.api.post("/api/sync/push", json=body)
        assert r.status_code == 200, r.get_json()
        return r.get_json()["results"]


# --- samples for the authorisation matrix ---------------------------------------------


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
