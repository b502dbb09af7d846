"""Who may do what: every action of the product and the roles or relations allowed it, in one table.

The API's `@requires(action)`, the domain's own checks (`require`), the authorisation
matrix test and the phone and desk screens (through `/api/meta`) all read `ACTIONS`, so
a rule changed here changes everywhere at once. Each decision that settled a past
disagreement is written up in docs/tasks.md ("Who may do what").

A rule names roles held at the object's site, and optionally relations the person has
to the object itself (`assignee` of a task), which allow it whatever their role.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import select

from . import choices as C
from .extensions import db
from .models import Complaint, Membership, Task, User
from .problems import Forbidden

# Relations a person can have to one object, beside their roles at its site.
ASSIGNEE = "assignee"  # the task's assignee, whatever their role (department staff hold any role)
HANDLER = "handler"  # the person a complaint is assigned to, whatever their role
RELATIONS = (ASSIGNEE, HANDLER)

ALL = C.ROLES
FIELD = (C.PATROLLER, C.SUPERVISOR, C.MANAGER)  # people who walk the building and sign for it
DIRECTORS = (C.SUPERVISOR, C.MANAGER)  # people who triage, route and follow findings
DESK = (C.SUPERVISOR, C.MANAGER, C.ADMIN)


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str]
    relations: frozenset[str] = frozenset()
    description: str = ""

    def allows(self, roles: Iterable[str], relations: Iterable[str] = ()) -> bool:
        return bool(self.roles.intersection(roles) or self.relations.intersection(relations))


def _rule(roles: Iterable[str], description: str, relations: Iterable[str] = ()) -> Rule:
    return Rule(frozenset(roles), frozenset(relations), description)


ACTIONS: dict[str, Rule] = {
    # Sites and people.
    "site.read": _rule(ALL, "see a site, its departments and timezone"),
    "site.edit": _rule((C.ADMIN, C.MANAGER), "change a site's settings and departments"),
    # Nobody holds a role at a site before it exists: an admin of any site opens one and
    # becomes its admin (sites.open_site).
    "site.create": _rule((C.ADMIN,), "open a new site (an admin of any site; they become its admin)"),
    "user.read": _rule((C.ADMIN, C.SUPERVISOR, C.MANAGER), "list the people of a site (to assign work)"),
    "user.manage": _rule((C.ADMIN,), "create people, change their roles, deactivate them"),
    # Places, checklists and plans.
    "checkpoint.read": _rule(ALL, "see checkpoints"),
    "checkpoint.edit": _rule((C.ADMIN, C.MANAGER), "create, edit, retire and import checkpoints"),
    "checkpoint.print": _rule((C.ADMIN, C.MANAGER, C.SUPERVISOR), "print QR labels and export checkpoints"),
    "checklist.read": _rule(ALL, "see the checklists"),
    "checklist.edit": _rule((C.ADMIN, C.MANAGER), "add, change and retire a site's own checklist items"),
    "plan.read": _rule(ALL, "see patrol plans"),
    "plan.edit": _rule((C.ADMIN, C.MANAGER), "write, pause and resume patrol plans"),
    "coverage.read": _rule((C.SUPERVISOR, C.MANAGER, C.ADMIN, C.ARCHIVIST), "see which checkpoints were visited, missed or late"),
    "device.read": _rule((C.SUPERVISOR, C.MANAGER, C.ADMIN), "see phones, their clock offsets and sequence gaps"),
    # The patrol itself: rounds, visits and findings, from the phone (sync) or the web alike.
    "patrol.record": _rule(FIELD, "record rounds, checkpoint visits and findings"),
    "finding.read": _rule(ALL, "see findings"),
    "photo.read": _rule(ALL, "see the photos of a site's records"),
    # What residents said on patrol ("ask"; recorded under patrol.record): their unit and contact
    # are personal data, kept only with consent and shown only to the site's desk (docs/residents.md).
    "resident.read": _rule(DESK, "see what residents said on patrol, with the unit and contact they agreed to give"),
    # Repair tasks (DOMAIN.md § 14).
    "task.read": _rule(ALL, "see tasks and their history"),
    "task.route": _rule(DIRECTORS, "confirm or change a task's route and department"),
    "task.assign": _rule(DIRECTORS, "assign or reassign a task"),
    "task.cancel": _rule(DIRECTORS, "cancel a task, with a reason"),
    "task.start": _rule(DIRECTORS, "start work on a task", (ASSIGNEE,)),
    "task.finish": _rule(DIRECTORS, "mark a task's work done (awaiting verification)", (ASSIGNEE,)),
    "task.case": _rule(DIRECTORS, "record a residents'-convention case", (ASSIGNEE,)),
    "task.comment": _rule(ALL, "comment on a task"),
    "task.verify": _rule(FIELD, "verify finished work on site and sign for it"),
    "task.countersign": _rule(DIRECTORS, "sign a verification as the supervisor"),
    "task.sign_as_supervisor": _rule((C.SUPERVISOR,), "verifying, count as the verification's signing supervisor unless another is named"),
    "extension.request": _rule((C.SUPERVISOR,), "ask for a later due date", (ASSIGNEE,)),
    "extension.decide": _rule((C.MANAGER,), "approve or reject an extension"),
    "notice.receive_major": _rule(DIRECTORS, "be told at once of a major problem, and of overdue tasks"),
    "notice.receive_new_task": _rule((C.SUPERVISOR,), "be told of each new task waiting to be assigned"),
    # Notifications and outbound messages.
    "notification.read": _rule(ALL, "read one's own notifications"),
    "webhook.manage": _rule((C.ADMIN,), "configure outbound webhooks"),
    # Month-end filing (docs/archive.md).
    "archive.read": _rule((C.ARCHIVIST, C.ADMIN, C.MANAGER), "see filed months, exports and bundles"),
    "archive.file": _rule((C.ARCHIVIST, C.ADMIN), "seal months, build bundles, set legal holds, purge"),
    # Residents' complaints and return visits (docs/complaints.md).
    "complaint.read": _rule(DESK + (C.RECEPTIONIST, C.ARCHIVIST), "see complaints, their contact details and history", (HANDLER,)),
    "complaint.receive": _rule((C.RECEPTIONIST, C.PATROLLER, C.SUPERVISOR, C.MANAGER), "take a resident's complaint"),
    "complaint.judge": _rule((C.RECEPTIONIST, C.SUPERVISOR, C.MANAGER), "judge a complaint valid or not valid, its kind and department"),
    "complaint.assign": _rule(DIRECTORS, "assign a complaint to the person who handles it"),
    "complaint.handle": _rule(DIRECTORS, "investigate a complaint and propose a solution", (HANDLER,)),
    "complaint.approve": _rule(DIRECTORS, "approve or send back a proposed solution"),
    "complaint.accept": _rule((C.RECEPTIONIST, C.SUPERVISOR, C.MANAGER), "record the resident's acceptance of the solution", (HANDLER,)),
    "complaint.reply": _rule((C.RECEPTIONIST, C.SUPERVISOR, C.MANAGER), "reply to the resident by their channel"),
    "complaint.visit": _rule((C.RECEPTIONIST, C.SUPERVISOR, C.MANAGER), "make and record a return visit"),
    "complaint.stats": _rule((C.SUPERVISOR, C.MANAGER, C.ADMIN, C.ARCHIVIST), "see the month's complaint statistics and patrol-quality signals"),
    # Escalation, level by level: who is told at each level (the general manager is the site's admin).
    "complaint.notice_supervisor": _rule((C.SUPERVISOR,), "be told of a complaint past its deadline (客服主管)"),
    "complaint.notice_manager": _rule((C.MANAGER,), "be told of a special complaint at once, and of one still unhandled a day later (客服经理)"),
    "complaint.notice_general_manager": _rule((C.ADMIN,), "be told of a complaint still unhandled two days after its deadline (总经理)"),
    # Screens.
    "desk.open": _rule(DESK, "open the desk screens"),
}


def rule(action: str) -> Rule:
    """The rule of an action; an unknown name is a programming error, not a 403."""
    try:
        return ACTIONS[action]
    except KeyError:
        raise KeyError(f"unknown policy action {action!r}; add it to server/policy.py ACTIONS") from None


def roles_for(action: str) -> frozenset[str]:
    return rule(action).roles


def allows(action: str, roles: Iterable[str], relations: Iterable[str] = ()) -> bool:
    """Pure check: do these roles (at the object's site) or relations (to the object) allow the action?"""
    return rule(action).allows(roles, relations)


def roles_at(user: User, site_id: int | None) -> set[str]:
    """The roles a user holds at one site (empty: they do not work there)."""
    if site_id is None:
        return set()
    return set(db.session.execute(select(Membership.role).where(Membership.user_id == user.id, Membership.site_id == site_id)).scalars())


def relations_to(user: User, obj) -> set[str]:
    """The relations a user has to one object (today: being a task's assignee)."""
    if isinstance(obj, Task) and obj.assignee_id is not None and obj.assignee_id == user.id:
        return {ASSIGNEE}
    if isinstance(obj, Complaint) and obj.handler_id is not None and obj.handler_id == user.id:
        return {HANDLER}
    return set()


def may(user: User, action: str, site_id: int | None, obj=None) -> bool:
    return allows(action, roles_at(user, site_id), relations_to(user, obj) if obj is not None else ())


def require(user: User, action: str, site_id: int | None, obj=None) -> None:
    """The domain's check: raise Forbidden unless the user may do `action` at this site (on `obj`)."""
    if not may(user, action, site_id, obj):
        raise Forbidden(f"Your role at this site does not allow you to {rule(action).description}.", "forbidden", {"action": action})


def as_json() -> dict:
    """The table as clients read it from /api/meta: action → roles, relations and what it means."""
    return {
        "relations": list(RELATIONS),
        "actions": {
            name: {"roles": sorted(r.roles), "relations": sorted(r.relations), "description": r.description}
            for name, r in sorted(ACTIONS.items())
        },
    }
