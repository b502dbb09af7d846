"""Repair tasks: opening one per finding, with its due date.

The due date is the finding's corrected observation time plus the site's due days, so
neither a late sync nor a wrong phone clock moves it.
"""

from __future__ import annotations

from datetime import timedelta

from . import audit, choices
from .changes import record_change
from .extensions import db
from .models import Finding, Site, Task


def due_date(finding: Finding, site: Site):
    return finding.observed_at + timedelta(days=site.task_due_days)


def open_task_for(finding: Finding, site: Site) -> Task:
    """Open exactly one task for a finding (tasks.finding_id is unique)."""
    due = due_date(finding, site)
    task = Task(
        site_id=site.id,
        finding_id=finding.id,
        checkpoint_id=finding.checkpoint_id,
        route=finding.route,
        severity=finding.severity,
        state=choices.TASK_OPEN,
        due_at=due,
        original_due_at=due,
        case={},
    )
    db.session.add(task)
    db.session.flush([task])
    audit.record("task", task.id, "opened", actor_id=finding.reported_by, site_id=site.id, data={"finding_id": finding.id, "due_at": due.isoformat()})
    record_change("task", task.id, site_id=site.id)
    return task
