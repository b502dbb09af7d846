"""A supervisor's triage: confirming or changing a task's route and department, and assigning it to a person."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from .. import choices as C
from ..extensions import db
from ..models import Department, Finding, Membership, Task, User
from ..notifications import notify
from ..problems import Conflict, Invalid
from .opening import department_by_code, route_for
from .state import changed, event, lock, move, require, require_open


def set_route(task: Task, *, actor: User, route: str, department_id: int | None = None, note: str = "") -> Task:
    """The supervisor confirms or changes a task's route (and so its department)."""
    require(actor, task, "task.route")
    lock(task)
    require_open(task, "route it")
    if route not in C.ROUTES:
        raise Invalid.field("route", "unknown route", f"Unknown route {route!r}.", field_code="field_one_of", choices=", ".join(C.ROUTES))
    finding = db.session.get(Finding, task.finding_id)
    dept = _site_department(task, department_id) if department_id is not None else department_by_code(task.site_id, route_for(route, finding.category))
    before = {"route": task.route, "department_id": task.department_id}
    task.route = route
    task.route_confirmed = True
    task.department_id = dept.id if dept else None
    db.session.flush()
    event(task, "routed", actor, {"from": before, "to": {"route": route, "department_id": task.department_id}, "note": note})
    changed(task)
    return task


def _site_department(task: Task, department_id: int) -> Department:
    dept = db.session.get(Department, department_id)
    if dept is None or dept.site_id != task.site_id:
        raise Invalid.field("department_id", "not at this site", "That department is not at this task's site.", "unknown_department")
    return dept


def assign(task: Task, *, actor: User, assignee_id: int, department_id: int | None = None, note: str = "") -> Task:
    """Assign (or reassign) a task to a person, and optionally a department; confirms the route."""
    require(actor, task, "task.assign")
    lock(task)
    if task.state not in (C.TASK_OPEN, C.TASK_ASSIGNED, C.TASK_IN_PROGRESS):
        raise Conflict(f"Task {task.id} is {task.state}; only open, assigned or in-progress tasks can be (re)assigned.", "task_not_assignable",
                       {"state": task.state, "vocabulary": "task_states"})
    works_here = db.session.execute(
        select(Membership.id).join(User, User.id == Membership.user_id).where(Membership.user_id == assignee_id, Membership.site_id == task.site_id, User.active.is_(True))
    ).first()
    if not works_here:
        raise Invalid.field("assignee_id", "not at this site", "That person does not work at this task's site.", "unknown_assignee")
    if department_id is not None:
        task.department_id = _site_department(task, department_id).id
    previous = task.assignee_id
    task.assignee_id = assignee_id
    task.route_confirmed = True
    db.session.flush()
    event_data = {"from": previous, "to": assignee_id, "department_id": task.department_id, "note": note}
    if task.state == C.TASK_OPEN:
        move(task, actor, C.TASK_ASSIGNED, note)
        event(task, "assigned", actor, event_data)
    else:
        event(task, "reassigned", actor, event_data)
        changed(task)
    if previous != assignee_id:
        notify([assignee_id], site_id=task.site_id, kind=C.NOTIFY_ASSIGNED, dedupe_key=f"assigned:{task.id}:{uuid.uuid4()}", task_id=task.id, data={"task_id": task.id, "by": actor.id})
    return task
