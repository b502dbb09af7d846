"""Benchmark: streamed exports of a busy month, speed and memory, on SQLite.

Builds a month of 18,000 visits (3 item results each), 1,800 findings (two in three
with a repair task) and 1,800 photo rows with SQLAlchemy Core, then exports its visits
as CSV through the real endpoint (a test client reading the streamed body) and reports
rows per second. Memory: a fresh process exports the month, and the same month ten
times larger, and reports its peak RSS growth (ru_maxrss after minus before the
export); a streamed export should barely grow with the month. Writes bench/out/export.json.
Targets (issue 7): csv_rows_per_s >= 20000, peak_rss_growth_mb_10x < 100.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

VISITS, FINDINGS, PHOTOS, ITEMS = 18_000, 1_800, 1_800, 3
MONTH_START = datetime(2026, 9, 30, 16, 0)  # 1 October 00:00 in Shanghai, as UTC
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
CHUNK = 20_000


def make_app(db_path: Path):
    from server import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}", "PHOTO_DIR": str(db_path.parent / "photos"),
                       "ARCHIVE_DIR": str(db_path.parent / "archives"), "PASSWORD_HASH_METHOD": "scrypt:4096:8:1"})


def build(db_path: Path, scale: int) -> None:
    """The month, `scale` times over, inserted with Core executemany in chunks."""
    from server.demo import seed
    from server.extensions import db
    from server.models import Checkpoint, Finding, ItemResult, Photo, Task, User, Visit

    app = make_app(db_path)
    with app.app_context():
        db.create_all()
        site, _ = seed()
        cps = list(db.session.execute(select(Checkpoint.id).where(Checkpoint.site_id == site.id)).scalars())
        user_id = db.session.execute(select(User.id).where(User.username == "patroller")).scalar_one()
        n_visits, n_findings, n_photos = VISITS * scale, FINDINGS * scale, PHOTOS * scale
        step = timedelta(seconds=(30 * 86400 - 60) / n_visits)
        visit_ids = []
        visits, results = [], []

        def flush():
            if visits:
                db.session.execute(insert(Visit.__table__), visits)
            if results:
                db.session.execute(insert(ItemResult.__table__), results)
            visits.clear()
            results.clear()

        for n in range(n_visits):
            vid = str(uuid.uuid4())
            visit_ids.append(vid)
            when = MONTH_START + step * n
            visits.append({"id": vid, "site_id": site.id, "round_id": None, "checkpoint_id": cps[n % len(cps)], "user_id": user_id,
                           "device_id": "bench", "checklist_version_id": None, "purpose": "patrol", "scanned_at": when,
                           "scanned_at_device": when, "received_at": when, "scan_method": "qr", "note": "",
                           "resident_note": "住户反映楼道灯偶尔闪烁" if n % 50 == 0 else "", "month": "2026-10", "addendum": False})
            for i in range(ITEMS):
                results.append({"visit_id": vid, "item_id": f"floor.item_{i}", "result": "fail" if (i == 0 and n % 10 == 0) else "ok", "note": ""})
            if len(results) >= CHUNK:
                flush()
        flush()
        findings, task_rows, photos = [], [], []
        for n in range(n_findings):
            fid = str(uuid.uuid4())
            vid = visit_ids[(n * 10) % n_visits]
            when = MONTH_START + step * ((n * 10) % n_visits)
            findings.append({"id": fid, "site_id": site.id, "visit_id": vid, "checkpoint_id": cps[((n * 10) % n_visits) % len(cps)],
                             "item_id": "floor.item_0", "category": "facilities", "route": "facility_repair",
                             "description": "走廊灯不亮，开关损坏", "severity": "major" if n % 100 == 0 else "normal",
                             "dealt_on_spot": n % 3 == 0, "spot_note": "", "reported_by": user_id, "observed_at": when,
                             "observed_at_device": when, "created_at": when, "month": "2026-10", "addendum": False})
            if n % 3:
                task_rows.append({"site_id": site.id, "finding_id": fid, "checkpoint_id": findings[-1]["checkpoint_id"],
                                  "route": "facility_repair", "route_confirmed": False, "severity": "normal", "state": "open",
                                  "due_at": when + timedelta(days=7), "original_due_at": when + timedelta(days=7),
                                  "repeat_flag": False, "cancel_reason": "", "case": {}, "created_at": when, "updated_at": when})
        for n in range(n_photos):
            photos.append({"id": str(uuid.uuid4()), "site_id": site.id, "uploaded_by": user_id, "visit_id": findings[n % n_findings]["visit_id"],
                           "finding_id": findings[n % n_findings]["id"], "purpose": "finding", "status": "received",
                           "sha256": "0" * 64, "content_type": "image/jpeg", "size_bytes": 250_000, "width": 1600, "height": 1200,
                           "created_at": MONTH_START, "received_at": MONTH_START})
        for rows, table in ((findings, Finding.__table__), (task_rows, Task.__table__), (photos, Photo.__table__)):
            for i in range(0, len(rows), CHUNK):
                db.session.execute(insert(table), rows[i : i + CHUNK])
        db.session.commit()


def export_once(app, site_id: int, kind: str, fmt: str) -> tuple[int, int]:
    """(bytes, data rows) of one export read through the streamed endpoint, as an archivist."""
    client = app.test_client()
    r = client.post("/api/auth/login", json={"username": "archivist", "password": "patrol-demo"})
    assert r.status_code == 200, r.get_json()
    resp = client.get(f"/api/archive/sites/{site_id}/exports?kind={kind}&format={fmt}&from=2026-10-01&to=2026-10-31", buffered=False)
    assert resp.status_code == 200, resp.status_code
    size = lines = 0
    for chunk in resp.response:
        size += len(chunk)
        lines += chunk.count(b"\n")
    resp.close()
    return size, lines - 1


def current_rss_kb() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


class RssSampler(threading.Thread):
    """Samples this process's RSS every 2 ms: the peak during the export, not only at its end."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak = current_rss_kb()
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            self.peak = max(self.peak, current_rss_kb())
            time.sleep(0.002)

    def stop(self) -> int:
        self.done.set()
        self.join()
        return max(self.peak, current_rss_kb())


def measure_memory(db_path: Path, kind: str, fmt: str) -> dict:
    """Run in a fresh process: RSS before one export and its peak during it (sampled, and ru_maxrss)."""
    from server.extensions import db
    from server.models import Site

    app = make_app(db_path)
    with app.app_context():
        site_id = db.session.execute(select(Site.id)).scalar()
        db.session.remove()
        # Warm up imports and the query plan on a one-day export, so only the export's own growth counts.
        client = app.test_client()
        client.post("/api/auth/login", json={"username": "archivist", "password": "patrol-demo"})
        client.get(f"/api/archive/sites/{site_id}/exports?kind={kind}&format={fmt}&from=2026-10-01&to=2026-10-01").get_data()
        gc.collect()
        before = current_rss_kb()
        maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        sampler = RssSampler()
        sampler.start()
        size, rows = export_once(app, site_id, kind, fmt)
        peak = sampler.stop()
        maxrss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"rows": rows, "bytes": size, "rss_before_mb": round(before / 1024, 1), "growth_mb": round((peak - before) / 1024, 1),
            "maxrss_growth_mb": round(max(0, maxrss_after - maxrss_before) / 1024, 1)}


def in_subprocess(db_path: Path, kind: str, fmt: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--measure", str(db_path), kind, fmt], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    from server.extensions import db
    from server.models import Site

    tmp = Path(tempfile.mkdtemp(prefix="bench-export-"))
    one, ten = tmp / "one" / "patrol.sqlite3", tmp / "ten" / "patrol.sqlite3"
    one.parent.mkdir()
    ten.parent.mkdir()
    t0 = time.perf_counter()
    build(one, 1)
    build_1x_s = time.perf_counter() - t0

    app = make_app(one)
    speeds, xlsx_speeds = [], []
    with app.app_context():
        site_id = db.session.execute(select(Site.id)).scalar()
        db.session.remove()
        cpu_speeds = []
        for _ in range(RUNS):
            start, cpu = time.perf_counter(), time.process_time()
            _, rows = export_once(app, site_id, "visits", "csv")
            speeds.append(rows / (time.perf_counter() - start))
            cpu_speeds.append(rows / (time.process_time() - cpu))
            assert rows == VISITS, rows
        start = time.perf_counter()
        _, findings_rows = export_once(app, site_id, "findings", "csv")
        findings_speed = findings_rows / (time.perf_counter() - start)
        start = time.perf_counter()
        export_once(app, site_id, "visits", "xlsx")
        xlsx_speeds.append(VISITS / (time.perf_counter() - start))

    t0 = time.perf_counter()
    build(ten, 10)
    build_10x_s = time.perf_counter() - t0
    mem_1x = in_subprocess(one, "visits", "csv")
    mem_10x = in_subprocess(ten, "visits", "csv")
    xlsx_10x = in_subprocess(ten, "visits", "xlsx")
    assert mem_10x["rows"] == VISITS * 10, mem_10x

    result = {
        "month": {"visits": VISITS, "item_results": VISITS * ITEMS, "findings": FINDINGS, "photos": PHOTOS},
        "csv_rows_per_s": round(statistics.median(speeds)),
        "csv_rows_per_s_runs": [round(s) for s in speeds],
        # Rows per second of this process's own CPU time: what the export costs, whatever else the machine is doing.
        "csv_rows_per_cpu_s": round(statistics.median(cpu_speeds)),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "findings_csv_rows_per_s": round(findings_speed),
        "xlsx_rows_per_s": round(statistics.median(xlsx_speeds)),
        "peak_rss_growth_mb_1x": mem_1x["growth_mb"],
        "peak_rss_growth_mb_10x": mem_10x["growth_mb"],
        "peak_rss_growth_mb_10x_xlsx": xlsx_10x["growth_mb"],
        "maxrss_growth_mb_10x": mem_10x["maxrss_growth_mb"],
        "rss_before_export_mb": mem_10x["rss_before_mb"],
        "csv_bytes_10x": mem_10x["bytes"],
        "build_seconds": {"1x": round(build_1x_s, 1), "10x": round(build_10x_s, 1)},
        "targets": {"csv_rows_per_s": ">= 20000", "peak_rss_growth_mb_10x": "< 100"},
        "database": "sqlite",
    }
    result["ok"] = result["csv_rows_per_s"] >= 20_000 and result["peak_rss_growth_mb_10x"] < 100
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "export.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--measure":
        print(json.dumps(measure_memory(Path(sys.argv[2]), sys.argv[3], sys.argv[4])))
        sys.exit(0)
    sys.exit(main())
