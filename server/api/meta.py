"""Health, and the domain's vocabulary and policy table for clients (the phone and desk screens)."""

import logging

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import fields

from .. import choices, findings, policy, tasks
from ..auth import public
from ..extensions import db
from ..storage import AREAS, StorageError, get_store

from .common import StrictSchema

blp = Blueprint("meta", __name__, url_prefix="/api", description="Health and vocabulary")


log = logging.getLogger(__name__)


class HealthSchema(StrictSchema):
    status = fields.String(required=True, metadata={"description": "ok, or unavailable when the database or the file store cannot be reached"})
    database = fields.String(metadata={"description": "ok or unreachable"})
    storage = fields.String(metadata={"description": "ok or unreachable"})
    storage_backend = fields.String(metadata={"description": "local or s3"})


class MetaSchema(StrictSchema):
    lists = fields.Dict(
        keys=fields.String(), values=fields.List(fields.String()),
        metadata={"description": "every named list of the domain (roles, kinds, states, routes, department codes…)"},
    )
    label_prefixes = fields.Dict(
        keys=fields.String(), values=fields.String(),
        metadata={"description": "translation-key prefix of each list: the label of value v of list n is label_prefixes[n] + v"},
    )
    policy = fields.Dict(metadata={"description": "who may do what: action → roles at the site and relations to the object"})
    default_routes = fields.Dict(
        keys=fields.String(), values=fields.String(),
        metadata={"description": "each category's usual route for a problem outside the checklist"},
    )
    moves = fields.List(
        fields.Dict(), metadata={"description": "the task state machine: from, to, and the policy action that allows the move"},
    )
    phone = fields.Dict(
        keys=fields.String(), values=fields.Integer(),
        metadata={"description": "settings for the phone app: keep_media_days, days a phone keeps photo and sound bytes after the server confirmed them (PHONE_KEEP_MEDIA_DAYS)"},
    )


@blp.route("/health")
@public
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema, description="the database or the file store cannot be reached")
def health():
    """Can this node reach its database and its file store? 503 when not (for the load balancer)."""
    out = {"status": "ok", "database": "ok", "storage": "ok"}
    try:
        db.session.execute(db.text("SELECT 1"))
    except Exception:  # noqa: BLE001 (any failure means unreachable; the detail goes to the log, not to the public)
        log.exception("health: database unreachable")
        db.session.rollback()
        out["database"] = "unreachable"
    try:
        for area in AREAS:
            store = get_store(area)
            out["storage_backend"] = store.backend
            store.check()
    except (StorageError, OSError):
        log.exception("health: file store unreachable")
        out["storage"] = "unreachable"
    if "unreachable" in out.values():
        out["status"] = "unavailable"
        return out, 503
    return out


@blp.route("/meta")
@public
@blp.response(200, MetaSchema)
def meta():
    """The domain's vocabulary (every named list), the policy table and the task state machine."""
    return {
        **choices.vocabulary(),
        "policy": policy.as_json(),
        "default_routes": findings.default_routes(),
        "moves": [{"from": a, "to": b, "action": action} for (a, b), action in tasks.MOVES.items()],
        "phone": {"keep_media_days": current_app.config.get("PHONE_KEEP_MEDIA_DAYS", 14)},
    }
