"""The audit trail: every change to findings, tasks, extensions and verifications, chained by hash."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from server import tasks
from server.extensions import db
from server.models import AuditEvent, Checkpoint, utcnow

from .support.ids import new_id

from .support.tasks import finding, user, work_done


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


def test_events_are_numbered_at_commit_and_a_rolled_back_savepoint_leaves_none(demo, runner):
    """Savepoints (one per sync mutation) neither take the counter nor keep what they undo."""
    from server import audit
    from server.models import Counter

    db.session.commit()
    counter = lambda: db.session.execute(select(Counter.value).where(Counter.name == "audit")).scalar() or 0  # noqa: E731
    before = counter()
    with db.session.begin_nested():
        audit.record("finding", "kept", "reported", actor_id=None, site_id=demo.id)
    # Released, not committed: nothing numbered yet, so the counter row is not locked.
    assert counter() == before
    with pytest.raises(RuntimeError):
        with db.session.begin_nested():
            audit.record("finding", "undone", "reported", actor_id=None, site_id=demo.id)
            raise RuntimeError("mutation rejected")
    audit.record("finding", "after", "reported", actor_id=None, site_id=demo.id)
    db.session.commit()
    rows = db.session.execute(select(AuditEvent.id, AuditEvent.entity_id).where(AuditEvent.id > before).order_by(AuditEvent.id)).all()
    assert [r.entity_id for r in rows] == ["kept", "after"]
    assert [r.id for r in rows] == [before + 1, before + 2]
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "chain intact" in result.output, result.output


def test_the_chain_verifies_after_a_push_with_rejected_records_among_findings(demo, as_role, runner):
    """One event per finding and task of the records that applied, none of the rejected ones."""
    from .support.phone import Phone

    phone = Phone(as_role("patroller"), demo.id)
    major = phone.visit("F01", fail=(0,))
    major["payload"]["results"][0]["finding"]["severity"] = "major"
    bad_item = phone.visit("F02", fail=(0,))
    bad_item["payload"]["results"][1]["item_id"] = "floor.no_such_item"
    spot = phone.visit("F03", fail=(1,), extra=[{"finding_id": new_id(), "category": "cleanliness", "route": "department_work",
                                                  "description": "垃圾 rubbish", "dealt_on_spot": True, "spot_note": "cleared"}])
    bad_task = phone.mutation("task.transition", {"task_id": 987654, "to": "done"})
    results = phone.push_ok([major, bad_item, spot, bad_task, phone.visit("F04", fail=(0,))])
    assert [r["status"] for r in results] == ["applied", "rejected", "applied", "rejected", "applied"]
    applied = [r["result"] for r in results if r["status"] == "applied"]
    events = db.session.execute(select(AuditEvent.entity, AuditEvent.entity_id, AuditEvent.action)).all()
    assert sorted(e[1] for e in events if e[0] == "finding") == sorted(f for r in applied for f in r["finding_ids"])
    assert sorted(int(e[1]) for e in events if e[2] == "opened") == sorted(t for r in applied for t in r["task_ids"])
    assert len(events) == 4 + 3
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "7 events, chain intact" in result.output, result.output


@pytest.mark.parametrize("entity,entity_id,action,actor_id,site_id,data", [
    ("task", 7, "opened", 3, 1, {"due_at": "2026-12-10T00:00:00", "route": "facility_repair"}),
    ("finding", "0b4e…", "reported", None, None, {}),
    # Text a person typed, with quotes, backslashes, control characters, Chinese and an emoji.
    ('ent"ity', 'id\\with"quotes\n', "动作\u2028", 2**40, 0, {"description": "灯不亮 \"坏了\"\t\\ \U0001F6A8", "n": [1, None, True]}),
])
def test_the_hash_written_at_commit_is_the_one_verify_recomputes(entity, entity_id, action, actor_id, site_id, data):
    """The push path writes each event's hash from its pre-serialised data and a hand-written head
    (audit._digest_with); `verify` recomputes it with one json.dumps (audit._digest). They must
    agree byte for byte on any text, or every chain written in bulk would read as edited."""
    from server import audit

    at = utcnow()
    prev = "ab" * 32
    assert audit._digest_with(audit._dumps(data), prev, 41, site_id, entity, str(entity_id), action, actor_id, at) == \
        audit._digest(prev, 41, site_id, entity, entity_id, action, actor_id, at, data)
