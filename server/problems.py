"""What the domain raises when a request cannot be carried out, without knowing about HTTP.

Domain modules raise these; `server.errors` maps each kind to its HTTP status and the
API's one error shape. `code` is the machine-readable reason clients switch on, and
`details` may carry `fields` (field name -> list of messages) for bad input; each message a
`FieldMessage`, which knows its own stable code (server/field_errors.py describes it for clients).
"""

from __future__ import annotations


class FieldMessage(str):
    """A field's message for people that carries its stable code and the code's parameters,
    wherever the message is passed on (a marshmallow error, a sync rejection): the client says
    it in its reader's language from `err_<code>` (server/field_errors.py, `details.field_errors`)."""

    def __new__(cls, message: str, code: str | None = None, **params):
        self = super().__new__(cls, message)
        self.code = code
        self.params = {k: str(v) for k, v in params.items()}
        return self


class Problem(Exception):
    """Base class: a message for people, a stable code for programs, optional details."""

    default_code = "problem"

    def __init__(self, message: str, code: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details = details or {}


class Invalid(Problem):
    """The input breaks a rule (a missing reason, an unknown route, a bad month)."""

    default_code = "validation_error"

    @classmethod
    def field(cls, name: str, message: str, summary: str | None = None, code: str | None = None, *,
              field_code: str | None = None, **params) -> "Invalid":
        """A problem with one field. The field's message has a code of its own: `field_code`, or
        the problem's `code` (its `err_<code>` sentence says it); `params` fill the sentence."""
        message = FieldMessage(message, field_code or code, **params)
        return cls(summary or f"{name}: {message}", code, {"fields": {name: [message]}})


class Malformed(Problem):
    """The request itself cannot be read (a damaged upload, a missing integrity header)."""

    default_code = "bad_request"


class Unauthenticated(Problem):
    default_code = "unauthenticated"


class Forbidden(Problem):
    """The person may not do this (policy.require raises it)."""

    default_code = "forbidden"


class NotFound(Problem):
    default_code = "not_found"


class Conflict(Problem):
    """The request contradicts what is stored (a closed task, a sealed month, an id reused)."""

    default_code = "conflict"


class Gone(Problem):
    default_code = "gone"


class TooLarge(Problem):
    default_code = "too_large"


class Unsupported(Problem):
    """A media type the server does not take."""

    default_code = "unsupported_media_type"


class Throttled(Problem):
    default_code = "too_many_requests"

    def __init__(self, message: str, code: str | None = None, details: dict | None = None, retry_after: int = 60):
        super().__init__(message, code, details)
        self.retry_after = retry_after


class Unavailable(Problem):
    """Something the server needs is missing (a font, a writable archive directory)."""

    default_code = "unavailable"
