"""What residents said on patrol ("ask"): read by the site's desk only (policy `resident.read`).

Notes are made on the phone and arrive by sync (`resident.note`, docs/sync.md); there is
no web form. The unit and contact are present only where the resident consented.
"""

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import select

from .. import residents
from ..auth import authorize, current_user, get_scoped, requires, site_ids
from ..extensions import db
from ..models import ResidentNote
from .common import Id, Length, PageArgs, StrictSchema, UtcDateTime, page

blp = Blueprint("residents", __name__, url_prefix="/api/resident-notes", description="Resident notes (ask)")


class ResidentNoteSchema(StrictSchema):
    id = fields.String()
    site_id = fields.Integer()
    checkpoint_id = fields.Integer()
    checkpoint_name = fields.String()
    checkpoint_name_en = fields.String()
    checkpoint_short_code = fields.String()
    visit_id = fields.String()
    finding_id = fields.String(allow_none=True, metadata={"description": "the finding the note was turned into on the phone"})
    recorded_by = fields.Integer()
    recorded_by_name = fields.String()
    said = fields.String(metadata={"description": "the resident's words"})
    consent = fields.Boolean(metadata={"description": "the resident agreed that their unit and contact be kept"})
    unit = fields.String(metadata={"description": "empty without consent"})
    contact = fields.String(metadata={"description": "empty without consent"})
    observed_at = UtcDateTime()
    month = fields.String()


class ResidentNoteListArgs(PageArgs):
    site_id = Id()
    checkpoint_id = Id()
    finding_id = fields.String(validate=Length(max=36))
    date_from = UtcDateTime(data_key="from")
    date_to = UtcDateTime(data_key="to")


class ResidentNotePage(StrictSchema):
    items = fields.List(fields.Nested(ResidentNoteSchema))
    meta = fields.Dict()


@blp.route("/")
class ResidentNotes(MethodView):
    @requires("resident.read")
    @blp.arguments(ResidentNoteListArgs, location="query")
    @blp.response(200, ResidentNotePage)
    def get(self, args):
        """What residents said at the sites where I may read it, newest first."""
        ids = site_ids(current_user(), "resident.read")
        if "site_id" in args:
            authorize(args["site_id"], "resident.read")
            ids = [args["site_id"]]
        stmt = select(ResidentNote).where(ResidentNote.site_id.in_(ids))
        for key, column in (("checkpoint_id", ResidentNote.checkpoint_id), ("finding_id", ResidentNote.finding_id)):
            if key in args:
                stmt = stmt.where(column == args[key])
        if "date_from" in args:
            stmt = stmt.where(ResidentNote.observed_at >= args["date_from"])
        if "date_to" in args:
            stmt = stmt.where(ResidentNote.observed_at < args["date_to"])
        items, meta = page(stmt.order_by(ResidentNote.observed_at.desc(), ResidentNote.id), args, db)
        return {"items": residents.described(items), "meta": meta}


@blp.route("/<note_id>")
class ResidentNoteItem(MethodView):
    @requires("resident.read")
    @blp.response(200, ResidentNoteSchema)
    def get(self, note_id):
        """One resident note."""
        return residents.described([get_scoped(ResidentNote, note_id, "resident.read")])[0]
