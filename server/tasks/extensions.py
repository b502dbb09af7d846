"""Extensions: asking for a later due date, and a manager's decision (DOMAIN.md § 14.3)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from .. import audit
from .. import choices as C
from ..extensions import db
from ..models import Extension, Task, User, utcnow
from ..notifications import notify, settle, site_recipients
from ..problems import Conflict, Invalid
from .state import changed, event, lock, require, require_open

MAX_EXTENSION = timedelta(days=366)


def request_extension(task: Task, *, actor: User, requested_due_at: datetime, reason: str) -> Extension:
    """The assignee (whatever their role) or a supervisor asks for a later due date; nothing moves until a manager approves."""
    require(actor, task, "extension.request")
    lock(task)
    require_open(task, "extend it")
    if not reason.strip():
        raise Invalid.field("reason", "a reason is required", "Give a reason for the extension.", "extension_reason_required")
    if requested_due_at <= task.due_at:
        raise Invalid.field("requested_due_at", "must be after the current due date", "The new due date must be later than the current one.", "due_not_later")
    if requested_due_at > task.due_at + MAX_EXTENSION:
        raise Invalid.field("requested_due_at", "at most a year later", "An extension can move the due date by a year at most.", "due_too_far")
    pending = db.session.execute(select(Extension.id).where(Extension.task_id == task.id, Extension.state == C.EXTENSION_PENDING)).first()
    if pending:
        raise Conflict("An extension request for this task is already waiting for a manager.", "extension_pending")
    ext = Extension(task_id=task.id, requested_by=actor.id, requested_due_at=requested_due_at, previous_due_at=task.due_at, reason=reason, state=C.EXTENSION_PENDING)
    db.session.add(ext)
    db.session.flush([ext])
    audit.record("extension", ext.id, "requested", actor_id=actor.id, site_id=task.site_id, data={"task_id": task.id, "requested_due_at": requested_due_at.isoformat(), "previous_due_at": task.due_at.isoformat(), "reason": reason})
    notify(site_recipients(task.site_id, "extension.decide"), site_id=task.site_id, kind=C.NOTIFY_EXTENSION_REQUESTED, dedupe_key=request_key(ext), task_id=task.id, data={"task_id": task.id, "extension_id": ext.id})
    changed(task)  # phones show the request on the task (pull: the task's latest extension)
    return ext


def request_key(ext: Extension) -> str:
    """The dedupe key of the notices asking managers to decide `ext`."""
    return f"extension:{ext.id}"


def decide_extension(ext: Extension, *, actor: User, approve: bool, note: str = "") -> Extension:
    """Only a manager approves or rejects; the due date changes only on approval."""
    task = db.session.get(Task, ext.task_id)
    require(actor, task, "extension.decide")
    lock(task)
    db.session.refresh(ext)
    if ext.state != C.EXTENSION_PENDING:
        raise Conflict(f"This extension was already {ext.state}.", "extension_decided")
    require_open(task, "extend it")
    ext.state = C.EXTENSION_APPROVED if approve else C.EXTENSION_REJECTED
    ext.decided_by = actor.id
    ext.decided_at = utcnow()
    ext.decision_note = note
    audit.record("extension", ext.id, ext.state, actor_id=actor.id, site_id=task.site_id, data={"task_id": task.id, "note": note})
    if approve:
        before = task.due_at
        task.due_at = ext.requested_due_at
        db.session.flush()
        event(task, "due_changed", actor, {"from": before.isoformat(), "to": task.due_at.isoformat(), "extension_id": ext.id})
    changed(task)  # approved or not, phones show the decision on the task
    db.session.flush()
    # The request is no longer something to do: its notices are read for every manager they went to.
    settle(task.id, request_key(ext), C.NOTIFY_EXTENSION_REQUESTED)
    # The decision goes to who asked and to who has the deadline (once when that is one person).
    told = {ext.requested_by} | ({task.assignee_id} if task.assignee_id is not None else set())
    notify(told, site_id=task.site_id, kind=C.NOTIFY_EXTENSION_DECIDED, dedupe_key=f"extension-decided:{ext.id}", task_id=task.id, data={"task_id": task.id, "extension_id": ext.id, "state": ext.state})
    return ext
