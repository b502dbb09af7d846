"""Reading complaints: a complaint's summary and detail, lists, the return-visit queue, the
patrol context of its place, the "patrolled as fine" signal and the month's statistics."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, func, or_, select

from .. import checklists
from .. import choices as C
from ..extensions import db
from ..models import AuditEvent, Checkpoint, Complaint, Department, Finding, ItemResult, Photo, ReturnVisit, Site, Task, User, Visit, utcnow
from ..tasks import is_overdue as task_overdue
from ..timeutil import local_minute, to_local
from .process import open_duplicates
from .rules import day_ending_at


def _names(ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {uid: display or username for uid, display, username in db.session.execute(select(User.id, User.display_name, User.username).where(User.id.in_(ids)))}


def is_overdue(complaint: Complaint, now: datetime | None = None) -> bool:
    """Still being handled and past its deadline."""
    return complaint.state in C.COMPLAINT_HANDLING_STATES and complaint.due_at < (now or utcnow())


def deadline_met(complaint: Complaint) -> bool | None:
    """Handled (replied, or closed as not valid) by its deadline; None while still being handled in time."""
    done_at = complaint.replied_at or (complaint.closed_at if complaint.state == C.COMPLAINT_INVALID else None)
    if done_at is None:
        return False if is_overdue(complaint) else None
    return done_at <= complaint.due_at


def complaint_summary(c: Complaint, site: Site | None = None, names: dict | None = None, checkpoint: Checkpoint | None = None,
                      items: dict | None = None) -> dict:
    site = site or db.session.get(Site, c.site_id)
    items = items if items is not None else checklists.item_texts(c.site_id, [c.item_id])
    item = items.get(c.item_id) or {}
    if checkpoint is None and c.checkpoint_id:
        checkpoint = db.session.get(Checkpoint, c.checkpoint_id)
    names = names if names is not None else _names((c.received_by, c.handler_id))
    tz = site.timezone
    return {
        "id": c.id, "site_id": c.site_id, "channel": c.channel, "reply_channel": c.reply_channel, "complainant": c.complainant,
        "contact": c.contact, "contact_consent": c.contact_consent, "unit": c.unit,
        "checkpoint_id": c.checkpoint_id, "checkpoint_name_zh": checkpoint.name_zh if checkpoint else "",
        "checkpoint_name_en": checkpoint.name_en if checkpoint else "", "item_id": c.item_id,
        "item_text_zh": item.get("zh", ""), "item_text_en": item.get("en", ""), "finding_id": c.finding_id,
        "visit_id": c.visit_id, "task_id": c.task_id, "category": c.category, "content": c.content, "photo_ids": list(c.photo_ids or []),
        "received_at": c.received_at, "received_local": local_minute(c.received_at, tz), "received_by": c.received_by,
        "received_by_name": names.get(c.received_by, ""), "kind": c.kind, "valid": c.valid, "validity_reason": c.validity_reason,
        "department_id": c.department_id, "handler_id": c.handler_id, "handler_name": names.get(c.handler_id, ""), "state": c.state,
        "due_at": c.due_at, "due_local": local_minute(c.due_at, tz),
        "due_day": day_ending_at(c.due_at, tz), "overdue": is_overdue(c), "level": c.level,
        "cause": c.cause, "solution": c.solution, "approved_by": c.approved_by, "approved_at": c.approved_at,
        "accepted_at": c.accepted_at, "accepted_by_name": c.accepted_by_name, "reply_text": c.reply_text, "replied_at": c.replied_at,
        "return_due_at": c.return_due_at, "return_due_local": local_minute(c.return_due_at, tz) if c.return_due_at else None,
        "return_due_day": day_ending_at(c.return_due_at, tz),
        "return_scheduled_at": c.return_scheduled_at, "reopen_count": c.reopen_count, "closed_at": c.closed_at, "month": c.month,
        "addendum": c.addendum, "timezone": tz, "created_at": c.created_at, "updated_at": c.updated_at,
    }


def complaint_detail(c: Complaint) -> dict:
    """One complaint with its history, return visits, possible duplicates and its place's recent patrols."""
    out = complaint_summary(c)
    events = db.session.execute(
        select(AuditEvent).where(AuditEvent.entity == "complaint", AuditEvent.entity_id == str(c.id)).order_by(AuditEvent.id)
    ).scalars().all()
    visits = db.session.execute(select(ReturnVisit).where(ReturnVisit.complaint_id == c.id).order_by(ReturnVisit.id)).scalars().all()
    names = _names([ev.actor_id for ev in events] + [v.visitor_id for v in visits])
    out["events"] = [
        {"id": ev.id, "entity": ev.entity, "entity_id": ev.entity_id, "action": ev.action, "actor_id": ev.actor_id,
         "actor_name": names.get(ev.actor_id, ""), "at": ev.at, "data": ev.data}
        for ev in events
    ]
    out["return_visits"] = [return_visit_dict(v, names) for v in visits]
    out["duplicates"] = [{"id": d.id, "state": d.state, "unit": d.unit, "content": d.content, "received_at": d.received_at}
                         for d in open_duplicates(c.site_id, c.unit, c.checkpoint_id, exclude_id=c.id)]
    out["patrols"] = place_patrols(c.site_id, c.checkpoint_id)
    # Named but not uploaded yet: the screen shows a placeholder instead of a broken image.
    out["photos_missing"] = list(db.session.execute(
        select(Photo.id).where(Photo.complaint_id == c.id, Photo.status != C.PHOTO_RECEIVED).order_by(Photo.id)
    ).scalars()) if c.photo_ids else []
    out["patrolled_as_fine"] = patrolled_as_fine(c)
    out.update(linked_records(c, db.session.get(Site, c.site_id).timezone))
    return out


def linked_records(c: Complaint, tz: str) -> dict:
    """The repair task and the patrol finding the complaint is linked to, as its page shows them
    (the finding named when it was taken, else the linked task's own)."""
    task = db.session.get(Task, c.task_id) if c.task_id else None
    finding_id = c.finding_id or (task.finding_id if task else None)
    finding = db.session.get(Finding, finding_id) if finding_id else None
    text = (checklists.item_texts(c.site_id, [finding.item_id]).get(finding.item_id) if finding and finding.item_id else None) or {}
    return {
        "task": {"id": task.id, "state": task.state, "due_at": task.due_at, "due_local": local_minute(task.due_at, tz),
                 "overdue": task_overdue(task)} if task else None,
        "finding": {"id": finding.id, "observed_at": finding.observed_at, "observed_local": local_minute(finding.observed_at, tz),
                    "category": finding.category, "severity": finding.severity, "description": finding.description,
                    "item_id": finding.item_id, "item_text_zh": text.get("zh", ""), "item_text_en": text.get("en", "")} if finding else None,
    }


def return_visit_dict(v: ReturnVisit, names: dict) -> dict:
    return {"id": v.id, "complaint_id": v.complaint_id, "visitor_id": v.visitor_id, "visitor_name": names.get(v.visitor_id, ""),
            "result": v.result, "improve": v.improve, "notes": v.notes, "visited_at": v.visited_at, "on_time": v.on_time}


def complaint_list(site_ids: list[int], filters: dict, handled_at: list[int] = (), handler_id: int | None = None):
    """Complaints of these sites, and at the sites `handled_at` only those `handler_id` handles:
    overdue and still being handled first, then by deadline."""
    now = utcnow()
    scope = Complaint.site_id.in_(site_ids)
    if handled_at and handler_id is not None:
        scope = or_(scope, and_(Complaint.site_id.in_(handled_at), Complaint.handler_id == handler_id))
    stmt = select(Complaint).where(scope)
    if filters.get("state"):
        stmt = stmt.where(Complaint.state.in_(filters["state"]))
    if filters.get("open") is True:
        stmt = stmt.where(Complaint.state.not_in(C.COMPLAINT_CLOSED_STATES))
    if filters.get("open") is False:
        stmt = stmt.where(Complaint.state.in_(C.COMPLAINT_CLOSED_STATES))
    for name in ("kind", "channel", "unit", "checkpoint_id", "handler_id", "month"):
        if filters.get(name) is not None:
            stmt = stmt.where(getattr(Complaint, name) == filters[name])
    if filters.get("overdue"):
        stmt = stmt.where(Complaint.state.in_(C.COMPLAINT_HANDLING_STATES), Complaint.due_at < now)
    late = and_(Complaint.state.in_(C.COMPLAINT_HANDLING_STATES), Complaint.due_at < now)
    from sqlalchemy import case

    return stmt.order_by(case((late, 0), else_=1), case((Complaint.state.in_(C.COMPLAINT_CLOSED_STATES), 1), else_=0), Complaint.due_at, Complaint.id)


def summaries(rows: list[Complaint]) -> list[dict]:
    sites = {s.id: s for s in db.session.execute(select(Site).where(Site.id.in_({c.site_id for c in rows}))).scalars()} if rows else {}
    cps = {cp.id: cp for cp in db.session.execute(select(Checkpoint).where(Checkpoint.id.in_({c.checkpoint_id for c in rows if c.checkpoint_id}))).scalars()} if rows else {}
    names = _names([c.received_by for c in rows] + [c.handler_id for c in rows])
    items = {sid: checklists.item_texts(sid, [c.item_id for c in rows if c.site_id == sid]) for sid in sites}
    return [complaint_summary(c, sites[c.site_id], names, cps.get(c.checkpoint_id), items[c.site_id]) for c in rows]


def return_visit_queue(site_ids: list[int], visitor_id: int | None = None):
    """Complaints awaiting their return visit, soonest due first; one person's (those they received) when asked."""
    stmt = select(Complaint).where(Complaint.site_id.in_(site_ids), Complaint.state == C.COMPLAINT_REPLIED)
    if visitor_id is not None:
        stmt = stmt.where(Complaint.received_by == visitor_id)
    return stmt.order_by(func.coalesce(Complaint.return_scheduled_at, Complaint.return_due_at), Complaint.id)


# --- complaints and patrols --------------------------------------------------------------------


def place_patrols(site_id: int, checkpoint_id: int | None, limit: int = 10) -> dict:
    """The place's recent patrol visits (with failed and OK counts) and findings."""
    if checkpoint_id is None:
        return {"visits": [], "findings": []}
    tz = db.session.get(Site, site_id).timezone
    visits = db.session.execute(
        select(Visit).where(Visit.checkpoint_id == checkpoint_id, Visit.purpose == C.VISIT_PATROL).order_by(Visit.scanned_at.desc()).limit(limit)
    ).scalars().all()
    counts = {}
    if visits:
        for vid, result, n in db.session.execute(
            select(ItemResult.visit_id, ItemResult.result, func.count()).where(ItemResult.visit_id.in_([v.id for v in visits])).group_by(ItemResult.visit_id, ItemResult.result)
        ):
            counts.setdefault(vid, {})[result] = n
    findings = db.session.execute(
        select(Finding).where(Finding.checkpoint_id == checkpoint_id).order_by(Finding.observed_at.desc()).limit(limit)
    ).scalars().all()
    names = _names([v.user_id for v in visits])
    return {
        "visits": [{"id": v.id, "scanned_at": v.scanned_at, "scanned_local": local_minute(v.scanned_at, tz), "user_name": names.get(v.user_id, ""),
                    "ok": counts.get(v.id, {}).get(C.RESULT_OK, 0), "fail": counts.get(v.id, {}).get(C.RESULT_FAIL, 0), "resident_note": v.resident_note}
                   for v in visits],
        "findings": [{"id": f.id, "observed_at": f.observed_at, "observed_local": local_minute(f.observed_at, tz), "item_id": f.item_id,
                      "category": f.category, "severity": f.severity, "description": f.description} for f in findings],
    }


def patrolled_as_fine(c: Complaint, days: int | None = None) -> dict | None:
    """The signal: a valid complaint about an item that the place's last patrol before it, within
    `days` (COMPLAINT_FINE_DAYS), marked OK. Returns that patrol visit, or None."""
    if not c.valid or c.checkpoint_id is None or not c.item_id:
        return None
    days = current_app.config["COMPLAINT_FINE_DAYS"] if days is None else days
    last = db.session.execute(
        select(Visit, ItemResult.result).join(ItemResult, ItemResult.visit_id == Visit.id)
        .where(Visit.checkpoint_id == c.checkpoint_id, Visit.purpose == C.VISIT_PATROL, ItemResult.item_id == c.item_id, Visit.scanned_at <= c.received_at)
        .order_by(Visit.scanned_at.desc()).limit(1)
    ).first()
    if last is None:
        return None
    visit, result = last
    if result != C.RESULT_OK or visit.scanned_at < c.received_at - timedelta(days=days):
        return None
    return {"visit_id": visit.id, "scanned_at": visit.scanned_at, "user_id": visit.user_id, "user_name": _names([visit.user_id]).get(visit.user_id, ""),
            "days_before": round((c.received_at - visit.scanned_at) / timedelta(days=1), 1)}


# --- the month's statistics (《顾客投诉分类统计表》) -------------------------------------------------


def _count(rows, key) -> dict:
    out: dict = {}
    for r in rows:
        k = key(r)
        out[k] = out.get(k, 0) + 1
    return out


def month_stats(site: Site, month: str) -> dict:
    """The month's complaints by channel, kind, category, department, validity, deadline met and
    satisfaction; per checkpoint, complaints beside patrol findings; the patrolled-as-fine signals."""
    rows = db.session.execute(select(Complaint).where(Complaint.site_id == site.id, Complaint.month == month).order_by(Complaint.id)).scalars().all()
    depts = {d.id: d.code for d in db.session.execute(select(Department).where(Department.site_id == site.id)).scalars()}
    last_result = {}
    if rows:
        for cid, result in db.session.execute(
            select(ReturnVisit.complaint_id, ReturnVisit.result).where(ReturnVisit.complaint_id.in_([c.id for c in rows])).order_by(ReturnVisit.id)
        ):
            last_result[cid] = result
    validity = lambda c: "unjudged" if c.valid is None else ("valid" if c.valid else "invalid")
    met = lambda c: {True: "met", False: "missed", None: "pending"}[deadline_met(c)]
    per_cp: dict[int, dict] = {}
    for c in rows:
        if c.checkpoint_id:
            per_cp.setdefault(c.checkpoint_id, {"complaints": 0, "findings": 0})["complaints"] += 1
    for cp_id, n in db.session.execute(
        select(Finding.checkpoint_id, func.count()).where(Finding.site_id == site.id, Finding.month == month).group_by(Finding.checkpoint_id)
    ):
        per_cp.setdefault(cp_id, {"complaints": 0, "findings": 0})["findings"] = n
    cps = {cp.id: cp for cp in db.session.execute(select(Checkpoint).where(Checkpoint.id.in_(per_cp))).scalars()} if per_cp else {}
    signals = []
    texts = checklists.item_texts(site.id, [c.item_id for c in rows])
    for c in rows:
        sig = patrolled_as_fine(c)
        if sig:
            text = texts.get(c.item_id) or {}
            signals.append({"complaint_id": c.id, "checkpoint_id": c.checkpoint_id, "item_id": c.item_id,
                            "item_text_zh": text.get("zh", ""), "item_text_en": text.get("en", ""), **sig})
    return {
        "site_id": site.id,
        "month": month,
        "total": len(rows),
        "by_channel": _count(rows, lambda c: c.channel),
        "by_kind": _count(rows, lambda c: c.kind),
        "by_category": _count(rows, lambda c: c.category or "none"),
        "by_department": _count(rows, lambda c: depts.get(c.department_id, "none")),
        "by_validity": _count(rows, validity),
        "by_deadline": _count(rows, met),
        "by_satisfaction": _count([c for c in rows if c.id in last_result], lambda c: last_result[c.id]),
        "return_visits_due": sum(1 for c in rows if c.state == C.COMPLAINT_REPLIED),
        "by_checkpoint": sorted(
            ({"checkpoint_id": cp_id, "name_zh": cps[cp_id].name_zh if cp_id in cps else "", "name_en": cps[cp_id].name_en if cp_id in cps else "", **v}
             for cp_id, v in per_cp.items()),
            key=lambda r: (-r["complaints"], -r["findings"], r["checkpoint_id"]),
        ),
        "patrolled_as_fine": signals,
    }
