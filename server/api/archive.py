"""Month-end filing for archivists: months and their state, sealing, bundles, exports, holds."""

from __future__ import annotations

from flask import Response, jsonify, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import select

from .. import archive, choices, exports, retention
from ..auth import current_user, get_scoped, requires
from ..extensions import db
from ..models import LegalHold, Site
from ..months import parse_month
from ..storage import get_store
from .common import Length, StrictSchema, UtcDateTime
from .files import send_stored
from .params import Day, Month

blp = Blueprint("archive", __name__, url_prefix="/api/archive", description="Month-end filing, exports and retention")


class FileSchema(StrictSchema):
    kind = fields.String()
    name = fields.String()
    sha256 = fields.String()
    bytes = fields.Integer()
    built_at = fields.String()
    records = fields.Dict()


class MonthSchema(StrictSchema):
    site_id = fields.Integer()
    month = fields.String()
    state = fields.String(metadata={"enum": list(choices.MONTH_STATES)})
    ended = fields.Boolean()
    visits = fields.Integer()
    findings = fields.Integer()
    sealed_at = UtcDateTime(allow_none=True)
    sealed_by = fields.Integer(allow_none=True)
    bundle_sha256 = fields.String()
    addendum_count = fields.Integer()
    files = fields.List(fields.Nested(FileSchema))
    purged_at = UtcDateTime(allow_none=True)


class MonthDetailSchema(MonthSchema):
    summary = fields.Dict()


class ExportArgs(StrictSchema):
    kind = fields.String(load_default="visits", validate=validate.OneOf(exports.KINDS))
    format = fields.String(load_default="csv", validate=validate.OneOf(exports.FORMATS))
    date_from = Day(required=True, data_key="from")
    date_to = Day(required=True, data_key="to")
    dry_run = fields.Boolean(load_default=False, metadata={
        "description": "only check the request: answer {file_name} as JSON, or the refusal the download would get, without building the file"})


class ExportCheckSchema(StrictSchema):
    file_name = fields.String()


class BundleArgs(StrictSchema):
    file = fields.String(validate=Length(min=1, max=200))


class HoldSchema(StrictSchema):
    id = fields.Integer(dump_only=True)
    site_id = fields.Integer(dump_only=True)
    month = Month(allow_none=True)
    task_id = fields.Integer(allow_none=True, validate=validate.Range(min=1))
    reason = fields.String(required=True, validate=Length(min=1, max=2000))
    created_by = fields.Integer(dump_only=True)
    created_at = UtcDateTime(dump_only=True)
    released_at = UtcDateTime(dump_only=True, allow_none=True)  # null while the hold stands
    released_by = fields.Integer(dump_only=True, allow_none=True)


class PurgePlanSchema(StrictSchema):
    site = fields.String()
    site_id = fields.Integer()
    month = fields.String()
    action = fields.String()
    reason = fields.String()
    counts = fields.Dict()
    held = fields.Dict()
    archive_sha256 = fields.String()


class PurgeLogSchema(StrictSchema):
    id = fields.Integer()
    site_id = fields.Integer()
    month = fields.String()
    at = UtcDateTime()
    by_id = fields.Integer(allow_none=True)
    by_name = fields.String()
    counts = fields.Dict()
    held = fields.Dict()
    archive_sha256 = fields.String()
    audit_hash = fields.String()


def _site(site_id: int, action: str) -> Site:
    return get_scoped(Site, site_id, action)


@blp.route("/sites/<int:site_id>/months")
class Months(MethodView):
    @requires("archive.read")
    @blp.response(200, MonthSchema(many=True))
    def get(self, site_id):
        """Every month of a site with records, newest first, with its filing state."""
        return archive.months(_site(site_id, "archive.read"))


@blp.route("/sites/<int:site_id>/months/<month>")
class MonthItem(MethodView):
    @requires("archive.read")
    @blp.response(200, MonthDetailSchema)
    def get(self, site_id, month):
        """One month: its state, filed files and the summary figures as of now."""
        site = _site(site_id, "archive.read")
        out = archive.describe_month(site, parse_month(month))
        out["summary"] = archive.summary(site, month) if out["state"] != choices.MONTH_PURGED else {}
        return out


@blp.route("/sites/<int:site_id>/months/<month>/seal", methods=["POST"])
@requires("archive.file")
@blp.response(200, MonthSchema)
def seal_month(site_id, month):
    """Seal a month that has ended and file its bundle; its records become read-only."""
    site = _site(site_id, "archive.file")
    archive.seal(site, month, actor_id=current_user().id)
    db.session.commit()
    return archive.describe_month(site, month)


@blp.route("/sites/<int:site_id>/months/<month>/build", methods=["POST"])
@requires("archive.file")
@blp.response(200, MonthSchema)
def build_month(site_id, month):
    """File the records that arrived since the last file (an addendum), or the missing bundle."""
    site = _site(site_id, "archive.file")
    archive.build_bundle(site, month, actor_id=current_user().id)
    db.session.commit()
    return archive.describe_month(site, month)


@blp.route("/sites/<int:site_id>/months/<month>/bundle")
@requires("archive.read")
@blp.arguments(BundleArgs, location="query")
@blp.response(200, description="the zip of the sealed bundle, or of the named addendum")
def download_bundle(args, site_id, month):
    """Download the month's sealed bundle (or `?file=` one of its addenda) as a zip."""
    site = _site(site_id, "archive.read")
    f = archive.file_for(site.id, parse_month(month), args.get("file"))
    resp = send_stored(get_store("archives"), archive.file_key(f), mimetype="application/zip", etag=f["sha256"], download_name=f["name"])
    resp.headers["X-Content-SHA256"] = f["sha256"]
    return resp


@blp.route("/sites/<int:site_id>/months/<month>/record.pdf")
@requires("archive.read")
@blp.arguments(BundleArgs, location="query")
@blp.response(200, description="the filed month record (PDF/A-2b) of the sealed bundle, or of the named addendum")
def download_record_pdf(args, site_id, month):
    """Download the printable month record (record.pdf) on its own, as filed in the bundle (or `?file=` an addendum)."""
    site = _site(site_id, "archive.read")
    data, name = archive.record_pdf(site.id, parse_month(month), args.get("file"))
    resp = Response(data, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    resp.headers["Cache-Control"] = "private, no-cache"
    return resp


@blp.route("/sites/<int:site_id>/exports")
@requires("archive.read")
@blp.arguments(ExportArgs, location="query")
@blp.response(200, description="CSV or XLSX, streamed; with dry_run, JSON {file_name}")
def export(args, site_id):
    """Export visits, findings, tasks or verifications of any date range (site-local days, both included).

    With `dry_run=true` nothing is built: the answer is the file's name, or the refusal (422) the
    download would get, so a page can say it before the browser's download starts.
    """
    site = _site(site_id, "archive.read")
    if args["dry_run"]:
        _start, _end, name = exports.check(site, args["kind"], args["format"], args["date_from"], args["date_to"])
        return jsonify(ExportCheckSchema().dump({"file_name": f"{name}.{args['format']}"}))
    chunks, mimetype, name = exports.export(site, args["kind"], args["format"], args["date_from"], args["date_to"])
    resp = Response(stream_with_context(chunks), mimetype=mimetype)
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    resp.headers["Cache-Control"] = "no-store"
    return resp


@blp.route("/sites/<int:site_id>/holds")
class Holds(MethodView):
    @requires("archive.read")
    @blp.response(200, HoldSchema(many=True))
    def get(self, site_id):
        """Legal holds of a site, released ones included."""
        site = _site(site_id, "archive.read")
        return db.session.execute(select(LegalHold).where(LegalHold.site_id == site.id).order_by(LegalHold.id)).scalars().all()

    @requires("archive.file")
    @blp.arguments(HoldSchema)
    @blp.response(201, HoldSchema)
    def post(self, body, site_id):
        """Keep the whole site, a month, or a task (with its records) from purge."""
        site = _site(site_id, "archive.file")
        hold = retention.add_hold(site, reason=body["reason"], actor_id=current_user().id, month=body.get("month"), task_id=body.get("task_id"))
        db.session.commit()
        return hold


@blp.route("/holds/<int:hold_id>/release", methods=["POST"])
@requires("archive.file")
@blp.response(200, HoldSchema)
def release_hold(hold_id):
    """Release a legal hold; the records become subject to the retention period again."""
    hold = get_scoped(LegalHold, hold_id, "archive.file")
    retention.release_hold(hold, actor_id=current_user().id)
    db.session.commit()
    return hold


@blp.route("/sites/<int:site_id>/retention")
@requires("archive.read")
@blp.response(200, PurgePlanSchema(many=True))
def retention_plan(site_id):
    """What the next purge would remove at this site (a dry run: nothing changes)."""
    site = _site(site_id, "archive.read")
    return retention.purge(apply=False, site_code=site.code)


@blp.route("/sites/<int:site_id>/purges")
@requires("archive.read")
@blp.response(200, PurgeLogSchema(many=True))
def purges(site_id):
    """The purge log of a site: what went, when, by whom, and the filed archive's hash."""
    site = _site(site_id, "archive.read")
    return retention.purge_log([site.id])
