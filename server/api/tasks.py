"""Repair tasks: lists and dashboard counts for supervisors and managers, and every move of a task."""

from __future__ import annotations

import uuid
from datetime import timedelta

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import ValidationError, fields, validate
from sqlalchemy import and_, func, or_, select

from .. import choices, sites, tasks
from ..auth import authorize, current_user, get_scoped, requires, site_ids
from ..errors import ApiError
from ..extensions import db
from ..models import AuditEvent, Checkpoint, Extension, Finding, Photo, Task, TaskComment, User, Verification, utcnow
from .common import PageArgs, StrictSchema, UtcDateTime, page

blp = Blueprint("tasks", __name__, url_prefix="/api/tasks", description="Repair tasks, from finding to verified fix")

AGE_BUCKETS = ((0, 3, "0-3d"), (3, 7, "3-7d"), (7, 14, "7-14d"), (14, 30, "14-30d"), (30, None, "30d+"))
MAX_ID = 2**31 - 1


def Id(**kw) -> fields.Integer:
    """An integer key: out-of-range numbers are a 422 here, not a database error."""
    return fields.Integer(validate=validate.Range(min=1, max=MAX_ID), **kw)


def _no_nul(value: str) -> bool:
    if "\x00" in value:
        raise ValidationError("must not contain NUL characters")
    return True


def Text(max_len: int, min_len: int = 0, **kw) -> fields.String:
    """Free text: bounded, and without NUL characters (PostgreSQL cannot store them)."""
    return fields.String(validate=[validate.Length(min=min_len, max=max_len), _no_nul], **kw)


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


class EventSchema(StrictSchema):
    id = fields.Integer()
    entity = fields.String()
    entity_id = fields.String()
    action = fields.String()
    actor_id = fields.Integer(allow_none=True)
    actor_name = fields.String()
    at = UtcDateTime()
    data = fields.Dict()


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
    reason = Text(2000, 1, required=True)


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
    photo_ids = fields.List(Text(36, 1), load_default=list, validate=validate.Length(max=20))


class ExtensionInSchema(StrictSchema):
    requested_due_at = UtcDateTime(required=True)
    reason = Text(2000, 1, required=True)


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
    after_photo_ids = fields.List(Text(36, 1), load_default=list, validate=validate.Length(max=20))
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


def _names(ids) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all())


def _detail(task: Task) -> dict:
    out = tasks.task_summary(task)
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
    extensions = db.session.execute(select(Extension).where(Extension.task_id == task.id).order_by(Extension.id)).scalars().all()
    verifications = db.session.execute(select(Verification).where(Verification.task_id == task.id).order_by(Verification.created_at)).scalars().all()
    comments = db.session.execute(select(TaskComment).where(TaskComment.task_id == task.id).order_by(TaskComment.id)).scalars().all()
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
    missing = db.session.execute(select(Photo.id).where(Photo.id.in_(named), Photo.status == choices.PHOTO_EXPECTED)).scalars().all() if named else []
    out["photos"] = {"before": before, "after": after, "pairs": pairs, "missing": sorted(missing)}
    out["extensions"] = extensions
    signers = _names([v.verifier_id for v in verifications] + [v.supervisor_id for v in verifications])
    out["verifications"] = [
        {**{c.key: getattr(v, c.key) for c in Verification.__mapper__.column_attrs}, "verifier_name": signers.get(v.verifier_id, ""), "supervisor_name": signers.get(v.supervisor_id, "")}
        for v in verifications
    ]
    out["comments"] = comments
    return out


# --- lists and counts ---------------------------------------------------------------------


@blp.route("/")
class Tasks(MethodView):
    @requires()
    @blp.arguments(TaskListArgs, location="query")
    @blp.response(200, TaskPage)
    def get(self, args):
        """Tasks of my sites, filtered; overdue and major first, then by due date."""
        stmt = select(Task).join(Finding, Finding.id == Task.finding_id).where(Task.site_id.in_(_scope(args)))
        if args.get("state"):
            stmt = stmt.where(Task.state.in_(args["state"]))
        if "overdue" in args:
            stmt = stmt.where(tasks.overdue_clause() if args["overdue"] else ~tasks.overdue_clause())
        if "major" in args:
            stmt = stmt.where((Task.severity == choices.SEVERITY_MAJOR) if args["major"] else (Task.severity != choices.SEVERITY_MAJOR))
        if "repeat" in args:
            stmt = stmt.where(Task.repeat_flag.is_(args["repeat"]))
        for key, column in (("route", Task.route), ("department_id", Task.department_id), ("assignee_id", Task.assignee_id), ("checkpoint_id", Task.checkpoint_id)):
            if key in args:
                stmt = stmt.where(column == args[key])
        if "checkpoint_kind" in args:
            stmt = stmt.join(Checkpoint, Checkpoint.id == Task.checkpoint_id).where(Checkpoint.kind == args["checkpoint_kind"])
        if "extension" in args:
            stmt = stmt.where(Task.id.in_(select(Extension.task_id).where(Extension.state == args["extension"])))
        if "date_from" in args:
            stmt = stmt.where(Finding.observed_at >= args["date_from"])
        if "date_to" in args:
            stmt = stmt.where(Finding.observed_at < args["date_to"])
        stmt = stmt.order_by(Task.due_at, Task.id)
        items, meta = page(stmt, args, db)
        return {"items": [tasks.task_summary(t) for t in items], "meta": meta}


@blp.route("/summary")
@requires()
@blp.arguments(SiteArgs, location="query")
@blp.response(200, SummarySchema)
def summary(args):
    """Dashboard counts: open tasks by state, overdue, major, by department and by age; findings by category."""
    ids = _scope(args)
    now = utcnow()
    open_ = and_(Task.site_id.in_(ids), Task.state.not_in(choices.TASK_CLOSED_STATES))
    by_state = dict(db.session.execute(select(Task.state, func.count()).where(open_).group_by(Task.state)).all())
    count = lambda *cond: db.session.execute(select(func.count()).select_from(Task).where(open_, *cond)).scalar()  # noqa: E731
    by_dept = db.session.execute(select(Task.department_id, func.count()).where(open_).group_by(Task.department_id).order_by(Task.department_id)).all()
    from ..models import Department

    dept_names = dict(db.session.execute(select(Department.id, Department.code)).all()) if by_dept else {}
    ages = {}
    for low, high, label in AGE_BUCKETS:
        cond = [Task.created_at <= now - timedelta(days=low)]
        if high is not None:
            cond.append(Task.created_at > now - timedelta(days=high))
        ages[label] = count(*cond)
    since = now - timedelta(days=30)
    by_category = dict(
        db.session.execute(select(Finding.category, func.count()).where(Finding.site_id.in_(ids), Finding.observed_at >= since).group_by(Finding.category)).all()
    )
    pending = db.session.execute(
        select(func.count()).select_from(Extension).join(Task, Task.id == Extension.task_id).where(Task.site_id.in_(ids), Extension.state == choices.EXTENSION_PENDING)
    ).scalar()
    return {
        "open_by_state": {s: by_state.get(s, 0) for s in choices.TASK_STATES if s not in choices.TASK_CLOSED_STATES},
        "open_total": sum(by_state.values()),
        "overdue": count(tasks.overdue_clause(now)),
        "major_open": count(Task.severity == choices.SEVERITY_MAJOR),
        "repeat_open": count(Task.repeat_flag.is_(True)),
        "by_department": [{"department_id": d, "code": dept_names.get(d), "open": n} for d, n in by_dept],
        "by_age": ages,
        "findings_by_category": {c: by_category.get(c, 0) for c in choices.CATEGORIES},
        "pending_extensions": pending,
    }


@blp.route("/repeats")
@requires()
@blp.arguments(SiteArgs, location="query")
@blp.response(200, RepeatSchema(many=True))
def repeats(args):
    """Repeat problems: the same item at the same checkpoint failing 3+ times in 30 days."""
    groups = tasks.repeat_groups(_scope(args))
    names = dict(db.session.execute(select(Checkpoint.id, Checkpoint.name_zh).where(Checkpoint.id.in_([g["checkpoint_id"] for g in groups] or [0]))).all())
    for g in groups:
        g["checkpoint_name"] = names.get(g["checkpoint_id"], "")
    return groups


# --- one task ------------------------------------------------------------------------------


@blp.route("/<int:task_id>")
class TaskItem(MethodView):
    @requires()
    @blp.response(200, TaskDetailSchema)
    def get(self, task_id):
        """One task with its finding, before/after photos, history, extensions, verifications and comments."""
        return _detail(_load(task_id))


@blp.route("/<int:task_id>/transition", methods=["POST"])
@requires()  # who may make which move: tasks.MOVES names the policy action of each
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
    @requires()
    @blp.response(200, CommentSchema(many=True))
    def get(self, task_id):
        """A task's comments, oldest first."""
        _load(task_id)
        return db.session.execute(select(TaskComment).where(TaskComment.task_id == task_id).order_by(TaskComment.id)).scalars().all()

    @requires()
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
    @requires()
    @blp.response(200, ExtensionSchema(many=True))
    def get(self, task_id):
        """A task's extension requests and their decisions."""
        _load(task_id)
        return db.session.execute(select(Extension).where(Extension.task_id == task_id).order_by(Extension.id)).scalars().all()

    @requires("extension.request")
    @blp.arguments(ExtensionInSchema)
    @blp.response(201, ExtensionSchema)
    def post(self, body, task_id):
        """Ask for a later due date (the assignee or a supervisor); a manager decides."""
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
    user = current_user()
    task = _load(task_id, "task.verify")
    verification_id = str(body["verification_id"])
    existing = db.session.get(Verification, verification_id)
    if existing is not None:
        if existing.task_id != task.id:
            raise ApiError(409, "This verification id was already used for another task.", "verification_id_reused")
        return existing
    checkpoint = _scanned_checkpoint(body, task)
    if checkpoint.id != task.checkpoint_id:
        raise ApiError(409, "Scan the task's checkpoint again to verify it: the scan is of a different checkpoint than the task's.", "no_fresh_scan")
    # The visit is stored only if the verification is accepted.
    with db.session.begin_nested():
        visit = tasks.record_verify_visit(
            visit_id=str(body.get("visit_id") or uuid.uuid4()),
            task=task,
            checkpoint=checkpoint,
            user=user,
            scanned_at=utcnow(),
            scan_method=body["scan_method"],
        )
        verification = tasks.verify_on_site(
            task,
            verification_id=verification_id,
            actor=user,
            visit=visit,
            result=body["result"],
            note=body["note"],
            after_photo_ids=body["after_photo_ids"],
            signatures=body["signatures"],
            fixed_by_name=body["fixed_by_name"],
            supervisor_id=body.get("supervisor_id"),
        )
    db.session.commit()
    return verification


def _scanned_checkpoint(body: dict, task: Task) -> Checkpoint:
    """The checkpoint the verifier just scanned, from its QR token or typed short code."""
    if body.get("token"):
        cp, retired = sites.find_by_token(body["token"])
        if cp is None or retired:
            raise ApiError(409, "This label is not a current checkpoint label; scan the task's checkpoint.", "no_fresh_scan")
        return cp
    if body.get("code"):
        cp = db.session.execute(
            select(Checkpoint).where(Checkpoint.site_id == task.site_id, Checkpoint.short_code == sites.normalise_code(body["code"]))
        ).scalar_one_or_none()
        if cp is None:
            raise ApiError(409, "No checkpoint of this site has that code; scan the task's checkpoint.", "no_fresh_scan")
        return cp
    raise ApiError(409, "Scan the task's checkpoint (send its QR token or short code) to verify.", "no_fresh_scan")
