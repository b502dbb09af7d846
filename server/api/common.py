"""Pieces every resource module uses: base schema, pagination, serialising times."""

from __future__ import annotations

from datetime import timezone

from marshmallow import RAISE, Schema, fields, validate

from ..timeutil import iso  # noqa: F401  (re-exported for resource modules)


class StrictSchema(Schema):
    """Unknown fields are an error, not silently dropped."""

    class Meta:
        unknown = RAISE


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
    from sqlalchemy import func, select

    total = db.session.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar()
    per = args["per_page"]
    items = db.session.execute(stmt.limit(per).offset((args["page"] - 1) * per)).scalars().all()
    return items, {"page": args["page"], "per_page": per, "total": total}
