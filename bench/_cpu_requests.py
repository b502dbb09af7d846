"""CPU per request of the shift-change mix (`bench/load.py`'s phones), in process, one at a time.

    .venv/bin/python bench/_cpu_requests.py [postgresql+psycopg://…/db]   # default: a temporary SQLite file

A burst on two cores is CPU-bound, so what moves it is the CPU each request costs, in the
app and in the database together. This runs `load.Phone`'s exact requests through Flask's
test client, one phone after another, and prints, per kind of request, the median of the
app's own CPU (process time) and, on PostgreSQL, of the server's (its processes' /proc
times). Quiet-machine noise is a few percent; compare A/B runs.
"""

from __future__ import annotations

import cProfile
import gzip
import pstats
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import load  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
# CPU_PROFILE=photo_put (a request kind): cProfile of those requests, top lines by CPU_SORT.
STATEMENTS: list[str] = []  # CPU_SQL=push_20_visits: the statements of the last such request (COPYs not seen)
PROFILE = cProfile.Profile() if os.environ.get("CPU_PROFILE") else None


def postgres_cpu() -> float:
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if "(postgres)" in stat:
            fields = stat.rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / TICK


class Answer:
    def __init__(self, resp):
        self.status_code, self._resp = resp.status_code, resp

    def _body(self) -> bytes:
        raw = self._resp.get_data()
        return gzip.decompress(raw) if self._resp.headers.get("Content-Encoding") == "gzip" else raw

    def json(self):
        return json.loads(self._body())

    @property
    def text(self):
        return self._body().decode(errors="replace")


class TestClientHttp:
    """What `load.Phone` needs of a requests.Session, over Flask's test client; times each call."""

    def __init__(self, client, cpu: dict, pg: bool):
        self.client, self.cpu, self.pg, self.headers, self.op = client, cpu, pg, {}, None

    def request(self, method, url, timeout=None, json=None, data=None, headers=None):
        path = url.split("://", 1)[-1].split("/", 1)[1]
        h = dict(self.headers, **(headers or {}), **{"Accept-Encoding": "gzip"})
        if self.op == os.environ.get("CPU_SQL"):
            STATEMENTS.clear()  # keeps the last such request's
        profiling = PROFILE is not None and self.op == os.environ.get("CPU_PROFILE")
        p0, g0 = time.process_time(), postgres_cpu() if self.pg else 0.0
        if profiling:
            PROFILE.enable()
        resp = self.client.open("/" + path, method=method, json=json, data=data, headers=h)
        if profiling:
            PROFILE.disable()
        if self.pg:
            time.sleep(0.002)  # let the server's clock ticks land
        self.cpu[self.op].append((time.process_time() - p0, (postgres_cpu() - g0) if self.pg else 0.0))
        return Answer(resp)


def main(url: str | None) -> None:
    from server import create_app
    from server.extensions import db

    phones = int(os.environ.get("CPU_PHONES", "40"))
    with tempfile.TemporaryDirectory(prefix="bench-cpu-") as d:
        tmp = Path(d)
        if url is None:
            backend = load.Sqlite(tmp)
        else:
            backend = load.Postgres()
            load.PG_ADMIN = url.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0] + "/postgres"
        with backend as db_url:
            info = load.prepare(db_url, tmp / "photos", phones)
            app = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "PHOTO_DIR": str(tmp / "photos"), "SECRET_KEY": "bench"})
            cpu: dict[str, list] = defaultdict(list)
            if os.environ.get("CPU_SQL"):  # CPU_SQL=push_20_visits: print the statements of the last such request
                from sqlalchemy import event

                with app.app_context():
                    engine = db.engine

                @event.listens_for(engine, "before_cursor_execute")
                def _log(conn, cursor, statement, parameters, context, executemany):
                    STATEMENTS.append(("many " if executemany else "") + " ".join(statement.split())[:150])
            jpegs = load.small_jpegs(4)
            crowd = []
            for n in range(phones):
                one = threading.Barrier(1)
                phone = load.Phone(n, "http://test", info["site_id"], 2, jpegs, one, lambda op, ms: None, one, 0.0)
                phone.http = TestClientHttp(app.test_client(), cpu, url is not None)
                call = phone.call

                def timed(op, *a, _call=call, _http=phone.http, **kw):
                    _http.op = op
                    return _call(op, *a, **kw)

                phone.call = timed
                crowd.append(phone)
            # As in the burst: every phone starts its shift, then each syncs (so a last pull
            # carries what the whole crowd recorded since its first).
            for phone in crowd:
                assert phone.start_of_shift(), phone.errors
            for phone in crowd:
                phone.sync_after_shift()
                assert not phone.errors, phone.errors[:3]
            with app.app_context():
                db.engine.dispose()
    if os.environ.get("CPU_SQL"):
        print("\n".join(STATEMENTS))
    print(f"{'request':16s} {'n':>4s} {'app ms':>8s} {'db ms':>8s} {'sum ms':>8s}  (CPU time: app median, database mean, {phones} phones)")
    for op, v in sorted(cpu.items()):
        a = statistics.median(x[0] for x in v) * 1000
        b = statistics.mean(x[1] for x in v) * 1000  # clock ticks of 10 ms: a mean, not a median
        s = a + b
        print(f"{op:16s} {len(v):4d} {a:8.2f} {b:8.2f} {s:8.2f}")
    if PROFILE is not None:
        pstats.Stats(PROFILE).sort_stats(os.environ.get("CPU_SORT", "cumulative")).print_stats(int(os.environ.get("CPU_LINES", "40")))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
