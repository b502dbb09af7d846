"""Outbound webhooks per site (generic JSON, WeCom, DingTalk) and their deliveries, for admins."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import func, select

from .. import choices, webhooks
from ..auth import authorize, current_user, get_scoped, requires, site_ids
from ..errors import ApiError
from ..extensions import db
from ..models import Webhook, WebhookDelivery
from .common import MAX_ID, Id, Length, PageArgs, StrictSchema, Text, UtcDateTime, page

blp = Blueprint("webhooks", __name__, url_prefix="/api/webhooks", description="Outbound webhooks")

URL = validate.URL(schemes={"http", "https"}, require_tld=False)


class WebhookSchema(StrictSchema):
    id = fields.Integer(dump_only=True)
    site_id = Id(required=True)
    url = fields.String(required=True, validate=[Length(max=500), URL])
    preset = fields.String(load_default=choices.WEBHOOK_GENERIC, validate=validate.OneOf(choices.WEBHOOK_PRESETS))
    secret = Text(128, load_default="", load_only=True)
    has_secret = fields.Boolean(dump_only=True)
    active = fields.Boolean(load_default=True)
    created_at = UtcDateTime(dump_only=True)
    pending = fields.Integer(dump_only=True)
    failed = fields.Integer(dump_only=True)
    last_error = fields.String(dump_only=True)


class WebhookUpdateSchema(StrictSchema):
    url = fields.String(validate=[Length(max=500), URL])
    preset = fields.String(validate=validate.OneOf(choices.WEBHOOK_PRESETS))
    secret = Text(128)
    active = fields.Boolean()


class DeliverySchema(StrictSchema):
    id = fields.Integer()
    webhook_id = fields.Integer()
    dedupe_key = fields.String()
    payload = fields.Dict()
    status = fields.String()
    attempts = fields.Integer()
    next_attempt_at = UtcDateTime()
    last_error = fields.String()
    created_at = UtcDateTime()
    sent_at = UtcDateTime(allow_none=True)


class DeliveryArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(choices.WEBHOOK_STATES))


class DeliveryPage(StrictSchema):
    items = fields.List(fields.Nested(DeliverySchema))
    meta = fields.Dict()


class SiteArgs(StrictSchema):
    site_id = Id()


def _out(hook: Webhook) -> dict:
    """A webhook with its delivery health, so a failing one stands out."""
    counts = dict(
        db.session.execute(
            select(WebhookDelivery.status, func.count()).where(WebhookDelivery.webhook_id == hook.id).group_by(WebhookDelivery.status)
        ).all()
    )
    last_error = db.session.execute(
        select(WebhookDelivery.last_error)
        .where(WebhookDelivery.webhook_id == hook.id, WebhookDelivery.last_error != "")
        .order_by(WebhookDelivery.id.desc())
        .limit(1)
    ).scalar()
    return {
        "id": hook.id,
        "site_id": hook.site_id,
        "url": hook.url,
        "preset": hook.preset,
        "has_secret": bool(hook.secret),
        "active": hook.active,
        "created_at": hook.created_at,
        "pending": counts.get(choices.WEBHOOK_PENDING, 0),
        "failed": counts.get(choices.WEBHOOK_FAILED, 0),
        "last_error": last_error or "",
    }


@blp.route("/")
class Webhooks(MethodView):
    @requires("webhook.manage")
    @blp.arguments(SiteArgs, location="query")
    @blp.response(200, WebhookSchema(many=True))
    def get(self, args):
        """Webhooks of the sites I administer, with pending and failed delivery counts."""
        ids = site_ids(current_user(), "webhook.manage")
        if "site_id" in args:
            authorize(args["site_id"], "webhook.manage")
            ids = [args["site_id"]]
        hooks = db.session.execute(select(Webhook).where(Webhook.site_id.in_(ids)).order_by(Webhook.id)).scalars().all()
        return [_out(h) for h in hooks]

    @requires("webhook.manage")
    @blp.arguments(WebhookSchema)
    @blp.response(201, WebhookSchema)
    def post(self, body):
        """Add a webhook to a site (preset generic, wecom or dingtalk)."""
        authorize(body["site_id"], "webhook.manage")
        hook = Webhook(**body)
        db.session.add(hook)
        db.session.commit()
        return _out(hook)


@blp.route("/<int:webhook_id>")
class WebhookItem(MethodView):
    @requires("webhook.manage")
    @blp.response(200, WebhookSchema)
    def get(self, webhook_id):
        """One webhook and its delivery health."""
        return _out(get_scoped(Webhook, webhook_id, "webhook.manage"))

    @requires("webhook.manage")
    @blp.arguments(WebhookUpdateSchema)
    @blp.response(200, WebhookSchema)
    def patch(self, body, webhook_id):
        """Change a webhook's URL, preset, secret, or switch it off."""
        hook = get_scoped(Webhook, webhook_id, "webhook.manage")
        for key, value in body.items():
            setattr(hook, key, value)
        db.session.commit()
        return _out(hook)

    @requires("webhook.manage")
    @blp.response(204)
    def delete(self, webhook_id):
        """Remove a webhook and its delivery history."""
        hook = get_scoped(Webhook, webhook_id, "webhook.manage")
        db.session.execute(WebhookDelivery.__table__.delete().where(WebhookDelivery.webhook_id == hook.id))
        db.session.delete(hook)
        db.session.commit()


@blp.route("/<int:webhook_id>/deliveries")
@requires("webhook.manage")
@blp.arguments(DeliveryArgs, location="query")
@blp.response(200, DeliveryPage)
def deliveries(args, webhook_id):
    """A webhook's deliveries, newest first: status, attempts, next try and last error."""
    hook = get_scoped(Webhook, webhook_id, "webhook.manage")
    stmt = select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id)
    if "status" in args:
        stmt = stmt.where(WebhookDelivery.status == args["status"])
    items, meta = page(stmt.order_by(WebhookDelivery.id.desc()), args, db)
    return {"items": items, "meta": meta}


@blp.route("/deliveries/<int:delivery_id>/retry", methods=["POST"])
@requires("webhook.manage")
@blp.response(200, DeliverySchema)
def retry(delivery_id):
    """Try a failed delivery again from the start (at the next `flask webhooks deliver`)."""
    delivery = db.session.get(WebhookDelivery, delivery_id) if delivery_id <= MAX_ID else None
    if delivery is None:
        raise ApiError(404, "Not found.", "not_found")
    get_scoped(Webhook, delivery.webhook_id, "webhook.manage")
    if delivery.status == choices.WEBHOOK_SENT:
        raise ApiError(409, "This delivery was sent already.", "already_sent")
    webhooks.retry(delivery)
    db.session.commit()
    return delivery
