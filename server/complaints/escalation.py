"""Complaints past their deadline rise level by level (接待人 → 客服主管 → 客服经理 → 总经理), each level once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from .. import audit
from .. import choices as C
from ..changes import record_change
from ..extensions import db
from ..models import Complaint, Site, utcnow
from . import rules
from .process import tell_level


def escalate_due(now: datetime | None = None) -> int:
    """Raise every complaint still being handled to the level its lateness calls for; returns levels reached.

    A complaint late by less than a day reaches the supervisor, a day more the manager,
    two days more the general manager. A run that finds several levels due (the command
    did not run for days) tells each level in turn. The claim is a compare-and-set UPDATE
    on `level`, and every notice has a dedupe key per complaint, reopening and level, so
    a second run (or two at once) changes and sends nothing twice.
    """
    now = now or utcnow()
    rows = db.session.execute(
        select(Complaint, Site).join(Site, Site.id == Complaint.site_id)
        .where(Complaint.state.in_(C.COMPLAINT_HANDLING_STATES), Complaint.due_at <= now, Complaint.level != C.LEVEL_GENERAL_MANAGER)
        .order_by(Complaint.id)
    ).all()
    reached = 0
    for complaint, site in rows:
        target = rules.level_due(complaint.due_at, now)
        while rules.rank(complaint.level) < rules.rank(target):
            current = complaint.level
            nxt = rules.LADDER[rules.rank(current) + 1]
            claimed = db.session.execute(
                update(Complaint).where(Complaint.id == complaint.id, Complaint.level == current, Complaint.reopen_count == complaint.reopen_count)
                .values(level=nxt).execution_options(synchronize_session=False)
            ).rowcount
            if not claimed:
                break  # another run got there first
            complaint.level = nxt
            tell_level(complaint, nxt, site, now)
            audit.record("complaint", complaint.id, "escalated", actor_id=None, site_id=site.id, data={"from": current, "to": nxt})
            record_change("complaint", complaint.id, site_id=site.id)
            reached += 1
    db.session.expire_all()
    return reached
