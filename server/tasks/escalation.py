"""Overdue tasks escalated to the site's supervisors, managers and the assignee, once a site-local day each."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update

from .. import choices as C
from .. import webhooks
from ..extensions import db
from ..models import Finding, Site, Task, utcnow
from ..notifications import event_summary, notify, site_recipients
from ..timeutil import local_date
from .state import overdue_clause


def escalate_overdue(now: datetime | None = None) -> int:
    """Escalate each overdue task at most once per site-local day; returns tasks escalated.

    The claim is a conditional UPDATE on `last_escalated_on`, so two runs on the same day
    (or two at once) escalate each task once.
    """
    now = now or utcnow()
    rows = db.session.execute(
        select(Task, Site)
        .join(Site, Site.id == Task.site_id)
        .where(overdue_clause(now))
        .order_by(Task.id)
    ).all()
    escalated = 0
    for task, site in rows:
        today = local_date(now, site.timezone)
        if task.last_escalated_on == today:
            continue
        claimed = db.session.execute(
            update(Task)
            .where(Task.id == task.id, or_(Task.last_escalated_on.is_(None), Task.last_escalated_on != today))
            # Bookkeeping, not a change to the task: `updated_at` stays (its onupdate would
            # move it, and a sealed month's addendum picks tasks changed since its bundle).
            .values(last_escalated_on=today, updated_at=Task.updated_at)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not claimed:
            continue
        finding = db.session.get(Finding, task.finding_id)
        key = f"overdue:{task.id}:{today}"
        data = event_summary(task, finding, site) | {"days_overdue": (now - task.due_at).days}
        recipients = site_recipients(site.id) + ([task.assignee_id] if task.assignee_id else [])
        notify(recipients, site_id=site.id, kind=C.NOTIFY_OVERDUE, dedupe_key=key, task_id=task.id, data=data)
        webhooks.queue(site.id, key, {"event": C.NOTIFY_OVERDUE, **data})
        escalated += 1
    db.session.expire_all()
    return escalated
