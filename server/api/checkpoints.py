"""Checkpoints: the places a patrol visits, each with a QR label and a short code.

Also the whole-building views: CSV import and export, and the A4 sheet of QR labels.
"""

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import select

from .. import checkpoint_csv, checklists, choices, labels, sites
from ..auth import authorize, current_user, get_scoped, requires, site_ids
from ..errors import ApiError
from ..extensions import db
from ..fonts import font_setting
from ..models import Checkpoint, Site
from ..problems import FieldMessage
from .common import Length, MAX_ID, PageArgs, StrictSchema, Str, page

blp = Blueprint("checkpoints", __name__, url_prefix="/api", description="Checkpoints, their QR labels, CSV import and export")

class CheckpointSchema(StrictSchema):
    id = fields.Integer(dump_only=True)
    site_id = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_ID))
    kind = Str(required=True, validate=validate.OneOf(choices.CHECKPOINT_KINDS))
    name_zh = Str(required=True, validate=Length(min=1, max=200))
    name_en = Str(load_default="", validate=Length(max=200))
    building = Str(load_default="", validate=Length(max=64))
    floor = Str(load_default="", validate=Length(max=16))
    unit = Str(load_default="", validate=Length(max=32))
    short_code = Str(validate=validate.Regexp(r"^[A-Za-z0-9\- ]{2,16}$"))
    position = fields.Integer(load_default=0, validate=validate.Range(min=0, max=100000))
    active = fields.Boolean(load_default=True)
    token = Str(dump_only=True)


class CheckpointUpdateSchema(StrictSchema):
    kind = Str(validate=validate.OneOf(choices.CHECKPOINT_KINDS))
    name_zh = Str(validate=Length(min=1, max=200))
    name_en = Str(validate=Length(max=200))
    building = Str(validate=Length(max=64))
    floor = Str(validate=Length(max=16))
    unit = Str(validate=Length(max=32))
    short_code = Str(validate=validate.Regexp(r"^[A-Za-z0-9\- ]{2,16}$"))
    position = fields.Integer(validate=validate.Range(min=0, max=100000))
    active = fields.Boolean()


class CheckpointListArgs(PageArgs):
    site_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    kind = Str(validate=validate.OneOf(choices.CHECKPOINT_KINDS))
    active = fields.Boolean()


class CheckpointPage(StrictSchema):
    items = fields.List(fields.Nested(CheckpointSchema))
    meta = fields.Dict()


@blp.route("/checkpoints/")
class Checkpoints(MethodView):
    @requires("checkpoint.read")
    @blp.arguments(CheckpointListArgs, location="query")
    @blp.response(200, CheckpointPage)
    def get(self, args):
        """Checkpoints of my sites, in walking order."""
        ids = site_ids(current_user())
        if "site_id" in args:
            authorize(args["site_id"], "checkpoint.read")
            ids = [args["site_id"]]
        stmt = select(Checkpoint).where(Checkpoint.site_id.in_(ids))
        if "kind" in args:
            stmt = stmt.where(Checkpoint.kind == args["kind"])
        if "active" in args:
            stmt = stmt.where(Checkpoint.active.is_(args["active"]))
        stmt = stmt.order_by(Checkpoint.site_id, Checkpoint.position, Checkpoint.id)
        items, meta = page(stmt, args, db)
        return {"items": items, "meta": meta}

    @requires("checkpoint.edit")
    @blp.arguments(CheckpointSchema)
    @blp.response(201, CheckpointSchema)
    def post(self, body):
        """Create a checkpoint (a short code is made when none is given)."""
        authorize(body["site_id"], "checkpoint.edit")
        cp = sites.create_checkpoint(body.pop("site_id"), **body)
        db.session.commit()
        return cp


@blp.route("/checkpoints/<int:checkpoint_id>")
class CheckpointItem(MethodView):
    @requires("checkpoint.read")
    @blp.response(200, CheckpointSchema)
    def get(self, checkpoint_id):
        """One checkpoint."""
        return get_scoped(Checkpoint, checkpoint_id, "checkpoint.read")

    @requires("checkpoint.edit")
    @blp.arguments(CheckpointUpdateSchema)
    @blp.response(200, CheckpointSchema)
    def patch(self, body, checkpoint_id):
        """Edit, move or deactivate a checkpoint."""
        cp = get_scoped(Checkpoint, checkpoint_id, "checkpoint.edit")
        sites.update_checkpoint(cp, **body)
        db.session.commit()
        return cp


@blp.route("/checkpoints/<int:checkpoint_id>/reissue", methods=["POST"])
@requires("checkpoint.edit")
@blp.response(200, CheckpointSchema)
def reissue(checkpoint_id):
    """Issue a new QR token for a lost label; the old label then says it was replaced."""
    cp = get_scoped(Checkpoint, checkpoint_id, "checkpoint.edit")
    sites.reissue_token(cp)
    db.session.commit()
    return cp


class ResolveArgs(StrictSchema):
    token = Str(validate=Length(min=1, max=64))
    code = Str(validate=Length(min=1, max=16))
    site_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))


@blp.route("/checkpoints/resolve")
@requires("checkpoint.read")
@blp.arguments(ResolveArgs, location="query")
@blp.response(200, CheckpointSchema)
def resolve(args):
    """Find a checkpoint by its QR token or typed short code."""
    if "token" in args:
        cp, retired = sites.find_by_token(args["token"])
        if cp is None:
            raise ApiError(404, "This QR label is not known.", "unknown_label")
        authorize(cp.site_id, "checkpoint.read")
        if retired:
            raise ApiError(410, "This label was replaced by a new one; please use the new label.", "label_replaced", {"checkpoint_id": cp.id})
        return cp
    if "code" in args:
        ids = site_ids(current_user())
        if "site_id" in args:
            authorize(args["site_id"], "checkpoint.read")
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


# --- QR labels -------------------------------------------------------------------------


def base_url() -> str:
    """Where the QR links point: PUBLIC_URL when set (behind a proxy), else this request's host."""
    return current_app.config.get("PUBLIC_URL") or request.host_url


def _file(data: bytes, mimetype: str, filename: str, attachment: bool = False) -> Response:
    resp = Response(data, mimetype=mimetype)
    disposition = "attachment" if attachment else "inline"
    resp.headers["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    # A reissued token changes the image: never serve a stale label from a cache.
    resp.headers["Cache-Control"] = "private, no-cache"
    return resp


@blp.route("/checkpoints/<int:checkpoint_id>/qr.png")
@requires("checkpoint.print")
def qr_png(checkpoint_id):
    """The checkpoint's QR as a PNG image (encodes <PUBLIC_URL>/c/<token>)."""
    cp = get_scoped(Checkpoint, checkpoint_id, "checkpoint.print")
    return _file(labels.qr_png(labels.checkpoint_url(base_url(), cp)), "image/png", f"{cp.short_code}.png")


@blp.route("/checkpoints/<int:checkpoint_id>/qr.svg")
@requires("checkpoint.print")
def qr_svg(checkpoint_id):
    """The checkpoint's QR as an SVG image, for printing at any size."""
    cp = get_scoped(Checkpoint, checkpoint_id, "checkpoint.print")
    return _file(labels.qr_svg(labels.checkpoint_url(base_url(), cp)), "image/svg+xml", f"{cp.short_code}.svg")


class LabelArgs(StrictSchema):
    checkpoint_ids = Str(validate=Length(max=20000), metadata={"description": "comma-separated ids; all active checkpoints when omitted"})


def _id_list(raw: str, name: str) -> list[int]:
    ids = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        if not (part.isascii() and part.isdigit() and len(part) <= 10 and 0 < int(part) <= MAX_ID):
            raise ApiError(422, f"{name} must be a comma-separated list of checkpoint ids.", "validation_error", {"fields": {name: [FieldMessage(f"not an id: {part[:20]!r}", "field_invalid", type="integer")]}})
        ids.append(int(part))
    return list(dict.fromkeys(ids))


def _site_checkpoints(site_id: int, ids: list[int] | None, name: str = "checkpoint_ids") -> list[Checkpoint]:
    """The given checkpoints of a site in the given order, or all active ones in walking order."""
    stmt = select(Checkpoint).where(Checkpoint.site_id == site_id)
    if ids is None:
        return db.session.execute(stmt.where(Checkpoint.active.is_(True)).order_by(Checkpoint.position, Checkpoint.id)).scalars().all()
    found = {cp.id: cp for cp in db.session.execute(stmt.where(Checkpoint.id.in_(ids))).scalars()} if ids else {}
    unknown = [i for i in ids if i not in found]
    if unknown:
        raise ApiError(
            422,
            "Some checkpoints are not at this site: " + ", ".join(map(str, unknown)) + ".",
            "validation_error",
            {"fields": {name: [FieldMessage(f"not at this site: {', '.join(map(str, unknown))}", "field_not_at_site_ids", ids=", ".join(map(str, unknown)))]}},
        )
    return [found[i] for i in ids]


@blp.route("/sites/<int:site_id>/labels.pdf")
@requires("checkpoint.print")
@blp.arguments(LabelArgs, location="query")
def labels_pdf(args, site_id):
    """An A4 PDF of QR labels (eight a page) for the chosen checkpoints, or all active ones."""
    site = get_scoped(Site, site_id, "checkpoint.print")
    ids = _id_list(args["checkpoint_ids"], "checkpoint_ids") if "checkpoint_ids" in args else None
    chosen = _site_checkpoints(site.id, ids)
    pdf = labels.labels_pdf(site, chosen, base_url(), checklists.kind_names(), font_setting(current_app.config))
    return _file(pdf, "application/pdf", f"labels-{site.code}.pdf")


# --- CSV import and export, walking order ---------------------------------------------------


class CsvExportArgs(StrictSchema):
    building = Str(validate=Length(max=64), metadata={"description": "only this building"})


class CsvImportArgs(StrictSchema):
    dry_run = fields.Boolean(load_default=False, metadata={"description": "check the file and say what importing it would do; change nothing"})


class CsvImportRowSchema(StrictSchema):
    line = fields.Integer()
    id = fields.Integer(allow_none=True, metadata={"description": "null for a row a dry run would create"})
    short_code = Str(allow_none=True, metadata={"description": "null when a dry run would make one up"})
    name_zh = Str()
    action = Str(metadata={"description": "created, updated or unchanged"})
    changed = fields.List(Str(), metadata={"description": "the columns an update changes"})


class CsvImportResultSchema(StrictSchema):
    dry_run = fields.Boolean()
    created = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    checkpoints = fields.List(fields.Nested(CsvImportRowSchema))


CSV_TYPES = {"text/csv", "application/csv", "text/plain", "application/vnd.ms-excel", "application/octet-stream"}


@blp.route("/sites/<int:site_id>/checkpoints.csv")
class CheckpointsCsv(MethodView):
    @requires("checkpoint.print")
    @blp.arguments(CsvExportArgs, location="query")
    def get(self, args, site_id):
        """Export a site's checkpoints (or one building's) as CSV, UTF-8 with BOM for Excel."""
        site = get_scoped(Site, site_id, "checkpoint.print")
        data = checkpoint_csv.export_csv(site, args.get("building"))
        return _file(data, "text/csv", f"checkpoints-{site.code}.csv", attachment=True)

    @requires("checkpoint.edit")
    @blp.arguments(CsvImportArgs, location="query")
    @blp.response(200, CsvImportResultSchema)
    def post(self, args, site_id):
        """Import checkpoints from CSV (text/csv body or multipart `file`): all rows or none.

        A row whose short_code exists at the site updates it; other rows create checkpoints.
        Every bad row is reported in `details.rows` as {line, errors}. `?dry_run=true`
        checks the file and answers what an import would do, changing nothing.
        """
        site = get_scoped(Site, site_id, "checkpoint.edit")
        mimetype = request.mimetype or ""
        if mimetype == "multipart/form-data":
            upload = request.files.get("file")
            if upload is None:
                raise ApiError(422, "Send the CSV as the multipart field `file`.", "validation_error", {"fields": {"file": [FieldMessage("required", "field_required")]}})
            data = upload.read()
        elif mimetype in CSV_TYPES:
            data = request.get_data(cache=False)
        else:
            raise ApiError(415, "Send the CSV as a text/csv body or as the multipart field `file`.", "unsupported_media_type")
        result = checkpoint_csv.import_csv(site, data, dry_run=args["dry_run"])
        if args["dry_run"]:
            db.session.rollback()
        else:
            db.session.commit()
        return result


class OrderSchema(StrictSchema):
    checkpoint_ids = fields.List(fields.Integer(validate=validate.Range(min=1, max=MAX_ID)), required=True, validate=Length(min=1, max=5000))


@blp.route("/sites/<int:site_id>/checkpoints/order", methods=["POST"])
@requires("checkpoint.edit")
@blp.arguments(OrderSchema)
@blp.response(200, CheckpointSchema(many=True))
def order(body, site_id):
    """Set the walking order: the listed checkpoints get positions 10, 20, 30… in that order."""
    site = get_scoped(Site, site_id, "checkpoint.edit")
    ids = list(dict.fromkeys(body["checkpoint_ids"]))
    chosen = _site_checkpoints(site.id, ids)
    sites.reorder_checkpoints(chosen)
    db.session.commit()
    return chosen
