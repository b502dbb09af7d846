"""Repair tasks: lists and dashboard counts for supervisors and managers, and every move of a task."""

from __future__ import annotations

import uuid

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from .. import choices, tasks
from ..auth import authorize, current_user, get_scoped, requires, site_ids
from ..errors import ApiError
from ..extensions import db
from ..models import Extension, Task
from .common import MAX_ID, EventSchema, Id, Length, PageArgs, StrictSchema, Text, UtcDateTime, page

blp = Blueprint("tasks", __name__, url_prefix="/api/tasks", description="Repair tasks, from finding to verified fix")

# --- schemas -------------------------------------------------------------------------


class FindingBrief(StrictSchema):
    id = fields.String()
    item_id = fields.String(allow_none=True)
    category = fields.String()
    description = fields.String()
    severity = fields.String()
    observed_at = UtcDateTime()
    reported_by = fields.Integer()


class TaskSchema(StrictSchema):
    id = fields.Integer()
    site_id = fields.Integer()
    finding_id = fields.String()
    checkpoint_id = fields.Integer()
    checkpoint_name_zh = fields.String()
    checkpoint_name_en = fields.String()
    checkpoint_short_code = fields.String()
    checkpoint_kind = fields.String()
    extension_pending = fields.Boolean(metadata={"description": "an extension request is waiting for a manager"})
    state = fields.String()
    route = fields.String()
    route_confirmed = fields.Boolean()
    severity = fields.String()
    department_id = Id(allow_none=True)
    assignee_id = fields.Integer(allow_none=True)
    assignee_name = fields.String()
    due_at = UtcDateTime()
    due_local = fields.String(metadata={"description": "Due time in the site's timezone, YYYY-MM-DD HH:MM"})
    timezone = fields.String()
    original_due_at = UtcDateTime()
    repeat_flag = fields.Boolean()
    overdue = fields.Boolean()
    case = fields.Dict()
    cancel_reason = fields.String()
    created_at = UtcDateTime()
    updated_at = UtcDateTime()
    done_at = UtcDateTime(allow_none=True)
    closed_at = UtcDateTime(allow_none=True)
    finding = fields.Nested(FindingBrief)
    photo_ids = fields.List(fields.String())


class TaskPage(StrictSchema):
    items = fields.List(fields.Nested(TaskSchema))
    meta = fields.Dict()


class ExtensionSchema(StrictSchema):
    id = fields.Integer()
    task_id = fields.Integer()
    requested_by = fields.Integer()
    requested_due_at = UtcDateTime()
    previous_due_at = UtcDateTime()
    reason = fields.String()
    state = fields.String()
    decided_by = fields.Integer(allow_none=True)
    decided_at = UtcDateTime(allow_none=True)
    decision_note = fields.String()
    created_at = UtcDateTime()


class VerificationSchema(StrictSchema):
    id = fields.String()
    task_id = fields.Integer()
    visit_id = fields.String()
    verifier_id = fields.Integer()
    result = fields.String()
    note = fields.String()
    fixed_by_name = fields.String()
    supervisor_id = fields.Integer(allow_none=True)
    signatures = fields.Dict(metadata={"description": "photo ids of the drawn signatures: verifier, and fixer / supervisor when they signed"})
    after_photo_ids = fields.List(fields.String())
    verified_at = UtcDateTime()
    verifier_name = fields.String()
    supervisor_name = fields.String()


class CommentSchema(StrictSchema):
    id = fields.Integer()
    task_id = fields.Integer()
    author_id = fields.Integer()
    body = fields.String()
    photo_ids = fields.List(fields.String())
    created_at = UtcDateTime()


class PhotoPairSchema(StrictSchema):
    before = fields.String(allow_none=True)
    after = fields.String(allow_none=True)


class PhotosSchema(StrictSchema):
    before = fields.List(fields.String())
    after = fields.List(fields.String())
    pairs = fields.List(fields.Nested(PhotoPairSchema))
    missing = fields.List(fields.String(), metadata={"description": "photo ids named (before, after, signatures) but not uploaded yet"})
    sounds = fields.List(fields.String(), metadata={"description": "sound clips of the finding (\"listen\"), received: GET /api/photos/<id> plays them"})
    annotations = fields.Dict(keys=fields.String(), values=fields.Dict(), metadata={"description": "photo id → the circles and arrows drawn over it (server/drawings.py), to show over the original"})


class FindingFull(FindingBrief):
    checkpoint_id = fields.Integer()
    checkpoint_name = fields.String()
    checkpoint_kind = fields.String()
    route = fields.String()
    dealt_on_spot = fields.Boolean()
    spot_note = fields.String()
    visit_id = fields.String(allow_none=True)


class TaskDetailSchema(TaskSchema):
    finding = fields.Nested(FindingFull)
    photos = fields.Nested(PhotosSchema)
    events = fields.List(fields.Nested(EventSchema))
    extensions = fields.List(fields.Nested(ExtensionSchema))
    verifications = fields.List(fields.Nested(VerificationSchema))
    comments = fields.List(fields.Nested(CommentSchema))
    sealed_month = fields.String(allow_none=True, metadata={
        "description": "the sealed month (YYYY-MM) this closed task is filed under: the task is read-only (writes answer 409 month_sealed); null otherwise"})


class TaskListArgs(PageArgs):
    site_id = Id()
    state = fields.List(fields.String(validate=validate.OneOf(choices.TASK_STATES)))
    overdue = fields.Boolean()
    major = fields.Boolean()
    repeat = fields.Boolean()
    route = fields.String(validate=validate.OneOf(choices.ROUTES))
    department_id = Id()
    assignee_id = Id()
    checkpoint_id = Id()
    checkpoint_kind = fields.String(validate=validate.OneOf(choices.CHECKPOINT_KINDS))
    extension = fields.String(
        validate=validate.OneOf(choices.EXTENSION_STATES),
        metadata={"description": "only tasks with an extension request in this state; `pending` is a manager's to-do list"},
    )
    date_from = UtcDateTime(data_key="from", metadata={"description": "observed at or after (ISO with offset)"})
    date_to = UtcDateTime(data_key="to", metadata={"description": "observed before (ISO with offset)"})


class SiteArgs(StrictSchema):
    site_id = Id()


class TransitionSchema(StrictSchema):
    to = fields.String(required=True, validate=validate.OneOf(choices.TASK_STATES))
    note = Text(2000, load_default="")


class CancelSchema(StrictSchema):
    # Empty or only spaces: the domain's own refusal (cancel_reason_required) at this field.
    reason = Text(2000, required=True)


class RouteSchema(StrictSchema):
    route = fields.String(required=True, validate=validate.OneOf(choices.ROUTES))
    department_id = Id(allow_none=True)
    note = Text(2000, load_default="")


class AssignSchema(StrictSchema):
    assignee_id = Id(required=True)
    department_id = Id(allow_none=True)
    note = Text(2000, load_default="")


class CaseSchema(StrictSchema):
    notice_given_at = UtcDateTime()
    rectify_by = UtcDateTime()
    outcome = fields.String(validate=validate.OneOf(choices.CASE_OUTCOMES))
    note = Text(2000, load_default="")


class CommentInSchema(StrictSchema):
    body = Text(5000, 1, required=True)
    photo_ids = fields.List(Text(36, 1), load_default=list, validate=Length(max=20))


class ExtensionInSchema(StrictSchema):
    requested_due_at = UtcDateTime(required=True)
    reason = Text(2000, required=True)  # empty: extension_reason_required, as only spaces


class DecisionSchema(StrictSchema):
    approve = fields.Boolean(required=True)
    note = Text(2000, load_default="")


class SignaturesSchema(StrictSchema):
    fixer = Text(36, 1)
    verifier = Text(36, 1, required=True)
    supervisor = Text(36, 1)


class VerifyInSchema(StrictSchema):
    verification_id = fields.UUID(required=True)
    visit_id = fields.UUID()
    token = Text(64, 1, metadata={"description": "the QR token just scanned"})
    code = Text(16, 1, metadata={"description": "or the short code just typed"})
    scan_method = fields.String(load_default=choices.SCAN_QR, validate=validate.OneOf(choices.SCAN_METHODS))
    result = fields.String(required=True, validate=validate.OneOf(choices.VERIFY_RESULTS))
    note = Text(2000, load_default="")
    after_photo_ids = fields.List(Text(36, 1), load_default=list, validate=Length(max=20))
    signatures = fields.Nested(SignaturesSchema, required=True)
    fixed_by_name = Text(120, load_default="")
    supervisor_id = Id(allow_none=True)


class SummarySchema(StrictSchema):
    open_by_state = fields.Dict()
    open_total = fields.Integer()
    overdue = fields.Integer()
    major_open = fields.Integer()
    repeat_open = fields.Integer()
    by_department = fields.List(fields.Dict())
    by_age = fields.Dict()
    findings_by_category = fields.Dict()
    pending_extensions = fields.Integer()


class RepeatSchema(StrictSchema):
    site_id = fields.Integer()
    checkpoint_id = fields.Integer()
    checkpoint_name = fields.String()
    item_id = fields.String()
    failures = fields.Integer()
    last_observed_at = UtcDateTime()
    task_ids = fields.List(fields.Integer())


# --- helpers ----------------------------------------------------------------------------


def _scope(args: dict) -> list[int]:
    """The sites a list covers: the one asked for (if I work there) or all of mine."""
    if args.get("site_id") is not None:
        authorize(args["site_id"], "task.read")
        return [args["site_id"]]
    return site_ids(current_user())


def _load(task_id: int, action: str = "task.read") -> Task:
    return get_scoped(Task, task_id, action)


# --- lists and counts ---------------------------------------------------------------------


@blp.route("/")
class Tasks(MethodView):
    @requires("task.read")
    @blp.arguments(TaskListArgs, location="query")
    @blp.response(200, TaskPage)
    def get(self, args):
        """Tasks of my sites, filtered; overdue first, then major, then by due date."""
        filters = {k: v for k, v in args.items() if k not in ("site_id", "page", "per_page")}
        items, meta = page(tasks.task_list(_scope(args), filters), args, db)
        return {"items": [tasks.task_summary(t) for t in items], "meta": meta}


@blp.route("/summary")
@requires("task.read")
@blp.arguments(SiteArgs, location="query")
@blp.response(200, SummarySchema)
def summary(args):
    """Dashboard counts: open tasks by state, overdue, major, by department and by age; findings by category."""
    return tasks.dashboard(_scope(args))


@blp.route("/repeats")
@requires("task.read")
@blp.arguments(SiteArgs, location="query")
@blp.response(200, RepeatSchema(many=True))
def repeats(args):
    """Repeat problems: the same item at the same checkpoint failing 3+ times in 30 days."""
    return tasks.repeat_groups(_scope(args))


# --- one task ------------------------------------------------------------------------------


@blp.route("/<int:task_id>")
class TaskItem(MethodView):
    @requires("task.read")
    @blp.response(200, TaskDetailSchema)
    def get(self, task_id):
        """One task with its finding, before/after photos, history, extensions, verifications and comments."""
        return tasks.task_detail(_load(task_id))


@blp.route("/<int:task_id>/transition", methods=["POST"])
@requires()  # the action depends on the move: tasks.MOVES names it, and the domain checks it
@blp.arguments(TransitionSchema)
@blp.response(200, TaskSchema)
def transition(body, task_id):
    """Move a task (start work, mark done…); who may make which move is decided in tasks.MOVES."""
    task = _load(task_id)
    tasks.transition(task, actor=current_user(), to_state=body["to"], note=body["note"])
    db.session.commit()
    return tasks.task_summary(task)


@blp.route("/<int:task_id>/cancel", methods=["POST"])
@requires("task.cancel")
@blp.arguments(CancelSchema)
@blp.response(200, TaskSchema)
def cancel(body, task_id):
    """Cancel a task, with a reason (supervisor or manager)."""
    task = _load(task_id)
    tasks.cancel(task, actor=current_user(), reason=body["reason"])
    db.session.commit()
    return tasks.task_summary(task)


@blp.route("/<int:task_id>/route", methods=["POST"])
@requires("task.route")
@blp.arguments(RouteSchema)
@blp.response(200, TaskSchema)
def route(body, task_id):
    """Confirm or change how a task is routed (and so which department gets it)."""
    task = _load(task_id)
    tasks.set_route(task, actor=current_user(), route=body["route"], department_id=body.get("department_id"), note=body["note"])
    db.session.commit()
    return tasks.task_summary(task)


@blp.route("/<int:task_id>/assign", methods=["POST"])
@requires("task.assign")
@blp.arguments(AssignSchema)
@blp.response(200, TaskSchema)
def assign(body, task_id):
    """Assign or reassign a task to a person (and department)."""
    task = _load(task_id)
    tasks.assign(task, actor=current_user(), assignee_id=body["assignee_id"], department_id=body.get("department_id"), note=body["note"])
    db.session.commit()
    return tasks.task_summary(task)


@blp.route("/<int:task_id>/case", methods=["PATCH"])
@requires("task.case")
@blp.arguments(CaseSchema)
@blp.response(200, TaskSchema)
def update_case(body, task_id):
    """Record a residents'-convention case: notice given, rectification deadline, outcome."""
    task = _load(task_id)
    tasks.update_case(task, actor=current_user(), **body)
    db.session.commit()
    return tasks.task_summary(task)


@blp.route("/<int:task_id>/comments")
class Comments(MethodView):
    @requires("task.read")
    @blp.response(200, CommentSchema(many=True))
    def get(self, task_id):
        """A task's comments, oldest first."""
        return tasks.comments_of(_load(task_id))

    @requires("task.comment")
    @blp.arguments(CommentInSchema)
    @blp.response(201, CommentSchema)
    def post(self, body, task_id):
        """Comment on a task, with photo ids."""
        task = _load(task_id)
        comment = tasks.add_comment(task, actor=current_user(), body=body["body"], photo_ids=body["photo_ids"])
        db.session.commit()
        return comment


@blp.route("/<int:task_id>/extensions")
class Extensions(MethodView):
    @requires("task.read")
    @blp.response(200, ExtensionSchema(many=True))
    def get(self, task_id):
        """A task's extension requests and their decisions."""
        return tasks.extensions_of(_load(task_id))

    @requires("extension.request")
    @blp.arguments(ExtensionInSchema)
    @blp.response(201, ExtensionSchema)
    def post(self, body, task_id):
        """Ask for a later due date (the assignee, whatever their role, or a supervisor); a manager decides."""
        task = _load(task_id)
        ext = tasks.request_extension(task, actor=current_user(), requested_due_at=body["requested_due_at"], reason=body["reason"])
        db.session.commit()
        return ext


@blp.route("/extensions/<int:extension_id>/decision", methods=["POST"])
@requires("extension.decide")
@blp.arguments(DecisionSchema)
@blp.response(200, ExtensionSchema)
def decide(body, extension_id):
    """Approve or reject an extension (managers only); the due date moves only on approval."""
    ext = db.session.get(Extension, extension_id) if extension_id <= MAX_ID else None
    if ext is None:
        raise ApiError(404, "Not found.", "not_found")
    _load(ext.task_id)
    tasks.decide_extension(ext, actor=current_user(), approve=body["approve"], note=body["note"])
    db.session.commit()
    return ext


@blp.route("/<int:task_id>/verify", methods=["POST"])
@requires("task.verify")
@blp.arguments(VerifyInSchema)
@blp.response(201, VerificationSchema)
def verify(body, task_id):
    """Verify finished work on site: the scan of the checkpoint is made in this same request.

    Send the QR token just scanned (or the short code typed); the server records a
    verify visit at its own clock and checks it is of the task's checkpoint. Sending the
    same verification_id again returns the stored verification.
    """
    task = _load(task_id, "task.verify")
    verification = tasks.verify_on_web(
        task,
        actor=current_user(),
        verification_id=str(body["verification_id"]),
        visit_id=str(body.get("visit_id") or uuid.uuid4()),
        token=body.get("token"),
        code=body.get("code"),
        scan_method=body["scan_method"],
        result=body["result"],
        note=body["note"],
        after_photo_ids=body["after_photo_ids"],
        signatures=body["signatures"],
        fixed_by_name=body["fixed_by_name"],
        supervisor_id=body.get("supervisor_id"),
    )
    db.session.commit()
    return verification
