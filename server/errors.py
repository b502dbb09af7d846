"""The API's one error shape, and the handlers that produce it for every error.

    {"error": {"status": 404, "code": "not_found", "message": "…", "details": {…}}}

Validation errors carry `details.fields`: field name → list of messages, and beside it
`details.field_errors`, the same structure with each message as `{"code", "message", "params"}`
so a client can word it in its reader's language (server/field_errors.py). The domain raises
`server.problems` (no HTTP in them); this module gives each kind its status. Views may
raise `ApiError`, a problem with an explicit status.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

from . import field_errors, problems
from .extensions import db
from .storage import StorageError

log = logging.getLogger(__name__)

CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "server_error",
    503: "unavailable",
}

# The HTTP status of each kind of domain problem (server/problems.py).
PROBLEM_STATUS = {
    problems.Invalid: 422,
    problems.Malformed: 400,
    problems.Unauthenticated: 401,
    problems.Forbidden: 403,
    problems.NotFound: 404,
    problems.Conflict: 409,
    problems.Gone: 410,
    problems.TooLarge: 413,
    problems.Unsupported: 415,
    problems.Throttled: 429,
    problems.Unavailable: 503,
}


class ApiError(problems.Problem):
    """A problem a view answers with an explicit HTTP status (the domain raises server.problems instead)."""

    def __init__(self, status: int, message: str, code: str | None = None, details: dict | None = None, headers: dict | None = None):
        super().__init__(message, code or CODES.get(status, "error"), details)
        self.status = status
        self.headers = headers or {}


def problem_status(exc: problems.Problem) -> int:
    """The HTTP status of a problem: its own for an ApiError, else its kind's."""
    if isinstance(exc, ApiError):
        return exc.status
    for cls in type(exc).__mro__:
        if cls in PROBLEM_STATUS:
            return PROBLEM_STATUS[cls]
    return 400


def problem_headers(exc: problems.Problem) -> dict:
    if isinstance(exc, ApiError):
        return exc.headers
    if isinstance(exc, problems.Throttled):
        return {"Retry-After": str(exc.retry_after)}
    return {}


class ErrorBodySchema(Schema):
    status = fields.Integer(required=True)
    code = fields.String(required=True)
    message = fields.String(required=True)
    details = fields.Dict()


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


def error_response(status: int, message: str, code: str | None = None, details: dict | None = None, headers: dict | None = None):
    body = {"status": status, "code": code or CODES.get(status, "error"), "message": message}
    details = field_errors.with_codes(details)
    if details:
        body["details"] = details
    resp = jsonify({"error": body})
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def _from_http_exception(exc: HTTPException):
    status = exc.code or 500
    details = {}
    # flask-smorest / webargs put marshmallow messages on exc.data["messages"].
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages") if isinstance(data, dict) else None
    if messages:
        # {"json": {"field": ["msg"]}} → {"fields": {"field": ["msg"]}}
        flat = {}
        for location, errs in messages.items():
            if isinstance(errs, dict):
                flat.update(errs)
            else:
                flat[location] = errs
        details["fields"] = flat
    message = {
        404: "Not found.",
        405: f"Method {request.method} is not allowed here.",
        413: "The request body is too large.",
    }.get(status, exc.description or exc.name)
    if status == 400 and details.get("fields", {}).get("json") == ["Invalid JSON body."]:
        return error_response(400, "The body is not valid JSON.", "bad_json")
    if status == 422 and messages:
        message = "Some fields are not valid: " + ", ".join(sorted(details["fields"]))
        # A body that is not JSON at all is a 400, not a field problem.
        json_errs = messages.get("json") if isinstance(messages, dict) else None
        if isinstance(json_errs, dict) and "_schema" in json_errs and any("Invalid input type" in m for m in json_errs["_schema"]):
            return error_response(400, "The body must be a JSON object.", "bad_json")
    headers = {}
    if status == 405 and exc.valid_methods if hasattr(exc, "valid_methods") else False:
        headers["Allow"] = ", ".join(exc.valid_methods)
    return error_response(status, message, CODES.get(status), details, headers)


def register(app: Flask) -> None:
    """Every error, API or not, answers in the one JSON shape."""

    @app.errorhandler(problems.Problem)
    def _problem(exc: problems.Problem):
        return error_response(problem_status(exc), exc.message, exc.code, exc.details, problem_headers(exc))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        return _from_http_exception(exc)

    @app.errorhandler(StorageError)
    def _storage_unavailable(exc: StorageError):
        # The bucket (or disk) failed, not the request: the phone keeps its record and retries.
        log.exception("file store error on %s %s", request.method, request.path)
        db.session.rollback()
        return error_response(503, "The file store cannot be reached; nothing was saved. Try again shortly.", "storage_unavailable",
                              headers={"Retry-After": "30"})

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        return error_response(500, "Something went wrong on the server; nothing was saved.", "server_error")
