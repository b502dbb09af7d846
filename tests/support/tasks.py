"""Builders for the task, finding, notification, webhook and audit tests: findings and tasks made through the domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from server import choices, tasks
from server.extensions import db
from server.findings import record_finding
from server.models import Checkpoint, Site, Task, User, utcnow

from .ids import new_id


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
