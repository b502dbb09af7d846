"""Benchmark: sync ingest, side by side with a CouchDB-protocol peer and with the storage floor (issue 16).

The data: 2,000 visits x 8 items in batches of 100, one item result in ten failed with a
finding, one finding in twenty major (the issue's items mix; BENCH_VISITS for a smoke run).

Side by side (`side_by_side`, BENCH_REPS >= 5 interleaved reps): Patrol's push through one
gunicorn worker on a fresh SQLite copy; then the stdlib's sqlite3 executemany of exactly
the rows that push stored (the floor); then the same visits as `_bulk_docs` to PouchDB
Server (bench/peer, installed by `make bench`, leveldb on disk); then, with
BENCH_POSTGRES_URL set (a database the bench may empty), the same on PostgreSQL with
psycopg COPY as the floor, and the peer again. Writes ratio_to_peer_sqlite,
ratio_to_peer_postgres (median Patrol / median peer), ratio_to_floor_sqlite,
ratio_to_floor_postgres (median floor / median Patrol) and the load average to
bench/out/sync_ingest.json. resend_bytes_ratio is left null for the already-held
preflight (issue 16 point 3) to fill.

Issue 3's measures stay under `durability_sqlite` (BENCH_SIDE_ONLY=1 skips them): the
first push and its replay (all duplicates), Core executemany of the same rows, the cost
of synchronous=FULL against the previous NORMAL (bench/_gunicorn_sqlite_normal.py), and
200 pushes of one visit each both ways. Targets then: visits_per_s >= 2000,
ratio_to_raw >= 0.25, replay_ratio <= 0.5.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

VISITS = int(os.environ.get("BENCH_VISITS", "2000"))
BATCH = 100
SINGLES = 200
ITEMS = 8
RUNS = int(os.environ.get("BENCH_RUNS", "3"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed_floor_site() -> dict:
    """In an app context on empty tables: the demo site, its floor checklist at 8 items (6 shipped
    + 2 of the site's own); the ids a bench's visits name. The caller commits."""
    from sqlalchemy import select

    from server import checklists
    from server.demo import seed
    from server.extensions import db
    from server.models import Checkpoint, SiteChecklistItem

    site, _ = seed()
    for key in ("stair_signs", "fire_doors"):
        db.session.add(SiteChecklistItem(site_id=site.id, kind="floor", item_id=f"floor.site_{key}", text_zh=key, text_en=key,
                                         methods=["look"], category="facilities", route="facility_repair"))
    db.session.flush()
    version = checklists.current_version(site.id, "floor")
    assert len(version.body["items"]) == ITEMS
    cps = list(db.session.execute(select(Checkpoint.id).where(Checkpoint.site_id == site.id, Checkpoint.kind == "floor")).scalars())
    return {"site_id": site.id, "version_id": version.id, "items": [i["id"] for i in version.body["items"]], "checkpoints": cps}


def make_database(path: Path, url: str | None = None) -> dict:
    """A demo database whose floor checklist has 8 items (6 shipped + 2 of the site's own).

    At `path` (SQLite), or at PostgreSQL `url`, whose public schema is emptied first.
    """
    from sqlalchemy import text

    from server import create_app
    from server.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url or f"sqlite:///{path}", "PHOTO_DIR": str(path.parent / "photos")})
    with app.app_context():
        if url:
            db.session.execute(text("DROP SCHEMA public CASCADE"))
            db.session.execute(text("CREATE SCHEMA public"))
            db.session.commit()
        db.create_all()
        info = seed_floor_site()
        db.session.commit()
        db.engine.dispose()
    return info


FAILED_EVERY = 10  # one item result in ten fails, each with a finding (the issue 16 items mix)
MAJOR_EVERY = 20  # one finding in twenty is major


def build(info: dict, visits: int, batch_size: int) -> list[list[dict]]:
    """Visits of 8 items; one item result in ten failed with a finding, one finding in twenty major."""
    start = datetime.now(timezone.utc) - timedelta(hours=3)
    batches, seq, n_item, n_finding = [], 0, 0, 0
    for b in range(visits // batch_size):
        batch = []
        for n in range(batch_size):
            seq += 1
            when = (start + timedelta(seconds=seq)).isoformat().replace("+00:00", "Z")
            results = []
            for item in info["items"]:
                n_item += 1
                if n_item % FAILED_EVERY:
                    results.append({"item_id": item, "result": "ok"})
                    continue
                n_finding += 1
                severity = "major" if n_finding % MAJOR_EVERY == 0 else "normal"
                results.append({"item_id": item, "result": "fail", "note": "lamp out",
                                "finding": {"finding_id": str(uuid.uuid4()), "severity": severity, "dealt_on_spot": False,
                                            "description": "lamp out"}})
            batch.append({"mutation_id": str(uuid.uuid4()), "seq": seq, "kind": "visit.record", "observed_at": when,
                          "payload": {"visit_id": str(uuid.uuid4()), "site_id": info["site_id"],
                                      "checkpoint_id": info["checkpoints"][seq % len(info["checkpoints"])],
                                      "checklist_version_id": info["version_id"], "scanned_at": when, "scan_method": "qr",
                                      "results": results}})
        batches.append(batch)
    return batches


def run_server(db_path: Path, tmp: Path, synchronous_normal: bool = False, url: str | None = None):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url or f"sqlite:///{db_path}", "PHOTO_DIR": str(tmp / "photos"), "SECRET_KEY": "bench"}
    config = ["-c", str(ROOT / "bench" / "_gunicorn_sqlite_normal.py")] if synchronous_normal else []
    proc = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), *config, "-w", "1", "-b", f"127.0.0.1:{port}", "wsgi:app"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if requests.get(url + "/api/health", timeout=5).status_code == 200:
                return proc, url
        except requests.RequestException:
            time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    raise RuntimeError("gunicorn did not start")


def push_all(session: requests.Session, url: str, device: str, batches: list[list[dict]], expect: str, sent: list | None = None) -> float:
    t0 = time.perf_counter()
    for batch in batches:
        now = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
        body = json.dumps({"device_id": device, "device_time": now, "mutations": batch}).encode()
        if sent is not None:
            sent.append(len(body))
        r = session.post(url + "/api/sync/push", data=body, headers={"Content-Type": "application/json"})
        r.raise_for_status()
        assert all(x["status"] == expect for x in r.json()["results"]), r.json()["results"][:3]
    return time.perf_counter() - t0


def stored_alongside(db_path: Path, template: Path) -> dict:
    """The audit events, changes and sync requests a run stored beyond the template's own."""
    from sqlalchemy import create_engine, func

    from server.models import AuditEvent, Change, SyncRequest

    before = create_engine(f"sqlite:///{template}")
    after = create_engine(f"sqlite:///{db_path}")
    out = {}
    for name, table, key in (("audit_events", AuditEvent.__table__, "id"), ("changes", Change.__table__, "cursor"),
                             ("sync_requests", SyncRequest.__table__, "id")):
        with before.connect() as c:
            floor = c.execute(select(func.coalesce(func.max(table.c[key]), 0))).scalar()
        with after.connect() as c:
            out[name] = [dict(r._mapping) for r in c.execute(select(table).where(table.c[key] > floor).order_by(table.c[key]))]
    before.dispose()
    after.dispose()
    return out


@contextmanager
def serving(template: Path, tmp: Path, name: str, synchronous_normal: bool = False, database_url: str | None = None):
    """A gunicorn worker on a fresh copy of the template (or on PostgreSQL `database_url`,
    already filled), and a patroller's logged-in session."""
    db_path = tmp / f"{name}.sqlite3"
    if database_url is None:
        shutil.copy(template, db_path)
    proc, url = run_server(db_path, tmp, synchronous_normal, database_url)
    try:
        s = requests.Session()
        r = s.post(url + "/api/auth/login", json={"username": "patroller", "password": "patrol-demo"})
        r.raise_for_status()
        s.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        s.get(url + "/api/sync/pull", params={"cursor": 0, "limit": 10})  # warm the worker
        yield s, url, db_path
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def sync_run(template: Path, info: dict, tmp: Path, synchronous_normal: bool = False) -> tuple[float, float, dict]:
    batches = build(info, VISITS, BATCH)
    device = str(uuid.uuid4())
    with serving(template, tmp, "sync-normal" if synchronous_normal else "sync", synchronous_normal) as (s, url, db_path):
        first = push_all(s, url, device, batches, "applied")
        replay = push_all(s, url, device, batches, "duplicate")
    # The replay adds only sync request rows: take the first pushes' (one per batch).
    alongside = stored_alongside(db_path, template)
    alongside["sync_requests"] = alongside["sync_requests"][: len(batches)]
    return first, replay, alongside


def singles_run(template: Path, info: dict, tmp: Path, synchronous_normal: bool = False) -> float:
    """SINGLES pushes of one visit each: a commit per visit, where the cost of waiting for
    the disk shows most (a phone that syncs after every scan)."""
    batches = build(info, SINGLES, 1)
    with serving(template, tmp, "singles-normal" if synchronous_normal else "singles", synchronous_normal) as (s, url, _):
        return push_all(s, url, str(uuid.uuid4()), batches, "applied")


def raw_core_run(template: Path, info: dict, tmp: Path, alongside: dict) -> float:
    """The same rows by Core executemany: visits, item results, findings, tasks, mutation
    records, and (in equal shares per batch) the audit events, changes and sync requests."""
    from server import create_app
    from server.extensions import db
    from server.models import AuditEvent, Change, Finding, ItemResult, Mutation, SyncRequest, Task, Visit

    db_path = tmp / "raw.sqlite3"
    shutil.copy(template, db_path)
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}", "PHOTO_DIR": str(tmp / "photos")})
    with app.app_context():
        from server.models import Device, User

        user_id = db.session.execute(select(User.id).where(User.username == "patroller")).scalar()
        device = str(uuid.uuid4())
        db.session.execute(insert(Device).values(id=device, user_id=user_id))
        db.session.commit()
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        batches = build(info, VISITS, BATCH)
        extra_tables = {"audit_events": AuditEvent.__table__, "changes": Change.__table__, "sync_requests": SyncRequest.__table__}
        shares = {name: [rows[i * len(rows) // len(batches): (i + 1) * len(rows) // len(batches)] for i in range(len(batches))]
                  for name, rows in alongside.items()}
        for row in alongside["sync_requests"]:
            row["device_id"] = device
        t0 = time.perf_counter()
        for b, batch in enumerate(batches):
            visits, results, findings, tasks, mutations = [], [], [], [], []
            for m in batch:
                p = m["payload"]
                visits.append({"id": p["visit_id"], "site_id": p["site_id"], "round_id": None, "checkpoint_id": p["checkpoint_id"],
                               "user_id": user_id, "device_id": device, "checklist_version_id": p["checklist_version_id"], "purpose": "patrol",
                               "scanned_at": now, "scanned_at_device": now, "received_at": now, "scan_method": "qr", "note": "",
                               "resident_note": "", "month": "2026-11", "addendum": False})
                for r in p["results"]:
                    results.append({"visit_id": p["visit_id"], "item_id": r["item_id"], "result": r["result"], "note": r.get("note", "")})
                    if "finding" in r:
                        fid = r["finding"]["finding_id"]
                        findings.append({"id": fid, "site_id": p["site_id"], "visit_id": p["visit_id"], "checkpoint_id": p["checkpoint_id"],
                                         "item_id": r["item_id"], "category": "facilities", "route": "facility_repair", "description": "lamp out",
                                         "severity": "normal", "dealt_on_spot": False, "spot_note": "", "reported_by": user_id,
                                         "observed_at": now, "observed_at_device": now, "created_at": now, "month": "2026-11", "addendum": False})
                        tasks.append({"site_id": p["site_id"], "finding_id": fid, "checkpoint_id": p["checkpoint_id"], "route": "facility_repair",
                                      "severity": "normal", "state": "open", "due_at": now, "original_due_at": now, "case": {}})
                mutations.append({"id": m["mutation_id"], "device_id": device, "user_id": user_id, "seq": m["seq"], "kind": m["kind"],
                                  "payload_hash": "0" * 64, "status": "applied", "result": {"visit_id": p["visit_id"]},
                                  "observed_at": now, "received_at": now})
            # One transaction per batch, as the sync endpoint commits once per push.
            db.session.execute(insert(Visit.__table__), visits)
            db.session.execute(insert(ItemResult.__table__), results)
            if findings:
                db.session.execute(insert(Finding.__table__), findings)
                db.session.execute(insert(Task.__table__), tasks)
            db.session.execute(insert(Mutation.__table__), mutations)
            for name, table in extra_tables.items():
                if shares[name][b]:
                    db.session.execute(insert(table), shares[name][b])
            db.session.commit()
        elapsed = time.perf_counter() - t0
        db.engine.dispose()
    return elapsed


def durability() -> dict:
    """Issue 3's measures on SQLite: first push, replay, synchronous FULL against NORMAL, single-visit pushes, Core floor."""
    firsts, replays, raws, normals, singles, singles_normal = [], [], [], [], [], []
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory(prefix="bench-sync-") as d:
            tmp = Path(d)
            template = tmp / "template.sqlite3"
            info = make_database(template)
            first, replay, alongside = sync_run(template, info, tmp)
            normal, _, _ = sync_run(template, info, tmp, synchronous_normal=True)
            singles.append(singles_run(template, info, tmp))
            singles_normal.append(singles_run(template, info, tmp, synchronous_normal=True))
            raw = raw_core_run(template, info, tmp, alongside)
            counts = {name: len(rows) for name, rows in alongside.items()}
            firsts.append(first)
            replays.append(replay)
            raws.append(raw)
            normals.append(normal)
    first, replay, raw, normal, single, single_normal = (statistics.median(x) for x in (firsts, replays, raws, normals, singles, singles_normal))
    out = {
        "visits": VISITS,
        "batch": BATCH,
        "items_per_visit": ITEMS,
        "runs": RUNS,
        "sqlite_synchronous": "FULL",
        "visits_per_s": round(VISITS / first, 1),
        "visits_per_s_sqlite_synchronous_normal": round(VISITS / normal, 1),
        "full_to_normal_time_ratio": round(first / normal, 3),
        "single_visit_pushes": SINGLES,
        "single_visit_pushes_per_s": round(SINGLES / single, 1),
        "single_visit_pushes_per_s_sqlite_synchronous_normal": round(SINGLES / single_normal, 1),
        "single_visit_full_to_normal_time_ratio": round(single / single_normal, 3),
        "raw_core_visits_per_s": round(VISITS / raw, 1),
        "ratio_to_raw": round(raw / first, 3),
        "replay_ratio": round(replay / first, 3),
        "first_push_s": round(first, 3),
        "first_push_s_sqlite_synchronous_normal": round(normal, 3),
        "replay_s": round(replay, 3),
        "raw_core_s": round(raw, 3),
        "raw_core_rows_besides_records": counts,
        # On a shared machine the load says how far to trust small differences.
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "targets": {"visits_per_s": ">= 2000", "ratio_to_raw": ">= 0.25", "replay_ratio": "<= 0.5"},
    }
    out["meets_targets"] = out["visits_per_s"] >= 2000 and out["ratio_to_raw"] >= 0.25 and out["replay_ratio"] <= 0.5
    return out


# --- side by side with a CouchDB-protocol peer, and with the storage floor (issue 16) ---

REPS = int(os.environ.get("BENCH_REPS", "5"))
PEER_DIR = ROOT / "bench" / "peer"
# PostgreSQL for the comparison: a database of the bench's own, emptied on every rep
# (never a database in use). Without it the PostgreSQL keys are null.
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "")


@contextmanager
def peer_server(tmp: Path):
    """PouchDB Server (bench/peer, installed by `make bench`) with its on-disk leveldb store."""
    binary = PEER_DIR / "node_modules" / ".bin" / "pouchdb-server"
    if not binary.exists():
        raise RuntimeError("PouchDB Server is not installed: run `make bench` (npm ci in bench/peer)")
    data = tmp / "peer"
    data.mkdir()
    port = free_port()
    proc = subprocess.Popen([str(binary), "-p", str(port), "-d", str(data), "-c", str(data / "config.json"), "-n"],
                            cwd=data, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if requests.get(url + "/", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        else:
            raise RuntimeError("PouchDB Server did not start")
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def peer_push(url: str, name: str, batches: list[list[dict]]) -> float:
    """The same visits as `_bulk_docs` into a new database, one request per batch: each
    mutation a document under its id, as a CouchDB-replicating PWA would store its record."""
    s = requests.Session()
    s.put(f"{url}/{name}").raise_for_status()
    t0 = time.perf_counter()
    for batch in batches:
        docs = [{"_id": m["mutation_id"], "seq": m["seq"], "kind": m["kind"], "observed_at": m["observed_at"], "payload": m["payload"]}
                for m in batch]
        r = s.post(f"{url}/{name}/_bulk_docs", data=json.dumps({"docs": docs}), headers={"Content-Type": "application/json"})
        r.raise_for_status()
        assert all(x.get("ok") for x in r.json()), r.json()[:3]
    return time.perf_counter() - t0


def _tables():
    from server.extensions import db
    import server.models  # noqa: F401  (every table in the metadata)

    return [t for t in db.metadata.sorted_tables if t.name != "counters"]


def _key(table, row: dict) -> tuple:
    return tuple(row[c.name] for c in table.primary_key.columns)


def snapshot_keys(url: str) -> dict[str, set]:
    """Each table's primary keys before the push (what the template already held)."""
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.connect() as c:
        out = {t.name: {tuple(r) for r in c.execute(select(*t.primary_key.columns))} for t in _tables()}
    engine.dispose()
    return out


def new_rows(url: str, before: dict[str, set]) -> dict[str, tuple[list[str], list[tuple]]]:
    """Every row a push stored beyond the template, per table (parents first), as raw driver values."""
    from sqlalchemy import create_engine

    engine = create_engine(url)
    out = {}
    with engine.connect() as c:
        for t in _tables():
            cols = [col.name for col in t.columns]
            raw = c.exec_driver_sql(f'SELECT {", ".join(chr(34) + n + chr(34) for n in cols)} FROM "{t.name}"').all()
            keys = [cols.index(col.name) for col in t.primary_key.columns]
            rows = [tuple(r) for r in raw if tuple(r[k] for k in keys) not in before[t.name]]
            if rows:
                out[t.name] = (cols, rows)
    engine.dispose()
    return out


def _shares(rows: list, n: int) -> list[list]:
    return [rows[i * len(rows) // n: (i + 1) * len(rows) // n] for i in range(n)]


def floor_sqlite(template: Path, tmp: Path, rows: dict, batches: int) -> float:
    """The stdlib's sqlite3 `executemany` of exactly the rows Patrol stored, into a fresh copy of
    the template, one transaction per batch, with the app's WAL and synchronous=FULL."""
    import sqlite3

    path = tmp / "floor.sqlite3"
    shutil.copy(template, path)
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    shares = {name: _shares(r, batches) for name, (_c, r) in rows.items()}
    t0 = time.perf_counter()
    for b in range(batches):
        con.execute("BEGIN IMMEDIATE")
        for name, (cols, _r) in rows.items():
            if shares[name][b]:
                con.executemany(f'INSERT INTO "{name}" ({", ".join(chr(34) + c + chr(34) for c in cols)}) VALUES ({", ".join("?" * len(cols))})',
                                shares[name][b])
        con.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    con.close()
    return elapsed


def floor_postgres(url: str, info_fill, rows: dict, batches: int) -> float:
    """psycopg's COPY of exactly the rows Patrol stored into a freshly filled database, one
    transaction per batch (foreign keys not checked: a floor, and equal shares of each table
    need not hold a row's parent)."""
    import psycopg
    from psycopg.types.json import Json

    info_fill()
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    shares = {name: _shares([tuple(Json(v) if isinstance(v, (dict, list)) else v for v in r) for r in rs], batches)
              for name, (_c, rs) in rows.items()}
    with psycopg.connect(dsn) as con:
        t0 = time.perf_counter()
        for b in range(batches):
            with con.transaction(), con.cursor() as cur:
                cur.execute("SET LOCAL session_replication_role = replica")
                for name, (cols, _r) in rows.items():
                    if shares[name][b]:
                        with cur.copy(f'COPY "{name}" ({", ".join(chr(34) + c + chr(34) for c in cols)}) FROM STDIN') as copy:
                            for row in shares[name][b]:
                                copy.write_row(row)
        elapsed = time.perf_counter() - t0
    return elapsed


def quiet_disk() -> None:
    """Let the disk settle before a timed run: what the last run left to write (PostgreSQL's
    dirty buffers after a COPY, the peer's leveldb compaction, the page cache) is flushed now,
    not during the next run's fsyncs. Each timed run starts from the same quiet disk."""
    if POSTGRES_URL:
        import psycopg

        with psycopg.connect(POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
            conn.execute("CHECKPOINT")
    os.sync()
    time.sleep(0.5)


def side_by_side(tmp: Path) -> dict:
    """REPS interleaved reps of: Patrol's push on SQLite, the peer's, Patrol's on PostgreSQL, the
    peer's again, and each database's floor for the rows that push stored. Medians."""
    template = tmp / "template.sqlite3"
    info = make_database(template)
    times: dict[str, list[float]] = {k: [] for k in ("sqlite", "postgres", "peer", "floor_sqlite", "floor_postgres")}
    sent_first: list[int] = []
    with peer_server(tmp) as peer:
        for rep in range(REPS):
            batches = build(info, VISITS, BATCH)
            with serving(template, tmp, f"side-{rep}") as (s, url, db_path):
                sent = []
                quiet_disk()
                times["sqlite"].append(push_all(s, url, str(uuid.uuid4()), batches, "applied", sent))
            if rep == 0:
                sent_first = sent
            rows = new_rows(f"sqlite:///{db_path}", snapshot_keys(f"sqlite:///{template}"))
            counts = {name: len(r) for name, (_c, r) in rows.items()}
            quiet_disk()
            times["floor_sqlite"].append(floor_sqlite(template, tmp, rows, len(batches)))
            quiet_disk()
            times["peer"].append(peer_push(peer, f"visits-{rep}-a", batches))
            if POSTGRES_URL:
                pg_info = make_database(tmp / "unused", POSTGRES_URL)
                before = snapshot_keys(POSTGRES_URL)
                pg_batches = build(pg_info, VISITS, BATCH)
                with serving(template, tmp, f"side-pg-{rep}", database_url=POSTGRES_URL) as (s, url, _):
                    quiet_disk()
                    times["postgres"].append(push_all(s, url, str(uuid.uuid4()), pg_batches, "applied"))
                rows = new_rows(POSTGRES_URL, before)
                quiet_disk()
                times["floor_postgres"].append(floor_postgres(POSTGRES_URL, lambda: make_database(tmp / "unused", POSTGRES_URL), rows, len(batches)))
                quiet_disk()
                times["peer"].append(peer_push(peer, f"visits-{rep}-b", pg_batches))
    med = {k: statistics.median(v) if v else None for k, v in times.items()}

    def ratio(a, b):
        return round(med[a] / med[b], 3) if med[a] and med[b] else None

    return {
        "reps": REPS,
        "mix": {"visits": VISITS, "batch": BATCH, "items_per_visit": ITEMS, "failed_items": f"1 in {FAILED_EVERY}",
                "major_findings": f"1 in {MAJOR_EVERY}"},
        "ratio_to_peer_sqlite": ratio("sqlite", "peer"),
        "ratio_to_peer_postgres": ratio("postgres", "peer"),
        "ratio_to_floor_sqlite": ratio("floor_sqlite", "sqlite"),
        "ratio_to_floor_postgres": ratio("floor_postgres", "postgres"),
        # Bytes of a full resend ÷ bytes of the first push, set by main from bench/resend.py.
        "resend_bytes_ratio": None,
        "first_push_bytes": sum(sent_first),
        "median_s": {k: round(v, 3) if v else None for k, v in med.items()},
        "visits_per_s": {k: round(VISITS / v, 1) if v else None for k, v in med.items()},
        "all_s": {k: [round(x, 3) for x in v] for k, v in times.items()},
        "rows_stored_per_run": counts,
        "peer": "pouchdb-server (bench/peer/package-lock.json), leveldb on disk, _bulk_docs per batch",
        "floor": "stdlib sqlite3 executemany (WAL, synchronous=FULL) / psycopg COPY (foreign-key triggers off), one transaction per batch, of the rows Patrol stored",
        "postgres": bool(POSTGRES_URL),
        "targets": {"ratio_to_peer_sqlite": "<= 1.5", "ratio_to_peer_postgres": "<= 2.5", "ratio_to_floor_sqlite": ">= 0.35",
                    "resend_bytes_ratio": "<= 0.1"},
    }


def main() -> dict:
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-sync-side-") as d:
        out = side_by_side(Path(d))
    # A full resend the phone's way (POST /api/sync/held first, then only what is not held),
    # measured by bench/resend.py: bytes sent ÷ the first push's, both gzip-compressed as sent.
    import resend

    resent = resend.measure()
    out["resend_bytes_ratio"] = resent["resend_bytes_ratio"]
    out["resend"] = {k: resent[k] for k in ("first_push_bytes_sent", "resend_bytes_sent", "resend_without_preflight_bytes_sent",
                                           "resend_plus_100_new_ratio")}
    if os.environ.get("BENCH_SIDE_ONLY") != "1":
        out["durability_sqlite"] = durability()
    out["load_average_at_start"] = [round(x, 2) for x in load_start]
    # On a shared machine the load says how far to trust small differences.
    out["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    out["meets_targets"] = bool(
        out["ratio_to_peer_sqlite"] and out["ratio_to_peer_sqlite"] <= 1.5
        and out["ratio_to_peer_postgres"] and out["ratio_to_peer_postgres"] <= 2.5
        and out["ratio_to_floor_sqlite"] and out["ratio_to_floor_sqlite"] >= 0.35
        and out["resend_bytes_ratio"] is not None and out["resend_bytes_ratio"] <= 0.1
    )
    target = ROOT / "bench" / "out"
    target.mkdir(parents=True, exist_ok=True)
    (target / "sync_ingest.json").write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))

