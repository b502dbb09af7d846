"""A site's month as filed: when it ends, its filing row, and how it is described to people.

The rule of what a sealed month freezes lives below the domain modules that obey it, in
server/sealing.py.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from .. import choices
from ..extensions import db
from ..models import Finding, MonthArchive, Site, Visit, utcnow
from ..months import add_months, month_end
from ..timeutil import month_of

FILE_FIELDS = ("kind", "name", "sha256", "bytes", "built_at", "records")


def previous_month(site: Site, now: datetime | None = None) -> str:
    return add_months(month_of(now or utcnow(), site.timezone), -1)


def has_ended(site: Site, month: str, now: datetime | None = None) -> bool:
    """A month is over at local midnight after its last day; only then may it be sealed."""
    return (now or utcnow()) >= month_end(month, site.timezone)


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
