"""Two people moving the same task at the same moment take turns (PostgreSQL row locks)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from server import tasks
from server.extensions import db
from server.problems import Problem
from server.models import AuditEvent, Extension, Task

from .conftest import PG_URL
from .support.tasks import finding, user

pytestmark = [pytest.mark.postgres_only, pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL: SQLite serialises writers")]


def _at_once(app, n: int, work) -> list:
    """Run `work(i)` in n threads, each with its own app context and session, released together."""
    barrier = threading.Barrier(n)
    outcomes: list = [None] * n

    def run(i):
        with app.app_context():
            barrier.wait()
            try:
                outcomes[i] = work(i)
                db.session.commit()
            except Problem as exc:
                db.session.rollback()
                outcomes[i] = exc.code
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_the_same_move_made_twice_at_once_is_one_event(app, demo):
    _, task = finding(demo)
    tasks.assign(task, actor=user("supervisor"), assignee_id=user("patroller").id)
    tasks.transition(task, actor=user("patroller"), to_state="in_progress")
    db.session.commit()
    task_id = task.id

    def work(i):
        actor = user("patroller") if i % 2 else user("supervisor")
        return tasks.transition(db.session.get(Task, task_id), actor=actor, to_state="done").state

    assert _at_once(app, 4, work) == ["done"] * 4
    db.session.expire_all()
    moves = db.session.execute(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.entity == "task", AuditEvent.entity_id == str(task_id), AuditEvent.action == "transition")
    ).scalar()
    assert moves == 3  # assigned, in progress, done: once


def test_two_extension_requests_at_once_leave_one_pending(app, demo):
    _, task = finding(demo)
    db.session.commit()
    task_id, due = task.id, task.due_at

    def work(i):
        t = db.session.get(Task, task_id)
        return tasks.request_extension(t, actor=user("supervisor"), requested_due_at=due + timedelta(days=i + 1), reason="rain").state

    outcomes = _at_once(app, 3, work)
    assert sorted(outcomes) == ["extension_pending", "extension_pending", "pending"]
    assert db.session.execute(select(func.count()).select_from(Extension)).scalar() == 1
