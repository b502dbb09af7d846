"""The audit trail: every change to findings, tasks, extensions and verifications, chained by hash."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from server import tasks
from server.extensions import db
from server.models import AuditEvent, Checkpoint, utcnow

from .test_tasks_support import finding, new_id, user, work_done


def _whole_workflow(site):
    """A finding through extension, a failed and a passed verification: every kind of event."""
    _, task = finding(site)
    ext = tasks.request_extension(task, actor=user("supervisor"), requested_due_at=task.due_at + timedelta(days=3), reason="rain")
    tasks.decide_extension(ext, actor=user("manager"), approve=True)
    tasks.add_comment(task, actor=user("patroller"), body="started")
    work_done(task)
    cp = db.session.get(Checkpoint, task.checkpoint_id)
    for result in ("fail", "pass"):
        if result == "pass":
            tasks.transition(task, actor=user("patroller"), to_state="done")
        visit = tasks.record_verify_visit(visit_id=new_id(), task=task, checkpoint=cp, user=user("supervisor"), scanned_at=utcnow(), scan_method="qr")
        tasks.verify_on_site(task, verification_id=new_id(), actor=user("supervisor"), visit=visit, result=result,
                             after_photo_ids=[new_id()], signatures={"verifier": new_id()})
    db.session.commit()
    return task


def test_every_change_to_findings_tasks_extensions_and_verifications_is_an_audit_event(demo):
    task = _whole_workflow(demo)
    events = db.session.execute(select(AuditEvent.entity, AuditEvent.action).order_by(AuditEvent.id)).all()
    entities = {e for e, _ in events}
    assert entities == {"finding", "task", "extension", "verification"}
    assert ("extension", "requested") in events and ("extension", "approved") in events
    assert ("task", "due_changed") in events and ("task", "commented") in events
    assert [a for e, a in events if e == "verification"] == ["recorded", "recorded"]
    assert task.state == "verified"


def test_audit_verify_passes_on_an_intact_database(demo, runner):
    _whole_workflow(demo)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "chain intact" in result.output, result.output


@pytest.mark.parametrize(
    "statement, reason",
    [
        ("UPDATE audit_events SET data = '{\"due_at\": \"2099-01-01\"}' WHERE id = 3", "edited"),
        ("DELETE FROM audit_events WHERE id = 3", "missing"),
    ],
)
def test_audit_verify_names_the_row_after_a_direct_database_edit(demo, runner, statement, reason):
    _whole_workflow(demo)
    db.session.execute(text(statement))
    db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "BROKEN at event 3:" in result.output and reason in result.output, result.output


def test_audit_verify_notices_a_deleted_last_event(demo, runner):
    _whole_workflow(demo)
    last = db.session.execute(select(AuditEvent.id).order_by(AuditEvent.id.desc())).scalars().first()
    db.session.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": last})
    db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and f"BROKEN at event {last}" in result.output, result.output
