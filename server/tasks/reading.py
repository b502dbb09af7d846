"""Tasks as people read them: a task's summary and its full detail, the supervisor's list and the dashboard counts."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, or_, select

from .. import choices as C
from .. import sealing
from ..extensions import db
from ..models import AuditEvent, Checkpoint, Department, Extension, Finding, Photo, Site, Task, TaskComment, User, Verification, utcnow
from ..timeutil import local_minute
from .state import is_overdue, overdue_clause

# The dashboard's age buckets, in days since the task opened: (from, to or None, label).
AGE_BUCKETS = ((0, 3, "0-3d"), (3, 7, "3-7d"), (7, 14, "7-14d"), (14, 30, "14-30d"), (30, None, "30d+"))
# The dashboard counts findings by category over this many days.
CATEGORY_DAYS = 30


def task_summary(task: Task) -> dict:
    """A task as lists show it (times naive UTC; the API adds Z)."""
    finding = db.session.get(Finding, task.finding_id)
    site = db.session.get(Site, task.site_id)
    assignee = db.session.get(User, task.assignee_id) if task.assignee_id else None
    checkpoint = db.session.get(Checkpoint, task.checkpoint_id)
    # Sound clips travel as photos (server/sounds.py) but are not before-photos: listed apart.
    photos = db.session.execute(
        select(Photo.id).where(Photo.finding_id == task.finding_id, ~Photo.content_type.like("audio/%")).order_by(Photo.created_at, Photo.id)
    ).scalars().all()
    pending = db.session.execute(select(Extension.id).where(Extension.task_id == task.id, Extension.state == C.EXTENSION_PENDING).limit(1)).first()
    return {
        "id": task.id,
        "site_id": task.site_id,
        "finding_id": task.finding_id,
        "checkpoint_id": task.checkpoint_id,
        # Names with the id, so a list reads without a second look-up.
        "checkpoint_name_zh": checkpoint.name_zh if checkpoint else "",
        "checkpoint_name_en": checkpoint.name_en if checkpoint else "",
        "checkpoint_short_code": checkpoint.short_code if checkpoint else "",
        "checkpoint_kind": checkpoint.kind if checkpoint else "",
        "extension_pending": pending is not None,
        "state": task.state,
        "route": task.route,
        "route_confirmed": task.route_confirmed,
        "severity": task.severity,
        "department_id": task.department_id,
        "assignee_id": task.assignee_id,
        "assignee_name": assignee.display_name if assignee else "",
        "due_at": task.due_at,
        "due_local": local_minute(task.due_at, site.timezone),
        "timezone": site.timezone,
        "original_due_at": task.original_due_at,
        "repeat_flag": task.repeat_flag,
        "overdue": is_overdue(task),
        "case": task.case or {},
        "cancel_reason": task.cancel_reason,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
        "done_at": task.done_at,
        "closed_at": task.closed_at,
        "finding": {
            "id": finding.id,
            "item_id": finding.item_id,
            "category": finding.category,
            "description": finding.description,
            "severity": finding.severity,
            "observed_at": finding.observed_at,
            "reported_by": finding.reported_by,
        },
        "photo_ids": photos,
    }


def _names(ids) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all())


def task_detail(task: Task) -> dict:
    """One task with its finding, before/after photos, history, extensions, verifications and comments."""
    out = task_summary(task)
    finding = db.session.get(Finding, task.finding_id)
    cp = db.session.get(Checkpoint, task.checkpoint_id)
    out["finding"].update(
        checkpoint_id=finding.checkpoint_id,
        checkpoint_name=cp.name_zh if cp else "",
        checkpoint_kind=cp.kind if cp else "",
        route=finding.route,
        dealt_on_spot=finding.dealt_on_spot,
        spot_note=finding.spot_note,
        visit_id=finding.visit_id,
    )
    extensions = extensions_of(task)
    verifications = db.session.execute(select(Verification).where(Verification.task_id == task.id).order_by(Verification.created_at)).scalars().all()
    # The history: the task's own events, its finding's, and those of its extensions and verifications.
    keys = [("task", str(task.id)), ("finding", finding.id)] + [("extension", str(e.id)) for e in extensions] + [("verification", v.id) for v in verifications]
    events = db.session.execute(
        select(AuditEvent).where(or_(*[and_(AuditEvent.entity == e, AuditEvent.entity_id == i) for e, i in keys])).order_by(AuditEvent.id)
    ).scalars().all()
    names = _names(ev.actor_id for ev in events)
    out["events"] = [
        {"id": ev.id, "entity": ev.entity, "entity_id": ev.entity_id, "action": ev.action, "actor_id": ev.actor_id, "actor_name": names.get(ev.actor_id, ""), "at": ev.at, "data": ev.data}
        for ev in events
    ]
    before = out["photo_ids"]
    after = list(verifications[-1].after_photo_ids) if verifications else []
    # Before and after photos are kept as a pair: the n-th after photo answers the n-th before photo.
    pairs = [{"before": before[i] if i < len(before) else None, "after": after[i] if i < len(after) else None} for i in range(max(len(before), len(after)))]
    named = set(before) | {p for v in verifications for p in [*v.after_photo_ids, *(v.signatures or {}).values()]}
    missing = db.session.execute(select(Photo.id).where(Photo.id.in_(named), Photo.status == C.PHOTO_EXPECTED)).scalars().all() if named else []
    sounds = db.session.execute(
        select(Photo.id).where(Photo.finding_id == task.finding_id, Photo.content_type.like("audio/%"), Photo.status == C.PHOTO_RECEIVED).order_by(Photo.created_at, Photo.id)
    ).scalars().all()
    drawn = db.session.execute(select(Photo.id, Photo.annotation).where(Photo.id.in_(named), Photo.annotation.is_not(None))).all() if named else []
    out["photos"] = {"before": before, "after": after, "pairs": pairs, "missing": sorted(missing), "sounds": list(sounds),
                     "annotations": {pid: drawing for pid, drawing in drawn}}
    out["extensions"] = extensions
    signers = _names([v.verifier_id for v in verifications] + [v.supervisor_id for v in verifications])
    out["verifications"] = [
        {**{c.key: getattr(v, c.key) for c in Verification.__mapper__.column_attrs}, "verifier_name": signers.get(v.verifier_id, ""), "supervisor_name": signers.get(v.supervisor_id, "")}
        for v in verifications
    ]
    out["comments"] = comments_of(task)
    # A closed task is filed with its finding's month: once that month is sealed, nothing on it changes.
    month = sealing.task_month(task)
    out["sealed_month"] = month if month is not None and sealing.is_sealed(task.site_id, month) else None
    return out


def comments_of(task: Task) -> list[TaskComment]:
    """A task's comments, oldest first."""
    return db.session.execute(select(TaskComment).where(TaskComment.task_id == task.id).order_by(TaskComment.id)).scalars().all()


def extensions_of(task: Task) -> list[Extension]:
    """A task's extension requests and their decisions, oldest first."""
    return db.session.execute(select(Extension).where(Extension.task_id == task.id).order_by(Extension.id)).scalars().all()


def task_list(site_ids: list[int], filters: dict, now: datetime | None = None):
    """The select of a supervisor's list: the sites' tasks, filtered; overdue first, then major, then by due date.

    `filters` may hold state (a list), overdue, major, repeat (booleans), route,
    department_id, assignee_id, checkpoint_id, checkpoint_kind, extension (a state) and
    date_from / date_to (observation time). The caller pages the select.
    """
    now = now or utcnow()
    stmt = select(Task).join(Finding, Finding.id == Task.finding_id).where(Task.site_id.in_(site_ids))
    if filters.get("state"):
        stmt = stmt.where(Task.state.in_(filters["state"]))
    if "overdue" in filters:
        stmt = stmt.where(overdue_clause(now) if filters["overdue"] else ~overdue_clause(now))
    if "major" in filters:
        stmt = stmt.where((Task.severity == C.SEVERITY_MAJOR) if filters["major"] else (Task.severity != C.SEVERITY_MAJOR))
    if "repeat" in filters:
        stmt = stmt.where(Task.repeat_flag.is_(filters["repeat"]))
    for key, column in (("route", Task.route), ("department_id", Task.department_id), ("assignee_id", Task.assignee_id), ("checkpoint_id", Task.checkpoint_id)):
        if key in filters:
            stmt = stmt.where(column == filters[key])
    if "checkpoint_kind" in filters:
        stmt = stmt.join(Checkpoint, Checkpoint.id == Task.checkpoint_id).where(Checkpoint.kind == filters["checkpoint_kind"])
    if "extension" in filters:
        stmt = stmt.where(Task.id.in_(select(Extension.task_id).where(Extension.state == filters["extension"])))
    if "date_from" in filters:
        stmt = stmt.where(Finding.observed_at >= filters["date_from"])
    if "date_to" in filters:
        stmt = stmt.where(Finding.observed_at < filters["date_to"])
    # What needs a supervisor first: late work, then major problems (DOMAIN.md § 14.4), then the next due.
    return stmt.order_by(
        case((overdue_clause(now), 0), else_=1),
        case((Task.severity == C.SEVERITY_MAJOR, 0), else_=1),
        Task.due_at,
        Task.id,
    )


def dashboard(site_ids: list[int], now: datetime | None = None) -> dict:
    """The dashboard counts: open tasks by state, overdue, major, repeat, by department and by age; findings by category; pending extensions."""
    now = now or utcnow()
    open_ = and_(Task.site_id.in_(site_ids), Task.state.not_in(C.TASK_CLOSED_STATES))
    by_state = dict(db.session.execute(select(Task.state, func.count()).where(open_).group_by(Task.state)).all())

    def count(*cond) -> int:
        return db.session.execute(select(func.count()).select_from(Task).where(open_, *cond)).scalar()

    by_dept = db.session.execute(select(Task.department_id, func.count()).where(open_).group_by(Task.department_id).order_by(Task.department_id)).all()
    dept_codes = dict(db.session.execute(select(Department.id, Department.code)).all()) if by_dept else {}
    # A task is as old as the problem it repairs: counted from when it was seen (as its due
    # date is), not from when a phone that was offline for days delivered it.
    seen = select(Finding.observed_at).where(Finding.id == Task.finding_id).scalar_subquery()
    ages = {}
    for low, high, label in AGE_BUCKETS:
        cond = [seen <= now - timedelta(days=low)]
        if high is not None:
            cond.append(seen > now - timedelta(days=high))
        ages[label] = count(*cond)
    since = now - timedelta(days=CATEGORY_DAYS)
    by_category = dict(
        db.session.execute(select(Finding.category, func.count()).where(Finding.site_id.in_(site_ids), Finding.observed_at >= since).group_by(Finding.category)).all()
    )
    pending = db.session.execute(
        select(func.count()).select_from(Extension).join(Task, Task.id == Extension.task_id).where(Task.site_id.in_(site_ids), Extension.state == C.EXTENSION_PENDING)
    ).scalar()
    return {
        "open_by_state": {s: by_state.get(s, 0) for s in C.TASK_STATES if s not in C.TASK_CLOSED_STATES},
        "open_total": sum(by_state.values()),
        "overdue": count(overdue_clause(now)),
        "major_open": count(Task.severity == C.SEVERITY_MAJOR),
        "repeat_open": count(Task.repeat_flag.is_(True)),
        "by_department": [{"department_id": d, "code": dept_codes.get(d), "open": n} for d, n in by_dept],
        "by_age": ages,
        "findings_by_category": {c: by_category.get(c, 0) for c in C.CATEGORIES},
        "pending_extensions": pending,
    }
