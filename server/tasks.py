"""Repair tasks: from a finding to a verified fix (DOMAIN.md § 14).

Each rule of the workflow lives in exactly one function here, and sync, the web API and
the CLI all call these: opening tasks and their due date (`open_tasks_for`, `due_date`),
routing (`route_for`, `set_route`), assignment (`assign`), the state machine (`MOVES`,
`transition`), extensions (`request_extension`, `decide_extension`), verification on site
(`verify_on_site`, `is_fresh_scan`), repeat problems (`flag_repeats`), comments and the
residents'-convention case. Every change is an audit event and a pull-log change.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Iterable

from sqlalchemy import func, insert, select, update

from . import audit, choices, photos, policy
from .changes import record_change
from .errors import ApiError
from .extensions import db
from .models import (
    Checkpoint,
    Department,
    Extension,
    Finding,
    Membership,
    Photo,
    Site,
    Task,
    TaskComment,
    User,
    Verification,
    Visit,
    utcnow,
)
from .timeutil import month_of

S = choices

# The one table of allowed moves, each naming the policy action (server/policy.py) that
# decides who may make it.
MOVES: dict[tuple[str, str], str] = {
    (S.TASK_OPEN, S.TASK_ASSIGNED): "task.assign",
    (S.TASK_ASSIGNED, S.TASK_IN_PROGRESS): "task.start",
    (S.TASK_IN_PROGRESS, S.TASK_DONE): "task.finish",
    (S.TASK_DONE, S.TASK_VERIFIED): "task.verify",
    (S.TASK_DONE, S.TASK_IN_PROGRESS): "task.verify",  # a failed verification
    **{(state, S.TASK_CANCELLED): "task.cancel" for state in (S.TASK_OPEN, S.TASK_ASSIGNED, S.TASK_IN_PROGRESS, S.TASK_DONE)},
}
# These moves are the outcome of a verification on site and are made only by verify_on_site.
VIA_VERIFICATION = {(S.TASK_DONE, S.TASK_VERIFIED), (S.TASK_DONE, S.TASK_IN_PROGRESS)}

# Routing by cause (§ 14.2): which department receives the work.
CATEGORY_DEPARTMENTS = {"cleanliness": "cleaning", "landscaping": "landscaping", "security_hazard": "security"}
REPEAT_COUNT = 3
REPEAT_WINDOW = timedelta(days=30)
MAX_EXTENSION = timedelta(days=366)


# --- helpers -------------------------------------------------------------------------


def overdue_clause(now: datetime | None = None):
    """The one definition of overdue, as SQL: not verified or cancelled, and past its due time."""
    return Task.state.not_in(S.TASK_CLOSED_STATES) & (Task.due_at < (now or utcnow()))


def is_overdue(task: Task, now: datetime | None = None) -> bool:
    """The same rule for one loaded task."""
    return task.state not in S.TASK_CLOSED_STATES and task.due_at < (now or utcnow())


def _require(actor: User, task: Task, action: str) -> None:
    policy.require(actor, action, task.site_id, task)


def _require_open(task: Task, what: str) -> None:
    if task.state in S.TASK_CLOSED_STATES:
        raise ApiError(409, f"Task {task.id} is {task.state}; it is closed, so you cannot {what}.", "task_closed")


def _lock(task: Task) -> Task:
    """Lock the task's row until commit and reload it, so two people moving it at once take turns.

    PostgreSQL waits on the row lock; SQLite has one writer at a time anyway.
    """
    db.session.execute(select(Task.id).where(Task.id == task.id).with_for_update())
    db.session.refresh(task)
    _ensure_writable(task)
    return task


def _ensure_writable(task: Task) -> None:
    """A task filed under a sealed month is read-only (409 month_sealed)."""
    from . import archive

    archive.ensure_writable(task.site_id, archive.task_month(task))


def _changed(task: Task) -> None:
    """Tell phones: an open task is upserted, a closed one is removed from their list."""
    record_change("task", task.id, site_id=task.site_id, op="delete" if task.state in S.TASK_CLOSED_STATES else "upsert")


def _event(task: Task, action: str, actor: User | int | None, data: dict) -> None:
    actor_id = actor.id if isinstance(actor, User) else actor
    audit.record("task", task.id, action, actor_id=actor_id, site_id=task.site_id, data=data)


def department_by_code(site_id: int, code: str) -> Department | None:
    return db.session.execute(select(Department).where(Department.site_id == site_id, Department.code == code)).scalar_one_or_none()


def claim_photos(photo_ids: Iterable[str], *, purpose: str, site_id: int, user_id: int, task_id: int | None = None, finding_id: str | None = None) -> list[str]:
    """Link photos to a record by id, by the one rule of photo claims (photos.may_link); a photo not uploaded yet is created as expected."""
    return photos.claim(photo_ids, user_id, photos.Link(site_id, purpose, finding_id=finding_id, task_id=task_id))


# --- opening and routing ------------------------------------------------------------


def due_date(observed_at: datetime, site: Site) -> datetime:
    """Due = the finding's corrected observation time + the site's due days (7 by default).

    Neither a late sync nor a wrong phone clock moves it: `observed_at` is already on
    the server's clock.
    """
    return observed_at + timedelta(days=site.task_due_days)


def route_for(route: str, category: str) -> str:
    """The department code that receives a finding's work, from its cause and category."""
    if route == S.ROUTE_FACILITY_REPAIR:
        return "engineering"
    if route == S.ROUTE_DEPARTMENT_WORK:
        return CATEGORY_DEPARTMENTS.get(category, "customer_service")
    # Residents'-convention cases are customer service's own work.
    return "customer_service"


def open_tasks_for(findings: list[dict], sites: dict[int, Site]) -> dict[str, int]:
    """Open exactly one task per finding (tasks.finding_id is unique), routed by its cause.

    `findings` are finding rows as stored (dicts); returns finding id → task id. One
    INSERT for the whole list, so a sync push of a hundred visits stays a few statements.
    """
    if not findings:
        return {}
    departments = {
        (site_id, code): dept_id
        for site_id, code, dept_id in db.session.execute(
            select(Department.site_id, Department.code, Department.id).where(Department.site_id.in_(sites))
        )
    }
    now = utcnow()
    rows = []
    for f in findings:
        due = due_date(f["observed_at"], sites[f["site_id"]])
        rows.append({
            "site_id": f["site_id"], "finding_id": f["id"], "checkpoint_id": f["checkpoint_id"], "route": f["route"],
            "route_confirmed": False, "severity": f["severity"],
            "department_id": departments.get((f["site_id"], route_for(f["route"], f["category"]))),
            "state": S.TASK_OPEN, "due_at": due, "original_due_at": due, "repeat_flag": False, "cancel_reason": "", "case": {},
            "created_at": now, "updated_at": now,
        })
    table = Task.__table__
    stmt = insert(table).returning(table.c.id, table.c.finding_id, sort_by_parameter_order=True)
    task_of = {finding_id: task_id for task_id, finding_id in db.session.execute(stmt, rows)}
    for f, row in zip(findings, rows):
        task_id = task_of[f["id"]]
        audit.record(
            "task", task_id, "opened", actor_id=f["reported_by"], site_id=row["site_id"],
            data={"finding_id": f["id"], "due_at": row["due_at"].isoformat(), "route": row["route"], "department_id": row["department_id"]},
        )
        record_change("task", task_id, site_id=row["site_id"])
    return task_of


def set_route(task: Task, *, actor: User, route: str, department_id: int | None = None, note: str = "") -> Task:
    """The supervisor confirms or changes a task's route (and so its department)."""
    _require(actor, task, "task.route")
    _lock(task)
    _require_open(task, "route it")
    if route not in S.ROUTES:
        raise ApiError(422, f"Unknown route {route!r}.", "validation_error", {"fields": {"route": ["unknown route"]}})
    finding = db.session.get(Finding, task.finding_id)
    dept = _site_department(task, department_id) if department_id is not None else department_by_code(task.site_id, route_for(route, finding.category))
    before = {"route": task.route, "department_id": task.department_id}
    task.route = route
    task.route_confirmed = True
    task.department_id = dept.id if dept else None
    db.session.flush()
    _event(task, "routed", actor, {"from": before, "to": {"route": route, "department_id": task.department_id}, "note": note})
    _changed(task)
    return task


def _site_department(task: Task, department_id: int) -> Department:
    dept = db.session.get(Department, department_id)
    if dept is None or dept.site_id != task.site_id:
        raise ApiError(422, "That department is not at this task's site.", "unknown_department", {"fields": {"department_id": ["not at this site"]}})
    return dept


def assign(task: Task, *, actor: User, assignee_id: int, department_id: int | None = None, note: str = "") -> Task:
    """Assign (or reassign) a task to a person, and optionally a department; confirms the route."""
    from .notifications import notify

    _require(actor, task, "task.assign")
    _lock(task)
    if task.state not in (S.TASK_OPEN, S.TASK_ASSIGNED, S.TASK_IN_PROGRESS):
        raise ApiError(409, f"Task {task.id} is {task.state}; only open, assigned or in-progress tasks can be (re)assigned.", "task_not_assignable")
    works_here = db.session.execute(
        select(Membership.id).join(User, User.id == Membership.user_id).where(Membership.user_id == assignee_id, Membership.site_id == task.site_id, User.active.is_(True))
    ).first()
    if not works_here:
        raise ApiError(422, "That person does not work at this task's site.", "unknown_assignee", {"fields": {"assignee_id": ["not at this site"]}})
    if department_id is not None:
        task.department_id = _site_department(task, department_id).id
    previous = task.assignee_id
    task.assignee_id = assignee_id
    task.route_confirmed = True
    db.session.flush()
    event_data = {"from": previous, "to": assignee_id, "department_id": task.department_id, "note": note}
    if task.state == S.TASK_OPEN:
        _move(task, actor, S.TASK_ASSIGNED, note)
        _event(task, "assigned", actor, event_data)
    else:
        _event(task, "reassigned", actor, event_data)
        _changed(task)
    if previous != assignee_id:
        notify([assignee_id], site_id=task.site_id, kind=S.NOTIFY_ASSIGNED, dedupe_key=f"assigned:{task.id}:{uuid.uuid4()}", task_id=task.id, data={"task_id": task.id, "by": actor.id})
    return task


# --- the state machine ----------------------------------------------------------------


def check_move(task: Task, actor: User, to_state: str) -> None:
    """Raise 409 when the current state forbids the move, 403 when the actor's role does."""
    if to_state not in S.TASK_STATES:
        raise ApiError(422, f"Unknown task state {to_state!r}.", "validation_error", {"fields": {"to": ["unknown state"]}})
    action = MOVES.get((task.state, to_state))
    if action is None:
        raise ApiError(409, f"A task that is {task.state} cannot become {to_state}.", "transition_not_allowed")
    _require(actor, task, action)


def _move(task: Task, actor: User, to_state: str, note: str) -> Task:
    check_move(task, actor, to_state)
    from_state = task.state
    now = utcnow()
    task.state = to_state
    if to_state == S.TASK_DONE:
        task.done_at = now
    if to_state in S.TASK_CLOSED_STATES:
        task.closed_at = now
    if to_state == S.TASK_CANCELLED:
        task.cancel_reason = note
    db.session.flush()
    _event(task, "transition", actor, {"from": from_state, "to": to_state, "note": note})
    _changed(task)
    return task


def transition(task: Task, *, actor: User, to_state: str, note: str = "") -> Task:
    """Move a task to another state, as the table MOVES allows.

    Moving to the state the task is already in changes nothing (a phone may resend a
    move another person already made). Verified, and back to in progress after done,
    come only from a verification on site; cancelling needs a reason.
    """
    _lock(task)
    if to_state == task.state:
        return task
    if (task.state, to_state) in VIA_VERIFICATION:
        raise ApiError(409, "Only a verification on site (a fresh scan of the checkpoint) can close or reopen a done task.", "verification_required")
    if to_state == S.TASK_ASSIGNED and task.assignee_id is None:
        raise ApiError(409, "Assign the task to a person first.", "no_assignee")
    if to_state == S.TASK_CANCELLED and not note.strip():
        check_move(task, actor, to_state)
        raise ApiError(422, "Give a reason for cancelling the task.", "reason_required", {"fields": {"note": ["a reason is required"]}})
    return _move(task, actor, to_state, note)


def cancel(task: Task, *, actor: User, reason: str) -> Task:
    return transition(task, actor=actor, to_state=S.TASK_CANCELLED, note=reason)


# --- verification on site ----------------------------------------------------------------


def is_fresh_scan(task: Task, visit: Visit, actor: User) -> str | None:
    """Why a visit is not a fresh scan for verifying this task, or None when it is.

    Fresh means: a visit of purpose "verify", made by the verifier, of the task's own
    checkpoint, whose corrected scan time is at or after the moment the task was last
    marked done, and not already used by another verification.
    """
    if visit.site_id != task.site_id or visit.checkpoint_id != task.checkpoint_id:
        return "the scan is of a different checkpoint than the task's"
    if visit.purpose != "verify":
        return "the scan was not made to verify"
    if visit.user_id != actor.id:
        return "the scan was made by someone else"
    if task.done_at is None or visit.scanned_at < task.done_at:
        return "the scan was made before the work was marked done"
    used = db.session.execute(select(Verification.id).where(Verification.visit_id == visit.id)).first()
    if used:
        return "the scan was already used for another verification"
    return None


def verify_on_site(
    task: Task,
    *,
    verification_id: str,
    actor: User,
    visit: Visit,
    result: str,
    note: str = "",
    after_photo_ids: Iterable[str] = (),
    signatures: dict | None = None,
    fixed_by_name: str = "",
    supervisor_id: int | None = None,
) -> Verification:
    """Record the on-site check of finished work: pass closes the task, fail reopens it.

    `verification_id` is the primary key: the same verification is applied once; a
    replay returns the stored one.
    """
    _lock(task)
    existing = db.session.get(Verification, verification_id)
    if existing is not None:
        if existing.task_id != task.id:
            raise ApiError(409, "This verification id was already used for another task.", "verification_id_reused")
        return existing
    _require(actor, task, "task.verify")
    if result not in S.VERIFY_RESULTS:
        raise ApiError(422, f"A verification is pass or fail, not {result!r}.", "validation_error", {"fields": {"result": ["pass or fail"]}})
    if task.state != S.TASK_DONE:
        raise ApiError(409, f"Task {task.id} is {task.state}; only work marked done can be verified.", "not_awaiting_verification")
    why = is_fresh_scan(task, visit, actor)
    if why:
        raise ApiError(409, f"Scan the task's checkpoint again to verify it: {why}.", "no_fresh_scan")
    signatures = {k: v for k, v in (signatures or {}).items() if v}
    unknown = set(signatures) - {"fixer", "verifier", "supervisor"}
    if unknown:
        raise ApiError(422, "Signatures are fixer, verifier and supervisor.", "validation_error", {"fields": {"signatures": [f"unknown: {', '.join(sorted(unknown))}"]}})
    if "verifier" not in signatures:
        raise ApiError(422, "The verifier must sign.", "signature_required", {"fields": {"signatures": ["verifier signature required"]}})
    after = list(after_photo_ids or ())
    if result == S.VERIFY_PASS and not after:
        raise ApiError(422, "Take an after photo of the fixed problem.", "after_photo_required", {"fields": {"after_photo_ids": ["at least one"]}})
    if supervisor_id is None and S.SUPERVISOR in policy.roles_at(actor, task.site_id):
        supervisor_id = actor.id
    signer = db.session.get(User, supervisor_id) if supervisor_id is not None else None
    if supervisor_id is not None and (signer is None or not policy.may(signer, "task.countersign", task.site_id)):
        raise ApiError(422, "The signing supervisor must be a supervisor or manager of this site.", "validation_error", {"fields": {"supervisor_id": ["not a supervisor here"]}})
    claim_photos(after, purpose="after", site_id=task.site_id, user_id=actor.id, task_id=task.id)
    claim_photos(list(signatures.values()), purpose="signature", site_id=task.site_id, user_id=actor.id, task_id=task.id)
    verification = Verification(
        id=verification_id,
        task_id=task.id,
        visit_id=visit.id,
        verifier_id=actor.id,
        result=result,
        note=note,
        fixed_by_name=fixed_by_name,
        supervisor_id=supervisor_id,
        signatures=signatures,
        after_photo_ids=after,
        verified_at=visit.scanned_at,
    )
    db.session.add(verification)
    db.session.flush([verification])
    audit.record(
        "verification",
        verification.id,
        "recorded",
        actor_id=actor.id,
        site_id=task.site_id,
        data={"task_id": task.id, "visit_id": visit.id, "result": result, "note": note, "after_photo_ids": after, "signatures": signatures, "fixed_by_name": fixed_by_name, "supervisor_id": supervisor_id},
    )
    _move(task, actor, S.TASK_VERIFIED if result == S.VERIFY_PASS else S.TASK_IN_PROGRESS, note)
    return verification


def record_verify_visit(*, visit_id: str, task: Task, checkpoint: Checkpoint, user: User, scanned_at: datetime, scan_method: str, device_id: str = "web") -> Visit:
    """Store the scan a web verification is made with (the sync layer stores its own)."""
    if db.session.get(Visit, visit_id) is not None:
        raise ApiError(409, "This visit id is already used.", "visit_id_reused")
    site = db.session.get(Site, task.site_id)
    visit = Visit(
        id=visit_id,
        site_id=checkpoint.site_id,
        checkpoint_id=checkpoint.id,
        user_id=user.id,
        device_id=device_id,
        purpose="verify",
        scanned_at=scanned_at,
        scanned_at_device=scanned_at,
        scan_method=scan_method,
        month=month_of(scanned_at, site.timezone),
    )
    db.session.add(visit)
    db.session.flush([visit])
    return visit


# --- extensions ------------------------------------------------------------------------


def request_extension(task: Task, *, actor: User, requested_due_at: datetime, reason: str) -> Extension:
    """The assignee or a supervisor asks for a later due date; nothing moves until a manager approves."""
    from .notifications import notify, site_recipients

    _require(actor, task, "extension.request")
    _lock(task)
    _require_open(task, "extend it")
    if not reason.strip():
        raise ApiError(422, "Give a reason for the extension.", "reason_required", {"fields": {"reason": ["a reason is required"]}})
    if requested_due_at <= task.due_at:
        raise ApiError(422, "The new due date must be later than the current one.", "due_not_later", {"fields": {"requested_due_at": ["must be after the current due date"]}})
    if requested_due_at > task.due_at + MAX_EXTENSION:
        raise ApiError(422, "An extension can move the due date by a year at most.", "due_too_far", {"fields": {"requested_due_at": ["at most a year later"]}})
    pending = db.session.execute(select(Extension.id).where(Extension.task_id == task.id, Extension.state == S.EXTENSION_PENDING)).first()
    if pending:
        raise ApiError(409, "An extension request for this task is already waiting for a manager.", "extension_pending")
    ext = Extension(task_id=task.id, requested_by=actor.id, requested_due_at=requested_due_at, previous_due_at=task.due_at, reason=reason, state=S.EXTENSION_PENDING)
    db.session.add(ext)
    db.session.flush([ext])
    audit.record("extension", ext.id, "requested", actor_id=actor.id, site_id=task.site_id, data={"task_id": task.id, "requested_due_at": requested_due_at.isoformat(), "previous_due_at": task.due_at.isoformat(), "reason": reason})
    notify(site_recipients(task.site_id, "extension.decide"), site_id=task.site_id, kind=S.NOTIFY_EXTENSION_REQUESTED, dedupe_key=f"extension:{ext.id}", task_id=task.id, data={"task_id": task.id, "extension_id": ext.id})
    return ext


def decide_extension(ext: Extension, *, actor: User, approve: bool, note: str = "") -> Extension:
    """Only a manager approves or rejects; the due date changes only on approval."""
    from .notifications import notify

    task = db.session.get(Task, ext.task_id)
    _require(actor, task, "extension.decide")
    _lock(task)
    db.session.refresh(ext)
    if ext.state != S.EXTENSION_PENDING:
        raise ApiError(409, f"This extension was already {ext.state}.", "extension_decided")
    _require_open(task, "extend it")
    ext.state = S.EXTENSION_APPROVED if approve else S.EXTENSION_REJECTED
    ext.decided_by = actor.id
    ext.decided_at = utcnow()
    ext.decision_note = note
    audit.record("extension", ext.id, ext.state, actor_id=actor.id, site_id=task.site_id, data={"task_id": task.id, "note": note})
    if approve:
        before = task.due_at
        task.due_at = ext.requested_due_at
        db.session.flush()
        _event(task, "due_changed", actor, {"from": before.isoformat(), "to": task.due_at.isoformat(), "extension_id": ext.id})
        _changed(task)
    db.session.flush()
    notify([ext.requested_by], site_id=task.site_id, kind=S.NOTIFY_EXTENSION_DECIDED, dedupe_key=f"extension-decided:{ext.id}", task_id=task.id, data={"task_id": task.id, "extension_id": ext.id, "state": ext.state})
    return ext


# --- comments and the residents'-convention case ----------------------------------------


def add_comment(task: Task, *, actor: User, body: str, photo_ids: Iterable[str] = ()) -> TaskComment:
    """Anyone working at the site may comment, with photos."""
    _require(actor, task, "task.comment")
    if not body.strip():
        raise ApiError(422, "A comment needs some text.", "validation_error", {"fields": {"body": ["empty"]}})
    _ensure_writable(task)
    ids = claim_photos(photo_ids, purpose="comment", site_id=task.site_id, user_id=actor.id, task_id=task.id)
    comment = TaskComment(task_id=task.id, author_id=actor.id, body=body, photo_ids=ids)
    db.session.add(comment)
    db.session.flush([comment])
    _event(task, "commented", actor, {"comment_id": comment.id, "photo_ids": ids})
    return comment


def update_case(task: Task, *, actor: User, notice_given_at: datetime | None = None, rectify_by: datetime | None = None, outcome: str | None = None, note: str = "") -> Task:
    """Record a residents'-convention case: notice given, rectification deadline, outcome."""
    _require(actor, task, "task.case")
    _lock(task)
    _require_open(task, "change its case")
    if task.route != S.ROUTE_RESIDENT_VIOLATION:
        raise ApiError(409, "Only a task routed to the residents' convention has a case.", "not_a_case")
    if outcome is not None and outcome not in S.CASE_OUTCOMES:
        raise ApiError(422, f"A case outcome is rectified or escalated, not {outcome!r}.", "validation_error", {"fields": {"outcome": ["rectified or escalated"]}})
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
    _event(task, "case_updated", actor, {"from": before, "to": case})
    _changed(task)
    return task


# --- repeat problems -------------------------------------------------------------------


def flag_repeats(findings: list[dict]) -> list[int]:
    """Same item, same checkpoint, failing 3 times within 30 days: flag the tasks involved.

    `findings` are newly stored finding rows (dicts). Looks both ways in time, because a
    late sync can bring an older failure after a newer one. One query for the failures
    near all of them, a linear scan per checkpoint and item; returns the task ids newly
    flagged. Each flag's audit event names the failures of its repeat group: those joined
    to it by overlapping 30-day windows (as when the findings arrive one at a time).
    """
    new = [f for f in findings if f.get("item_id")]
    if not new:
        return []
    keys = {(f["site_id"], f["checkpoint_id"], f["item_id"]) for f in new}
    new_ids = {f["id"] for f in new}
    lo = min(f["observed_at"] for f in new) - REPEAT_WINDOW
    hi = max(f["observed_at"] for f in new) + REPEAT_WINDOW
    groups: dict[tuple, list] = {}
    checkpoints = sorted({k[1] for k in keys})
    for start in range(0, len(checkpoints), 500):
        rows = db.session.execute(
            select(Finding.site_id, Finding.checkpoint_id, Finding.item_id, Finding.id, Finding.observed_at)
            .where(
                Finding.checkpoint_id.in_(checkpoints[start : start + 500]),
                Finding.item_id.in_({k[2] for k in keys}),
                Finding.observed_at >= lo,
                Finding.observed_at <= hi,
            )
        )
        for site_id, checkpoint_id, item_id, fid, at in rows:
            if (site_id, checkpoint_id, item_id) in keys:
                groups.setdefault((site_id, checkpoint_id, item_id), []).append((at, fid))
    involved: dict[str, tuple[list[str], str]] = {}  # finding id → (the sorted ids of its repeat group, item)
    for key, rows in groups.items():
        rows.sort()
        n = len(rows)
        # new_before[k]: how many of rows[:k] are new; windows start at each row and span 30 days.
        new_before = [0] * (n + 1)
        for k, (_, fid) in enumerate(rows):
            new_before[k + 1] = new_before[k] + (fid in new_ids)
        starts, ends = [0] * (n + 1), [0] * (n + 1)  # qualifying windows [i, j) starting / ending here
        j = 0
        for i in range(n):
            j = max(j, i)
            while j < n and rows[j][0] - rows[i][0] <= REPEAT_WINDOW:
                j += 1
            if j - i >= REPEAT_COUNT and new_before[j] - new_before[i] > 0:
                starts[i] += 1
                ends[j] += 1
        # A repeat group is a run of rows joined by overlapping windows: a late sync can bring
        # two runs weeks apart in one push, and each task names only the failures of its own.
        runs, run, active = [], [], 0
        for k in range(n):
            active -= ends[k]
            if active == 0 and run:  # no window spans rows k-1 and k
                runs.append(run)
                run = []
            active += starts[k]
            if active > 0:
                run.append(rows[k][1])
        if run:
            runs.append(run)
        for members in runs:
            evidence = (sorted(members), key[2])
            for fid in members:
                involved[fid] = evidence
    if not involved:
        return []
    # The unflagged tasks among them: one query over the same failures (most of a long
    # repeat group is flagged already), filtered to the groups found above.
    flagged = []
    for start in range(0, len(checkpoints), 500):
        flagged += [
            row for row in db.session.execute(
                select(Task.id, Task.site_id, Task.finding_id, Task.state)
                .join(Finding, Finding.id == Task.finding_id)
                .where(
                    Task.repeat_flag.is_(False),
                    Finding.checkpoint_id.in_(checkpoints[start : start + 500]),
                    Finding.item_id.in_({k[2] for k in keys}),
                    Finding.observed_at >= lo,
                    Finding.observed_at <= hi,
                )
            )
            if row.finding_id in involved
        ]
    if not flagged:
        return []
    task_ids = [t.id for t in flagged]
    now = utcnow()
    for start in range(0, len(task_ids), 500):
        db.session.execute(update(Task.__table__).where(Task.__table__.c.id.in_(task_ids[start : start + 500])).values(repeat_flag=True, updated_at=now))
    flagged_ids = set(task_ids)
    for obj in list(db.session.identity_map.values()):  # a Task loaded by the caller reads the flag afresh
        if isinstance(obj, Task) and obj.id in flagged_ids:
            db.session.expire(obj, ["repeat_flag", "updated_at"])
    for task_id, site_id, finding_id, state in flagged:
        members, item_id = involved[finding_id]
        audit.record("task", task_id, "repeat_flagged", actor_id=None, site_id=site_id, data={"finding_ids": members, "item_id": item_id})
        # As _changed(): phones keep open tasks; a closed one stays a "gone" record.
        record_change("task", task_id, site_id=site_id, op="delete" if state in S.TASK_CLOSED_STATES else "upsert")
    return task_ids


def repeat_groups(site_ids: list[int], now: datetime | None = None) -> list[dict]:
    """Item-and-checkpoint pairs with 3+ failures in the last 30 days, for root-cause work."""
    since = (now or utcnow()) - REPEAT_WINDOW
    rows = db.session.execute(
        select(Finding.site_id, Finding.checkpoint_id, Finding.item_id, func.count(), func.max(Finding.observed_at))
        .where(Finding.site_id.in_(site_ids), Finding.item_id.is_not(None), Finding.observed_at >= since)
        .group_by(Finding.site_id, Finding.checkpoint_id, Finding.item_id)
        .having(func.count() >= REPEAT_COUNT)
        .order_by(func.count().desc(), Finding.checkpoint_id)
    ).all()
    out = []
    for site_id, checkpoint_id, item_id, count, last in rows:
        task_ids = db.session.execute(
            select(Task.id).join(Finding, Finding.id == Task.finding_id).where(Finding.checkpoint_id == checkpoint_id, Finding.item_id == item_id, Finding.observed_at >= since).order_by(Task.id)
        ).scalars().all()
        out.append({"site_id": site_id, "checkpoint_id": checkpoint_id, "item_id": item_id, "failures": count, "last_observed_at": last, "task_ids": task_ids})
    return out


# --- what a phone or a list shows -------------------------------------------------------


def task_summary(task: Task) -> dict:
    """A task as phones pull it and lists show it (times naive UTC; the API adds Z)."""
    from .timeutil import to_local

    finding = db.session.get(Finding, task.finding_id)
    site = db.session.get(Site, task.site_id)
    assignee = db.session.get(User, task.assignee_id) if task.assignee_id else None
    checkpoint = db.session.get(Checkpoint, task.checkpoint_id)
    photos = db.session.execute(select(Photo.id).where(Photo.finding_id == task.finding_id).order_by(Photo.created_at, Photo.id)).scalars().all()
    pending = db.session.execute(select(Extension.id).where(Extension.task_id == task.id, Extension.state == S.EXTENSION_PENDING).limit(1)).first()
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
        "due_local": to_local(task.due_at, site.timezone).strftime("%Y-%m-%d %H:%M"),
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
