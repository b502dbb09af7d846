"""Pieces every resource module uses: base schema, bounded ids and text, pagination, serialising times."""

from __future__ import annotations

from datetime import timezone

from marshmallow import RAISE, Schema, ValidationError, fields, validate
from sqlalchemy import func, select

from ..problems import FieldMessage
from ..timeutil import iso

# Ids are 32-bit in PostgreSQL: a larger number is simply not an id (422, never a 500).
MAX_ID = 2**31 - 1


class StrictSchema(Schema):
    """Unknown fields are an error, not silently dropped."""

    class Meta:
        unknown = RAISE


def Id(**kw) -> fields.Integer:
    """An integer key: out-of-range numbers are a 422 here, not a database error."""
    return fields.Integer(validate=validate.Range(min=1, max=MAX_ID), **kw)


class Length(validate.Length):
    """validate.Length, saying what is wrong in words each reader's language has.

    Nothing where something is required (an empty text, text of spaces only unless `spaces`
    counts them, an empty list) is `field_required`, not "Length must be between 1 and 120";
    a list too long counts entries (`field_too_many`), not characters.
    """

    def __init__(self, min=None, max=None, *, equal=None, error=None, spaces: bool = False):
        super().__init__(min=min, max=max, equal=equal, error=error)
        self.spaces = spaces

    def __call__(self, value):
        blank = isinstance(value, str) and not self.spaces and not value.strip()
        if self.min and (len(value) == 0 or blank):
            raise ValidationError(FieldMessage("Required: must not be empty.", "field_required"))
        if not isinstance(value, str) and self.max is not None and len(value) > self.max:
            raise ValidationError(FieldMessage(f"At most {self.max} entries.", "field_too_many", max=self.max))
        return super().__call__(value)


class Str(fields.String):
    """Text without NUL characters, which PostgreSQL cannot store or compare."""

    default_error_messages = {"nul": "Must not contain NUL characters."}

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise self.make_error("nul")
        return text


def Text(max_len: int, min_len: int = 0, **kw) -> Str:
    """Free text: bounded, and without NUL characters."""
    return Str(validate=Length(min=min_len, max=max_len), **kw)


class PageArgs(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class UtcDateTime(fields.DateTime):
    """Serialises naive UTC as ISO with Z; loads any offset and converts to naive UTC."""

    def _serialize(self, value, attr, obj, **kwargs):
        return iso(value)

    def _deserialize(self, value, attr, data, **kwargs):
        dt = super()._deserialize(value, attr, data, **kwargs)
        if dt.tzinfo is None:
            raise self.make_error("invalid", input=value, obj_type="datetime with a timezone offset")
        return dt.astimezone(timezone.utc).replace(tzinfo=None)


def page(stmt, args, db):
    """Run a paginated select; returns (items, meta)."""
    total = db.session.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar()
    per = args["per_page"]
    items = db.session.execute(stmt.limit(per).offset((args["page"] - 1) * per)).scalars().all()
    return items, {"page": args["page"], "per_page": per, "total": total}


class EventSchema(StrictSchema):
    """One audit-chain event of a record, as a task's or a complaint's history shows it."""

    id = fields.Integer()
    entity = fields.String()
    entity_id = fields.String()
    action = fields.String()
    actor_id = fields.Integer(allow_none=True)
    actor_name = fields.String()
    at = UtcDateTime()
    data = fields.Dict()
