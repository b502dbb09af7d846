"""Two-year retention: legal holds, and the purge of records past the retention period.

A month's records go RETENTION_MONTHS (24) months after that month ends in the site's
timezone: visits, item results, findings, their tasks and everything hanging off them
(extensions, comments, verifications, notifications), photo rows and photo files, and
the month's archive files. Rules (docs/archive.md):
- a month must be archived (sealed and its bundle built) first: an open or a sealed but
  unbuilt month is reported and left alone, never purged silently;
- a legal hold on the site or on the month keeps the whole month; a hold on a task keeps
  that task, its finding, the visits it was found and verified at, and their photos
  (the month's archive files are then kept too);
- a dry run (the default) counts exactly what a real run would remove and changes nothing;
- every purge writes a purge log row (what, when, by whom, counts, the archive's hash)
  and an audit event.

`purge(apply=True)` commits, unlike the rest of the domain: each month's removal is
committed on its own, and that month's photo and archive files are deleted only after
its commit. A file deleted must be matched by a durable purge (a rollback would bring the
rows back without their files), and one month's failure leaves the months before it
purged and logged. Everything else here leaves the transaction to the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import delete, func, select

from . import audit, choices
from .changes import record_change
from .extensions import db
from .models import Extension, Finding, ItemResult, LegalHold, MonthArchive, Notification, Photo, PurgeLog, Round, Site
from .models import Complaint, ResidentNote, ReturnVisit, Task, TaskComment, User, Verification, Visit, utcnow
from .months import add_months, month_end, month_start, parse_month
from .archive.bundle import file_key
from .photos import delete_files
from .storage import get_store
from .problems import Invalid

CHUNK = 500


# --- legal holds -------------------------------------------------------------------------------


def add_hold(site: Site, *, reason: str, actor_id: int | None, month: str | None = None, task_id: int | None = None) -> LegalHold:
    """Hold a whole site, one month of it, or one task; the reason is required."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid.field("reason", "required", "Say why the records must be kept (reason).", field_code="field_required")
    if month is not None and task_id is not None:
        raise Invalid.field("task_id", "with month", "Hold a month or a task, not both at once.", field_code="field_month_or_task")
    if month is not None:
        parse_month(month)
    if task_id is not None:
        task = db.session.get(Task, task_id)
        if task is None or task.site_id != site.id:
            raise Invalid.field("task_id", "not at this site", "No such task at this site.", field_code="field_not_at_site")
    hold = LegalHold(site_id=site.id, month=month, task_id=task_id, reason=reason[:2000], created_by=actor_id)
    db.session.add(hold)
    db.session.flush([hold])
    audit.record("legal_hold", hold.id, "placed", actor_id=actor_id, site_id=site.id, data={"month": month, "task_id": task_id, "reason": hold.reason})
    return hold


def release_hold(hold: LegalHold, *, actor_id: int | None) -> LegalHold:
    if hold.released_at is None:
        hold.released_at = utcnow()
        hold.released_by = actor_id
        db.session.flush([hold])
        audit.record("legal_hold", hold.id, "released", actor_id=actor_id, site_id=hold.site_id, data={})
    return hold


def active_holds(site_id: int) -> list[LegalHold]:
    return list(
        db.session.execute(
            select(LegalHold).where(LegalHold.site_id == site_id, LegalHold.released_at.is_(None)).order_by(LegalHold.id)
        ).scalars()
    )


# --- what is due ------------------------------------------------------------------------------------


def purge_after(site: Site, month: str, retention_months: int) -> datetime:
    """When a month's records may go: `retention_months` after the month's end (site time)."""
    return month_start(add_months(month, 1 + retention_months), site.timezone)


@dataclass
class MonthPlan:
    site: Site
    month: str
    action: str  # "purge" or "skip"
    reason: str = ""
    counts: dict = field(default_factory=dict)
    held: dict = field(default_factory=dict)
    archive_sha256: str = ""
    ids: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"site": self.site.code, "site_id": self.site.id, "month": self.month, "action": self.action, "reason": self.reason,
                "counts": self.counts, "held": self.held, "archive_sha256": self.archive_sha256}


def _ids(stmt) -> list:
    return list(db.session.execute(stmt).scalars())


def _plan_month(site: Site, month: str, holds: list[LegalHold]) -> MonthPlan:
    row = db.session.execute(select(MonthArchive).where(MonthArchive.site_id == site.id, MonthArchive.month == month)).scalar_one_or_none()
    state = row.state if row else choices.MONTH_OPEN
    plan = MonthPlan(site, month, "skip", archive_sha256=row.bundle_sha256 if row else "")
    if any(h.month is None and h.task_id is None for h in holds):
        plan.reason = "legal hold on the whole site"
        return plan
    if any(h.month == month for h in holds):
        plan.reason = "legal hold on this month"
        return plan
    if state == choices.MONTH_OPEN:
        plan.reason = "not sealed: seal and archive the month first (flask archive seal --site CODE --month YYYY-MM)"
        return plan
    if state == choices.MONTH_SEALED:
        plan.reason = "sealed but its bundle was never built (flask archive build)"
        return plan

    held_tasks = [h.task_id for h in holds if h.task_id is not None]
    held_findings = _ids(select(Task.finding_id).where(Task.id.in_(held_tasks))) if held_tasks else []
    held_visits = set()
    if held_tasks:
        held_visits |= set(_ids(select(Finding.visit_id).where(Finding.id.in_(held_findings), Finding.visit_id.is_not(None))))
        held_visits |= set(_ids(select(Verification.visit_id).where(Verification.task_id.in_(held_tasks))))

    held_finding_set = set(held_findings)
    findings = [f for f in _ids(select(Finding.id).where(Finding.site_id == site.id, Finding.month == month)) if f not in held_finding_set]
    tasks = _in_chunks(lambda chunk: select(Task.id).where(Task.finding_id.in_(chunk)), findings)
    # A visit still named by a record that stays (another month's finding or verification) stays too.
    keep_visits = set(held_visits)
    month_visits = _ids(select(Visit.id).where(Visit.site_id == site.id, Visit.month == month))
    dropping_findings = set(findings)
    dropping_tasks = set(tasks)
    for chunk in _chunks(month_visits):
        keep_visits |= {v for v, f in db.session.execute(select(Finding.visit_id, Finding.id).where(Finding.visit_id.in_(chunk))) if f not in dropping_findings}
        keep_visits |= {v for v, t in db.session.execute(select(Verification.visit_id, Verification.task_id).where(Verification.visit_id.in_(chunk))) if t not in dropping_tasks}
    visits = [v for v in month_visits if v not in keep_visits]
    photos = set()
    photos.update(_in_chunks(lambda c: select(Photo.id).where(Photo.visit_id.in_(c)), visits))
    photos.update(_in_chunks(lambda c: select(Photo.id).where(Photo.finding_id.in_(c)), findings))
    photos.update(_in_chunks(lambda c: select(Photo.id).where(Photo.task_id.in_(c)), tasks))
    # A photo also linked to a record that stays is kept with it.
    kept_links = set()
    dropping_visits = set(visits)
    for chunk in _chunks(sorted(photos)):
        for pid, vid, fid, tid in db.session.execute(select(Photo.id, Photo.visit_id, Photo.finding_id, Photo.task_id).where(Photo.id.in_(chunk))):
            if (vid and vid not in dropping_visits) or (fid and fid not in dropping_findings) or (tid and tid not in dropping_tasks):
                kept_links.add(pid)
    photos -= kept_links
    complaints = _month_complaints(site, month, held_tasks)
    # A complaint's photos belong to it alone (photos.may_link): they go with it.
    photos.update(_in_chunks(lambda c: select(Photo.id).where(Photo.complaint_id.in_(c)), complaints))
    plan.ids = {"visits": visits, "findings": findings, "tasks": tasks, "photos": sorted(photos), "complaints": complaints}
    plan.counts = {
        "visits": len(visits),
        "item_results": _count_in(ItemResult.visit_id, visits),
        "findings": len(findings),
        "tasks": len(tasks),
        "extensions": _count_in(Extension.task_id, tasks),
        "verifications": _count_in(Verification.task_id, tasks),
        "task_comments": _count_in(TaskComment.task_id, tasks),
        "notifications": _count_in(Notification.task_id, tasks),
        "photos": len(photos),
        "archive_files": 0 if held_tasks else len(row.files or []),
        "complaints": len(complaints),
        "return_visits": _count_in(ReturnVisit.complaint_id, complaints),
    }
    plan.held = {"tasks": len(held_tasks), "findings": len(held_findings), "visits": len(held_visits & set(month_visits))} if held_tasks else {}
    if not any(plan.counts.values()):
        plan.reason = "nothing left to remove"
        return plan
    plan.action = "purge"
    return plan


def _month_complaints(site: Site, month: str, held_tasks: list) -> list:
    """The month's closed complaints; one about a task under a legal hold stays with it, and an open one is not filed yet."""
    stmt = select(Complaint.id).where(Complaint.site_id == site.id, Complaint.month == month, Complaint.state.in_(choices.COMPLAINT_CLOSED_STATES))
    if held_tasks:
        stmt = stmt.where((Complaint.task_id.is_(None)) | (Complaint.task_id.not_in(held_tasks)))
    return _ids(stmt)


def _chunks(items: list):
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def _in_chunks(make_stmt, items: list) -> list:
    out = []
    for chunk in _chunks(list(items)):
        out.extend(_ids(make_stmt(chunk)))
    return out


def _count_in(column, items: list) -> int:
    return sum(db.session.execute(select(func.count()).where(column.in_(chunk))).scalar() for chunk in _chunks(list(items)))


def due_months(now: datetime | None = None, site_code: str | None = None) -> list[MonthPlan]:
    """Every site's months past the retention period, each with what a purge would do."""
    now = now or utcnow()
    keep = current_app.config["RETENTION_MONTHS"]
    stmt = select(Site).order_by(Site.code)
    if site_code:
        stmt = stmt.where(Site.code == site_code)
    plans = []
    for site in db.session.execute(stmt).scalars():
        months = set(_ids(select(Visit.month).where(Visit.site_id == site.id).distinct()))
        months |= set(_ids(select(Finding.month).where(Finding.site_id == site.id).distinct()))
        months |= set(_ids(select(Complaint.month).where(Complaint.site_id == site.id).distinct()))
        months |= set(_ids(select(MonthArchive.month).where(MonthArchive.site_id == site.id, MonthArchive.state == choices.MONTH_ARCHIVED)))
        holds = active_holds(site.id)
        for month in sorted(months):
            if purge_after(site, month, keep) > now:
                continue
            plans.append(_plan_month(site, month, holds))
    return plans


# --- the purge ------------------------------------------------------------------------------------


def _delete_in(model, column, items: list) -> None:
    for chunk in _chunks(list(items)):
        db.session.execute(delete(model).where(column.in_(chunk)).execution_options(synchronize_session=False))


def apply_plan(plan: MonthPlan, *, actor: User | None, by_name: str) -> PurgeLog:
    """Remove what the plan lists, log it; the caller commits, then calls `remove_files`."""
    ids = plan.ids
    site = plan.site
    for model, column in ((Notification, Notification.task_id), (TaskComment, TaskComment.task_id),
                          (Extension, Extension.task_id), (Verification, Verification.task_id)):
        _delete_in(model, column, ids["tasks"])
    _delete_in(Photo, Photo.id, ids["photos"])
    # Photos that stay but pointed at a removed record lose only that link.
    for column, items in ((Photo.task_id, ids["tasks"]), (Photo.finding_id, ids["findings"]), (Photo.visit_id, ids["visits"])):
        for chunk in _chunks(list(items)):
            db.session.execute(Photo.__table__.update().where(column.in_(chunk)).values({column.key: None}))
    _delete_in(ReturnVisit, ReturnVisit.complaint_id, ids.get("complaints", []))
    _delete_in(Complaint, Complaint.id, ids.get("complaints", []))
    for complaint_id in ids.get("complaints", []):
        record_change("complaint", complaint_id, site_id=site.id, op="delete")
    _delete_in(Task, Task.id, ids["tasks"])
    _delete_in(Finding, Finding.id, ids["findings"])
    _delete_in(ItemResult, ItemResult.visit_id, ids["visits"])
    _delete_in(ResidentNote, ResidentNote.visit_id, ids["visits"])
    _delete_in(Visit, Visit.id, ids["visits"])
    # Rounds of the purged month that no longer hold any visit.
    end = month_end(plan.month, site.timezone)
    empty_rounds = _ids(
        select(Round.id).where(Round.site_id == site.id, Round.started_at < end, ~select(Visit.id).where(Visit.round_id == Round.id).exists())
    )
    _delete_in(Round, Round.id, empty_rounds)
    plan.counts["rounds"] = len(empty_rounds)
    for task_id in ids["tasks"]:
        # Phones keep open tasks offline: tell them these are gone.
        record_change("task", task_id, site_id=site.id, op="delete")
    row = db.session.execute(select(MonthArchive).where(MonthArchive.site_id == site.id, MonthArchive.month == plan.month)).scalar_one()
    files = [] if plan.held else list(row.files or [])
    row.state = choices.MONTH_PURGED
    row.purged_at = utcnow()
    actor_id = actor.id if actor else None
    event = audit.record_now(
        "month", f"{site.id}:{plan.month}", "purged", actor_id=actor_id, site_id=site.id,
        data={"counts": plan.counts, "held": plan.held, "archive_sha256": plan.archive_sha256, "files_removed": [f["name"] for f in files]},
    )
    log = PurgeLog(site_id=site.id, month=plan.month, by_id=actor_id, by_name=by_name, counts=plan.counts, held=plan.held,
                   archive_sha256=plan.archive_sha256, audit_hash=event.hash)
    db.session.add(log)
    db.session.flush([log])
    plan.ids["files"] = [file_key(f) for f in files]
    return log


def remove_files(plan: MonthPlan) -> int:
    """Delete the plan's photo files and archive files (after the commit: a rollback keeps them)."""
    removed = 0
    for photo_id in plan.ids.get("photos", []):
        removed += delete_files(photo_id)
    archives = get_store("archives")
    for key in plan.ids.get("files", []):
        removed += archives.delete(key)
    return removed


def purge(*, apply: bool = False, now: datetime | None = None, actor: User | None = None, by_name: str = "", site_code: str | None = None) -> list[dict]:
    """Plan (dry run: nothing changes) or carry out the purge, committing each month (module docstring)."""
    plans = due_months(now, site_code)
    out = []
    for plan in plans:
        if apply and plan.action == "purge":
            log = apply_plan(plan, actor=actor, by_name=by_name or (actor.username if actor else "scheduled purge"))
            db.session.commit()  # before the files go (module docstring)
            remove_files(plan)
            out.append({**plan.as_dict(), "purge_log_id": log.id})
        else:
            out.append(plan.as_dict())
    return out


def purge_log(site_ids: list[int]) -> list[PurgeLog]:
    return list(db.session.execute(select(PurgeLog).where(PurgeLog.site_id.in_(site_ids)).order_by(PurgeLog.id.desc())).scalars())
