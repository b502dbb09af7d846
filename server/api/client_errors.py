"""Errors the app met on a phone or a desk screen that nothing there could handle, written to
the server's log: without this, a patroller whose tap did nothing in a basement leaves no
trace anyone can find. Diagnostics, not records: nothing is stored in the database.

Each error is one log line of JSON (logger `patrol.client`), so what a page sends (its
message, its stack, text a person typed that ended up in one) stays data: no newline or
control character of it can start a line of its own. Each worker process logs at most
`CLIENT_ERRORS_PER_USER` errors per user in ten minutes; the rest are counted, not logged.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict, deque

from flask import current_app, request
from flask_smorest import Blueprint
from marshmallow import fields, validate

from ..auth import current_user, requires
from ..timeutil import iso
from .common import Length, StrictSchema, UtcDateTime

log = logging.getLogger("patrol.client")
blp = Blueprint("client_errors", __name__, url_prefix="/api/client-errors", description="Errors the app met, for the server's log")

WINDOW_S = 600
_seen: dict[int, deque] = defaultdict(deque)  # user id → times of the errors logged in the window
_lock = threading.Lock()


class ClientErrorSchema(StrictSchema):
    message = fields.String(required=True, validate=Length(min=1, max=500))
    stack = fields.String(load_default="", validate=Length(max=4000))
    screen = fields.String(load_default="", validate=Length(max=40), metadata={"description": "the app's screen when it happened"})
    at = UtcDateTime(load_default=None, metadata={"description": "the device's time when it happened"})
    count = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000), metadata={"description": "times the page met it"})
    app_version = fields.String(load_default="", validate=Length(max=40))


class ClientErrorsSchema(StrictSchema):
    errors = fields.List(fields.Nested(ClientErrorSchema), required=True, validate=Length(min=1, max=10))


class ClientErrorsLoggedSchema(StrictSchema):
    logged = fields.Integer(metadata={"description": "errors written to the log"})
    dropped = fields.Integer(metadata={"description": "errors over this user's allowance, counted and not logged"})


def _allowance(user_id: int, wanted: int, now: float) -> int:
    """How many of `wanted` errors this user may still log in this process's window."""
    limit = current_app.config["CLIENT_ERRORS_PER_USER"]
    with _lock:
        times = _seen[user_id]
        while times and times[0] <= now - WINDOW_S:
            times.popleft()
        take = max(0, min(wanted, limit - len(times)))
        times.extend([now] * take)
        return take


@blp.route("/", methods=["POST"])
@requires()
@blp.arguments(ClientErrorsSchema)
@blp.response(202, ClientErrorsLoggedSchema)
def report(body):
    """Errors a page of the app met: each becomes one line of the server's log."""
    user = current_user()
    errors = body["errors"]
    take = _allowance(user.id, len(errors), time.monotonic())
    agent = request.headers.get("User-Agent", "")[:300]
    for e in errors[:take]:
        log.warning("client error %s", json.dumps({
            "user_id": user.id, "username": user.username, "screen": e["screen"], "message": e["message"],
            "stack": e["stack"], "at": iso(e["at"]) if e["at"] else None, "count": e["count"],
            "app_version": e["app_version"], "user_agent": agent,
        }, ensure_ascii=False))
    if take < len(errors):
        log.warning("client errors dropped %s", json.dumps({"user_id": user.id, "dropped": len(errors) - take}))
    return {"logged": take, "dropped": len(errors) - take}
