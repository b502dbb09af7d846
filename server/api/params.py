"""Month and day parameters of the API: marshmallow fields that check through `server.months`."""

from __future__ import annotations

from marshmallow import ValidationError, fields

from .. import months
from ..problems import Invalid


def _metadata(kwargs: dict, rule: str, **extra) -> dict:
    """OpenAPI metadata: the rule joins the field's own description."""
    given = dict(kwargs.get("metadata", {}))
    description = f"{given.pop('description')}; {rule}" if "description" in given else rule
    return {**extra, "description": description, **given}


def _checked(parse, value, name: str):
    """Run the one validator; its field message becomes the schema's, so every endpoint says the same."""
    try:
        return parse(value, name)
    except Invalid as exc:
        raise ValidationError(exc.details["fields"][name]) from None


class Month(fields.String):
    """A site-local month, 'YYYY-MM' (months.parse_month)."""

    def __init__(self, **kwargs):
        kwargs["metadata"] = _metadata(kwargs, months.MONTH_RULE, pattern=f"^{months.MONTH_RE.pattern}$", example="2026-10")
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        return _checked(months.parse_month, value, self.data_key or attr)


class Day(fields.Date):
    """A site-local day, 'YYYY-MM-DD' (months.parse_day)."""

    def __init__(self, **kwargs):
        kwargs["metadata"] = _metadata(kwargs, months.DAY_RULE, example="2026-10-01")
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        return _checked(months.parse_day, value, self.data_key or attr)
