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


CASES = [
    ("get", "/api/tasks/?site_id={huge}", None),
    ("get", "/api/tasks/?assignee_id=-1", None),
    ("get", "/api/tasks/?from=2026-01-01", None),
    ("get", "/api/tasks/?per_page=100000", None),
    ("get", "/api/tasks/summary?site_id=abc", None),
    ("get", "/api/tasks/{huge}", None),
    ("post", "/api/tasks/{open}/transition", {"to": "flying"}),
    ("post", "/api/tasks/{open}/transition", {"to": "done", "extra": 1}),
    ("post", "/api/tasks/{open}/transition", ["not", "an", "object"]),
    ("post", "/api/tasks/{open}/assign", {"assignee_id": "{huge}"}),
    ("post", "/api/tasks/{open}/assign", {"assignee_id": 1, "department_id": "{huge}"}),
    ("post", "/api/tasks/{open}/route", {"route": "moon"}),
    ("post", "/api/tasks/{open}/cancel", {"reason": NUL}),
    ("post", "/api/tasks/{open}/comments", {"body": NUL}),
    ("post", "/api/tasks/{open}/comments", {"body": "ok", "photo_ids": ["x" * 37]}),
    ("post", "/api/tasks/{open}/extensions", {"requested_due_at": "9999-12-31T00:00:00Z", "reason": "far"}),
    ("post", "/api/tasks/{open}/extensions", {"requested_due_at": "soon", "reason": "x"}),
    ("post", "/api/tasks/extensions/{huge}/decision", {"approve": True}),
    ("patch", "/api/tasks/{open}/case", {"outcome": "won"}),
    ("post", "/api/tasks/{done}/verify", {"verification_id": "not-a-uuid", "code": "F02", "result": "pass", "signatures": {"verifier": "a"}}),
    ("post", "/api/tasks/{done}/verify", {"verification_id": "{uuid}", "code": NUL, "result": "pass", "signatures": {"verifier": "a"}}),
    ("post", "/api/tasks/{done}/verify", {"verification_id": "{uuid}", "code": "F02", "result": "maybe", "signatures": {"verifier": "a"}}),
    ("post", "/api/tasks/{done}/verify", {"verification_id": "{uuid}", "code": "F02", "result": "pass", "signatures": {"verifier": "a"}, "supervisor_id": "{huge}"}),
    ("post", "/api/tasks/{done}/verify", {"verification_id": "{uuid}", "code": "F02", "result": "pass", "after_photo_ids": ["p"], "signatures": {"verifier": "a"}, "supervisor_id": 999999}),
    ("post", "/api/findings/", {"checkpoint_id": "{huge}", "category": "cleanliness", "description": "x"}),
    ("post", "/api/findings/", {"checkpoint_id": "{cp}", "category": "cleanliness", "description": NUL}),
    ("post", "/api/findings/", {"checkpoint_id": "{cp}", "category": "cleanliness", "description": "x", "observed_at": "0001-01-01T00:00:00Z"}),
    ("post", "/api/findings/", {"checkpoint_id": "{cp}", "category": "cleanliness", "description": "x", "severity": "huge"}),
    ("get", "/api/findings/" + "x" * 300, None),
    ("post", "/api/notifications/read", {"ids": ["{huge}"]}),
    ("post", "/api/webhooks/", {"site_id": "{site}", "url": "javascript:alert(1)"}),
    ("post", "/api/webhooks/", {"site_id": "{site}", "url": "https://x.example", "secret": NUL}),
    ("post", "/api/webhooks/deliveries/{huge}/retry", None),
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


@pytest.mark.parametrize("method, url, body", CASES, ids=[f"{m} {u} {i}" for i, (m, u, _) in enumerate(CASES)])
def test_bad_input_is_refused_with_a_4xx_and_saves_nothing(setup, as_role, method, url, body):
    client = as_role("manager") if "decision" in url else as_role("admin") if "webhooks" in url else as_role("supervisor")
    before = _counts()
    kw = {} if body is None else {"json": _fill(body, setup)}
    r = getattr(client, method)(url.format(huge=HUGE, **setup), **kw)
    assert 400 <= r.status_code < 500, (r.status_code, r.get_json())
    error_of(r)
    db.session.rollback()
    assert _counts() == before
