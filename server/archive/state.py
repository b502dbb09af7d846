"""A site's month as filed: its state (open → sealed → archived → purged), the read-only rule, its filing row.

Sealing makes the month's records read-only: `ensure_writable` is the one rule every
writer calls. A record of a sealed month that arrives late (a phone that was offline) is
still accepted and flagged addendum: `is_sealed` tells the sync path.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from .. import choices
from ..extensions import db
from ..models import Finding, MonthArchive, Site, Task, Visit, utcnow
from ..months import add_months, month_end
from ..problems import Conflict
from ..timeutil import month_of

SEALED_STATES = (choices.MONTH_SEALED, choices.MONTH_ARCHIVED, choices.MONTH_PURGED)
FILE_FIELDS = ("kind", "name", "sha256", "bytes", "built_at", "records")


def previous_month(site: Site, now: datetime | None = None) -> str:
    return add_months(month_of(now or utcnow(), site.timezone), -1)


def has_ended(site: Site, month: str, now: datetime | None = None) -> bool:
    """A month is over at local midnight after its last day; only then may it be sealed."""
    return (now or utcnow()) >= month_end(month, site.timezone)


# --- the one rule of sealed months ------------------------------------------------------------


def state_of(site_id: int, month: str) -> str:
    state = db.session.execute(
        select(MonthArchive.state).where(MonthArchive.site_id == site_id, MonthArchive.month == month)
    ).scalar()
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


# --- the filing row ---------------------------------------------------------------------------


def get_row(site_id: int, month: str, create: bool = False, lock: bool = False) -> MonthArchive | None:
    """The month's filing row; `lock` holds it (FOR UPDATE) so two archivists cannot seal or build at once."""
    stmt = select(MonthArchive).where(MonthArchive.site_id == site_id, MonthArchive.month == month)
    if lock:
        stmt = stmt.with_for_update()
    row = db.session.execute(stmt).scalar_one_or_none()
    if row is None and create:
        try:
            with db.session.begin_nested():
                row = MonthArchive(site_id=site_id, month=month, state=choices.MONTH_OPEN, files=[], addendum_count=0)
                db.session.add(row)
        except IntegrityError:
            # Another session created it a moment ago: use theirs.
            row = db.session.execute(stmt).scalar_one()
    return row


# --- listing ------------------------------------------------------------------------------------


def _counts(model, site_id: int, month: str | None) -> dict[str, int]:
    """Records per month of a site (of one month when `month` is given)."""
    stmt = select(model.month, func.count()).where(model.site_id == site_id).group_by(model.month)
    if month is not None:
        stmt = stmt.where(model.month == month)
    return dict(db.session.execute(stmt).all())


def _describe(site: Site, month: str, row: MonthArchive | None, visits: dict, findings: dict, now: datetime | None) -> dict:
    return {
        "site_id": site.id,
        "month": month,
        "state": row.state if row else choices.MONTH_OPEN,
        "ended": has_ended(site, month, now),
        "visits": visits.get(month, 0),
        "findings": findings.get(month, 0),
        "sealed_at": row.sealed_at if row else None,
        "sealed_by": row.sealed_by if row else None,
        "bundle_sha256": row.bundle_sha256 if row else "",
        "addendum_count": row.addendum_count if row else 0,
        "files": [{k: f[k] for k in FILE_FIELDS} for f in (row.files if row else [])],
        "purged_at": row.purged_at if row else None,
    }


def months(site: Site, now: datetime | None = None) -> list[dict]:
    """Every month with records or a filing row, and the current one, newest first, with its state and counts."""
    visits, findings = _counts(Visit, site.id, None), _counts(Finding, site.id, None)
    rows = {r.month: r for r in db.session.execute(select(MonthArchive).where(MonthArchive.site_id == site.id)).scalars()}
    current = month_of(now or utcnow(), site.timezone)
    every = sorted(set(visits) | set(findings) | set(rows) | {current}, reverse=True)
    return [_describe(site, month, rows.get(month), visits, findings, now) for month in every]


def describe_month(site: Site, month: str, now: datetime | None = None) -> dict:
    """One month as `months` lists it; a month with nothing recorded or filed is open and empty."""
    row = get_row(site.id, month)
    return _describe(site, month, row, _counts(Visit, site.id, month), _counts(Finding, site.id, month), now)
