"""Health, and the domain's vocabulary and policy table for clients (the phone and desk screens)."""

from flask_smorest import Blueprint
from marshmallow import fields

from .. import choices, findings, policy, tasks
from ..auth import public
from ..extensions import db

from .common import StrictSchema

blp = Blueprint("meta", __name__, url_prefix="/api", description="Health and vocabulary")


class HealthSchema(StrictSchema):
    status = fields.String(required=True)


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
    """The domain's vocabulary (every named list), the policy table and the task state machine."""
    return {
        **choices.vocabulary(),
        "policy": policy.as_json(),
        "default_routes": findings.default_routes(),
        "moves": [{"from": a, "to": b, "action": action} for (a, b), action in tasks.MOVES.items()],
    }
