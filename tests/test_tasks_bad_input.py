"""Bad input to the task, finding, notification and webhook endpoints: a 4xx in the one error shape, nothing saved."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from server.extensions import db
from server.models import AuditEvent, Extension, Finding, Notification, Task, Verification, Visit, Webhook

from .support.api import error_of
from .support.ids import new_id
from .support.tasks import checkpoint, finding, work_done

HUGE = 10**12
NUL = "bad\x00text"


def _counts():
    return [db.session.execute(select(func.count()).select_from(m)).scalar() for m in (AuditEvent, Extension, Finding, Notification, Task, Verification, Visit, Webhook)]


@pytest.fixture
def setup(demo):
    _, open_task = finding(demo)
    _, done = finding(demo, "F02")
    work_done(done)
    return {"open": open_task.id, "done": done.id, "cp": checkpoint(demo).id, "site": demo.id}


# (method, url, body, the status and error code of the answer)
CASES = [
    ("get", "/api/tasks/?site_id={huge}", None, 422, "validation_error"),
    ("get", "/api/tasks/?assignee_id=-1", None, 422, "validation_error"),
    ("get", "/api/tasks/?from=2026-01-01", None, 422, "validation_error"),
    ("get", "/api/tasks/?per_page=100000", None, 422, "validation_error"),
    ("get", "/api/tasks/summary?site_id=abc", None, 422, "validation_error"),
    ("get", "/api/tasks/{huge}", None, 404, "not_found"),
    ("post", "/api/tasks/{open}/transition", {"to": "flying"}, 422, "validation_error"),
    ("post", "/api/tasks/{open}/transition", {"to": "done", "extra": 1}, 422, "validation_error"),
    ("post", "/api/tasks/{open}/transition", ["not", "an", "object"], 400, "bad_json"),
    ("post", "/api/tasks/{open}/assign", {"assignee_id": "{huge}"}, 422, "validation_error"),
    ("post", "/api/tasks/{open}/assign", {"assignee_id": 1, "department_id": "{huge}"}, 422, "validation_error"),
    ("post", "/api/tasks/{open}/route", {"route": "moon"}, 422, "validation_error"),
    ("post", "/api/tasks/{open}/cancel", {"reason": NUL}, 422, "validation_error"),
    ("post", "/api/tasks/{open}/comments", {"body": NUL}, 422, "validation_error"),
    ("post", "/api/tasks/{open}/comments", {"body": "ok", "photo_ids": ["x" * 37]}, 422, "validation_error"),
    ("post", "/api/tasks/{open}/extensions", {"requested_due_at": "9999-12-31T00:00:00Z", "reason": "far"}, 422, "due_too_far"),
    ("post", "/api/tasks/{open}/extensions", {"requested_due_at": "soon", "reason": "x"}, 422, "validation_error"),
    ("post", "/api/tasks/extensions/{huge}/decision", {"approve": True}, 404, "not_found"),
    ("patch", "/api/tasks/{open}/case", {"outcome": "won"}, 422, "validation_error"),
    ("post", "/api/tasks/{done}/verify", {"verification_id": "not-a-uuid", "code": "F02", "result": "pass", "signatures": {"verifier": "a"}}, 422, "validation_error"),
    ("post", "/api/tasks/{done}/verify", {"verification_id": "{uuid}", "code": NUL, "result": "pass", "signatures": {"verifier": "a"}}, 422, "validation_error"),
    ("post", "/api/tasks/{done}/verify", {"verification_id": "{uuid}", "code": "F02", "result": "maybe", "signatures": {"verifier": "a"}}, 422, "validation_error"),
    ("post", "/api/tasks/{done}/verify", {"verification_id": "{uuid}", "code": "F02", "result": "pass", "signatures": {"verifier": "a"}, "supervisor_id": "{huge}"}, 422, "validation_error"),
    ("post", "/api/tasks/{done}/verify", {"verification_id": "{uuid}", "code": "F02", "result": "pass", "after_photo_ids": ["p"], "signatures": {"verifier": "a"}, "supervisor_id": 999999}, 422, "validation_error"),
    ("post", "/api/findings/", {"checkpoint_id": "{huge}", "category": "cleanliness", "description": "x"}, 422, "validation_error"),
    ("post", "/api/findings/", {"checkpoint_id": "{cp}", "category": "cleanliness", "description": NUL}, 422, "validation_error"),
    ("post", "/api/findings/", {"checkpoint_id": "{cp}", "category": "cleanliness", "description": "x", "observed_at": "0001-01-01T00:00:00Z"}, 422, "validation_error"),
    ("post", "/api/findings/", {"checkpoint_id": "{cp}", "category": "cleanliness", "description": "x", "severity": "huge"}, 422, "validation_error"),
    ("get", "/api/findings/" + "x" * 300, None, 404, "not_found"),
    ("post", "/api/notifications/read", {"ids": ["{huge}"]}, 422, "validation_error"),
    ("post", "/api/webhooks/", {"site_id": "{site}", "url": "javascript:alert(1)"}, 422, "validation_error"),
    ("post", "/api/webhooks/", {"site_id": "{site}", "url": "https://x.example", "secret": NUL}, 422, "validation_error"),
    ("post", "/api/webhooks/deliveries/{huge}/retry", None, 404, "not_found"),
]


def _fill(value, ids):
    if isinstance(value, str):
        if value == "{huge}":
            return HUGE
        if value in ("{cp}", "{site}"):
            return ids[value[1:-1]]
        return value.replace("{uuid}", new_id())
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


@pytest.mark.parametrize("method, url, body, status, code", CASES, ids=[f"{c[0]} {c[1]} {i}" for i, c in enumerate(CASES)])
def test_bad_input_is_refused_with_its_4xx_and_saves_nothing(setup, as_role, method, url, body, status, code):
    client = as_role("manager") if "decision" in url else as_role("admin") if "webhooks" in url else as_role("supervisor")
    before = _counts()
    kw = {} if body is None else {"json": _fill(body, setup)}
    r = getattr(client, method)(url.format(huge=HUGE, **setup), **kw)
    assert r.status_code == status, (r.status_code, r.get_json())
    assert error_of(r)["code"] == code
    db.session.rollback()
    assert _counts() == before
