"""Photos: upload the bytes a record names (idempotent, hash-checked), fetch them by size."""

import re

from flask import current_app, jsonify, request
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import select

from .. import choices, drawings, photos, sounds
from ..auth import authorize, current_user, requires, site_ids
from ..db_sqlite import reads_first, start_writing
from ..errors import ApiError
from ..extensions import db
from ..models import Photo
from ..storage import MissingObject, get_store
from ..problems import Problem
from .common import Length, StrictSchema, UtcDateTime
from .files import send_stored

blp = Blueprint("photos", __name__, url_prefix="/api/photos", description="Photos (docs/sync.md)")

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class PhotoSchema(StrictSchema):
    id = fields.String()
    site_id = fields.Integer(allow_none=True)
    visit_id = fields.String(allow_none=True)
    finding_id = fields.String(allow_none=True)
    task_id = fields.Integer(allow_none=True)
    purpose = fields.String(validate=validate.OneOf(choices.PHOTO_PURPOSES))
    status = fields.String(validate=validate.OneOf(choices.PHOTO_STATES), metadata={"description": "expected (named by a record, bytes not here yet), received, or unreadable (its upload could not be read: to be taken again)"})
    sha256 = fields.String(allow_none=True, metadata={"description": "SHA-256 of the bytes the phone sent: the evidence"})
    content_type = fields.String()
    size_bytes = fields.Integer()
    width = fields.Integer()
    height = fields.Integer()
    uploaded_by = fields.Integer(allow_none=True)
    created_at = UtcDateTime()
    received_at = UtcDateTime(allow_none=True)
    annotation = fields.Dict(allow_none=True, metadata={"description": "circles and arrows drawn over the photo, in 0..1 coordinates (PUT …/annotation); the bytes are the original"})


class PhotoListArgs(StrictSchema):
    site_id = fields.Integer()
    visit_id = fields.String(validate=Length(max=36))
    finding_id = fields.String(validate=Length(max=36))
    task_id = fields.Integer()
    status = fields.String(validate=validate.OneOf(choices.PHOTO_STATES))


class GetArgs(StrictSchema):
    size = fields.String(load_default="display", validate=validate.OneOf(photos.SIZES))


def _photo_id(photo_id: str) -> str:
    photo_id = photo_id.lower()
    if not UUID_RE.match(photo_id):
        raise ApiError(404, "Not found.", "not_found")
    return photo_id


@blp.route("/")
@requires("photo.read")
@blp.arguments(PhotoListArgs, location="query")
@blp.response(200, PhotoSchema(many=True))
def list_photos(args):
    """Photos of a record, with which ones are still expected (named but not uploaded)."""
    ids = site_ids(current_user())
    if "site_id" in args:
        authorize(args["site_id"], "photo.read")
        ids = [args["site_id"]]
    stmt = select(Photo).where(Photo.site_id.in_(ids))
    for key in ("visit_id", "finding_id", "task_id", "status"):
        if key in args:
            stmt = stmt.where(getattr(Photo, key) == args[key])
    return db.session.execute(stmt.order_by(Photo.created_at, Photo.id).limit(1000)).scalars().all()


@blp.route("/<photo_id>", methods=["PUT"])
@reads_first  # the login check and the reading of the image take no write lock (photos.upload takes it to write)
@requires()  # no role decides: the photo is expected from the person whose record names it (photos.upload)
@blp.doc(
    requestBody={"required": True, "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in (*photos.CONTENT_TYPES, *sounds.CONTENT_TYPES)}},
    parameters=[{"in": "header", "name": "X-Content-SHA256", "required": True, "schema": {"type": "string"}, "description": "hex SHA-256 of the body"}],
)
@blp.response(201, PhotoSchema, description="stored for the first time")
@blp.alt_response(200, schema=PhotoSchema, description="the same bytes were already stored")
def put_photo(photo_id):
    """Upload a photo's bytes; 201 the first time, 200 for the same bytes, 409 for different ones."""
    photo_id = _photo_id(photo_id)
    limit = current_app.config["MAX_PHOTO_BYTES"]
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, f"The photo is larger than {limit // (1024 * 1024)} MiB.", "photo_too_large")
    user = current_user()
    try:
        photo, created = photos.upload(user, photo_id, request.get_data(cache=False), request.content_type or "", request.headers.get("X-Content-SHA256", ""))
    except Problem as exc:
        if exc.code not in choices.PHOTO_UNREADABLE_CODES:
            raise
        # The refusal stands, and the photo's record keeps that it was unreadable.
        db.session.rollback()
        start_writing(db.session)
        if photos.mark_unreadable(user, photo_id) is not None:
            db.session.commit()
        raise
    # The answer is the row as flushed, read before the commit expires it (it would be read
    # again after): the same values the commit makes durable.
    answer = jsonify(_PHOTO.dump(photo))
    db.session.commit()
    return answer, 201 if created else 200


_PHOTO = PhotoSchema()  # one instance: a schema deep-copies its fields when made (400 uploads in a burst)


@blp.route("/<photo_id>/annotation", methods=["PUT"])
@requires("patrol.record")  # and only the person who took the photo draws on it (drawings.annotate)
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": {"type": "object", "example": {
    "shapes": [{"kind": "circle", "x": 0.42, "y": 0.31, "r": 0.12}, {"kind": "arrow", "x1": 0.1, "y1": 0.9, "x2": 0.38, "y2": 0.4}]}}}}})
@blp.response(200, PhotoSchema, description="kept (or the same drawing was already kept)")
def put_annotation(photo_id):
    """Keep the circle or arrow its author drew over a photo; the photo's bytes stay the original. Set once: another drawing is 409."""
    photo_id = _photo_id(photo_id)
    body = request.get_json(silent=True)
    if body is None:
        raise ApiError(400, "Send the drawing as a JSON object.", "bad_request")
    photo, _changed = drawings.annotate(current_user(), photo_id, body)
    db.session.commit()
    return photo


@blp.route("/<photo_id>")
@requires("photo.read")
@blp.arguments(GetArgs, location="query")
@blp.response(200, description="the JPEG")
def get_photo(args, photo_id):
    """The display copy (longest side 1600 px) or the thumbnail (320 px) of a photo."""
    photo = photos.get_for(current_user(), _photo_id(photo_id))
    if photo.copies_pending:
        # Not made by the worker yet: made now, so what is served is always the clean copy
        # (upright, no EXIF/GPS), never the original.
        photo = photos.copies_for(photo)
        db.session.commit()
        if photo.status != choices.PHOTO_RECEIVED:
            raise ApiError(404, "This photo could not be read; the phone will ask for it to be taken again.", "photo_not_received")
    if photos.is_sound(photo):
        # A sound clip: its bytes as recorded, whatever size was asked for.
        key, mimetype, etag = sounds.sound_key(photo.id), photo.content_type, photo.sha256
    else:
        key, mimetype, etag = photos.photo_key(photo.id, args["size"]), "image/jpeg", f"{photo.sha256}-{args['size']}"
    try:
        resp = send_stored(get_store("photos"), key, mimetype=mimetype, etag=etag, max_age=86400)
    except MissingObject:
        raise ApiError(404, "This photo's file is missing on the server.", "photo_not_received")
    resp.headers["Cache-Control"] = "private, max-age=86400, immutable"
    return resp
