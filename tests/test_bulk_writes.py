"""The bulk writes a sync push goes through (server/extensions.py insert_rows / insert_tuples),
and the two look-ups of a push that must stay on their indexes as a site's history grows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, insert, select, text
from sqlalchemy.exc import IntegrityError

from server.changes import record_change
from server.extensions import db, insert_rows
from server.models import Change
from server.tasks.repeats import plan_repeats

CHANGES = Change.__table__


def _change(cursor: int, entity_id: str, at: datetime) -> dict:
    return {"cursor": cursor, "site_id": None, "user_id": None, "entity": "bulk-test", "entity_id": entity_id, "op": "upsert", "at": at}


def test_bulk_rows_are_stored_as_core_stores_them(app):
    """Times written in bulk compare with times written by SQLAlchemy (on SQLite they are text,
    compared as text by every range query), whole seconds and microseconds alike."""
    whole = datetime(2026, 12, 3, 8, 0, 0)
    fine = datetime(2026, 12, 3, 8, 0, 0, 123)
    insert_rows(CHANGES, [_change(900001, "bulk-whole", whole), _change(900002, "bulk-fine", fine)])
    db.session.execute(insert(CHANGES), [_change(900003, "core-whole", whole), _change(900004, "core-fine", fine)])
    stored = dict(db.session.execute(text("SELECT entity_id, CAST(at AS TEXT) FROM changes WHERE entity = 'bulk-test'")).all())
    assert stored["bulk-whole"] == stored["core-whole"]
    assert stored["bulk-fine"] == stored["core-fine"]
    # Read back through the model, the same instants.
    rows = dict(db.session.execute(select(Change.entity_id, Change.at).where(Change.entity == "bulk-test")).all())
    assert rows["bulk-whole"] == whole and rows["bulk-fine"] == fine
    # An aware time is stored as SQLAlchemy stores it too (its offset dropped, as Core does).
    aware = datetime(2026, 12, 3, 8, 0, 0, 5, tzinfo=timezone.utc)
    insert_rows(CHANGES, [_change(900005, "bulk-aware", aware)])
    db.session.execute(insert(CHANGES), [_change(900006, "core-aware", aware)])
    stored = dict(db.session.execute(text("SELECT entity_id, CAST(at AS TEXT) FROM changes WHERE entity = 'bulk-test'")).all())
    assert stored["bulk-aware"] == stored["core-aware"]


def test_a_taken_key_in_a_bulk_write_fails_as_an_insert_would_and_undoes_only_its_savepoint(app):
    """On PostgreSQL the rows go by COPY: a duplicate key must still be an IntegrityError (the
    push engine replays a failed run mutation by mutation on it), and roll back its savepoint only."""
    at = datetime(2026, 12, 3, 8, 0, 0)
    insert_rows(CHANGES, [_change(900101, "kept", at)])
    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            insert_rows(CHANGES, [_change(900102, "new", at), _change(900101, "clash", at)])
    left = db.session.execute(select(Change.entity_id).where(Change.entity == "bulk-test")).scalars().all()
    assert left == ["kept"]
    db.session.commit()
    assert db.session.execute(select(Change.entity_id).where(Change.entity == "bulk-test")).scalars().all() == ["kept"]


def _statements_of(fn) -> list[tuple[str, object]]:
    seen = []

    def listen(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    engine = db.engine
    event.listen(engine, "before_cursor_execute", listen)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    return seen


def _plan(statement: str, parameters) -> str:
    """SQLite's plan for a statement as the driver received it."""
    return " / ".join(str(row[-1]) for row in db.session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all())


def test_a_push_finds_earlier_failures_and_earlier_changes_along_their_indexes(app, demo):
    """Repeat detection reads the failures near a push's, and the pull log drops each entity's
    previous row: both by index search, never by scanning the table (a row-value IN makes SQLite
    scan), since two years of a site's findings and changes stay in those tables."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the query plan checked is SQLite's; PostgreSQL plans by its statistics")
    now = datetime(2026, 12, 3, 8, 0, 0)
    findings = [{"id": f"f{n}", "site_id": demo.id, "checkpoint_id": 100 + n, "item_id": f"floor.item{n}", "observed_at": now - timedelta(hours=n)}
                for n in range(3)]
    repeat_reads = [s for s in _statements_of(lambda: plan_repeats(findings)) if s[0].lstrip().upper().startswith("SELECT")]
    assert repeat_reads, "plan_repeats read nothing"
    for statement, parameters in repeat_reads:
        plan = _plan(statement, parameters)
        assert "USING INDEX ix_findings_checkpoint_item_observed" in plan and "SCAN findings" not in plan, plan

    def commit_changes():
        for n in range(3):
            record_change("task", 800000 + n, site_id=demo.id)
        record_change("checkpoint", 800100, site_id=demo.id)
        db.session.commit()

    deletes = [s for s in _statements_of(commit_changes) if s[0].lstrip().upper().startswith("DELETE FROM CHANGES")]
    assert deletes, "the pull log dropped no previous rows"
    for statement, parameters in deletes:
        plan = _plan(statement, parameters)
        assert "SEARCH changes USING" in plan and "(entity=? AND entity_id=?)" in plan and "SCAN changes" not in plan, plan


def test_notices_written_in_bulk_skip_the_ones_already_there(app, demo):
    """add_notices: one notice per (user, dedupe key); a replay adds nothing, a new key is added,
    and the data a person typed comes back as it went in (on PostgreSQL, one INSERT of arrays)."""
    from server.models import Notification, User
    from server.notifications import add_notices

    users = db.session.execute(select(User.id).order_by(User.id).limit(2)).scalars().all()
    typed = {"description": "灯不亮 \"坏了\"\t\\N \U0001F6A8", "n": [1, None]}
    first = [{"user_id": u, "site_id": demo.id, "kind": "test", "task_id": None, "data": typed, "dedupe_key": f"bulk:{n}"}
             for n, u in enumerate(users)]
    assert add_notices(first) == 2
    again = first + [{"user_id": users[0], "site_id": demo.id, "kind": "test", "task_id": None, "data": {}, "dedupe_key": "bulk:new"}]
    assert add_notices(again) == 1
    db.session.commit()
    stored = db.session.execute(select(Notification.user_id, Notification.dedupe_key, Notification.data)
                                .where(Notification.dedupe_key.like("bulk:%")).order_by(Notification.dedupe_key)).all()
    assert [(u, k) for u, k, _d in stored] == [(users[0], "bulk:0"), (users[1], "bulk:1"), (users[0], "bulk:new")]
    assert stored[0][2] == typed and stored[2][2] == {}


def _tables_read(statements) -> list[str]:
    out = []
    for statement, _ in statements:
        words = " ".join(statement.split()).upper()
        if words.startswith("SELECT") and " FROM " in words:
            out.append(words.split(" FROM ", 1)[1].split()[0].strip('"'))
    return out


def test_a_push_reads_all_its_checklist_versions_at_once_and_a_resend_reads_none_of_its_records(as_role, demo):
    """Visits of five kinds of checkpoint: the versions they name are read in one query (their
    bodies once per process); the same push sent again (its answer was lost) is answered from
    the stored mutations alone, without looking up visits, rounds, photos, roles or checklists."""
    from .support.phone import Phone

    phone = Phone(as_role("patroller"), demo.id)
    kinds = ("LOBBY", "PB1", "F01", "EL1", "PLAZA", "U0801")
    phone.push_ok([phone.visit(code) for code in kinds])  # the bodies are cached from here on
    six_kinds = _statements_of(lambda: phone.push_ok([phone.visit(code, fail=(0,) if code == "F01" else ()) for code in kinds]))
    one_kind = _statements_of(lambda: phone.push_ok([phone.visit("F02") for _ in kinds]))
    assert _tables_read(six_kinds).count("CHECKLIST_VERSIONS") == _tables_read(one_kind).count("CHECKLIST_VERSIONS") > 0
    fresh = [phone.visit(code) for code in ("LOBBY", "PB2", "F03", "EL2", "PLAZA", "U1003")]
    phone.push_ok(fresh)
    resent = _statements_of(lambda: [r["status"] for r in phone.push_ok(fresh)] == ["duplicate"] * len(fresh) or pytest.fail("not duplicates"))
    read = set(_tables_read(resent))
    assert read & {"VISITS", "ROUNDS", "PHOTOS", "MEMBERSHIPS", "CHECKPOINTS", "CHECKLIST_VERSIONS", "SITES"} == set(), read
    assert "MUTATIONS" in read
