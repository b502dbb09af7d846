"""Gunicorn config for bench/sync_ingest.py's comparison run: the app with SQLite's
previous synchronous=NORMAL, to measure what synchronous=FULL (server/db_sqlite.py) costs.
Not for serving: NORMAL can lose acknowledged pushes in a power cut."""


def post_worker_init(worker):
    from sqlalchemy import event

    from server.extensions import db

    app = worker.wsgi
    with app.app_context():
        engine = db.engine

        # Runs after server/db_sqlite.py's own connect listener, so NORMAL is what stays.
        @event.listens_for(engine, "connect")
        def _normal(dbapi_conn, _record):
            dbapi_conn.execute("PRAGMA synchronous=NORMAL")

        engine.dispose()
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1, "synchronous=NORMAL did not take"
