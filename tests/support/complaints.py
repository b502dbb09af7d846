"""The authorisation matrix's requests for the complaint endpoints (tests/test_authorization.py).

Each call makes a fresh complaint in the state its step starts from, handled by the demo
patroller, so every allowed role's request finds work to do.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from server import choices, complaints
from server.extensions import db
from server.models import Complaint, User, utcnow

from .tasks import user


def _user(name: str) -> User:
    from sqlalchemy import select

    return db.session.execute(select(User).where(User.username == name)).scalar_one()


STEPS = ("received", "valid", "assigned", "in_progress", "proposed", "approved", "accepted", "replied")


def complaint_in(ctx, state: str) -> int:
    c, _ = complaints.receive(ctx.site, actor=_user("receptionist"), channel="letter", complainant="住户", content="楼道灯不亮",
                              unit="8-01", checkpoint_id=ctx.checkpoint_id, received_at=utcnow() - timedelta(minutes=1))
    steps = [
        lambda: complaints.judge(c, actor=_user("supervisor"), valid=True),
        lambda: complaints.assign(c, actor=_user("supervisor"), handler_id=_user("patroller").id),
        lambda: complaints.start(c, actor=_user("patroller")),
        lambda: complaints.propose(c, actor=_user("patroller"), cause="c", solution="s"),
        lambda: complaints.approve(c, actor=_user("supervisor"), approve=True),
        lambda: complaints.accept(c, actor=_user("supervisor"), signed_by="住户"),
        lambda: complaints.reply(c, actor=_user("supervisor"), text="已处理"),
    ]
    for step in steps[: STEPS.index(state)]:
        step()
    db.session.commit()
    return c.id


C = "/api/complaints"
H = ("patroller",)  # the handler, allowed by their relation whatever their role

COMPLAINT_SAMPLES = {
    # The list: a role reads the site's complaints; the handler relation, only those one handles.
    ("GET", f"{C}/"): lambda c: {"url": f"{C}/?site_id={c.site_id}", "related": H},
    ("POST", f"{C}/"): lambda c: {"url": f"{C}/", "json": {"site_id": c.site_id, "channel": "phone", "complainant": "住户", "content": "噪音"}},
    ("GET", f"{C}/duplicates"): lambda c: {"url": f"{C}/duplicates?site_id={c.site_id}&unit=8-01"},
    ("GET", f"{C}/<int:complaint_id>"): lambda c: {"url": f"{C}/{complaint_in(c, 'assigned')}", "related": H},
    ("POST", f"{C}/<int:complaint_id>/judge"): lambda c: {"url": f"{C}/{complaint_in(c, 'received')}/judge", "json": {"valid": True}},
    ("POST", f"{C}/<int:complaint_id>/assign"): lambda c: {"url": f"{C}/{complaint_in(c, 'valid')}/assign", "json": {"handler_id": c.user_id}},
    ("POST", f"{C}/<int:complaint_id>/task"): lambda c: {"url": f"{C}/{complaint_in(c, 'valid')}/task", "json": {"task_id": c.t.task_id}},
    ("POST", f"{C}/<int:complaint_id>/start"): lambda c: {"url": f"{C}/{complaint_in(c, 'assigned')}/start", "related": H},
    ("POST", f"{C}/<int:complaint_id>/propose"): lambda c: {"url": f"{C}/{complaint_in(c, 'in_progress')}/propose", "json": {"cause": "c", "solution": "s"}, "related": H},
    ("POST", f"{C}/<int:complaint_id>/approve"): lambda c: {"url": f"{C}/{complaint_in(c, 'proposed')}/approve", "json": {"approve": True}},
    ("POST", f"{C}/<int:complaint_id>/accept"): lambda c: {"url": f"{C}/{complaint_in(c, 'approved')}/accept", "json": {"signed_by": "住户"}, "related": H},
    ("POST", f"{C}/<int:complaint_id>/reply"): lambda c: {"url": f"{C}/{complaint_in(c, 'accepted')}/reply", "json": {"text": "已处理"}},
    ("GET", f"{C}/<int:complaint_id>/letter.pdf"): lambda c: {"url": f"{C}/{complaint_in(c, 'replied')}/letter.pdf", "related": H},
    ("POST", f"{C}/<int:complaint_id>/return-visits"): lambda c: {"url": f"{C}/{complaint_in(c, 'replied')}/return-visits", "json": {"result": "satisfied"}},
    ("POST", f"{C}/<int:complaint_id>/return-visits/schedule"): lambda c: {"url": f"{C}/{complaint_in(c, 'replied')}/return-visits/schedule", "json": {"at": (utcnow() + timedelta(days=1)).isoformat() + "Z"}},
    ("GET", "/api/return-visits/"): lambda c: {"url": f"/api/return-visits/?site_id={c.site_id}"},
    ("GET", "/api/sites/<int:site_id>/complaints/stats"): lambda c: {"url": f"/api/sites/{c.site_id}/complaints/stats?month=2026-03"},
}


def take(site, *, by: str = "receptionist", received_at: datetime | None = None, kind: str = choices.COMPLAINT_ORDINARY, **kw) -> Complaint:
    """A complaint received by `by` (the receptionist), committed: a phone call about a hallway light by default."""
    fields = {"channel": choices.CHANNEL_PHONE, "complainant": "王女士", "content": "楼道灯不亮 hallway light out", "unit": "8-01", **kw}
    c, _ = complaints.receive(site, actor=user(by), received_at=received_at or utcnow() - timedelta(seconds=1), kind=kind, **fields)
    db.session.commit()
    return c
