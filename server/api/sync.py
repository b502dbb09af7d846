"""Offline sync: push a batch of records made on the phone, pull what the phone keeps offline."""

import re

from flask import jsonify, request
from flask_smorest import Blueprint
from marshmallow import fields, validate

from .. import sync
from ..auth import current_user, requires
from ..db_sqlite import reads_first
from ..extensions import db
from ..timeutil import iso
from .common import Length, StrictSchema, UtcDateTime

blp = Blueprint("sync", __name__, url_prefix="/api/sync", description="Offline sync (docs/sync.md)")

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class MutationSchema(StrictSchema):
    mutation_id = fields.String(required=True, validate=[validate.Length(equal=36, error="must be a UUID"), validate.Regexp(UUID_PATTERN, error="must be a UUID")])
    seq = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=2**53))
    kind = fields.String(required=True, validate=Length(min=1, max=32), metadata={"description": "one of " + ", ".join(sync.KINDS)})
    observed_at = fields.String(required=True, validate=Length(max=40), metadata={"description": "phone clock when it happened, ISO 8601 with offset"})
    payload = fields.Dict(required=True, metadata={"description": "per kind; see docs/sync.md"})


MUTATION_KEYS = frozenset(MutationSchema().fields)
UUID_RE = re.compile(UUID_PATTERN)


def _plain_mutation(item) -> bool:
    """True for an envelope MutationSchema would take as it is (the usual case, checked fast).

    A push carries up to 500 mutations; loading each through the nested schema cost more
    than applying it. Anything not plainly valid goes through MutationSchema, which names
    the problem; tests/test_sync_envelope.py holds the two to the same answers.
    """
    if type(item) is not dict or item.keys() != MUTATION_KEYS:
        return False
    mid, seq, kind, observed = item["mutation_id"], item["seq"], item["kind"], item["observed_at"]
    return (
        type(mid) is str and len(mid) == 36 and UUID_RE.match(mid) is not None
        and type(seq) is int and 1 <= seq <= 2**53
        and type(kind) is str and 1 <= len(kind) <= 32
        and type(observed) is str and len(observed) <= 40
        and type(item["payload"]) is dict
    )


class MutationList(fields.List):
    """A list of MutationSchema envelopes; plainly valid ones skip the per-field machinery."""

    def __init__(self, **kwargs):
        super().__init__(fields.Nested(MutationSchema), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, list) and all(_plain_mutation(item) for item in value):
            return [dict(item, payload=dict(item["payload"])) for item in value]
        return super()._deserialize(value, attr, data, **kwargs)


class PushSchema(StrictSchema):
    device_id = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_\-]{8,64}$", error="8-64 letters, digits, '-' or '_'"))
    device_time = fields.String(required=True, validate=Length(max=40), metadata={"description": "phone clock when sending, ISO 8601 with offset"})
    app_version = fields.String(load_default="", validate=Length(max=40))
    mutations = MutationList(required=True)


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
    unreadable_photos = fields.List(fields.String(), metadata={"description": "photos whose upload could not be read: take them again"})


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
    unreadable = fields.List(fields.String(), metadata={"description": "photos whose upload could not be read: take them again"})


@blp.route("/push", methods=["POST"])
@reads_first  # the login check and the body's validation take no write lock; the push takes it below
@requires()
@blp.arguments(PushSchema)
@blp.response(200, PushAnswerSchema)
def push(body):
    """Apply a batch of records made offline; each is applied exactly once."""
    # sync.push takes the write lock itself (start_writing), after planning what it can.
    answer = sync.push(current_user(), body, request.user_agent.string or "")
    db.session.commit()  # acknowledged means durable: the answer goes out only after this
    # Already plain JSON values in PushAnswerSchema's shape (the fuzz tests check it against
    # the schema): sent as they are, without a second pass through the schema.
    return jsonify(dict(answer, server_time=iso(answer["server_time"])))


@blp.route("/pull")
@reads_first  # pulls read a snapshot beside the pushes instead of queueing for SQLite's write lock
@requires()
@blp.arguments(PullArgs, location="query")
@blp.response(200, PullAnswerSchema)
def pull(args):
    """Changes after a cursor for my sites: checkpoints, checklists, plans, tasks, tombstones."""
    user = current_user()
    sync.check_cursor(args["cursor"])  # against the log as the phone left it, before this request adds to it
    if sync.ensure_checklists(user):
        db.session.commit()  # the new versions' changes are numbered at commit, and this page must carry them
    page = sync.pull(user, args["cursor"], args["limit"])
    # Plain JSON values in PullAnswerSchema's shape (checked by the fuzz tests), as for push.
    return jsonify(dict(page, server_time=iso(page["server_time"])))


class SeqRange(fields.List):
    """[first, last]: a run of a device's sequence numbers."""

    def __init__(self, **kwargs):
        super().__init__(fields.Integer(strict=True, validate=validate.Range(min=1, max=2**53)),
                         validate=validate.Length(equal=2, error="a range is [first, last]"), **kwargs)


class HeldPhotoSchema(StrictSchema):
    id = fields.String(required=True, validate=validate.Regexp(UUID_PATTERN, error="must be a UUID"))
    sha256 = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-fA-F]{64}$", error="64 hex digits"))


class HeldArgs(StrictSchema):
    device_id = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_\-]{8,64}$", error="8-64 letters, digits, '-' or '_'"))
    seqs = fields.List(SeqRange(), load_default=list, validate=Length(max=5000),
                       metadata={"description": "[first, last] ranges of the device's unsent sequence numbers"})
    photos = fields.List(fields.Nested(HeldPhotoSchema), load_default=list, validate=Length(max=1000),
                         metadata={"description": "photos still to upload: id and SHA-256 of the bytes"})


class HeldMutationSchema(StrictSchema):
    seq = fields.Integer()
    mutation_id = fields.String()
    hash = fields.String(metadata={"description": "first 16 hex digits of the stored content hash (docs/sync.md, same content)"})
    status = fields.String(metadata={"description": "applied or rejected"})
    result = fields.Dict(metadata={"description": "applied: the first result, as a duplicate answer carries it"})
    code = fields.String()
    message = fields.String()
    details = fields.Dict()


class HeldAnswerSchema(StrictSchema):
    held = fields.List(fields.Nested(HeldMutationSchema))
    photo_ids = fields.List(fields.String(), metadata={"description": "photos already received with that SHA-256"})


@blp.route("/held", methods=["POST"])
@requires()
@blp.arguments(HeldArgs)
@blp.response(200, HeldAnswerSchema)
def held(body):
    """Which of my unsent records and photos the server already holds: send only the rest (writes nothing)."""
    return jsonify(sync.held(current_user(), body["device_id"], body["seqs"], body["photos"]))


@blp.route("/expected")
@requires()
@blp.response(200, ExpectedSchema)
def expected():
    """Photos my records name whose bytes the server has not received yet."""
    expected, unreadable = sync.photos_to_send(current_user())
    return {"photo_ids": expected, "unreadable": unreadable}
