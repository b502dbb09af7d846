"""Acknowledged means durable: the database connection that commits a push waits for the disk
(SQLite synchronous=FULL in WAL mode; PostgreSQL synchronous_commit on), on every connection."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import event, select

from server.extensions import db
from server.models import Checkpoint, Visit

SQLITE_FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


def durability_of(dbapi_conn, dialect: str) -> dict:
    """What the raw driver connection reports about how it commits."""
    cur = dbapi_conn.cursor()
    try:
        if dialect == "sqlite":
            out = {}
            for name in ("synchronous", "journal_mode", "foreign_keys", "busy_timeout"):
                cur.execute(f"PRAGMA {name}")
                out[name] = cur.fetchone()[0]
            return out
        cur.execute("SHOW synchronous_commit")
        return {"synchronous_commit": cur.fetchone()[0]}
    finally:
        cur.close()


def assert_durable(report: dict, dialect: str) -> None:
    if dialect == "sqlite":
        assert report == {"synchronous": SQLITE_FULL, "journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 30000}, report
    else:
        assert report == {"synchronous_commit": "on"}, report


def test_every_pooled_connection_commits_durably(app):
    engine = db.engine
    dialect = engine.dialect.name
    # Several connections held at once are several driver connections, each set up on connect.
    held = [engine.connect() for _ in range(3)]
    try:
        raw = {id(c.connection.dbapi_connection): c.connection.dbapi_connection for c in held}
        assert len(raw) == 3
        for dbapi_conn in raw.values():
            assert_durable(durability_of(dbapi_conn, dialect), dialect)
    finally:
        for c in held:
            c.close()
    # And a connection made after the pool was emptied.
    engine.dispose()
    with engine.connect() as c:
        assert_durable(durability_of(c.connection.dbapi_connection, dialect), dialect)


def test_the_connection_that_commits_an_acknowledged_push_is_durable(app, as_role, demo):
    patroller = as_role("patroller")
    cp = db.session.execute(select(Checkpoint).where(Checkpoint.site_id == demo.id, Checkpoint.short_code == "F01")).scalar_one()
    versions = patroller.get(f"/api/sites/{demo.id}/checklists/").get_json()
    version = next(v for v in versions if v["kind"] == cp.kind)
    now = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    visit_id = str(uuid.uuid4())
    mutation = {
        "mutation_id": str(uuid.uuid4()), "seq": 1, "kind": "visit.record", "observed_at": now,
        "payload": {"visit_id": visit_id, "site_id": demo.id, "checkpoint_id": cp.id, "checklist_version_id": version["id"],
                    "scanned_at": now, "scan_method": "qr", "results": [{"item_id": i["id"], "result": "ok"} for i in version["body"]["items"]]},
    }
    committed = []

    def on_commit(conn):
        committed.append(conn.connection.dbapi_connection)

    event.listen(db.engine, "commit", on_commit)
    try:
        resp = patroller.post("/api/sync/push", json={"device_id": str(uuid.uuid4()), "device_time": now, "mutations": [mutation]})
    finally:
        event.remove(db.engine, "commit", on_commit)
    assert resp.status_code == 200 and [r["status"] for r in resp.get_json()["results"]] == ["applied"], resp.get_json()
    assert db.session.get(Visit, visit_id) is not None
    assert committed, "the push committed nothing"
    for dbapi_conn in committed:
        assert_durable(durability_of(dbapi_conn, db.engine.dialect.name), db.engine.dialect.name)
