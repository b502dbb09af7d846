"""Every status an operation can answer, in the OpenAPI document: derived from how each view is guarded, plus a table.

flask-smorest documents what a view declares (its success and, with arguments, 422).
The rest follows from the rules every view obeys, so it is derived, not repeated per view:
- a view behind `requires` answers 401 without a session, and 403 when the role does not
  allow the action, or (a write) without the CSRF header;
- a path with an id answers 404 for what does not exist or is not the user's to see;
- a request with a body answers 413 when it is larger than MAX_BODY_MB;
- a write answers 409 when the record's state forbids the change (sealed month, a task
  already closed, a duplicate).
`EXTRA` lists what only some operations answer. tests/test_fuzz.py checks with
schemathesis that no operation answers a status this document does not list.
"""

from __future__ import annotations

from flask import Flask

from ..errors import ErrorSchema

NAMES = {
    401: ("UNAUTHORIZED", "Not logged in, or the session ended."),
    403: ("FORBIDDEN", "Your role does not allow this, or the X-CSRF-Token header is missing or wrong."),
    404: ("NOT_FOUND", "No such record, or not at a site of yours."),
    409: ("CONFLICT", "The record's state does not allow this now (e.g. its month is sealed)."),
    410: ("GONE", "What this named is gone for good (a replaced label, a purged file, a reset sync cursor)."),
    413: ("PAYLOAD_TOO_LARGE", "The request, photo or push is larger than allowed."),
    415: ("UNSUPPORTED_MEDIA_TYPE", "The body is not in a format this operation takes."),
    429: ("TOO_MANY_REQUESTS", "Too many failed logins; try again later (Retry-After)."),
    503: ("SERVICE_UNAVAILABLE", "Something the server needs is missing (the Chinese font, a writable archive folder, disk space)."),
}
WRITES = {"post", "put", "patch", "delete"}

# (method, path) → statuses only this operation answers, beyond the derived ones.
EXTRA = {
    ("post", "/api/auth/login"): {401, 415, 429},
    ("get", "/api/checkpoints/resolve"): {404, 409, 410},
    ("get", "/api/sites/{site_id}/labels.pdf"): {503},
    ("post", "/api/sites/{site_id}/checkpoints.csv"): {415},
    ("put", "/api/photos/{photo_id}"): {409, 413, 415},
    ("post", "/api/sync/push"): {409, 413},
    ("post", "/api/sync/held"): {409, 413},
    ("get", "/api/sync/pull"): {410},
    ("post", "/api/archive/sites/{site_id}/months/{month}/seal"): {503},
    ("post", "/api/archive/sites/{site_id}/months/{month}/build"): {503},
    ("get", "/api/archive/sites/{site_id}/months/{month}/bundle"): {410},
    ("get", "/api/archive/sites/{site_id}/months/{month}/record.pdf"): {410},
}


def _policy(app: Flask, endpoint: str, method: str) -> dict:
    view = app.view_functions[endpoint]
    cls = getattr(view, "view_class", None)
    fn = getattr(cls, method, None) if cls is not None else view
    return getattr(fn, "_patrol_policy", {}) or {}


def document(app: Flask, api) -> None:
    """Add the derived and listed error statuses to every operation of the API's OpenAPI document."""
    for status, (name, description) in NAMES.items():
        api.spec.components.response(name, {"description": description, "content": {"application/json": {"schema": ErrorSchema}}})
    paths = api.spec._paths  # apispec keeps the document's paths here until it is served
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint not in app.view_functions:
            continue
        path = rule.rule
        for conv in rule.arguments:
            path = path.replace(f"<int:{conv}>", f"{{{conv}}}").replace(f"<{conv}>", f"{{{conv}}}")
        ops = paths.get(path)
        if not ops:
            continue
        for method in (m.lower() for m in rule.methods - {"HEAD", "OPTIONS"}):
            op = ops.get(method)
            if op is None:
                continue
            statuses = set(EXTRA.get((method, path), ()))
            policy = _policy(app, rule.endpoint, method)
            if not policy.get("public"):
                statuses |= {401, 403}
            if rule.arguments:
                statuses.add(404)
            if method in WRITES:
                statuses.add(413)
                if not policy.get("public"):
                    statuses.add(409)
            responses = op.setdefault("responses", {})
            if not any(str(k).startswith("2") for k in responses):
                responses["200"] = {"description": "The file."}  # views that send a file declare no schema
            for status in sorted(statuses):
                responses.setdefault(str(status), {"$ref": f"#/components/responses/{NAMES[status][0]}"})
