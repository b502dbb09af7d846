"""Benchmark: the shift change of bench/load.py on one app node and on two, photos in an S3-compatible bucket.

The same 100 phones (bench/load.py's `Phone`: log in and pull at the start of the shift;
at shift change two pushes of 20 visits with findings, their photos uploaded, one push
resent as if its answer was lost, a pull) run twice per database, each on a fresh
database and a fresh bucket:
- `one_node`: one gunicorn with 4 workers;
- `two_nodes`: two gunicorns with 2 workers each, on two ports, sharing the database and
  the bucket; phone n talks to node n % 2 (a round-robin balancer's spread).
Photos go to a local S3-compatible server (moto in server mode, over HTTP) in both runs,
so the only difference is the split over nodes. Afterwards the database and the bucket
are compared with what the phones sent: lost and duplicated records, and photos whose
two objects are not both in the bucket.

Writes bench/out/load_2node.json: p50/p95/p99 of a 20-visit push per database and mode,
errors, lost, duplicated, and the one-node figures beside the two-node ones.

    python bench/load_2node.py [--phones 100] [--rounds 2] [--spread 60] [--backends postgres,sqlite]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path

import requests

from load import (PHOTOS_PER_PUSH, ROOT, TIME_LIMIT_S, VISITS_PER_PUSH, Phone, Postgres, Sqlite, arrivals, count_in_db, free_port,
                  pct, prepare, server_times, small_jpegs)

TOTAL_WORKERS = 4


class S3:
    """moto's S3 server in a process of its own; a fresh bucket per run."""

    def __enter__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        for _ in range(300):
            try:
                requests.get(self.url + "/moto-api/", timeout=2)
                return self
            except requests.ConnectionError:
                time.sleep(0.2)
        raise RuntimeError("moto server did not start")

    def __exit__(self, *exc):
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=20)

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.url, region_name="us-east-1", aws_access_key_id="bench",
                            aws_secret_access_key="bench-secret", config=Config(s3={"addressing_style": "path"}))

    def new_bucket(self) -> dict:
        name = f"bench-{uuid.uuid4().hex[:10]}"
        self.client().create_bucket(Bucket=name)
        return {"STORAGE_BACKEND": "s3", "S3_ENDPOINT_URL": self.url, "S3_BUCKET": name, "S3_ADDRESSING_STYLE": "path",
                "S3_ACCESS_KEY_ID": "bench", "S3_SECRET_ACCESS_KEY": "bench-secret", "S3_REGION": "us-east-1"}

    def keys(self, bucket: str) -> set[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="photos/")
        return {o["Key"] for page in pages for o in page.get("Contents", [])}


class Node:
    """One gunicorn node with its own (unused) local folders and its access log."""

    def __init__(self, url: str, env: dict, tmp: Path, workers: int):
        self.port = free_port()
        self.access_log = tmp / f"access-{self.port}.log"
        self.log_file = open(tmp / f"gunicorn-{self.port}.log", "w")
        env = dict(os.environ, **env, DATABASE_URL=url, PHOTO_DIR=str(tmp / f"photos-{self.port}"), SECRET_KEY="load-bench-2node",
                   PATROL_ENV="development")
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers), "--backlog", "512",
             "--timeout", "120", "--log-level", "warning", "--access-logfile", str(self.access_log),
             "--access-logformat", "%(m)s %(U)s %(s)s %(D)s", "wsgi:app"],
            cwd=ROOT, env=env, start_new_session=True, stdin=subprocess.DEVNULL, stdout=self.log_file, stderr=subprocess.STDOUT,
        )
        self.base = f"http://127.0.0.1:{self.port}"

    def wait(self):
        for _ in range(300):
            try:
                if requests.get(self.base + "/api/health", timeout=5).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log_file.close()


def run(backend, s3: S3, nodes: int, phones: int, rounds: int, spread: float, jpegs, tmp: Path) -> dict:
    storage = s3.new_bucket()
    work = tmp / f"{backend.name}-{nodes}"
    work.mkdir()
    with backend as url:
        info = prepare(url, work / "photos", phones)
        latencies: dict[str, list[float]] = defaultdict(list)
        lock = threading.Lock()

        def log(op, ms):
            with lock:
                latencies[op].append(ms)

        servers = [Node(url, storage, work, TOTAL_WORKERS // nodes) for _ in range(nodes)]
        try:
            for s in servers:
                s.wait()
            start = threading.Barrier(phones + 1)
            shift_change = threading.Barrier(phones + 1)
            crowd = [Phone(n, servers[n % nodes].base, info["site_id"], rounds, jpegs, start, log, shift_change, at)
                     for n, at in enumerate(arrivals(phones, spread))]
            for p in crowd:
                p.start()
            start.wait()
            try:
                shift_change.wait(timeout=TIME_LIMIT_S)
            except threading.BrokenBarrierError:
                pass
            t0 = time.perf_counter()
            for p in crowd:
                p.join(timeout=max(1, TIME_LIMIT_S - (time.perf_counter() - t0)))
            wall = time.perf_counter() - t0
            stuck = sum(p.is_alive() for p in crowd)
        finally:
            for s in servers:
                s.stop()
        inside = {}
        for s in servers:
            for route, v in server_times(s.access_log).items():
                inside.setdefault(route, []).append(v)
        sent = {k: set().union(*(p.sent[k] for p in crowd)) for k in crowd[0].sent}
        errors = [e for p in crowd for e in p.errors] + ["phone still running at the time limit"] * stuck
        checked = count_in_db(url, work / "photos", sent)
    held = s3.keys(storage["S3_BUCKET"])
    missing_objects = sum(1 for pid in sent["photos"] for size in ("display", "thumb") if f"photos/{pid[:2]}/{pid}.{size}.jpg" not in held)
    checked["lost"]["photo_objects_in_bucket"] = missing_objects
    ops = {op: {"n": len(v), "p50_ms": pct(v, 50), "p95_ms": pct(v, 95), "p99_ms": pct(v, 99), "max_ms": round(max(v), 1)}
           for op, v in sorted(latencies.items())}
    return {
        "nodes": nodes, "workers_per_node": TOTAL_WORKERS // nodes, "phones": phones, "rounds_per_phone": rounds,
        "arrivals_spread_s": spread, "shift_change_wall_s": round(wall, 1),
        "pushes_per_s": round(len(latencies["push_20_visits"]) / wall, 1), "ops": ops, "server_ms_per_node": inside,
        "errors": len(errors), "error_samples": sorted(set(errors))[:10], "sent": {k: len(v) for k, v in sent.items()},
        "lost": checked["lost"], "duplicated": checked["duplicated"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--phones", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--spread", type=float, default=60.0)
    ap.add_argument("--backends", default="postgres,sqlite")
    args = ap.parse_args()
    jpegs = small_jpegs(8)
    out = {"machine": {"cpus": os.cpu_count(), "load_average_at_start": [round(x, 1) for x in os.getloadavg()],
                       "note": "phones (client threads), both nodes, the database and the S3 server share this machine"},
           "total_gunicorn_workers": TOTAL_WORKERS, "visits_per_push": VISITS_PER_PUSH, "photos_per_push": PHOTOS_PER_PUSH,
           "phones": args.phones, "storage": "S3-compatible (moto server over HTTP), a fresh bucket per run"}
    with tempfile.TemporaryDirectory(prefix="patrol-load2-") as tmpdir, S3() as s3:
        tmp = Path(tmpdir)
        for name in args.backends.split(","):
            for nodes, mode in ((1, "one_node"), (2, "two_nodes")):
                backend = Postgres() if name == "postgres" else Sqlite(tmp)
                print(f"== {name}, {mode}: {args.phones} phones x {args.rounds} pushes, {TOTAL_WORKERS // nodes} workers per node", flush=True)
                res = run(backend, s3, nodes, args.phones, args.rounds, args.spread, jpegs, tmp)
                out.setdefault(name, {})[mode] = res
                push = res["ops"].get("push_20_visits", {})
                for q in ("p50", "p95", "p99"):
                    out[f"{q}_ms_{name}_{mode}"] = push.get(f"{q}_ms")
                print(f"   push p50 {push.get('p50_ms')} ms, p95 {push.get('p95_ms')} ms, p99 {push.get('p99_ms')} ms; "
                      f"errors {res['errors']}, lost {sum(res['lost'].values())}, duplicated {sum(res['duplicated'].values())}", flush=True)
    runs = [r for db in ("postgres", "sqlite") for r in out.get(db, {}).values()]
    out["errors"] = sum(r["errors"] for r in runs)
    out["lost"] = sum(sum(r["lost"].values()) for r in runs)
    out["duplicated"] = sum(sum(r["duplicated"].values()) for r in runs)
    out["p95_side_by_side"] = {name: {"one_node": out.get(f"p95_ms_{name}_one_node"), "two_nodes": out.get(f"p95_ms_{name}_two_nodes")}
                               for name in args.backends.split(",")}
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    (ROOT / "bench" / "out" / "load_2node.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps({k: out[k] for k in ("p95_side_by_side", "errors", "lost", "duplicated")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
