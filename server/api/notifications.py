"""The in-app notification feed: my notifications, unread counts, marking them read."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import select

from .. import choices, notifications
from ..auth import current_user, requires, site_ids
from ..errors import ApiError
from ..extensions import db
from ..models import Notification
from ..problems import FieldMessage
from .common import Id, Length, PageArgs, StrictSchema, UtcDateTime, page

blp = Blueprint("notifications", __name__, url_prefix="/api/notifications", description="Notification feed")


class NotificationSchema(StrictSchema):
    id = fields.Integer()
    site_id = fields.Integer()
    kind = fields.String(validate=validate.OneOf(choices.NOTIFY_KINDS))
    task_id = fields.Integer(allow_none=True)
    data = fields.Dict(metadata={"description": "what was stored when it was sent"})
    details = fields.Dict(
        metadata={"description": "looked up when read: checkpoint names, problem, due date, the extension and who acted (empty without a task)"}
    )
    created_at = UtcDateTime()
    read_at = UtcDateTime(allow_none=True)


class FeedArgs(PageArgs):
    unread = fields.Boolean(metadata={"description": "only unread (true) or only read (false)"})


class FeedPage(StrictSchema):
    items = fields.List(fields.Nested(NotificationSchema))
    meta = fields.Dict()
    unread = fields.Integer()


class UnreadSchema(StrictSchema):
    unread = fields.Integer()
    marked = fields.Integer()


class MarkReadSchema(StrictSchema):
    ids = fields.List(Id(), validate=Length(min=1, max=500))
    all = fields.Boolean(load_default=False)


@blp.route("/")
class Feed(MethodView):
    @requires("notification.read")
    @blp.arguments(FeedArgs, location="query")
    @blp.response(200, FeedPage)
    def get(self, args):
        """My notifications, newest first, with my unread count."""
        user = current_user()
        stmt = select(Notification).where(Notification.user_id == user.id)
        if "unread" in args:
            stmt = stmt.where(Notification.read_at.is_(None) if args["unread"] else Notification.read_at.is_not(None))
        items, meta = page(stmt.order_by(Notification.created_at.desc(), Notification.id.desc()), args, db)
        extra = notifications.details(items, site_ids(user))
        rows = [
            {"id": n.id, "site_id": n.site_id, "kind": n.kind, "task_id": n.task_id, "data": n.data or {}, "details": extra.get(n.id, {}), "created_at": n.created_at, "read_at": n.read_at}
            for n in items
        ]
        return {"items": rows, "meta": meta, "unread": notifications.unread_count(user.id)}


@blp.route("/unread-count")
@requires("notification.read")
@blp.response(200, UnreadSchema)
def unread_count():
    """How many of my notifications are unread (for the badge)."""
    return {"unread": notifications.unread_count(current_user().id)}


@blp.route("/read", methods=["POST"])
@requires("notification.read")
@blp.arguments(MarkReadSchema)
@blp.response(200, UnreadSchema)
def mark_read(body):
    """Mark some (ids) or all (all: true) of my notifications read; others' ids are ignored."""
    user = current_user()
    if not body["all"] and not body.get("ids"):
        raise ApiError(422, "Send ids, or all: true.", "validation_error", {"fields": {"ids": [FieldMessage("ids or all", "field_required")]}})
    marked = notifications.mark_read(user.id, None if body["all"] else body["ids"])
    db.session.commit()
    return {"marked": marked, "unread": notifications.unread_count(user.id)}
