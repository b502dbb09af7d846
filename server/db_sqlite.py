"""SQLite tuning: WAL, durable commits, a busy timeout and enforced foreign keys on every connection.

Every transaction takes SQLite's one write lock at BEGIN (IMMEDIATE), so concurrent writers
queue instead of failing half way. A view that only reads can say so (`reads_first`): its
transactions begin DEFERRED, read a WAL snapshot without the lock, and run beside the
writers; before it writes anything it calls `start_writing`. A phone's pull is such a view:
at a shift change 100 pulls held the write lock one after another between the pushes. So
are a push (its login check and the validation of its body come first) and a photo upload
(the image is read first; bytes already received write nothing and take no lock).
"""

import functools
from contextlib import contextmanager

from flask import g, has_app_context, has_request_context
from sqlalchemy import event

# Set on every new connection. synchronous=FULL makes each commit wait until the WAL is on
# disk, so a push the server answered "applied" survives a power cut; NORMAL (SQLite's
# usual WAL setting) can lose the last commits then, which the phones have already
# marked sent. bench/sync_ingest.py measures what FULL costs.
PRAGMAS = (
    ("journal_mode", "WAL"),
    ("busy_timeout", "30000"),
    ("foreign_keys", "ON"),
    ("synchronous", "FULL"),
)

READS_KEY = "db_reads_first"


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
        conn.exec_driver_sql("BEGIN" if reading() else "BEGIN IMMEDIATE")


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
