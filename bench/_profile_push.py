"""Profile one push of 100 visits x 8 items (the issue 16 items mix) in-process, on SQLite or PostgreSQL.

    .venv/bin/python bench/_profile_push.py [postgresql+psycopg://…]   # default: a temporary SQLite file

Warms up with one push (PROFILE_AT=n: n pushes, so that the profiled one sees a late
push's history; PROFILE_VISITS sets the run's size, default 700), then runs one push under cProfile and prints the top lines by
cumulative time, the push's wall time, and how many statements it sent to the database.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import sys
import tempfile
import statistics
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import event  # noqa: E402

import sync_ingest  # noqa: E402


def main(url: str | None) -> None:
    from server import create_app
    from server.extensions import db

    with tempfile.TemporaryDirectory(prefix="bench-profile-") as d:
        tmp = Path(d)
        info = sync_ingest.make_database(tmp / "p.sqlite3", url)
        app = create_app({"SQLALCHEMY_DATABASE_URI": url or f"sqlite:///{tmp / 'p.sqlite3'}", "PHOTO_DIR": str(tmp / "photos"),
                          "SECRET_KEY": "bench"})
        client = app.test_client()
        r = client.post("/api/auth/login", json={"username": "patroller", "password": "patrol-demo"})
        headers = {"X-CSRF-Token": r.get_json()["csrf_token"]}
        batches = sync_ingest.build(info, int(os.environ.get("PROFILE_VISITS", "700")), 100)
        device = str(uuid.uuid4())
        statements = [0]

        def push(batch):
            now = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
            r = client.post("/api/sync/push", json={"device_id": device, "device_time": now, "mutations": batch}, headers=headers)
            assert r.status_code == 200, r.get_json()
            assert all(x["status"] == "applied" for x in r.get_json()["results"])

        at = int(os.environ.get("PROFILE_AT", "1"))  # which push to profile: a late one sees more history
        for batch in batches[:at]:
            push(batch)
        with app.app_context():
            engine = db.engine
        seen: dict[str, int] = {}

        def count(conn, cursor, statement, parameters, context, executemany):
            statements[0] += 1
            key = f"{len(statement):6d} {'many' if executemany else 'one '} {statement[:80]}"
            seen[key] = seen.get(key, 0) + 1

        event.listen(engine, "before_cursor_execute", count)
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        push(batches[at])
        prof.disable()
        elapsed = time.perf_counter() - t0
        out = io.StringIO()
        if os.environ.get("PROFILE_DUMP"):
            prof.dump_stats(os.environ["PROFILE_DUMP"])
        pstats.Stats(prof, stream=out).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(int(os.environ.get("PROFILE_LINES", "35")))
        print(out.getvalue())
        if os.environ.get("PROFILE_SQL"):
            for statement, n in sorted(seen.items(), key=lambda kv: -kv[1]):
                print(f"{n:5d}  {statement}")
        print(f"push of 100 visits: {elapsed * 1000:.0f} ms (under the profiler), {statements[0]} statements")
        times = []
        for batch in batches[at + 1:]:
            t0 = time.perf_counter()
            push(batch)
            times.append(time.perf_counter() - t0)
        print(f"without the profiler: median {statistics.median(times) * 1000:.0f} ms per push of 100 visits ({len(times)} pushes)")
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
