"""A task's states and the moves between them, overdue, and the steps every change of a task shares.

`MOVES` is the one table of allowed moves, each naming the policy action that decides who
may make it. A person's move or edit of a task takes `lock` (row lock, sealed-month
check) and `require` (the policy), and ends with `event` (an audit event) and `changed`
(a pull-log change, so phones see it).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from .. import audit, policy, sealing
from .. import choices as C
from ..changes import record_change, record_changes
from ..extensions import db
from ..models import Task, User, utcnow
from ..problems import Conflict, Invalid

MOVES: dict[tuple[str, str], str] = {
    (C.TASK_OPEN, C.TASK_ASSIGNED): "task.assign",
    (C.TASK_ASSIGNED, C.TASK_IN_PROGRESS): "task.start",
    (C.TASK_IN_PROGRESS, C.TASK_DONE): "task.finish",
    (C.TASK_DONE, C.TASK_VERIFIED): "task.verify",
    (C.TASK_DONE, C.TASK_IN_PROGRESS): "task.verify",  # a failed verification
    **{(state, C.TASK_CANCELLED): "task.cancel" for state in (C.TASK_OPEN, C.TASK_ASSIGNED, C.TASK_IN_PROGRESS, C.TASK_DONE)},
}
# These moves are the outcome of a verification on site and are made only by verify_on_site.
VIA_VERIFICATION = {(C.TASK_DONE, C.TASK_VERIFIED), (C.TASK_DONE, C.TASK_IN_PROGRESS)}


def overdue_clause(now: datetime | None = None):
    """The one definition of overdue, as SQL: not verified or cancelled, and past its due time."""
    return Task.state.not_in(C.TASK_CLOSED_STATES) & (Task.due_at < (now or utcnow()))


def is_overdue(task: Task, now: datetime | None = None) -> bool:
    """The same rule for one loaded task."""
    return task.state not in C.TASK_CLOSED_STATES and task.due_at < (now or utcnow())


# --- the steps every change shares ---------------------------------------------------------


def require(actor: User, task: Task, action: str) -> None:
    policy.require(actor, action, task.site_id, task)


def require_open(task: Task, what: str) -> None:
    if task.state in C.TASK_CLOSED_STATES:
        raise Conflict(f"Task {task.id} is {task.state}; it is closed, so you cannot {what}.", "task_closed",
                       {"state": task.state, "vocabulary": "task_states"})


def lock(task: Task) -> Task:
    """Lock the task's row until commit and reload it, so two people moving it at once take turns.

    PostgreSQL waits on the row lock; SQLite has one writer at a time anyway. A task filed
    under a sealed month is read-only.
    """
    db.session.execute(select(Task.id).where(Task.id == task.id).with_for_update())
    db.session.refresh(task)
    ensure_writable(task)
    return task


def ensure_writable(task: Task) -> None:
    """A task filed under a sealed month is read-only (409 month_sealed)."""
    sealing.ensure_writable(task.site_id, sealing.task_month(task))


def tell_phones(task_id: int, site_id: int, state: str) -> None:
    """A pull-log change: phones keep open tasks (upsert); a closed one is removed from their list."""
    record_change("task", task_id, site_id=site_id, op="delete" if state in C.TASK_CLOSED_STATES else "upsert")


def tell_phones_all(tasks) -> None:
    """`tell_phones` for many tasks at once: (task_id, site_id, state) each."""
    record_changes(("task", task_id, site_id, "delete" if state in C.TASK_CLOSED_STATES else "upsert") for task_id, site_id, state in tasks)


def changed(task: Task) -> None:
    tell_phones(task.id, task.site_id, task.state)


def event(task: Task, action: str, actor: User | int | None, data: dict) -> None:
    actor_id = actor.id if isinstance(actor, User) else actor
    audit.record("task", task.id, action, actor_id=actor_id, site_id=task.site_id, data=data)


# --- the state machine -----------------------------------------------------------------------


def check_move(task: Task, actor: User, to_state: str) -> None:
    """Refuse (Conflict) a move the current state forbids, and (Forbidden) one the actor's role does."""
    if to_state not in C.TASK_STATES:
        raise Invalid.field("to", "unknown state", f"Unknown task state {to_state!r}.", field_code="field_one_of", choices=", ".join(C.TASK_STATES))
    action = MOVES.get((task.state, to_state))
    if action is None:
        raise Conflict(f"A task that is {task.state} cannot become {to_state}.", "transition_not_allowed",
                       {"state": task.state, "to": to_state, "vocabulary": "task_states"})
    require(actor, task, action)


def move(task: Task, actor: User, to_state: str, note: str) -> Task:
    """Make one allowed move: set its times, then record the event and tell phones."""
    check_move(task, actor, to_state)
    from_state = task.state
    now = utcnow()
    task.state = to_state
    if to_state == C.TASK_DONE:
        task.done_at = now
    if to_state in C.TASK_CLOSED_STATES:
        task.closed_at = now
    if to_state == C.TASK_CANCELLED:
        task.cancel_reason = note
    db.session.flush()
    event(task, "transition", actor, {"from": from_state, "to": to_state, "note": note})
    changed(task)
    return task


def transition(task: Task, *, actor: User, to_state: str, note: str = "", note_field: str = "note") -> Task:
    """Move a task to another state, as the table MOVES allows.

    Moving to the state the task is already in changes nothing (a phone may resend a
    move another person already made). Verified, and back to in progress after done,
    come only from a verification on site; cancelling needs a reason (not only spaces),
    a missing one reported at `note_field`, the name the caller gave the note.
    """
    lock(task)
    if to_state == task.state:
        return task
    if (task.state, to_state) in VIA_VERIFICATION:
        raise Conflict("Only a verification on site (a fresh scan of the checkpoint) can close or reopen a done task.", "verification_required")
    if to_state == C.TASK_ASSIGNED and task.assignee_id is None:
        raise Conflict("Assign the task to a person first.", "no_assignee")
    if to_state == C.TASK_CANCELLED and not note.strip():
        check_move(task, actor, to_state)
        raise Invalid.field(note_field, "a reason is required", "Give a reason for cancelling the task.", "cancel_reason_required")
    return move(task, actor, to_state, note)


def cancel(task: Task, *, actor: User, reason: str) -> Task:
    return transition(task, actor=actor, to_state=C.TASK_CANCELLED, note=reason, note_field="reason")
