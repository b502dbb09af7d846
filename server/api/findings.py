"""Findings: problems seen on patrol, and ones reported from the web outside the checklist."""

from __future__ import annotations

import uuid
from datetime import timedelta

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import select

from .. import checklists, choices, findings
from ..auth import authorize, current_user, get_scoped, requires, site_ids
from ..errors import ApiError
from ..extensions import db
from ..models import Checkpoint, Finding, Photo, Site, Task, utcnow
from ..problems import FieldMessage
from .common import Id, Length, PageArgs, StrictSchema, Text, UtcDateTime, page

blp = Blueprint("findings", __name__, url_prefix="/api/findings", description="Findings")

# A web report's own time may be a little ahead of ours (browser clocks), not more.
FUTURE_TOLERANCE = timedelta(minutes=5)
OLDEST_REPORT = timedelta(days=366)


class FindingSchema(StrictSchema):
    id = fields.String()
    site_id = fields.Integer()
    visit_id = fields.String(allow_none=True)
    checkpoint_id = fields.Integer()
    item_id = fields.String(allow_none=True)
    category = fields.String()
    route = fields.String()
    description = fields.String()
    severity = fields.String()
    dealt_on_spot = fields.Boolean()
    spot_note = fields.String()
    reported_by = fields.Integer()
    observed_at = UtcDateTime()
    created_at = UtcDateTime()
    month = fields.String()
    task_id = fields.Integer(allow_none=True)
    photo_ids = fields.List(fields.String())


class FindingInSchema(StrictSchema):
    finding_id = fields.UUID(metadata={"description": "client-made id; sending it again is refused with 409"})
    checkpoint_id = Id(required=True)
    item_id = Text(80, 1)
    category = fields.String(validate=validate.OneOf(choices.CATEGORIES))
    route = fields.String(validate=validate.OneOf(choices.ROUTES))
    description = Text(5000, 1, required=True)
    severity = fields.String(load_default=choices.SEVERITY_NORMAL, validate=validate.OneOf(choices.SEVERITIES))
    dealt_on_spot = fields.Boolean(load_default=False)
    spot_note = Text(2000, load_default="")
    photo_ids = fields.List(Text(36, 1), load_default=list, validate=Length(max=20))
    observed_at = UtcDateTime(metadata={"description": "when it was seen (default: now)"})


class FindingListArgs(PageArgs):
    site_id = Id()
    checkpoint_id = Id()
    category = fields.String(validate=validate.OneOf(choices.CATEGORIES))
    severity = fields.String(validate=validate.OneOf(choices.SEVERITIES))
    dealt_on_spot = fields.Boolean()
    date_from = UtcDateTime(data_key="from")
    date_to = UtcDateTime(data_key="to")


class FindingPage(StrictSchema):
    items = fields.List(fields.Nested(FindingSchema))
    meta = fields.Dict()


def _out(finding: Finding) -> dict:
    task_id = db.session.execute(select(Task.id).where(Task.finding_id == finding.id)).scalar()
    photos = db.session.execute(select(Photo.id).where(Photo.finding_id == finding.id).order_by(Photo.created_at, Photo.id)).scalars().all()
    return {c: getattr(finding, c) for c in FindingSchema._declared_fields if hasattr(finding, c)} | {"task_id": task_id, "photo_ids": photos}


@blp.route("/")
class Findings(MethodView):
    @requires("finding.read")
    @blp.arguments(FindingListArgs, location="query")
    @blp.response(200, FindingPage)
    def get(self, args):
        """Findings at my sites, newest first."""
        ids = site_ids(current_user())
        if "site_id" in args:
            authorize(args["site_id"], "finding.read")
            ids = [args["site_id"]]
        stmt = select(Finding).where(Finding.site_id.in_(ids))
        for key, column in (("checkpoint_id", Finding.checkpoint_id), ("category", Finding.category), ("severity", Finding.severity), ("dealt_on_spot", Finding.dealt_on_spot)):
            if key in args:
                stmt = stmt.where(column == args[key])
        if "date_from" in args:
            stmt = stmt.where(Finding.observed_at >= args["date_from"])
        if "date_to" in args:
            stmt = stmt.where(Finding.observed_at < args["date_to"])
        items, meta = page(stmt.order_by(Finding.observed_at.desc(), Finding.id), args, db)
        return {"items": [_out(f) for f in items], "meta": meta}

    @requires("patrol.record")
    @blp.arguments(FindingInSchema)
    @blp.response(201, FindingSchema)
    def post(self, body):
        """Report a problem from the web (outside a checklist round): the same path as a synced finding.

        A failed checklist item takes the item's category and route (findings.classify);
        a problem outside the checklist needs a category and is routed by it until a
        supervisor confirms.
        """
        user = current_user()
        cp = get_scoped(Checkpoint, body["checkpoint_id"], "patrol.record")
        site = db.session.get(Site, cp.site_id)
        item = None
        if "item_id" in body:
            item = checklists.items_by_id(checklists.current_version(site.id, cp.kind)).get(body["item_id"])
            if item is None:
                raise ApiError(422, f"The {cp.kind} checklist has no item {body['item_id']!r}.", "validation_error", {"fields": {"item_id": [FieldMessage("not an item of this checkpoint's checklist", "field_not_in_checklist")]}})
        category, route = findings.classify(item, body.get("category"), body.get("route"))
        now = utcnow()
        observed = body.get("observed_at", now)
        if observed > now + FUTURE_TOLERANCE:
            raise ApiError(422, "The observation time is in the future.", "validation_error", {"fields": {"observed_at": [FieldMessage("in the future", "field_in_future")]}})
        if observed < now - OLDEST_REPORT:
            raise ApiError(422, "The observation time is more than a year ago.", "validation_error", {"fields": {"observed_at": [FieldMessage("more than a year ago", "field_too_old")]}})
        with db.session.begin_nested():  # nothing stays behind if the finding is refused
            finding = findings.record_finding(
                finding_id=str(body.get("finding_id") or uuid.uuid4()),
                site=site,
                checkpoint=cp,
                reported_by=user.id,
                observed_at=observed,
                item_id=body.get("item_id"),
                category=category,
                route=route,
                description=body["description"],
                severity=body["severity"],
                dealt_on_spot=body["dealt_on_spot"],
                spot_note=body["spot_note"],
                photo_ids=body["photo_ids"],
            )
        db.session.commit()
        return _out(finding)


@blp.route("/<finding_id>")
class FindingItem(MethodView):
    @requires("finding.read")
    @blp.response(200, FindingSchema)
    def get(self, finding_id):
        """One finding, with its task id (none when dealt with on the spot)."""
        return _out(get_scoped(Finding, finding_id, "finding.read"))
