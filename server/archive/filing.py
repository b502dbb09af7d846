"""Sealing a month and filing its bundle and addenda: the order of the steps and the transactions around them.

A site's month is sealed once it has ended (state.py), then its bundle is planned,
written and recorded (bundle.py); records of the month that arrive later are filed the
same way as numbered addenda, and the sealed bundle is never rewritten. Every file filed
is hashed, and its hash is written into the audit chain (docs/archive.md).

The caller (the view or the CLI command) owns the transaction and commits it at the end.
Two commits happen here as well, each for a reason:
- `seal` commits the seal before it builds the bundle, so the month is read-only from
  that moment even when the bundle cannot be built now; it stays sealed and
  `flask archive build` builds the bundle later.
- `build_bundle` ends the transaction after planning and before writing the files:
  on SQLite every transaction holds the database's write lock, and writing a busy month
  takes a while, during which phones must keep syncing. The file is then recorded in a
  new transaction, which the caller commits. Should that commit fail, the zip stays in
  the store unrecorded, and the next build sets it aside under an `.orphan-…` name.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from .. import audit, choices
from ..extensions import db
from ..models import MonthArchive, Site, utcnow
from ..months import parse_month
from ..problems import Conflict
from . import bundle
from ..sealing import SEALED_STATES
from ..storage import get_store
from .state import get_row, has_ended

# The states a month's files are built in: sealed (the bundle is missing) or archived (addenda).
BUILDABLE = (choices.MONTH_SEALED, choices.MONTH_ARCHIVED)


def seal(site: Site, month: str, *, actor_id: int | None, now: datetime | None = None, build: bool = True) -> MonthArchive:
    """Seal a month that has ended; then (with `build`) build its bundle, so the month is archived.

    Sealing again is harmless (the row is returned as it is).
    """
    parse_month(month)
    now = now or utcnow()
    if not has_ended(site, month, now):
        raise Conflict(f"{month} has not ended yet at {site.code} ({site.timezone}); a month is sealed after it ends.", "month_not_ended")
    get_row(site.id, month, create=True)
    row = get_row(site.id, month, lock=True)
    if row.state in SEALED_STATES:
        return row
    row.state = choices.MONTH_SEALED
    row.sealed_at = now
    row.sealed_by = actor_id
    db.session.flush([row])
    audit.record("month", f"{site.id}:{month}", "sealed", actor_id=actor_id, site_id=site.id, data={"month": month, "site": site.code})
    if build:
        db.session.commit()  # the seal stands even if the build fails (module docstring)
        build_bundle(site, month, actor_id=actor_id)
    return row


def build_bundle(site: Site, month: str, *, actor_id: int | None, now: datetime | None = None) -> dict | None:
    """File the month's bundle, or an addendum when the bundle exists; None if nothing is new."""
    parse_month(month)
    now = now or utcnow()
    site_id = site.id
    row = get_row(site_id, month, lock=True)
    if row is None or row.state not in BUILDABLE:
        raise Conflict(f"{month} must be sealed before its bundle is built.", "month_not_sealed")
    job = bundle.plan(site, month, row, now)
    if job is None:
        return None
    db.session.commit()  # no write lock while the files are written (module docstring)
    # reportlab takes a third of a second to import: only a process that files a month loads it.
    from . import pdf

    digest, counts, size = bundle.write(job, pdf.render)
    row = get_row(site_id, month, lock=True)
    if list(row.files or []) != list(job.filed) or row.state not in BUILDABLE:
        # Someone else filed (or purged) this month while we wrote: theirs stands.
        bundle.set_aside(job.key, now)
        raise Conflict(f"{month} was filed by someone else at the same time; reload and try again.", "build_conflict")
    where = bundle.locate(get_store("archives"), job.key)
    entry = {
        "kind": job.kind, "name": job.name, "key": job.key, "path": where, "sha256": digest, "bytes": size,
        "built_at": bundle.stamp(now), "cutoff": now.isoformat(), "records": counts,
    }
    row.files = list(job.filed) + [entry]
    if job.kind == bundle.BUNDLE:
        row.bundle_path, row.bundle_sha256, row.built_at, row.state = where, digest, now, choices.MONTH_ARCHIVED
    else:
        row.addendum_count = job.number
    db.session.flush([row])
    audit.record(
        "month", f"{site_id}:{month}", "bundle_built" if job.kind == bundle.BUNDLE else "addendum_built",
        actor_id=actor_id, site_id=site_id, data={"file": job.name, "sha256": digest, "records": counts},
    )
    return entry


def build_pending(now: datetime | None = None, actor_id: int | None = None) -> list[tuple[Site, str, dict]]:
    """Build every missing bundle and every addendum that has new records."""
    out = []
    rows = db.session.execute(
        select(MonthArchive.month, Site).join(Site, Site.id == MonthArchive.site_id)
        .where(MonthArchive.state.in_(BUILDABLE))
        .order_by(Site.code, MonthArchive.month)
    ).all()
    for month, site in rows:
        entry = build_bundle(site, month, actor_id=actor_id, now=now)
        if entry:
            out.append((site, month, entry))
    return out
