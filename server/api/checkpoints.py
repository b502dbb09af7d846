"""Checkpoints: the places a patrol visits, each with a QR label and a short code."""

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import select

from .. import choices, sites
from ..auth import authorize, current_user, get_scoped, requires, site_ids
from ..extensions import db
from ..models import Checkpoint
from .common import PageArgs, StrictSchema, page

blp = Blueprint("checkpoints", __name__, url_prefix="/api/checkpoints", description="Checkpoints")

EDITORS = (choices.ADMIN, choices.MANAGER)


class CheckpointSchema(StrictSchema):
    id = fields.Integer(dump_only=True)
    site_id = fields.Integer(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(choices.CHECKPOINT_KINDS))
    name_zh = fields.String(required=True, validate=validate.Length(min=1, max=200))
    name_en = fields.String(load_default="", validate=validate.Length(max=200))
    building = fields.String(load_default="", validate=validate.Length(max=64))
    floor = fields.String(load_default="", validate=validate.Length(max=16))
    unit = fields.String(load_default="", validate=validate.Length(max=32))
    short_code = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9\- ]{2,16}$"))
    position = fields.Integer(load_default=0, validate=validate.Range(min=0, max=100000))
    active = fields.Boolean(load_default=True)
    token = fields.String(dump_only=True)


class CheckpointUpdateSchema(StrictSchema):
    kind = fields.String(validate=validate.OneOf(choices.CHECKPOINT_KINDS))
    name_zh = fields.String(validate=validate.Length(min=1, max=200))
    name_en = fields.String(validate=validate.Length(max=200))
    building = fields.String(validate=validate.Length(max=64))
    floor = fields.String(validate=validate.Length(max=16))
    unit = fields.String(validate=validate.Length(max=32))
    short_code = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9\- ]{2,16}$"))
    position = fields.Integer(validate=validate.Range(min=0, max=100000))
    active = fields.Boolean()


class CheckpointListArgs(PageArgs):
    site_id = fields.Integer()
    kind = fields.String(validate=validate.OneOf(choices.CHECKPOINT_KINDS))
    active = fields.Boolean()


class CheckpointPage(StrictSchema):
    items = fields.List(fields.Nested(CheckpointSchema))
    meta = fields.Dict()


@blp.route("/")
class Checkpoints(MethodView):
    @requires()
    @blp.arguments(CheckpointListArgs, location="query")
    @blp.response(200, CheckpointPage)
    def get(self, args):
        """Checkpoints of my sites, in walking order."""
        ids = site_ids(current_user())
        if "site_id" in args:
            authorize(args["site_id"], choices.ROLES)
            ids = [args["site_id"]]
        stmt = select(Checkpoint).where(Checkpoint.site_id.in_(ids))
        if "kind" in args:
            stmt = stmt.where(Checkpoint.kind == args["kind"])
        if "active" in args:
            stmt = stmt.where(Checkpoint.active.is_(args["active"]))
        stmt = stmt.order_by(Checkpoint.site_id, Checkpoint.position, Checkpoint.id)
        items, meta = page(stmt, args, db)
        return {"items": items, "meta": meta}

    @requires(*EDITORS)
    @blp.arguments(CheckpointSchema)
    @blp.response(201, CheckpointSchema)
    def post(self, body):
        """Create a checkpoint (a short code is made when none is given)."""
        authorize(body["site_id"], EDITORS)
        cp = sites.create_checkpoint(body.pop("site_id"), **body)
        db.session.commit()
        return cp


@blp.route("/<int:checkpoint_id>")
class CheckpointItem(MethodView):
    @requires()
    @blp.response(200, CheckpointSchema)
    def get(self, checkpoint_id):
        """One checkpoint."""
        return get_scoped(Checkpoint, checkpoint_id, choices.ROLES)

    @requires(*EDITORS)
    @blp.arguments(CheckpointUpdateSchema)
    @blp.response(200, CheckpointSchema)
    def patch(self, body, checkpoint_id):
        """Edit, move or deactivate a checkpoint."""
        cp = get_scoped(Checkpoint, checkpoint_id, EDITORS)
        sites.update_checkpoint(cp, **body)
        db.session.commit()
        return cp


@blp.route("/<int:checkpoint_id>/reissue", methods=["POST"])
@requires(*EDITORS)
@blp.response(200, CheckpointSchema)
def reissue(checkpoint_id):
    """Issue a new QR token for a lost label; the old label then says it was replaced."""
    cp = get_scoped(Checkpoint, checkpoint_id, EDITORS)
    sites.reissue_token(cp)
    db.session.commit()
    return cp


class ResolveArgs(StrictSchema):
    token = fields.String(validate=validate.Length(min=1, max=64))
    code = fields.String(validate=validate.Length(min=1, max=16))
    site_id = fields.Integer()


@blp.route("/resolve")
@requires()
@blp.arguments(ResolveArgs, location="query")
@blp.response(200, CheckpointSchema)
def resolve(args):
    """Find a checkpoint by its QR token or typed short code."""
    from ..errors import ApiError

    if "token" in args:
        cp, retired = sites.find_by_token(args["token"])
        if cp is None:
            raise ApiError(404, "This QR label is not known.", "unknown_label")
        authorize(cp.site_id, choices.ROLES)
        if retired:
            raise ApiError(410, "This label was replaced by a new one; please use the new label.", "label_replaced", {"checkpoint_id": cp.id})
        return cp
    if "code" in args:
        ids = site_ids(current_user())
        if "site_id" in args:
            authorize(args["site_id"], choices.ROLES)
            ids = [args["site_id"]]
        rows = db.session.execute(
            select(Checkpoint).where(Checkpoint.site_id.in_(ids), Checkpoint.short_code == sites.normalise_code(args["code"]))
        ).scalars().all()
        if not rows:
            raise ApiError(404, "No checkpoint has this code.", "unknown_code")
        if len(rows) > 1:
            raise ApiError(409, "This code exists at several of your sites; choose the site.", "ambiguous_code")
        return rows[0]
    raise ApiError(422, "Give a token or a code.", "validation_error")
