"""Health and the domain's vocabulary (roles, kinds, states) for clients."""

from flask_smorest import Blueprint
from marshmallow import fields

from .. import choices
from ..auth import public
from ..extensions import db

from .common import StrictSchema

blp = Blueprint("meta", __name__, url_prefix="/api", description="Health and vocabulary")


class HealthSchema(StrictSchema):
    status = fields.String(required=True)


class MetaSchema(StrictSchema):
    roles = fields.List(fields.String())
    checkpoint_kinds = fields.List(fields.String())
    methods = fields.List(fields.String())
    categories = fields.List(fields.String())
    routes = fields.List(fields.String())
    task_states = fields.List(fields.String())
    severities = fields.List(fields.String())


@blp.route("/health")
@public
@blp.response(200, HealthSchema)
def health():
    """Is the server up and its database reachable?"""
    db.session.execute(db.text("SELECT 1"))
    return {"status": "ok"}


@blp.route("/meta")
@public
@blp.response(200, MetaSchema)
def meta():
    """The domain's named constants: roles, checkpoint kinds, methods, categories, states."""
    return {
        "roles": list(choices.ROLES),
        "checkpoint_kinds": list(choices.CHECKPOINT_KINDS),
        "methods": list(choices.METHODS),
        "categories": list(choices.CATEGORIES),
        "routes": list(choices.ROUTES),
        "task_states": list(choices.TASK_STATES),
        "severities": list(choices.SEVERITIES),
    }
