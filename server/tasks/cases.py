"""A residents'-convention case (a resident_violation task): notice given, rectification deadline, outcome."""

from __future__ import annotations

from datetime import datetime

from .. import choices as C
from ..extensions import db
from ..models import Task, User
from ..problems import Conflict, Invalid
from .state import changed, event, lock, require, require_open


def update_case(task: Task, *, actor: User, notice_given_at: datetime | None = None, rectify_by: datetime | None = None, outcome: str | None = None, note: str = "") -> Task:
    """Record a residents'-convention case; the outcome does not move the task (the fix is still verified on site)."""
    require(actor, task, "task.case")
    lock(task)
    require_open(task, "change its case")
    if task.route != C.ROUTE_RESIDENT_VIOLATION:
        raise Conflict("Only a task routed to the residents' convention has a case.", "not_a_case")
    if outcome is not None and outcome not in C.CASE_OUTCOMES:
        raise Invalid.field("outcome", "rectified or escalated", f"A case outcome is rectified or escalated, not {outcome!r}.",
                            field_code="field_one_of", choices=", ".join(C.CASE_OUTCOMES))
    case = dict(task.case or {})
    if notice_given_at is not None:
        case["notice_given_at"] = notice_given_at.isoformat()
    if rectify_by is not None:
        case["rectify_by"] = rectify_by.isoformat()
    if outcome is not None:
        case["outcome"] = outcome
    if note:
        case["note"] = note
    before = dict(task.case or {})
    task.case = case
    db.session.flush()
    event(task, "case_updated", actor, {"from": before, "to": case})
    changed(task)
    return task
