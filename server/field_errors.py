"""Stable codes for field problems, beside the messages (API: `details.field_errors`; a sync
push's `invalid_payload` rejection has the same).

`details.fields` keeps field name -> list of English messages (marshmallow's own words, or the
domain's). `details.field_errors` mirrors it with, for each message, `{"code", "message",
"params"}` so a client can say it in its reader's language: marshmallow's standard messages are
recognised here, in one place, from its message templates (the API's own validator messages
too); the domain's messages are `problems.FieldMessage`s that carry their code
(`Invalid.field(..., code=...)` or `field_code=...`), even when a marshmallow field passes them
on (server/api/params.py); and a sync payload's field checks (server/sync/fields.py) give theirs
as they find each problem. A message with no known code has none (`code` is null) and the client
shows the message as it is: tests/conftest.py fails any test in which a client gets one.
"""

from __future__ import annotations

import re

from .problems import FieldMessage

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
    ("field_nul", "Must not contain NUL characters."),  # server/api/common.py Str
    ("field_too_large", "Number too large."),
    ("field_invalid", "Not a valid {type}."),
    ("field_invalid", "Invalid value."),
    ("field_invalid", "Invalid input."),
    ("field_invalid", "Invalid type."),
    ("field_invalid", "Invalid input type."),
    ("field_invalid", "Special numeric values (nan or infinity) are not permitted."),
    ("field_invalid", '"{input}" cannot be formatted as a {type}.'),
    # The one month and day validator's own words (server/months.py), whichever path raised them.
    ("field_day", "YYYY-MM-DD with a year from {min} to {max}"),
    ("field_month", "YYYY-MM with a year from {min} to {max}"),
    ("field_days_at_most", "at most {max} days from `from`, both included"),
    # The API's own validator messages (server/api/*.py `error=`).
    ("field_username", "2-64 letters, digits, '.', '_' or '-'."),  # users.py
    ("field_site_code", "2-32 letters, digits, '-' or '_'."),  # sites.py
    ("field_pattern", "8-64 letters, digits, '-' or '_'"),  # sync.py device_id
    ("field_pattern", "64 hex digits"),  # sync.py sha256
    ("field_invalid", "must be a UUID"),  # sync.py
    ("field_invalid", "a range is [first, last]"),  # sync.py seqs
]


def _compile(template: str) -> re.Pattern:
    parts = re.split(r"\{(\w+)\}", template)
    rx = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
    return re.compile(f"^{rx}$", re.S)


PATTERNS = [(code, _compile(t)) for code, t in _TEMPLATES]

# The codes a sync payload's field checks give (server/sync/fields.py): the API's where the
# problem is the same, and a few of their own.
REQUIRED = "field_required"
INVALID = "field_invalid"  # params: type (uuid, integer, string, boolean, datetime, list, object)
TOO_LONG = "field_too_long"  # params: max (characters)
ONE_OF = "field_one_of"  # params: choices
NUL = "field_nul"
TOO_MANY = "field_too_many"  # params: max (entries of a list)
DUPLICATE = "field_duplicate"  # the same item or checkpoint given twice
FINDING_NOT_FAILED = "field_finding_not_failed"  # a finding on an item that did not fail
SYNC_CODES = (REQUIRED, INVALID, TOO_LONG, ONE_OF, NUL, TOO_MANY, DUPLICATE, FINDING_NOT_FAILED)

CODES = sorted({code for code, _ in _TEMPLATES} | set(SYNC_CODES))


def describe(message: str) -> dict:
    """One message -> {"code", "message", "params"} (code None when it is not a standard one)."""
    if isinstance(message, FieldMessage) and message.code:
        return {"code": message.code, "message": str(message), "params": dict(message.params)}
    for code, rx in PATTERNS:
        m = rx.match(message)
        if m:
            params = {k: v for k, v in m.groupdict().items() if k != "input"}
            return {"code": code, "message": message, "params": params}
    return {"code": None, "message": message, "params": {}}


def entry(code: str | None, message: str, **params) -> dict:
    """One described message, its parameters as text (as those read from a template are)."""
    return {"code": code, "message": message, "params": {k: str(v) for k, v in params.items()}}


def with_codes(details: dict | None) -> dict:
    """A problem's details with `field_errors` beside its `fields` (when it has fields and not
    already their description): each message described."""
    details = details or {}
    if not isinstance(details.get("fields"), dict) or "field_errors" in details:
        return details
    return {**details, "field_errors": annotate(details["fields"])}


def annotate(fields):
    """`details.fields` -> the same structure with each message described (nested dicts kept)."""
    if isinstance(fields, dict):
        return {k: annotate(v) for k, v in fields.items()}
    if isinstance(fields, (list, tuple)):
        return [annotate(v) for v in fields]
    if isinstance(fields, str):
        return describe(fields)
    return fields
