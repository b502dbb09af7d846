"""Checklists: the effective list per site and kind, and a site's own items."""

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import select

from .. import checklists as domain
from .. import choices
from ..auth import get_scoped, requires
from ..errors import ApiError
from ..extensions import db
from ..models import ChecklistVersion, Site, SiteChecklistItem
from .common import Length, StrictSchema

blp = Blueprint("checklists", __name__, url_prefix="/api/sites/<int:site_id>/checklists", description="Checklists")


class VersionSchema(StrictSchema):
    id = fields.Integer()
    site_id = fields.Integer()
    kind = fields.String()
    version = fields.Integer()
    content_hash = fields.String()
    body = fields.Dict()


class SiteItemSchema(StrictSchema):
    id = fields.Integer(dump_only=True)
    kind = fields.String(required=True, validate=validate.OneOf(choices.CHECKPOINT_KINDS))
    item_id = fields.String(dump_only=True)
    key = fields.String(required=True, load_only=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{1,40}$"))
    text_zh = fields.String(required=True, validate=Length(min=1, max=500))
    text_en = fields.String(load_default="", validate=Length(max=500))
    methods = fields.List(fields.String(validate=validate.OneOf(choices.METHODS)), required=True, validate=Length(min=1))
    category = fields.String(required=True, validate=validate.OneOf(choices.CATEGORIES))
    route = fields.String(required=True, validate=validate.OneOf(choices.ROUTES))
    active = fields.Boolean(load_default=True)


class SiteItemUpdateSchema(StrictSchema):
    text_zh = fields.String(validate=Length(min=1, max=500))
    text_en = fields.String(validate=Length(max=500))
    methods = fields.List(fields.String(validate=validate.OneOf(choices.METHODS)), validate=Length(min=1))
    category = fields.String(validate=validate.OneOf(choices.CATEGORIES))
    route = fields.String(validate=validate.OneOf(choices.ROUTES))
    active = fields.Boolean()


@blp.route("/")
@requires("checklist.read")
@blp.response(200, VersionSchema(many=True))
def current(site_id):
    """The current checklist of every checkpoint kind at a site."""
    get_scoped(Site, site_id, "checklist.read")
    versions = [domain.current_version(site_id, kind) for kind in choices.CHECKPOINT_KINDS]
    db.session.commit()
    return versions


@blp.route("/versions/<int:version_id>")
@requires("checklist.read")
@blp.response(200, VersionSchema)
def version(site_id, version_id):
    """A frozen checklist version, as records made with it saw it."""
    row = get_scoped(ChecklistVersion, version_id, "checklist.read")
    if row.site_id != site_id:
        raise ApiError(404, "Not found.")
    return row


def _after_item_change(site_id: int, kind: str) -> None:
    domain.current_version(site_id, kind)


@blp.route("/items")
class SiteItems(MethodView):
    @requires("checklist.read")
    @blp.response(200, SiteItemSchema(many=True))
    def get(self, site_id):
        """The site's own checklist items."""
        get_scoped(Site, site_id, "checklist.read")
        return db.session.execute(select(SiteChecklistItem).where(SiteChecklistItem.site_id == site_id).order_by(SiteChecklistItem.id)).scalars().all()

    @requires("checklist.edit")
    @blp.arguments(SiteItemSchema)
    @blp.response(201, SiteItemSchema)
    def post(self, body, site_id):
        """Add an item of the site's own to a kind's checklist (a new checklist version)."""
        get_scoped(Site, site_id, "checklist.edit")
        item_id = f"site{site_id}_{body['kind']}.{body.pop('key')}"
        if db.session.execute(select(SiteChecklistItem.id).where(SiteChecklistItem.site_id == site_id, SiteChecklistItem.item_id == item_id)).first():
            raise ApiError(409, f"Item {item_id} exists.", "item_exists")
        row = SiteChecklistItem(site_id=site_id, item_id=item_id, **body)
        db.session.add(row)
        db.session.flush()
        _after_item_change(site_id, row.kind)
        db.session.commit()
        return row


@blp.route("/items/<int:item_pk>", methods=["PATCH"])
@requires("checklist.edit")
@blp.arguments(SiteItemUpdateSchema)
@blp.response(200, SiteItemSchema)
def update_item(body, site_id, item_pk):
    """Change or retire one of the site's own items (a new checklist version)."""
    row = get_scoped(SiteChecklistItem, item_pk, "checklist.edit")
    if row.site_id != site_id:
        raise ApiError(404, "Not found.")
    for key, value in body.items():
        setattr(row, key, value)
    db.session.flush()
    _after_item_change(site_id, row.kind)
    db.session.commit()
    return row
