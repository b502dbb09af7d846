"""Real processes: gunicorn SIGKILLed in the middle of a large push; the retry applies each record once (G1, G2)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import requests
from sqlalchemy import func, select

from server.extensions import db
from server.models import Checkpoint, ItemResult, Mutation, Task, Visit

ROOT = Path(__file__).resolve().parent.parent
BATCHES = 8
PER_BATCH = 250


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """One gunicorn master with one worker, in its own process group so both can be killed at once."""

    def __init__(self, db_url: str, photo_dir: Path, log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "DATABASE_URL": db_url, "PHOTO_DIR": str(photo_dir), "SECRET_KEY": "gunicorn-test-secret"}
        self.log = open(log, "ab")
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "-w", "1", "-b", f"127.0.0.1:{self.port}", "--timeout", "120", "wsgi:app"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/api/health", timeout=5).status_code == 200:
                    return
            except requests.RequestException:  # not listening yet, or the worker still booting
                time.sleep(0.2)
        self.kill()
        raise RuntimeError("gunicorn did not start; see " + str(log))

    def kill(self) -> None:
        """SIGKILL master and worker: no graceful shutdown, no chance to finish the request."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the group this test started: master and worker
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)
        self.log.close()


def login(url: str) -> requests.Session:
    s = requests.Session()
    r = s.post(url + "/api/auth/login", json={"username": "patroller", "password": "patrol-demo"}, timeout=30)
    assert r.status_code == 200, r.text
    s.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return s


def iso_now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def build_batches(site_id: int, checkpoints: list[int], version: dict) -> list[list[dict]]:
    items = [i["id"] for i in version["body"]["items"]]
    seq = 0
    batches = []
    for b in range(BATCHES):
        batch = []
        for n in range(PER_BATCH):
            seq += 1
            results = [{"item_id": item, "result": "ok"} for item in items]
            if seq % 10 == 0:
                results[0] = {"item_id": items[0], "result": "fail", "finding": {"finding_id": str(uuid.uuid4()), "severity": "normal", "dealt_on_spot": False, "description": "lamp out"}}
            now = iso_now()
            batch.append({
                "mutation_id": str(uuid.uuid4()), "seq": seq, "kind": "visit.record", "observed_at": now,
                "payload": {"visit_id": str(uuid.uuid4()), "site_id": site_id, "checkpoint_id": checkpoints[seq % len(checkpoints)],
                            "checklist_version_id": version["id"], "scanned_at": now, "scan_method": "qr", "results": results},
            })
        batches.append(batch)
    return batches


def test_server_killed_mid_push_then_everything_resent_applies_each_record_once(app, db_url, demo, tmp_path):
    """G1, G2: SIGKILL of master and worker during a push; after a restart the phone resends its whole
    outbox and every record exists exactly once, with one task per finding; the push in flight was all
    or nothing."""
    site_id = demo.id
    checkpoints = list(db.session.execute(
        select(Checkpoint.id).where(Checkpoint.site_id == site_id, Checkpoint.kind == "floor").order_by(Checkpoint.id)
    ).scalars())
    db.session.commit()
    db.session.remove()
    photo_dir = tmp_path / "photos"
    server = Gunicorn(db_url, photo_dir, tmp_path / "gunicorn.log")
    try:
        s = login(server.url)
        version = next(v for v in s.get(f"{server.url}/api/sites/{site_id}/checklists/", timeout=30).json() if v["kind"] == "floor")
        batches = build_batches(site_id, checkpoints, version)
        device = str(uuid.uuid4())
        answered: dict[int, list] = {}
        started: dict[int, float] = {}
        failed: list[int] = []

        def send_all():
            for k, batch in enumerate(batches):
                started[k] = time.monotonic()
                try:
                    r = s.post(f"{server.url}/api/sync/push", json={"device_id": device, "device_time": iso_now(), "mutations": batch}, timeout=120)
                except requests.RequestException:
                    failed.append(k)
                    return
                assert r.status_code == 200, r.text
                answered[k] = r.json()["results"]

        sender = threading.Thread(target=send_all)
        sender.start()
        while 1 not in started and sender.is_alive():
            time.sleep(0.005)
        first_push = started[1] - started[0]
        # Half way through the second push (they take about as long as the first).
        time.sleep(max(first_push / 2 - (time.monotonic() - started[1]), 0))
        server.kill()
        sender.join(timeout=120)
    finally:
        server.kill()

    assert failed, "the kill did not land in the middle of a push"
    in_flight = failed[0]
    assert all(statuses == ["applied"] * PER_BATCH for statuses in ([r["status"] for r in answered[k]] for k in answered))

    server = Gunicorn(db_url, photo_dir, tmp_path / "gunicorn.log")
    try:
        s = login(server.url)
        replay = {}
        for k, batch in enumerate(batches):
            r = s.post(f"{server.url}/api/sync/push", json={"device_id": device, "device_time": iso_now(), "mutations": batch}, timeout=120)
            assert r.status_code == 200, r.text
            replay[k] = [x["status"] for x in r.json()["results"]]
    finally:
        server.kill()

    for k in range(BATCHES):
        if k in answered:
            assert replay[k] == ["duplicate"] * PER_BATCH
        elif k == in_flight:
            # All or nothing: the killed push either committed whole or not at all.
            assert replay[k] in (["applied"] * PER_BATCH, ["duplicate"] * PER_BATCH)
        else:
            assert replay[k] == ["applied"] * PER_BATCH
    total = BATCHES * PER_BATCH
    db.session.expire_all()
    count = lambda model: db.session.execute(select(func.count()).select_from(model)).scalar()  # noqa: E731
    assert count(Visit) == total
    assert count(Mutation) == total
    assert count(ItemResult) == total * len(version["body"]["items"])
    assert count(Task) == total // 10
