"""Offline sync: push a batch of records made on the phone, pull what the phone keeps offline."""

from flask import request
from flask_smorest import Blueprint
from marshmallow import fields, validate

from .. import sync
from ..auth import current_user, requires
from .common import StrictSchema, UtcDateTime

blp = Blueprint("sync", __name__, url_prefix="/api/sync", description="Offline sync (docs/sync.md)")

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class MutationSchema(StrictSchema):
    mutation_id = fields.String(required=True, validate=validate.Regexp(UUID_PATTERN, error="must be a UUID"))
    seq = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=2**53))
    kind = fields.String(required=True, validate=validate.Length(min=1, max=32), metadata={"description": "one of " + ", ".join(sync.KINDS)})
    observed_at = fields.String(required=True, validate=validate.Length(max=40), metadata={"description": "phone clock when it happened, ISO 8601 with offset"})
    payload = fields.Dict(required=True, metadata={"description": "per kind; see docs/sync.md"})


class PushSchema(StrictSchema):
    device_id = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_\-]{8,64}$", error="8-64 letters, digits, '-' or '_'"))
    device_time = fields.String(required=True, validate=validate.Length(max=40), metadata={"description": "phone clock when sending, ISO 8601 with offset"})
    app_version = fields.String(load_default="", validate=validate.Length(max=40))
    mutations = fields.List(fields.Nested(MutationSchema), required=True)


class ResultSchema(StrictSchema):
    mutation_id = fields.String()
    seq = fields.Integer()
    status = fields.String(metadata={"description": "applied, duplicate or rejected"})
    result = fields.Dict(metadata={"description": "applied/duplicate: what the record created"})
    code = fields.String(metadata={"description": "rejected: machine-readable reason"})
    message = fields.String(metadata={"description": "rejected: a sentence a person can read"})
    details = fields.Dict()


class PushAnswerSchema(StrictSchema):
    server_time = UtcDateTime()
    clock_offset_ms = fields.Integer(metadata={"description": "phone clock minus server clock"})
    results = fields.List(fields.Nested(ResultSchema))
    expected_photos = fields.List(fields.String())


class PullArgs(StrictSchema):
    cursor = fields.Integer(load_default=0, validate=validate.Range(min=0))
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=1000))


class ChangeSchema(StrictSchema):
    cursor = fields.Integer()
    entity = fields.String()
    id = fields.String()
    op = fields.String(metadata={"description": "upsert or delete"})
    data = fields.Dict()


class PullAnswerSchema(StrictSchema):
    changes = fields.List(fields.Nested(ChangeSchema))
    cursor = fields.Integer()
    has_more = fields.Boolean()
    server_time = UtcDateTime()


class ExpectedSchema(StrictSchema):
    photo_ids = fields.List(fields.String())


@blp.route("/push", methods=["POST"])
@requires()
@blp.arguments(PushSchema)
@blp.response(200, PushAnswerSchema)
def push(body):
    """Apply a batch of records made offline; each is applied exactly once."""
    return sync.push(current_user(), body, request.user_agent.string or "")


@blp.route("/pull")
@requires()
@blp.arguments(PullArgs, location="query")
@blp.response(200, PullAnswerSchema)
def pull(args):
    """Changes after a cursor for my sites: checkpoints, checklists, plans, tasks, tombstones."""
    return sync.pull(current_user(), args["cursor"], args["limit"])


@blp.route("/expected")
@requires()
@blp.response(200, ExpectedSchema)
def expected():
    """Photos my records name whose bytes the server has not received yet."""
    return {"photo_ids": sync.expected_photos(current_user())}
