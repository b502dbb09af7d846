"""SQLite tuning: WAL, durable commits, a busy timeout and enforced foreign keys on every connection."""

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
        conn.exec_driver_sql("BEGIN IMMEDIATE")
