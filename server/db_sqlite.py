"""SQLite tuning: WAL, durable commits, a busy timeout and enforced foreign keys on every connection.

Every transaction takes SQLite's one write lock at BEGIN (IMMEDIATE), so concurrent writers
queue instead of failing half way. A view that only reads can say so (`reads_first`): its
transactions begin DEFERRED, read a WAL snapshot without the lock, and run beside the
writers; before it writes anything it calls `start_writing`. A phone's pull is such a view:
at a shift change 100 pulls held the write lock one after another between the pushes. So
are a push (its login check and the validation of its body come first) and a photo upload
(the image is read first; bytes already received write nothing and take no lock).
"""

import fcntl
import functools
import os
import sqlite3
import time
from contextlib import contextmanager

from flask import g, has_app_context, has_request_context
from sqlalchemy import event

BUSY_TIMEOUT_MS = 30000

# Set on every new connection. synchronous=FULL makes each commit wait until the WAL is on
# disk, so a push the server answered "applied" survives a power cut; NORMAL (SQLite's
# usual WAL setting) can lose the last commits then, which the phones have already
# marked sent. bench/sync_ingest.py measures what FULL costs.
PRAGMAS = (
    ("journal_mode", "WAL"),
    ("busy_timeout", str(BUSY_TIMEOUT_MS)),
    ("foreign_keys", "ON"),
    ("synchronous", "FULL"),
)

READS_KEY = "db_reads_first"


class GatedConnection(sqlite3.Connection):
    """A connection whose write transactions first pass one gate per database file (an flock on
    `<database>-writers`), held until the transaction's COMMIT or ROLLBACK has returned.

    SQLite's own busy handler makes a writer that finds the lock taken sleep 1, 2, 5, 10 …
    up to 100 ms between tries, whoever frees the lock meanwhile. With two gunicorn workers
    at a shift change, the one that had just written kept taking the lock again a few
    milliseconds later (after reading its next request) while the other slept: traced in a
    burst, one worker waited 230 ms while the other wrote 25 pushes in a row, and the lock
    stood free between them. At the gate a waiting writer looks every half millisecond,
    so the lock passes to it as soon as it is free. The busy timeout stays as it was for
    anything that writes without the gate (a command line tool).
    """

    POLL_S = 0.0005

    def __init__(self, database, *args, **kwargs):
        super().__init__(database, *args, **kwargs)
        path = os.fsdecode(database) if isinstance(database, (str, bytes, os.PathLike)) else ""
        if path.startswith("file:"):
            path = path[5:].split("?", 1)[0]
        self._gate_path = f"{path}-writers" if path and path != ":memory:" and "mode=memory" not in str(database) else None
        self._gate_fd: int | None = None
        self._gated = False

    def enter_gate(self, timeout_s: float) -> None:
        """Wait (up to `timeout_s`, then go on to SQLite's own busy handler) for the gate."""
        if self._gate_path is None or self._gated:
            return
        if self._gate_fd is None:
            self._gate_fd = os.open(self._gate_path, os.O_RDWR | os.O_CREAT, 0o600)
        give_up = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(self._gate_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._gated = True
                return
            except BlockingIOError:
                if time.monotonic() > give_up:
                    return
                time.sleep(self.POLL_S)

    def leave_gate(self) -> None:
        if self._gated:
            self._gated = False
            fcntl.flock(self._gate_fd, fcntl.LOCK_UN)

    def commit(self):
        try:
            super().commit()
        finally:
            self.leave_gate()

    def rollback(self):
        try:
            super().rollback()
        finally:
            self.leave_gate()

    def close(self):
        try:
            super().close()
        finally:
            self.leave_gate()
            if self._gate_fd is not None:
                os.close(self._gate_fd)
                self._gate_fd = None


def engine_options(options: dict) -> dict:
    """The engine options of a SQLite database: connections made as GatedConnection."""
    return {**options, "connect_args": {**options.get("connect_args", {}), "factory": GatedConnection}}


def tune_sqlite(engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy, not pysqlite, decide when transactions begin, so BEGIN IMMEDIATE
        # below takes the write lock at the start and concurrent writers queue instead of
        # failing with "database is locked" half way through.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        for name, value in PRAGMAS:
            cur.execute(f"PRAGMA {name}={value}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        if reading():
            conn.exec_driver_sql("BEGIN")
            return
        dbapi = conn.connection.dbapi_connection
        gated = isinstance(dbapi, GatedConnection)
        if gated:
            dbapi.enter_gate(BUSY_TIMEOUT_MS / 1000)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            if gated:
                dbapi.leave_gate()
            raise


def reading() -> bool:
    """Whether this request's transactions only read for now (a `reads_first` view before
    `start_writing`), or those of a `lock_free` block outside a request."""
    return has_app_context() and bool(g.get(READS_KEY))


def reads_first(view):
    """Declare a view whose transactions begin without the write lock until it calls `start_writing`.

    Put it above `@requires`, so that the login check's reads are already lock-free. Any
    database may use it; only SQLite's transactions differ.
    """

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        g.setdefault(READS_KEY, True)
        try:
            return view(*args, **kwargs)
        finally:
            g.pop(READS_KEY, None)

    return wrapper


@contextmanager
def lock_free():
    """Outside a request (the photo worker): the transactions begun in this block only read,
    beside the writers, without SQLite's write lock. End them (commit) inside the block."""
    before = g.get(READS_KEY)
    setattr(g, READS_KEY, True)
    try:
        yield
    finally:
        if before is None:
            g.pop(READS_KEY, None)
        else:
            setattr(g, READS_KEY, before)


def start_writing(session) -> bool:
    """A `reads_first` request is about to write: end its read transaction (nothing of it is lost).

    SQLite cannot safely turn a read transaction into a write one (another writer's commit
    since the snapshot makes it fail at once, without the busy timeout), so the next
    statement begins a new transaction that takes the write lock first. Objects already
    loaded are expired and read again. True when a read transaction was ended (never on
    PostgreSQL, whose open transaction simply goes on to write).
    """
    if not reading():
        return False
    g.pop(READS_KEY, None)
    if session.get_bind().dialect.name != "sqlite":
        # PostgreSQL's transactions take no lock at BEGIN: the one already open writes as it
        # is. Ending it would cost a ROLLBACK, a BEGIN and a reload of every object loaded
        # (the logged-in user), three round trips a push at a shift change.
        return False
    # The logged-in user stays as read a moment ago, as PostgreSQL's transaction goes on with
    # it: a rollback expires every object, and the next `user.id` (every push, every photo
    # upload) read the user's row again inside the write lock.
    user = g.get("user")
    kept = user is not None and user in session
    if kept:
        session.expunge(user)
    session.rollback()  # nothing to undo: it only read
    if kept:
        session.add(user)
    return True
