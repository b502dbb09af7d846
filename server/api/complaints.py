"""Residents' complaints and return visits: receiving, judging, handling, replying, the return-visit queue, month statistics."""

from __future__ import annotations

from flask import Response, current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from .. import choices, complaints, policy
from ..auth import authorize, current_user, get_scoped, requires, site_ids
from ..extensions import db
from ..fonts import font_setting
from ..models import Complaint, Site
from ..problems import Conflict, NotFound
from .common import EventSchema, Id, Length, PageArgs, StrictSchema, Text, UtcDateTime, page
from .params import Month

blp = Blueprint("complaints", __name__, url_prefix="/api", description="Residents' complaints and return visits (docs/complaints.md)")

# --- schemas -------------------------------------------------------------------------


class ReturnVisitSchema(StrictSchema):
    id = fields.Integer()
    complaint_id = fields.Integer()
    visitor_id = fields.Integer()
    visitor_name = fields.String()
    result = fields.String()
    improve = fields.String()
    notes = fields.String()
    visited_at = UtcDateTime()
    on_time = fields.Boolean(metadata={"description": "within three days of the reply"})


class ComplaintSchema(StrictSchema):
    id = fields.Integer()
    site_id = fields.Integer()
    channel = fields.String()
    reply_channel = fields.String()
    complainant = fields.String()
    contact = fields.String(metadata={"description": "kept only with the resident's consent; shown only to the site's staff"})
    contact_consent = fields.Boolean()
    unit = fields.String()
    checkpoint_id = fields.Integer(allow_none=True)
    checkpoint_name_zh = fields.String()
    checkpoint_name_en = fields.String()
    item_id = fields.String(allow_none=True)
    item_text_zh = fields.String(metadata={"description": "the checklist item's text (empty when no item is named)"})
    item_text_en = fields.String()
    finding_id = fields.String(allow_none=True)
    visit_id = fields.String(allow_none=True)
    task_id = fields.Integer(allow_none=True)
    category = fields.String()
    content = fields.String()
    photo_ids = fields.List(fields.String())
    received_at = UtcDateTime()
    received_local = fields.String()
    received_by = fields.Integer()
    received_by_name = fields.String()
    kind = fields.String()
    valid = fields.Boolean(allow_none=True)
    validity_reason = fields.String()
    department_id = fields.Integer(allow_none=True)
    handler_id = fields.Integer(allow_none=True)
    handler_name = fields.String()
    state = fields.String()
    due_at = UtcDateTime()
    due_local = fields.String(metadata={"description": "the handling deadline in the site's time"})
    due_day = fields.String(allow_none=True, metadata={"description": "the site-local day whose end the deadline is (show it as that day's end, not the next day's 00:00)"})
    overdue = fields.Boolean()
    level = fields.String(metadata={"description": "escalation level reached"})
    cause = fields.String()
    solution = fields.String()
    approved_by = fields.Integer(allow_none=True)
    approved_at = UtcDateTime(allow_none=True)
    accepted_at = UtcDateTime(allow_none=True)
    accepted_by_name = fields.String()
    reply_text = fields.String()
    replied_at = UtcDateTime(allow_none=True)
    return_due_at = UtcDateTime(allow_none=True)
    return_due_local = fields.String(allow_none=True)
    return_due_day = fields.String(allow_none=True, metadata={"description": "the site-local day whose end the return visit is due by"})
    return_scheduled_at = UtcDateTime(allow_none=True)
    reopen_count = fields.Integer()
    closed_at = UtcDateTime(allow_none=True)
    month = fields.String()
    addendum = fields.Boolean()
    timezone = fields.String()
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class ComplaintPage(StrictSchema):
    items = fields.List(fields.Nested(ComplaintSchema))
    meta = fields.Dict()


class ComplaintDetailSchema(ComplaintSchema):
    events = fields.List(fields.Nested(EventSchema))
    return_visits = fields.List(fields.Nested(ReturnVisitSchema))
    duplicates = fields.List(fields.Dict(), metadata={"description": "open complaints for the same unit or place"})
    patrols = fields.Dict(metadata={"description": "the place's recent patrol visits and findings"})
    photos_missing = fields.List(fields.String(), metadata={"description": "photo ids named but not uploaded yet"})
    patrolled_as_fine = fields.Dict(allow_none=True, metadata={"description": "the last patrol within COMPLAINT_FINE_DAYS marked the item OK"})
    task = fields.Dict(allow_none=True, metadata={"description": "the linked repair task: id, state, due_at, due_local, overdue"})
    finding = fields.Dict(allow_none=True, metadata={
        "description": "the patrol finding it is about (named when taken, else the linked task's): id, observed_local, category, severity, description, item_id, item_text_zh/en"})


class ComplaintListArgs(PageArgs):
    site_id = Id()
    state = fields.List(fields.String(validate=validate.OneOf(choices.COMPLAINT_STATES)))
    open = fields.Boolean()
    overdue = fields.Boolean()
    kind = fields.String(validate=validate.OneOf(choices.COMPLAINT_KINDS))
    channel = fields.String(validate=validate.OneOf(choices.COMPLAINT_CHANNELS))
    unit = Text(64)
    checkpoint_id = Id()
    handler_id = Id()
    month = Month()


class ComplaintReceiveSchema(StrictSchema):
    site_id = Id(required=True)
    client_id = fields.UUID(metadata={"description": "a phone's id for the complaint: sending it again returns the first"})
    channel = fields.String(required=True, validate=validate.OneOf(choices.COMPLAINT_CHANNELS))
    reply_channel = fields.String(validate=validate.OneOf(choices.COMPLAINT_CHANNELS), metadata={"description": "defaults to the channel"})
    complainant = Text(120, 1, required=True)
    contact = Text(200, load_default="")
    contact_consent = fields.Boolean(load_default=False)
    unit = Text(64, load_default="")
    kind = fields.String(load_default=choices.COMPLAINT_ORDINARY, validate=validate.OneOf(choices.COMPLAINT_KINDS))
    category = fields.String(load_default="", validate=validate.OneOf(("",) + choices.CATEGORIES))
    checkpoint_id = Id(allow_none=True)
    item_id = Text(80, 1, allow_none=True)
    finding_id = fields.UUID(allow_none=True)
    visit_id = fields.UUID(allow_none=True)
    content = Text(5000, 1, required=True)
    photo_ids = fields.List(Text(36, 1), load_default=list, validate=Length(max=20))
    received_at = UtcDateTime(metadata={"description": "defaults to now"})


class ComplaintDuplicateArgs(StrictSchema):
    site_id = Id(required=True)
    unit = Text(64, load_default="")
    checkpoint_id = Id()


class ComplaintJudgeSchema(StrictSchema):
    valid = fields.Boolean(required=True)
    reason = Text(2000, load_default="", metadata={"description": "required when not valid: the tactful answer the resident gets"})
    kind = fields.String(validate=validate.OneOf(choices.COMPLAINT_KINDS))
    department_id = Id()


class ComplaintAssignSchema(StrictSchema):
    handler_id = Id(required=True)
    department_id = Id()
    note = Text(2000, load_default="")


class ComplaintLinkTaskSchema(StrictSchema):
    task_id = Id(required=True)


class ComplaintProposeSchema(StrictSchema):
    cause = Text(5000, 1, required=True)
    solution = Text(5000, 1, required=True)


class ComplaintApproveSchema(StrictSchema):
    approve = fields.Boolean(required=True)
    note = Text(2000, load_default="")


class ComplaintAcceptSchema(StrictSchema):
    signed_by = Text(120, 1, required=True, metadata={"description": "the name of the resident who accepted and signed"})


class ComplaintReplySchema(StrictSchema):
    text = Text(5000, 1, required=True, metadata={"description": "the letter's text, or what was said in person or by phone"})
    channel = fields.String(validate=validate.OneOf(choices.COMPLAINT_CHANNELS), metadata={"description": "must be the resident's reply channel"})


class ComplaintScheduleSchema(StrictSchema):
    at = UtcDateTime(required=True)


class ReturnVisitResultSchema(StrictSchema):
    result = fields.String(required=True, validate=validate.OneOf(choices.SATISFACTION))
    improve = Text(2000, load_default="")
    notes = Text(2000, load_default="")


class ComplaintQueueArgs(StrictSchema):
    site_id = Id()
    mine = fields.Boolean(load_default=False, metadata={"description": "only the complaints I received"})


class ComplaintStatsArgs(StrictSchema):
    month = Month(required=True)


class ComplaintStatsSchema(StrictSchema):
    site_id = fields.Integer()
    month = fields.String()
    total = fields.Integer()
    by_channel = fields.Dict()
    by_kind = fields.Dict()
    by_category = fields.Dict()
    by_department = fields.Dict()
    by_validity = fields.Dict()
    by_deadline = fields.Dict()
    by_satisfaction = fields.Dict()
    return_visits_due = fields.Integer()
    by_checkpoint = fields.List(fields.Dict())
    patrolled_as_fine = fields.List(fields.Dict())


# --- helpers ----------------------------------------------------------------------------


def _scope(args: dict, action: str = "complaint.read") -> list[int]:
    if args.get("site_id") is not None:
        authorize(args["site_id"], action)
        return [args["site_id"]]
    return site_ids(current_user(), action)


def _read_scope(args: dict) -> tuple[list[int], list[int]]:
    """The sites whose complaints my roles let me read, and the sites where I read only those I handle.

    `complaint.read` also allows a complaint's handler whatever their role (server/policy.py):
    at a site of mine where no role of mine allows it, the list holds the complaints I handle
    and no other. A site where I do not work is not found.
    """
    user = current_user()
    handled = policy.HANDLER in policy.rule("complaint.read").relations
    if args.get("site_id") is not None:
        held = policy.roles_at(user, args["site_id"])
        if not held:
            raise NotFound("Not found.")
        if policy.allows("complaint.read", held):
            return [args["site_id"]], []
        if handled:
            return [], [args["site_id"]]
        authorize(args["site_id"], "complaint.read")  # answers 403
    whole = site_ids(user, "complaint.read")
    return whole, [s for s in site_ids(user) if s not in whole] if handled else []


def _load(complaint_id: int, action: str = "complaint.read") -> Complaint:
    return get_scoped(Complaint, complaint_id, action)


def _summary(c: Complaint) -> dict:
    return complaints.complaint_summary(c)


# --- the collection ------------------------------------------------------------------------


@blp.route("/complaints/")
class Complaints(MethodView):
    @requires("complaint.read")
    @blp.arguments(ComplaintListArgs, location="query")
    @blp.response(200, ComplaintPage)
    def get(self, args):
        """Complaints of my sites (where my role reads only those I handle: just those), filtered; overdue first, then by deadline."""
        filters = {k: v for k, v in args.items() if k not in ("site_id", "page", "per_page")}
        whole, handled_at = _read_scope(args)
        stmt = complaints.complaint_list(whole, filters, handled_at=handled_at, handler_id=current_user().id)
        items, meta = page(stmt, args, db)
        return {"items": complaints.summaries(items), "meta": meta}

    @requires("complaint.receive")
    @blp.arguments(ComplaintReceiveSchema)
    @blp.response(201, ComplaintSchema)
    def post(self, body):
        """Take a complaint (in person, letter, phone or otherwise); a resend with the same client_id returns the first."""
        site = get_scoped(Site, body.pop("site_id"), "complaint.receive")
        for key in ("client_id", "finding_id", "visit_id"):
            if body.get(key) is not None:
                body[key] = str(body[key])
        complaint, _created = complaints.receive(site, actor=current_user(), **body)
        db.session.commit()
        return _summary(complaint)


@blp.route("/complaints/duplicates")
@requires("complaint.receive")
@blp.arguments(ComplaintDuplicateArgs, location="query")
@blp.response(200, ComplaintSchema(many=True))
def duplicates(args):
    """Open complaints for the same unit or place: look before taking a new one."""
    authorize(args["site_id"], "complaint.receive")
    checkpoint_id = args.get("checkpoint_id") or complaints.process.unit_checkpoint(args["site_id"], args["unit"])
    return complaints.summaries(complaints.open_duplicates(args["site_id"], args["unit"], checkpoint_id))


@blp.route("/complaints/<int:complaint_id>")
@requires("complaint.read")
@blp.response(200, ComplaintDetailSchema)
def detail(complaint_id):
    """One complaint with its history, return visits, possible duplicates and its place's recent patrols."""
    return complaints.complaint_detail(_load(complaint_id))


# --- the steps -----------------------------------------------------------------------------


@blp.route("/complaints/<int:complaint_id>/judge", methods=["POST"])
@requires("complaint.judge")
@blp.arguments(ComplaintJudgeSchema)
@blp.response(200, ComplaintSchema)
def judge(body, complaint_id):
    """Valid (kind and department decide the deadline) or not valid (closed, with its reason)."""
    c = _load(complaint_id)
    complaints.judge(c, actor=current_user(), **body)
    db.session.commit()
    return _summary(c)


@blp.route("/complaints/<int:complaint_id>/assign", methods=["POST"])
@requires("complaint.assign")
@blp.arguments(ComplaintAssignSchema)
@blp.response(200, ComplaintSchema)
def assign(body, complaint_id):
    """Give a valid complaint to the person who handles it."""
    c = _load(complaint_id)
    complaints.assign(c, actor=current_user(), **body)
    db.session.commit()
    return _summary(c)


@blp.route("/complaints/<int:complaint_id>/task", methods=["POST"])
@requires("complaint.assign")
@blp.arguments(ComplaintLinkTaskSchema)
@blp.response(200, ComplaintSchema)
def link_task(body, complaint_id):
    """Link the repair task that deals with the complaint's problem."""
    c = _load(complaint_id)
    complaints.link_task(c, actor=current_user(), task_id=body["task_id"])
    db.session.commit()
    return _summary(c)


@blp.route("/complaints/<int:complaint_id>/start", methods=["POST"])
@requires("complaint.handle")
@blp.response(200, ComplaintSchema)
def start(complaint_id):
    """Start investigating (the handler, a supervisor or a manager)."""
    c = _load(complaint_id)
    complaints.start(c, actor=current_user())
    db.session.commit()
    return _summary(c)


@blp.route("/complaints/<int:complaint_id>/propose", methods=["POST"])
@requires("complaint.handle")
@blp.arguments(ComplaintProposeSchema)
@blp.response(200, ComplaintSchema)
def propose(body, complaint_id):
    """The cause found and the solution proposed."""
    c = _load(complaint_id)
    complaints.propose(c, actor=current_user(), **body)
    db.session.commit()
    return _summary(c)


@blp.route("/complaints/<int:complaint_id>/approve", methods=["POST"])
@requires("complaint.approve")
@blp.arguments(ComplaintApproveSchema)
@blp.response(200, ComplaintSchema)
def approve(body, complaint_id):
    """The supervisor approves the solution, or sends it back with a note."""
    c = _load(complaint_id)
    complaints.approve(c, actor=current_user(), **body)
    db.session.commit()
    return _summary(c)


@blp.route("/complaints/<int:complaint_id>/accept", methods=["POST"])
@requires("complaint.accept")
@blp.arguments(ComplaintAcceptSchema)
@blp.response(200, ComplaintSchema)
def accept(body, complaint_id):
    """The resident accepted the solution and signed."""
    c = _load(complaint_id)
    complaints.accept(c, actor=current_user(), **body)
    db.session.commit()
    return _summary(c)


@blp.route("/complaints/<int:complaint_id>/reply", methods=["POST"])
@requires("complaint.reply")
@blp.arguments(ComplaintReplySchema)
@blp.response(200, ComplaintSchema)
def reply(body, complaint_id):
    """Reply by the resident's channel (needs their acceptance first); the return visit falls due in three days."""
    c = _load(complaint_id)
    complaints.reply(c, actor=current_user(), **body)
    db.session.commit()
    return _summary(c)


@blp.route("/complaints/<int:complaint_id>/letter.pdf")
@requires("complaint.read")
def letter(complaint_id):
    """The reply letter as a PDF with the site's heading (for complaints replied to by letter)."""
    c = _load(complaint_id)
    if not c.reply_text:
        raise Conflict("There is no reply to print yet.", "no_reply")
    pdf = complaints.letter_pdf(c, db.session.get(Site, c.site_id), font_setting(current_app.config))
    resp = Response(pdf, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f'inline; filename="reply-{c.id}.pdf"'
    resp.headers["Cache-Control"] = "private, no-cache"
    return resp


@blp.route("/complaints/<int:complaint_id>/return-visits", methods=["POST"])
@requires("complaint.visit")
@blp.arguments(ReturnVisitResultSchema)
@blp.response(201, ReturnVisitSchema)
def record_return_visit(body, complaint_id):
    """Record the return visit: satisfied or average closes the complaint; not satisfied reopens it."""
    c = _load(complaint_id)
    visit = complaints.record_return_visit(c, actor=current_user(), **body)
    db.session.commit()
    return complaints.return_visit_dict(visit, {current_user().id: current_user().display_name or current_user().username})


@blp.route("/complaints/<int:complaint_id>/return-visits/schedule", methods=["POST"])
@requires("complaint.visit")
@blp.arguments(ComplaintScheduleSchema)
@blp.response(200, ComplaintSchema)
def schedule(body, complaint_id):
    """A return-visit time agreed with the resident."""
    c = _load(complaint_id)
    complaints.schedule_return_visit(c, actor=current_user(), at=body["at"])
    db.session.commit()
    return _summary(c)


# --- the return-visit queue and the month ---------------------------------------------------


@blp.route("/return-visits/")
@requires("complaint.visit")
@blp.arguments(ComplaintQueueArgs, location="query")
@blp.response(200, ComplaintSchema(many=True))
def queue(args):
    """Complaints awaiting their return visit, soonest due first (mine: those I received)."""
    stmt = complaints.return_visit_queue(_scope(args, "complaint.visit"), current_user().id if args["mine"] else None)
    return complaints.summaries(db.session.execute(stmt.limit(500)).scalars().all())


@blp.route("/sites/<int:site_id>/complaints/stats")
@requires("complaint.stats")
@blp.arguments(ComplaintStatsArgs, location="query")
@blp.response(200, ComplaintStatsSchema)
def stats(args, site_id):
    """The month's complaint classification statistics, complaints beside patrol findings per checkpoint, and the patrolled-as-fine signals."""
    site = get_scoped(Site, site_id, "complaint.stats")
    return complaints.month_stats(site, args["month"])
