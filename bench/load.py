"""Benchmark: shift change, 100 phones syncing against gunicorn (2 workers, as `make run`), on PostgreSQL and SQLite.

At the start of the shift every phone logs in and pulls everything. At shift change the
phones come back into signal and sync what they recorded: each pushes rounds of 20
visits (some items failed, so findings and repair tasks) naming small real JPEGs,
uploads those photos, resends one push as if its answer had been lost, and pulls again.

Two arrival patterns, each on a fresh database:
- `shift` (the headline numbers): the 100 phones come back online at moments spread
  evenly, with jitter, over one minute (--spread), as patrollers walk back from basements
  and car parks at the end of a round;
- `burst`: all 100 phones at the same instant, the worst case; on a small machine this
  measures queueing behind the whole crowd's work rather than the server's speed, so it
  is reported beside the headline, with the throughput it reached.

Latency is measured per request on the phone's side (queueing included); the time each
request spent inside gunicorn is reported too. Afterwards the database is compared with
what the phones sent: records missing (lost) or stored more than once (duplicated).
Writes bench/out/load.json.

Targets (issue 8): p95 of a 20-visit push under 300 ms on PostgreSQL; zero errors, lost,
duplicated. Only 127.0.0.1; a fresh PostgreSQL database is created and dropped per run.

    python bench/load.py [--phones 100] [--rounds 2] [--spread 60] [--backends postgres,sqlite] [--patterns shift,burst] [--workers 2]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import hashlib  # noqa: E402

import requests  # noqa: E402

VISITS_PER_PUSH = 20
FAILS_PER_PUSH = 2  # failed items per push, each a finding and a repair task
PHOTOS_PER_PUSH = 2
PASSWORD = "bench-password-1"
DEVICE_TIME = b"@device-time@"  # replaced by the phone's clock as it sends
JSON = {"Content-Type": "application/json"}
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
TIME_LIMIT_S = 600


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def iso_now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return round(ordered[k], 1)


def small_jpegs(n: int) -> list[bytes]:
    """Real JPEGs of phone-photo character (noise compresses like a photo), about 20 KB each."""
    from PIL import Image

    out = []
    rng = random.Random(8)
    for _ in range(n):
        im = Image.frombytes("RGB", (320, 240), bytes(rng.getrandbits(8) for _ in range(320 * 240 * 3)))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=60)
        out.append(buf.getvalue())
    return out


# --- databases -------------------------------------------------------------------------


class Postgres:
    name = "postgres"

    def __init__(self):
        self.db = f"patrol_load_{os.getpid()}"

    def __enter__(self) -> str:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db}"')
            conn.execute(f'CREATE DATABASE "{self.db}"')
        return PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{self.db}"

    def __exit__(self, *exc):
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')


class Sqlite:
    name = "sqlite"

    def __init__(self, tmp: Path):
        self.path = tmp / f"load-{uuid.uuid4().hex[:8]}.sqlite3"

    def __enter__(self) -> str:
        return f"sqlite:///{self.path}"

    def __exit__(self, *exc):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)


def prepare(url: str, photo_dir: Path, phones: int) -> dict:
    """Schema, demo site, and one patroller per phone (cheap password hash: a bench, not prod)."""
    from server import create_app
    from server.accounts import create_user, grant
    from server.demo import seed
    from server.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PHOTO_DIR": str(photo_dir), "PASSWORD_HASH_METHOD": "scrypt:1024:8:1"})
    with app.app_context():
        db.create_all()
        site, _ = seed()
        for n in range(phones):
            grant(create_user(f"load{n:03d}", PASSWORD), site.id, "patroller")
        db.session.commit()
        site_id = site.id
        db.engine.dispose()
    return {"site_id": site_id}


class Server:
    """gunicorn with sync workers, as `make run` (2 workers: one per core of the 2-core bench machine).

    More workers than cores did not drain a burst faster: every request here is CPU work
    (Python, and the database on the same cores), so extra workers only take turns. 4
    workers gave a burst p95 about 15% worse than 2 on both databases (3 interleaved runs
    each, 2026-12-03); `--workers` measures others.
    """

    def __init__(self, url: str, photo_dir: Path, workers: int = 2):
        self.port = free_port()
        self.url = url
        self.photo_dir = photo_dir
        self.workers = workers

    def __enter__(self) -> str:
        self.log_file = open(self.photo_dir.parent / f"gunicorn-{self.port}.log", "w")
        self.access_log = self.photo_dir.parent / f"access-{self.port}.log"
        env = dict(os.environ, DATABASE_URL=self.url, PHOTO_DIR=str(self.photo_dir), SECRET_KEY="load-bench", PATROL_ENV="development")
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
             "--backlog", "512", "--timeout", "120", "--log-level", "warning",
             # Time spent inside the server per request (microseconds), queueing excluded.
             "--access-logfile", str(self.access_log), "--access-logformat", "%(m)s %(U)s %(s)s %(D)s",
             "wsgi:app"],
            cwd=ROOT, env=env, start_new_session=True, stdin=subprocess.DEVNULL,
            stdout=self.log_file, stderr=subprocess.STDOUT,
        )
        # The photo worker (docs/deploy.md), as `make run` and the compose file start it: photos'
        # display copies and thumbnails are made here, at a lower priority, not in the upload.
        self.worker = subprocess.Popen(
            ["nice", "-n", "10", str(ROOT / ".venv/bin/flask"), "photos", "copies", "--watch", "--interval", "0.5"],
            cwd=ROOT, env=dict(env, FLASK_APP="wsgi"), start_new_session=True, stdin=subprocess.DEVNULL,
            stdout=self.log_file, stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{self.port}"
        for _ in range(300):
            try:
                if requests.get(base + "/api/health", timeout=5).status_code == 200:
                    return base
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("gunicorn did not start")

    def __exit__(self, *exc):
        for proc in (self.proc, self.worker):
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self.log_file.close()


# --- one phone ----------------------------------------------------------------------------


class Phone(threading.Thread):
    def __init__(self, n: int, base: str, site_id: int, rounds: int, jpegs: list[bytes], start: threading.Barrier, log,
                 shift_change: threading.Barrier, arrive_after: float):
        super().__init__(daemon=True)
        self.n, self.base, self.site_id, self.rounds, self.jpegs, self.start_line, self.log = n, base, site_id, rounds, jpegs, start, log
        self.shift_change, self.arrive_after = shift_change, arrive_after
        self.http = requests.Session()
        self.http.trust_env = False  # 127.0.0.1 only: no proxy or .netrc look-ups per request
        self.device_id = str(uuid.uuid4())
        self.seq = 0
        self.sent = {"visits": set(), "findings": set(), "photos": set(), "mutations": set(), "rounds": set()}
        self.errors: list[str] = []

    def call(self, op: str, method: str, path: str, ok=(200,), **kw):
        t0 = time.perf_counter()
        try:
            r = self.http.request(method, self.base + path, timeout=60, **kw)
        except requests.RequestException as exc:
            self.errors.append(f"{op}: {exc.__class__.__name__}")
            return None
        self.log(op, (time.perf_counter() - t0) * 1000)
        if r.status_code not in ok:
            self.errors.append(f"{op}: HTTP {r.status_code} {r.text[:200]}")
            return None
        return r

    def mutation(self, kind: str, payload: dict) -> dict:
        self.seq += 1
        m = {"mutation_id": str(uuid.uuid4()), "seq": self.seq, "kind": kind, "observed_at": iso_now(), "payload": payload}
        self.sent["mutations"].add(m["mutation_id"])
        return m

    def run(self):
        try:
            self._run()
        except Exception as exc:  # a phone must never die silently
            self.errors.append(f"crash: {exc!r}")
            self.shift_change.abort()  # the crowd must not wait for this phone forever

    def _run(self):
        self.start_line.wait()
        started = self.start_of_shift()
        self.shift_change.wait()
        if not started:
            return
        # Shift change: this phone comes back into signal `arrive_after` seconds in.
        time.sleep(self.arrive_after)
        self.sync_after_shift()

    def start_of_shift(self) -> bool:
        """Log in and take everything offline, then walk the rounds offline: the outbox (each
        push's body, each photo with its hash) is ready before the phone reaches signal, as on
        a real phone, so the clock times the sync, not the bench building its requests."""
        r = self.call("login", "POST", "/api/auth/login", json={"username": f"load{self.n:03d}", "password": PASSWORD})
        if r is None:
            return False
        self.http.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        checkpoints, checklists, self.cursor = self.pull(0, op="pull_start")
        self.outbox = self.walk(checkpoints, checklists)
        return True

    def sync_after_shift(self) -> None:
        for body, photos in self.outbox:
            # device_time is the phone's clock when it sends (the server corrects times by it).
            data = body.replace(DEVICE_TIME, iso_now().encode(), 1)
            r = self.call("push_20_visits", "POST", "/api/sync/push", data=data, headers=JSON)
            if r is not None:
                bad = [x for x in r.json()["results"] if x["status"] != "applied"]
                self.errors += [f"push: {x['status']} {x.get('code')}" for x in bad]
            for photo_id, jpeg, digest in photos:
                if self.call("photo_put", "PUT", f"/api/photos/{photo_id}", ok=(201,), data=jpeg,
                             headers={"Content-Type": "image/jpeg", "X-Content-SHA256": digest}):
                    self.sent["photos"].add(photo_id)
            # The answer to this push was "lost": the phone sends it again, all duplicates.
            r = self.call("push_replay", "POST", "/api/sync/push", data=data, headers=JSON)
            if r is not None:
                bad = [x for x in r.json()["results"] if x["status"] != "duplicate"]
                self.errors += [f"replay: {x['status']} {x.get('code')}" for x in bad]
        self.pull(self.cursor)

    def walk(self, checkpoints: dict, checklists: dict) -> list[tuple[bytes, list]]:
        """The rounds this phone records offline: per round, the push's JSON body (with a
        placeholder for device_time) and its photos as (id, bytes, SHA-256)."""
        floors = sorted(cid for cid, cp in checkpoints.items() if cp["kind"] in checklists)
        rng = random.Random(self.n)
        outbox = []
        for _ in range(self.rounds):
            round_id = str(uuid.uuid4())
            self.sent["rounds"].add(round_id)
            batch = [self.mutation("round.start", {"round_id": round_id, "site_id": self.site_id})]
            photos = []
            for v in range(VISITS_PER_PUSH):
                cid = floors[(self.n + v) % len(floors)]
                version = checklists[checkpoints[cid]["kind"]]
                results = []
                for i, item in enumerate(version["body"]["items"]):
                    results.append({"item_id": item["id"], "result": "ok"})
                visit_id = str(uuid.uuid4())
                payload = {"visit_id": visit_id, "site_id": self.site_id, "round_id": round_id, "checkpoint_id": cid,
                           "checklist_version_id": version["id"], "scanned_at": iso_now(), "scan_method": "qr", "results": results}
                if v < FAILS_PER_PUSH:
                    finding_id = str(uuid.uuid4())
                    results[0] = {"item_id": results[0]["item_id"], "result": "fail", "note": "broken",
                                  "finding": {"finding_id": finding_id, "severity": "normal", "dealt_on_spot": False, "description": "broken"}}
                    self.sent["findings"].add(finding_id)
                if v < PHOTOS_PER_PUSH:
                    photo_id = str(uuid.uuid4())
                    payload["photo_ids"] = [photo_id]
                    jpeg = self.jpegs[rng.randrange(len(self.jpegs))]
                    photos.append((photo_id, jpeg, hashlib.sha256(jpeg).hexdigest()))
                self.sent["visits"].add(visit_id)
                batch.append(self.mutation("visit.record", payload))
            batch.append(self.mutation("round.end", {"round_id": round_id}))
            body = {"device_id": self.device_id, "device_time": DEVICE_TIME.decode(), "app_version": "load", "mutations": batch}
            outbox.append((json.dumps(body).encode(), photos))
        return outbox

    def pull(self, cursor: int, op: str = "pull"):
        checkpoints, checklists = {}, {}
        while True:
            r = self.call(op, "GET", f"/api/sync/pull?cursor={cursor}&limit=500")
            if r is None:
                return checkpoints, checklists, cursor
            page = r.json()
            for ch in page["changes"]:
                if ch["op"] != "upsert":
                    continue
                if ch["entity"] == "checkpoint":
                    checkpoints[int(ch["id"])] = ch["data"]
                elif ch["entity"] == "checklist":
                    checklists[ch["data"]["kind"]] = ch["data"]
            cursor = page["cursor"]
            if not page["has_more"]:
                return checkpoints, checklists, cursor


def server_times(access_log: Path) -> dict:
    """p50/p95/p99 of the time each request spent inside gunicorn, by method and route."""
    import re

    times: dict[str, list[float]] = defaultdict(list)
    for line in access_log.read_text().splitlines():
        parts = line.split()
        if len(parts) != 4:
            continue
        method, path, _status, micros = parts
        route = re.sub(r"/[0-9a-f]{8}-[0-9a-f-]{27}", "/<id>", path)
        times[f"{method} {route}"].append(int(micros) / 1000)
    return {k: {"n": len(v), "p50_ms": pct(v, 50), "p95_ms": pct(v, 95), "p99_ms": pct(v, 99)} for k, v in sorted(times.items())}


# --- one run ------------------------------------------------------------------------------


def count_in_db(url: str, photo_dir: Path, sent: dict) -> dict:
    """What the database holds of what the phones sent: lost and duplicated records."""
    from sqlalchemy import func, select

    from server import choices, create_app
    from server.extensions import db
    from server.models import Finding, Mutation, Photo, Round, Task, Visit

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PHOTO_DIR": str(photo_dir)})
    lost = defaultdict(int)
    duplicated = defaultdict(int)
    with app.app_context():
        def ids(column, wanted):
            found = set()
            wanted = list(wanted)
            for i in range(0, len(wanted), 500):
                found |= set(db.session.execute(select(column).where(column.in_(wanted[i:i + 500]))).scalars())
            return found

        for name, column in (("visits", Visit.id), ("findings", Finding.id), ("rounds", Round.id), ("mutations", Mutation.id)):
            lost[name] = len(sent[name] - ids(column, sent[name]))
        received = set(db.session.execute(select(Photo.id).where(Photo.status == choices.PHOTO_RECEIVED)).scalars())
        copies_pending = db.session.execute(select(func.count()).select_from(Photo).where(Photo.copies_pending.is_(True))).scalar()
        lost["photos"] = len(sent["photos"] - received)
        # Ids are primary keys, so a duplicate can only be an extra row made from one record.
        duplicated["visits"] = db.session.execute(select(func.count()).select_from(Visit)).scalar() - len(sent["visits"])
        duplicated["mutations"] = db.session.execute(select(func.count()).select_from(Mutation)).scalar() - len(sent["mutations"])
        duplicated["tasks"] = sum(n - 1 for n in db.session.execute(select(func.count()).select_from(Task).group_by(Task.finding_id)).scalars() if n > 1)
        duplicated["findings"] = db.session.execute(select(func.count()).select_from(Finding)).scalar() - len(sent["findings"])
        missing_tasks = len(sent["findings"]) - db.session.execute(select(func.count(func.distinct(Task.finding_id)))).scalar()
        lost["tasks"] = max(0, missing_tasks)
        db.engine.dispose()
    return {"lost": dict(lost), "duplicated": {k: max(0, v) for k, v in duplicated.items()}, "copies_pending": copies_pending}


def cpu_by_role(server: "Server") -> dict[str, float]:
    """CPU seconds used so far (user + system) by the bench's phones (this process), the gunicorn
    workers, the photo worker and PostgreSQL's processes, read from /proc (Linux; empty elsewhere).
    Their difference over the shift change says who the two cores were busy for."""
    import resource

    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    own = resource.getrusage(resource.RUSAGE_SELF)
    out = {"phones": own.ru_utime + own.ru_stime, "gunicorn": 0.0, "photo_worker": 0.0, "postgres": 0.0}
    roots = {server.proc.pid: "gunicorn", server.worker.pid: "photo_worker"}
    try:
        pids = [int(x) for x in os.listdir("/proc") if x.isdigit()]
    except OSError:
        return {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        seconds = (int(stat[11]) + int(stat[12])) / tick
        # The process group: gunicorn's master and workers share one (start_new_session), as do
        # `nice` and the worker it runs.
        role = roots.get(int(stat[2])) or roots.get(int(stat[1])) or roots.get(pid)
        if role is None and comm.startswith("postgres"):
            role = "postgres"
        if role:
            out[role] += seconds
    return out


def arrivals(phones: int, spread: float, seed: int = 8) -> list[float]:
    """When each phone comes back online: evenly over `spread` seconds with jitter (0: all at once)."""
    if spread <= 0:
        return [0.0] * phones
    rng = random.Random(seed)
    step = spread / phones
    return [min(spread, n * step + rng.uniform(0, step)) for n in range(phones)]


def run_backend(backend, phones: int, rounds: int, jpegs: list[bytes], tmp: Path, spread: float, workers: int = 2) -> dict:
    photo_dir = tmp / f"photos-{backend.name}-{spread:g}"
    with backend as url:
        info = prepare(url, photo_dir, phones)
        latencies: dict[str, list[float]] = defaultdict(list)
        lock = threading.Lock()

        def log(op, ms):
            with lock:
                latencies[op].append(ms)

        server = Server(url, photo_dir, workers)
        with server as base:
            start = threading.Barrier(phones + 1)
            shift_change = threading.Barrier(phones + 1)
            crowd = [Phone(n, base, info["site_id"], rounds, jpegs, start, log, shift_change, at)
                     for n, at in enumerate(arrivals(phones, spread))]
            for p in crowd:
                p.start()
            t_start = time.perf_counter()
            start.wait()
            try:
                shift_change.wait(timeout=TIME_LIMIT_S)
            except threading.BrokenBarrierError:
                pass  # a phone crashed before shift change: its error is counted below
            start_s = time.perf_counter() - t_start
            cpu_before = cpu_by_role(server)
            t0 = time.perf_counter()
            for p in crowd:
                p.join(timeout=max(1, TIME_LIMIT_S - (time.perf_counter() - t0)))
            wall = time.perf_counter() - t0
            cpu_after = cpu_by_role(server)
            stuck = sum(p.is_alive() for p in crowd)
        inside = server_times(server.access_log)
        server_log = (photo_dir.parent / f"gunicorn-{server.port}.log").read_text(errors="replace")
        if "Traceback" in server_log:  # kept for whoever reads the errors
            (ROOT / "bench" / "out").mkdir(exist_ok=True)
            (ROOT / "bench" / "out" / f"load-{backend.name}-{spread:g}s-server.log").write_text(server_log)
        sent = {k: set().union(*(p.sent[k] for p in crowd)) for k in crowd[0].sent}
        errors = [e for p in crowd for e in p.errors] + ["phone still running at the time limit"] * stuck
        checked = count_in_db(url, photo_dir, sent)
    ops = {op: {"n": len(v), "p50_ms": pct(v, 50), "p95_ms": pct(v, 95), "p99_ms": pct(v, 99), "max_ms": round(max(v), 1)}
           for op, v in sorted(latencies.items())}
    shift_ops = ("push_20_visits", "photo_put", "push_replay", "pull")
    requests_total = sum(len(latencies[op]) for op in shift_ops)
    return {
        "phones": phones,
        "rounds_per_phone": rounds,
        "arrivals_spread_s": spread,
        "start_of_shift_s": round(start_s, 1),
        "shift_change_wall_s": round(wall, 1),
        "shift_change_requests": requests_total,
        "shift_change_requests_per_s": round(requests_total / wall, 1),
        "pushes_per_s": round(len(latencies["push_20_visits"]) / wall, 1),
        # CPU seconds each part used during the shift change (of 2 cores x the wall time):
        # "phones" is the bench's own client threads, which share the cores with the server.
        "shift_change_cpu_s": {k: round(cpu_after[k] - v, 2) for k, v in cpu_before.items()},
        "ops": ops,
        # Inside the server (no queueing): the difference to "ops" is time spent waiting for a worker.
        "server_ms": inside,
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:10],
        "sent": {k: len(v) for k, v in sent.items()},
        "lost": checked["lost"],
        "duplicated": checked["duplicated"],
        # Photos whose display copy the worker had not made when the phones were done (made at first read).
        "photo_copies_pending_at_end": checked["copies_pending"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--phones", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=2, help="20-visit pushes per phone")
    ap.add_argument("--spread", type=float, default=60.0, help="seconds over which the phones come back online (shift pattern)")
    ap.add_argument("--backends", default="postgres,sqlite")
    ap.add_argument("--patterns", default="shift,burst")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (`make run` starts 2)")
    args = ap.parse_args()
    jpegs = small_jpegs(8)
    patterns = {"shift": args.spread, "burst": 0.0}
    # Latency on a shared machine means little without its load: recorded beside the numbers.
    out = {"machine": {"cpus": os.cpu_count(), "load_average_at_start": [round(x, 1) for x in os.getloadavg()],
                       "note": "phones (client threads), gunicorn and the database share this machine"},
           "gunicorn_workers": args.workers, "visits_per_push": VISITS_PER_PUSH, "phones": args.phones}
    with tempfile.TemporaryDirectory(prefix="patrol-load-") as tmpdir:
        tmp = Path(tmpdir)
        for pattern in args.patterns.split(","):
            spread = patterns[pattern]
            for name in args.backends.split(","):
                backend = Postgres() if name == "postgres" else Sqlite(tmp)
                print(f"== {pattern} ({spread:g} s), {name}: {args.phones} phones x {args.rounds} pushes of {VISITS_PER_PUSH} visits", flush=True)
                res = run_backend(backend, args.phones, args.rounds, jpegs, tmp, spread, args.workers)
                out.setdefault(pattern, {})[name] = res
                push = res["ops"].get("push_20_visits", {})
                print(f"   push p50 {push.get('p50_ms')} ms, p95 {push.get('p95_ms')} ms, p99 {push.get('p99_ms')} ms; "
                      f"{res['pushes_per_s']} pushes/s; errors {res['errors']}, lost {sum(res['lost'].values())}, "
                      f"duplicated {sum(res['duplicated'].values())}", flush=True)
    for pattern, prefix in (("shift", ""), ("burst", "burst_")):
        for name in ("postgres", "sqlite"):
            if name in out.get(pattern, {}):
                push = out[pattern][name]["ops"].get("push_20_visits", {})
                for q in ("p50", "p95", "p99"):
                    out[f"{prefix}{q}_ms_{name}"] = push.get(f"{q}_ms")
    runs = [r for pattern in patterns for r in out.get(pattern, {}).values()]
    out["errors"] = sum(r["errors"] for r in runs)
    out["lost"] = sum(sum(r["lost"].values()) for r in runs)
    out["duplicated"] = sum(sum(r["duplicated"].values()) for r in runs)
    out["targets"] = {"p95_ms_postgres_max": 300, "errors": 0, "lost": 0, "duplicated": 0}
    out["targets_met"] = bool(
        out.get("p95_ms_postgres") is not None and out["p95_ms_postgres"] < 300 and out["errors"] == 0 and out["lost"] == 0 and out["duplicated"] == 0
    )
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    (ROOT / "bench" / "out" / "load.json").write_text(json.dumps(out, indent=2) + "\n")
    keys = ("p95_ms_postgres", "p95_ms_sqlite", "burst_p95_ms_postgres", "burst_p95_ms_sqlite", "errors", "lost", "duplicated", "targets_met")
    print(json.dumps({k: out[k] for k in keys if k in out}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
