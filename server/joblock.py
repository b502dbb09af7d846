"""Scheduled jobs that run once across app nodes: one PostgreSQL advisory lock per job.

Every node's cron may start the same command at the same minute (docs/deploy.md, "Jobs
that run once"). `single_run(name)` takes a session-level advisory lock on a connection
of its own, without waiting: the first node runs the job, any other one at the same time
is told it is running elsewhere and does nothing. The lock goes with the connection, so
a node killed mid-job releases it, and the next run (on any node) carries on; every job
is also written to be harmless when it runs again after another has finished.

On SQLite a single node is assumed (README): the lock is a no-op there.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import text

from .extensions import db


def lock_key(name: str) -> int:
    """A stable signed 64-bit key per job name (the same on every node and every release)."""
    return int.from_bytes(hashlib.sha256(f"patrol-job:{name}".encode()).digest()[:8], "big", signed=True)


@contextmanager
def single_run(name: str) -> Iterator[bool]:
    """Yield True when this process holds the job's lock (or on SQLite), False when another process runs the job."""
    engine = db.engine
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = lock_key(name)
    conn = engine.connect()
    held = False
    try:
        held = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        conn.commit()  # the lock is the session's, not the transaction's: nothing stays open
        yield held
    finally:
        try:
            if held:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        except Exception:  # noqa: BLE001 (the connection is dropped below, and the lock with it)
            conn.invalidate()
        conn.close()
