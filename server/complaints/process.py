"""Every step of a complaint, from receiving it to the return visit, each checked, audited and logged.

Each step takes the row lock and the sealed-month check (`lock`), asks the policy
(`policy.require`), checks the state it starts from, changes the row, and ends with an
audit event and a pull-log change (`_done`). Nothing here commits: the view or command does.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from .. import audit, checklists, photos, policy, sealing, webhooks
from .. import choices as C
from ..changes import record_change
from ..extensions import db
from ..models import Checkpoint, Complaint, Department, Finding, Membership, Photo, ReturnVisit, Site, Task, User, Visit, utcnow
from ..notifications import notify, site_recipients
from ..problems import Conflict, Invalid, NotFound
from ..timeutil import local_minute, month_of
from . import rules

# The states each step starts from.
JUDGEABLE = (C.COMPLAINT_RECEIVED,)
ASSIGNABLE = (C.COMPLAINT_VALID, C.COMPLAINT_ASSIGNED)
STARTABLE = (C.COMPLAINT_ASSIGNED,)
PROPOSABLE = (C.COMPLAINT_IN_PROGRESS, C.COMPLAINT_PROPOSED)
APPROVABLE = (C.COMPLAINT_PROPOSED,)
ACCEPTABLE = (C.COMPLAINT_APPROVED,)
REPLYABLE = (C.COMPLAINT_ACCEPTED,)
VISITABLE = (C.COMPLAINT_REPLIED,)


# --- the steps every change shares ------------------------------------------------------------


def lock(complaint: Complaint) -> Complaint:
    """Row lock until commit, then reload; a closed complaint of a sealed month is read-only."""
    db.session.execute(select(Complaint.id).where(Complaint.id == complaint.id).with_for_update())
    db.session.refresh(complaint)
    ensure_writable(complaint)
    return complaint


def ensure_writable(complaint: Complaint) -> None:
    """Like a task: an open complaint carries on after month end; a closed one is part of its month's record."""
    if complaint.state in C.COMPLAINT_CLOSED_STATES:
        sealing.ensure_writable(complaint.site_id, complaint.month)


def _from(complaint: Complaint, states: tuple[str, ...], what: str) -> None:
    if complaint.state not in states:
        raise Conflict(f"A complaint that is {complaint.state} cannot be {what}.", "transition_not_allowed",
                       {"state": complaint.state, "vocabulary": "complaint_states"})


def _done(complaint: Complaint, action: str, actor: User | None, data: dict) -> Complaint:
    db.session.flush()
    audit.record("complaint", complaint.id, action, actor_id=actor.id if actor else None, site_id=complaint.site_id, data={"state": complaint.state, **data})
    record_change("complaint", complaint.id, site_id=complaint.site_id)
    return complaint


def _site(complaint: Complaint) -> Site:
    return db.session.get(Site, complaint.site_id)


def _department(site_id: int, department_id: int | None) -> Department | None:
    if department_id is None:
        return None
    dept = db.session.get(Department, department_id)
    if dept is None or dept.site_id != site_id:
        raise Invalid.field("department_id", "no such department at this site", field_code="field_not_at_site")
    return dept


def _department_code(complaint: Complaint) -> str | None:
    dept = db.session.get(Department, complaint.department_id) if complaint.department_id else None
    return dept.code if dept else None


def _set_deadline(complaint: Complaint, start: datetime) -> None:
    site = _site(complaint)
    code = _department_code(complaint)
    complaint.kind = rules.effective_kind(complaint.kind, code)
    complaint.due_at = rules.deadline(start, complaint.kind, code, site)


# --- notices ----------------------------------------------------------------------------------


def summary_for_notice(complaint: Complaint, site: Site) -> dict:
    """What an escalation notice and its webhook say (no contact details: they leave the site; the
    place's names in both languages, as `notifications.summary` keeps them)."""
    cp = db.session.get(Checkpoint, complaint.checkpoint_id) if complaint.checkpoint_id else None
    return {
        "site_id": site.id,
        "site_code": site.code,
        "site_name": site.name_zh,
        "site_name_en": site.name_en or "",
        "complaint_id": complaint.id,
        "kind": complaint.kind,
        "channel": complaint.channel,
        "unit": complaint.unit,
        "checkpoint_name": cp.name_zh if cp else "",
        "checkpoint_name_en": (cp.name_en or "") if cp else "",
        "content": complaint.content,
        "state": complaint.state,
        "level": complaint.level,
        "due_at_local": local_minute(complaint.due_at, site.timezone),
        # The site-local day the deadline is the end of: screens show it as that day's end.
        "due_day": rules.day_ending_at(complaint.due_at, site.timezone),
    }


def tell_level(complaint: Complaint, level: str, site: Site, now: datetime | None = None) -> int:
    """Tell the people of `level` (and the handler) once per level and reopening; the webhooks get the same."""
    action = rules.LEVEL_ACTIONS.get(level)
    if action is None:
        return 0
    key = f"complaint:{complaint.id}:{complaint.reopen_count}:{level}"
    data = summary_for_notice(complaint, site)
    if now is not None:
        data["hours_overdue"] = max(0, int((now - complaint.due_at).total_seconds() // 3600))
    people = site_recipients(site.id, action) + ([complaint.handler_id] if complaint.handler_id else [])
    created = notify(people, site_id=site.id, kind=C.NOTIFY_COMPLAINT_ESCALATED, dedupe_key=key, data=data)
    webhooks.queue(site.id, key, {"event": C.NOTIFY_COMPLAINT_ESCALATED, **data})
    return created


# --- receiving --------------------------------------------------------------------------------


def _check_place(site_id: int, checkpoint_id, finding_id, visit_id) -> tuple[int | None, str | None]:
    """The place a complaint names must be the site's; a finding or a visit names its checkpoint."""
    if visit_id is not None:
        visit = db.session.get(Visit, visit_id)
        if visit is None or visit.site_id != site_id:
            raise Invalid.field("visit_id", "no such patrol visit at this site", field_code="field_not_at_site")
        checkpoint_id = checkpoint_id or visit.checkpoint_id
    task_id = None
    if finding_id is not None:
        finding = db.session.get(Finding, finding_id)
        if finding is None or finding.site_id != site_id:
            raise Invalid.field("finding_id", "no such finding at this site", field_code="field_not_at_site")
        checkpoint_id = checkpoint_id or finding.checkpoint_id
        task_id = db.session.execute(select(Task.id).where(Task.finding_id == finding.id)).scalar()
    if checkpoint_id is not None:
        cp = db.session.get(Checkpoint, checkpoint_id)
        if cp is None or cp.site_id != site_id:
            raise Invalid.field("checkpoint_id", "no such checkpoint at this site", field_code="field_not_at_site")
    return checkpoint_id, task_id


def _check_item(site_id: int, checkpoint_id: int | None, item_id: str | None) -> None:
    """A complaint names a checklist item of its place's own checklist (the patrolled-as-fine signal compares them)."""
    if not item_id:
        return
    if checkpoint_id is None:
        raise Invalid.field("item_id", "a checklist item needs the checkpoint it belongs to", field_code="field_item_needs_checkpoint")
    kind = db.session.get(Checkpoint, checkpoint_id).kind
    if item_id not in checklists.kind_item_ids(site_id, kind):
        raise Invalid.field("item_id", "not an item of this checkpoint's checklist", field_code="field_not_in_checklist")


def unit_checkpoint(site_id: int, unit: str) -> int | None:
    """A unit maps to its checkpoint when one has that unit (a vacant unit) — the complaint's place."""
    if not unit:
        return None
    return db.session.execute(
        select(Checkpoint.id).where(Checkpoint.site_id == site_id, Checkpoint.unit == unit, Checkpoint.active.is_(True)).order_by(Checkpoint.id)
    ).scalars().first()


def receive(site: Site, *, actor: User, channel: str, complainant: str, content: str, received_at: datetime | None = None,
            reply_channel: str | None = None, unit: str = "", contact: str = "", contact_consent: bool = False,
            kind: str = C.COMPLAINT_ORDINARY, category: str = "", checkpoint_id: int | None = None, item_id: str | None = None,
            finding_id: str | None = None, visit_id: str | None = None, photo_ids: list | None = None,
            client_id: str | None = None) -> tuple[Complaint, bool]:
    """Take a complaint (《顾客投诉登记表》); returns (complaint, created).

    A resend with the same `client_id` (a phone that took it offline) returns the first
    one. Contact details are kept only with the resident's consent. A complaint received
    in a month already sealed is filed as an addendum. A special one goes to the
    manager at once.
    """
    policy.require(actor, "complaint.receive", site.id)
    if client_id:
        existing = db.session.execute(select(Complaint).where(Complaint.client_id == client_id)).scalar_one_or_none()
        if existing is not None:
            if existing.site_id != site.id or existing.received_by != actor.id:
                raise Conflict("That id belongs to another complaint.", "id_reused")
            return existing, False
    if contact and not contact_consent:
        raise Invalid.field("contact", "kept only with the resident's consent (contact_consent)", code="consent_required")
    now = utcnow()
    received_at = received_at or now
    if received_at > now:
        raise Invalid.field("received_at", "is in the future", field_code="field_in_future")
    checkpoint_id = checkpoint_id or unit_checkpoint(site.id, unit)
    checkpoint_id, task_id = _check_place(site.id, checkpoint_id, finding_id, visit_id)
    _check_item(site.id, checkpoint_id, item_id)
    month = month_of(received_at, site.timezone)
    # Refuse a photo that is not this person's to link before anything is written (the claim itself needs the id).
    for pid in dict.fromkeys(photo_ids or ()):
        if isinstance(pid, str) and not photos.may_link(db.session.get(Photo, pid), actor.id, photos.Link(site.id, C.PHOTO_COMPLAINT)):
            raise photos.taken(pid)
    complaint = Complaint(
        site_id=site.id, client_id=client_id, channel=channel, reply_channel=reply_channel or channel, complainant=complainant,
        contact=contact if contact_consent else "", contact_consent=contact_consent, unit=unit, checkpoint_id=checkpoint_id,
        item_id=item_id, finding_id=finding_id, visit_id=visit_id, task_id=task_id, category=category, content=content,
        photo_ids=[], received_at=received_at, received_by=actor.id, kind=kind, state=C.COMPLAINT_RECEIVED,
        level=rules.starting_level(kind), due_at=rules.deadline(received_at, kind, None, site), month=month,
        addendum=sealing.is_sealed(site.id, month),
    )
    db.session.add(complaint)
    db.session.flush()
    # Photos by the one rule of photo claims: taken by this person, at this site, of no other record.
    complaint.photo_ids = photos.claim(photo_ids or [], actor.id, photos.Link(site.id, C.PHOTO_COMPLAINT, complaint_id=complaint.id))
    _done(complaint, "received", actor, {"channel": channel, "kind": kind, "due_at": complaint.due_at})
    if complaint.level == C.LEVEL_MANAGER:
        tell_level(complaint, C.LEVEL_MANAGER, site)
    return complaint, True


def open_duplicates(site_id: int, unit: str, checkpoint_id: int | None, exclude_id: int | None = None) -> list[Complaint]:
    """Open complaints for the same unit, or the same place: a possible duplicate to look at before taking a new one."""
    if not unit and checkpoint_id is None:
        return []
    same = []
    if unit:
        same.append(Complaint.unit == unit)
    if checkpoint_id is not None:
        same.append(Complaint.checkpoint_id == checkpoint_id)
    from sqlalchemy import or_

    stmt = select(Complaint).where(Complaint.site_id == site_id, Complaint.state.not_in(C.COMPLAINT_CLOSED_STATES), or_(*same))
    if exclude_id is not None:
        stmt = stmt.where(Complaint.id != exclude_id)
    return list(db.session.execute(stmt.order_by(Complaint.id.desc()).limit(20)).scalars())


# --- judging and routing -----------------------------------------------------------------------


def judge(complaint: Complaint, *, actor: User, valid: bool, reason: str = "", kind: str | None = None, department_id: int | None = None) -> Complaint:
    """Valid (within the service contract) or not valid. Not valid closes it, with its reason (required)."""
    lock(complaint)
    policy.require(actor, "complaint.judge", complaint.site_id, complaint)
    _from(complaint, JUDGEABLE, "judged")
    if not valid and not reason.strip():
        raise Invalid.field("reason", "a reason is required", "Give the reason a complaint is not valid; it is the answer the resident gets.", "invalid_reason_required")
    now = utcnow()
    complaint.valid = valid
    complaint.validity_reason = reason
    complaint.judged_by = actor.id
    complaint.judged_at = now
    if not valid:
        complaint.state = C.COMPLAINT_INVALID
        complaint.closed_at = now
        return _done(complaint, "judged", actor, {"valid": False, "reason": reason})
    was_special = complaint.kind == C.COMPLAINT_SPECIAL
    if kind is not None:
        complaint.kind = kind
    if department_id is not None:
        complaint.department_id = _department(complaint.site_id, department_id).id
    complaint.state = C.COMPLAINT_VALID
    _set_deadline(complaint, complaint.received_at)
    _done(complaint, "judged", actor, {"valid": True, "kind": complaint.kind, "department_id": complaint.department_id, "due_at": complaint.due_at})
    if complaint.kind == C.COMPLAINT_SPECIAL and not was_special and rules.rank(complaint.level) < rules.rank(C.LEVEL_MANAGER):
        complaint.level = C.LEVEL_MANAGER
        tell_level(complaint, C.LEVEL_MANAGER, _site(complaint))
    return complaint


def assign(complaint: Complaint, *, actor: User, handler_id: int, department_id: int | None = None, note: str = "") -> Complaint:
    """Give a valid complaint to the person of the responsible department who handles it."""
    lock(complaint)
    policy.require(actor, "complaint.assign", complaint.site_id, complaint)
    _from(complaint, ASSIGNABLE, "assigned")
    works_here = db.session.execute(
        select(Membership.id).join(User, User.id == Membership.user_id)
        .where(Membership.user_id == handler_id, Membership.site_id == complaint.site_id, User.active.is_(True))
    ).first()
    if not works_here:
        raise Invalid.field("handler_id", "no active person of this site", field_code="field_not_staff_here")
    if department_id is not None:
        complaint.department_id = _department(complaint.site_id, department_id).id
        _set_deadline(complaint, complaint.received_at)
    complaint.handler_id = handler_id
    complaint.state = C.COMPLAINT_ASSIGNED
    return _done(complaint, "assigned", actor, {"handler_id": handler_id, "department_id": complaint.department_id, "note": note})


def link_task(complaint: Complaint, *, actor: User, task_id: int) -> Complaint:
    """Link the repair task that deals with the complaint's problem (a facility complaint joins the task engine)."""
    lock(complaint)
    policy.require(actor, "complaint.assign", complaint.site_id, complaint)
    task = db.session.get(Task, task_id)
    if task is None or task.site_id != complaint.site_id:
        raise Invalid.field("task_id", "no such task at this site", field_code="field_not_at_site")
    complaint.task_id = task.id
    complaint.checkpoint_id = complaint.checkpoint_id or task.checkpoint_id
    return _done(complaint, "task_linked", actor, {"task_id": task.id})


# --- handling ----------------------------------------------------------------------------------


def start(complaint: Complaint, *, actor: User) -> Complaint:
    lock(complaint)
    policy.require(actor, "complaint.handle", complaint.site_id, complaint)
    _from(complaint, STARTABLE, "started")
    complaint.state = C.COMPLAINT_IN_PROGRESS
    return _done(complaint, "started", actor, {})


def propose(complaint: Complaint, *, actor: User, cause: str, solution: str) -> Complaint:
    """The responsible department's finding of the cause and its proposed solution (投诉处理流程 3-4)."""
    lock(complaint)
    policy.require(actor, "complaint.handle", complaint.site_id, complaint)
    _from(complaint, PROPOSABLE, "given a solution")
    complaint.cause = cause
    complaint.solution = solution
    complaint.state = C.COMPLAINT_PROPOSED
    return _done(complaint, "proposed", actor, {"cause": cause, "solution": solution})


def approve(complaint: Complaint, *, actor: User, approve: bool, note: str = "") -> Complaint:
    """The supervisor approves the solution, or sends it back to the handler with a note."""
    lock(complaint)
    policy.require(actor, "complaint.approve", complaint.site_id, complaint)
    _from(complaint, APPROVABLE, "approved")
    if not approve and not note.strip():
        raise Invalid.field("note", "say why the solution goes back", "Say why the solution goes back to the handler.", "return_reason_required")
    if approve:
        complaint.state = C.COMPLAINT_APPROVED
        complaint.approved_by = actor.id
        complaint.approved_at = utcnow()
    else:
        complaint.state = C.COMPLAINT_IN_PROGRESS
    return _done(complaint, "approved" if approve else "sent_back", actor, {"note": note})


def accept(complaint: Complaint, *, actor: User, signed_by: str) -> Complaint:
    """The resident accepts the solution and signs (the name of who signed is recorded)."""
    lock(complaint)
    policy.require(actor, "complaint.accept", complaint.site_id, complaint)
    _from(complaint, ACCEPTABLE, "accepted by the resident")
    complaint.state = C.COMPLAINT_ACCEPTED
    complaint.accepted_at = utcnow()
    complaint.accepted_by_name = signed_by
    return _done(complaint, "accepted", actor, {"signed_by": signed_by})


# --- replying and the return visit -------------------------------------------------------------


def reply(complaint: Complaint, *, actor: User, text: str, channel: str | None = None) -> Complaint:
    """Reply by the resident's channel (visit, letter, phone); it needs the resident's acceptance first.

    Replying ends the handling: the return visit falls due within three days.
    """
    lock(complaint)
    policy.require(actor, "complaint.reply", complaint.site_id, complaint)
    if complaint.state in (C.COMPLAINT_RECEIVED, C.COMPLAINT_VALID, C.COMPLAINT_ASSIGNED, C.COMPLAINT_IN_PROGRESS, C.COMPLAINT_PROPOSED, C.COMPLAINT_APPROVED):
        raise Conflict("The resident has not accepted the solution yet; record their acceptance before replying.", "acceptance_required", {"state": complaint.state})
    _from(complaint, REPLYABLE, "replied to")
    if channel is not None and channel != complaint.reply_channel:
        raise Invalid.field("channel", f"the resident asked for a reply by {complaint.reply_channel}", code="wrong_channel")
    now = utcnow()
    complaint.reply_text = text
    complaint.replied_by = actor.id
    complaint.replied_at = now
    complaint.return_due_at = rules.return_visit_due(now, _site(complaint).timezone)
    complaint.return_scheduled_at = None
    complaint.state = C.COMPLAINT_REPLIED
    return _done(complaint, "replied", actor, {"channel": complaint.reply_channel, "return_due_at": complaint.return_due_at})


def schedule_return_visit(complaint: Complaint, *, actor: User, at: datetime) -> Complaint:
    """A time agreed with the resident (not one that disturbs them); the queue shows it."""
    lock(complaint)
    policy.require(actor, "complaint.visit", complaint.site_id, complaint)
    _from(complaint, VISITABLE, "given a return-visit time")
    if at < utcnow():
        raise Invalid.field("at", "is in the past", field_code="field_in_past")
    complaint.return_scheduled_at = at
    return _done(complaint, "visit_scheduled", actor, {"at": at})


def record_return_visit(complaint: Complaint, *, actor: User, result: str, improve: str = "", notes: str = "") -> ReturnVisit:
    """The return visit's result (回访记录表). Satisfied or average closes the complaint; not satisfied reopens it."""
    lock(complaint)
    policy.require(actor, "complaint.visit", complaint.site_id, complaint)
    _from(complaint, VISITABLE, "visited")
    now = utcnow()
    visit = ReturnVisit(
        complaint_id=complaint.id, site_id=complaint.site_id, visitor_id=actor.id, result=result, improve=improve, notes=notes,
        visited_at=now, on_time=now <= complaint.return_due_at,
    )
    db.session.add(visit)
    if result == C.NOT_SATISFIED:
        reopen(complaint, actor=actor, reason=notes or improve)
    else:
        complaint.state = C.COMPLAINT_CLOSED
        complaint.closed_at = now
        _done(complaint, "closed", actor, {"result": result})
    db.session.flush()
    audit.record("return_visit", visit.id, "recorded", actor_id=actor.id, site_id=complaint.site_id,
                 data={"complaint_id": complaint.id, "result": result, "on_time": visit.on_time})
    return visit


def reopen(complaint: Complaint, *, actor: User, reason: str) -> Complaint:
    """Back to the handler (in progress) with a fresh deadline from now; escalation starts again."""
    now = utcnow()
    complaint.reopen_count += 1
    complaint.state = C.COMPLAINT_IN_PROGRESS if complaint.handler_id else C.COMPLAINT_VALID
    complaint.approved_by = complaint.approved_at = complaint.accepted_at = None
    complaint.accepted_by_name = ""
    complaint.return_due_at = complaint.return_scheduled_at = None
    complaint.closed_at = None
    complaint.level = rules.starting_level(complaint.kind)
    _set_deadline(complaint, now)
    _done(complaint, "reopened", actor, {"reason": reason, "reopen_count": complaint.reopen_count, "due_at": complaint.due_at})
    if complaint.level == C.LEVEL_MANAGER:
        tell_level(complaint, C.LEVEL_MANAGER, _site(complaint))
    return complaint


def get_site(site_id: int) -> Site:
    site = db.session.get(Site, site_id)
    if site is None:
        raise NotFound("Not found.")
    return site
