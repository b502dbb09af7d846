"""What a sealed month freezes: a site's month state and the one read-only rule every writer calls.

Sealing makes the month's records read-only: `ensure_writable` is the one rule every
writer calls. A record of a sealed month that arrives late (a phone that was offline) is
still accepted and flagged addendum: `is_sealed` tells the sync path. This sits below
tasks, findings, sync and archive, which all obey it.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select

from . import choices
from .extensions import db
from .models import Finding, MonthArchive, Task
from .problems import Conflict

SEALED_STATES = (choices.MONTH_SEALED, choices.MONTH_ARCHIVED, choices.MONTH_PURGED)


# Built once (a statement object keeps its cache key): every push with a visit runs it.
_STATE = select(MonthArchive.state).where(MonthArchive.site_id == bindparam("site_id"), MonthArchive.month == bindparam("month"))


def state_of(site_id: int, month: str) -> str:
    state = db.session.execute(_STATE, {"site_id": site_id, "month": month}).scalar()
    return state or choices.MONTH_OPEN


def is_sealed(site_id: int, month: str) -> bool:
    """True once the month is sealed: a record of it arriving now is an addendum."""
    return state_of(site_id, month) in SEALED_STATES


def ensure_writable(site_id: int, month: str | None) -> None:
    """Refuse (Conflict month_sealed) a change to a record filed under a sealed month.

    `month` is the month the record is filed under (Visit.month, Finding.month, or
    `task_month(task)`); None means the record is not frozen by any month.
    """
    if month is None:
        return
    state = state_of(site_id, month)
    if state in SEALED_STATES:
        raise Conflict(
            f"The records of {month} were sealed at month-end filing and are read-only now. "
            "Record what happened as a new entry instead.",
            "month_sealed",
            {"site_id": site_id, "month": month, "state": state},
        )


def task_month(task: Task) -> str | None:
    """The month that freezes a task: its finding's month once the task is closed.

    A task still open when its month is sealed carries on (the repair goes on after
    month end); from the moment it is verified or cancelled it is part of the filed
    record of its finding's month, and a sealed month keeps it read-only.
    """
    if task.state not in choices.TASK_CLOSED_STATES:
        return None
    return db.session.execute(select(Finding.month).where(Finding.id == task.finding_id)).scalar()
