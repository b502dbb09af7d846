"""Stable codes for field problems, beside the messages (API: `details.field_errors`).

`details.fields` keeps field name -> list of English messages (marshmallow's own words, or the
domain's). `details.field_errors` mirrors it with, for each message, `{"code", "message",
"params"}` so a client can say it in its reader's language: marshmallow's standard messages are
recognised here, in one place, from its message templates; a domain rule raised with
`Invalid.field(..., code=...)` gives its own code. A message with no known code has none
(`code` is null) and the client shows the message as it is.
"""

from __future__ import annotations

import re

# (code, template): {name} captures a parameter; the rest must match exactly. Marshmallow 4's
# default messages (fields' default_error_messages, validate.Length/Range/OneOf/...).
_TEMPLATES = [
    ("field_required", "Missing data for required field."),
    ("field_null", "Field may not be null."),
    ("field_unknown", "Unknown field."),
    ("field_length_between", "Length must be between {min} and {max}."),
    ("field_length_equal", "Length must be {equal}."),
    ("field_too_long", "Longer than maximum length {max}."),
    ("field_too_short", "Shorter than minimum length {min}."),
    ("field_between", "Must be greater than or equal to {min} and less than or equal to {max}."),
    ("field_min", "Must be greater than or equal to {min}."),
    ("field_above", "Must be greater than {min}."),
    ("field_max", "Must be less than or equal to {max}."),
    ("field_below", "Must be less than {max}."),
    ("field_one_of", "Must be one of: {choices}."),
    ("field_pattern", "String does not match expected pattern."),
    ("field_too_large", "Number too large."),
    ("field_invalid", "Not a valid {type}."),
    ("field_invalid", "Invalid value."),
    ("field_invalid", "Invalid input."),
    ("field_invalid", "Invalid type."),
    ("field_invalid", "Invalid input type."),
    ("field_invalid", "Special numeric values (nan or infinity) are not permitted."),
    ("field_invalid", '"{input}" cannot be formatted as a {type}.'),
]


def _compile(template: str) -> re.Pattern:
    parts = re.split(r"\{(\w+)\}", template)
    rx = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
    return re.compile(f"^{rx}$", re.S)


PATTERNS = [(code, _compile(t)) for code, t in _TEMPLATES]
CODES = sorted({code for code, _ in _TEMPLATES})


def describe(message: str) -> dict:
    """One message -> {"code", "message", "params"} (code None when it is not a standard one)."""
    for code, rx in PATTERNS:
        m = rx.match(message)
        if m:
            params = {k: v for k, v in m.groupdict().items() if k != "input"}
            return {"code": code, "message": message, "params": params}
    return {"code": None, "message": message, "params": {}}


def annotate(fields):
    """`details.fields` -> the same structure with each message described (nested dicts kept)."""
    if isinstance(fields, dict):
        return {k: annotate(v) for k, v in fields.items()}
    if isinstance(fields, (list, tuple)):
        return [annotate(v) for v in fields]
    if isinstance(fields, str):
        return describe(fields)
    return fields
