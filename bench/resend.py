"""Benchmark: what a full resend of 2,000 visits costs on the wire (issue 16, point 3).

The phone pushes 2,000 visits (8 item results each; each item failed with probability
0.1, 5% of findings major) in batches of 100, gzip-compressed as the app sends them
(CompressionStream; the server takes Content-Encoding: gzip). Every answer is then "lost":
the phone still holds all 2,000 as unsent. Before pushing again it asks
POST /api/sync/held with the seq ranges of its outbox (server/static/pwa/sync.js
skipHeld), checks each held record's id, seq and content hash, and sends only the rest:
nothing. A second case adds 100 new visits to the resend.

    resend_bytes_ratio = request bytes sent on the full resend ÷ request bytes of the first push

Both measured as the bodies the phone sends (compressed where it compresses). Answers
are reported beside them (the server gzips JSON answers when the client accepts gzip).
Through the Flask test client on a SQLite file: bytes do not depend on the transport.
Writes bench/out/resend.json. Target: resend_bytes_ratio <= 0.1.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import sys
import tempfile
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VISITS = 2000
BATCH = 100
ITEMS = 8
PASSWORD = "bench-password-1"
GZIP_MIN = 1024  # sync.js sends shorter bodies as they are


def setup(path: Path):
    from server import create_app
    from server.accounts import create_user, grant
    from server.extensions import db

    from bench.sync_ingest import seed_floor_site  # the same site and checklist as the ingest bench

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "PHOTO_DIR": str(path.parent / "photos"),
                      "PASSWORD_HASH_METHOD": "scrypt:1024:8:1"})
    with app.app_context():
        db.create_all()
        info = seed_floor_site()
        grant(create_user("bench-resend", PASSWORD), info["site_id"], "patroller")
        db.session.commit()
    return app, info


def build(info: dict, first_seq: int, visits: int, rng: random.Random) -> list[dict]:
    start = datetime.now(timezone.utc) - timedelta(hours=3)
    out = []
    for seq in range(first_seq, first_seq + visits):
        when = (start + timedelta(seconds=seq)).isoformat().replace("+00:00", "Z")
        results = []
        for item in info["items"]:
            if rng.random() < 0.1:
                results.append({"item_id": item, "result": "fail", "note": "lamp out",
                                "finding": {"finding_id": str(uuid.uuid4()), "severity": "major" if rng.random() < 0.05 else "normal",
                                            "dealt_on_spot": False, "description": "lamp out"}})
            else:
                results.append({"item_id": item, "result": "ok"})
        out.append({"mutation_id": str(uuid.uuid4()), "seq": seq, "kind": "visit.record", "observed_at": when,
                    "payload": {"visit_id": str(uuid.uuid4()), "site_id": info["site_id"],
                                "checkpoint_id": info["checkpoints"][seq % len(info["checkpoints"])],
                                "checklist_version_id": info["version_id"], "scanned_at": when, "scan_method": "qr",
                                "results": results}})
    return out


def content_hash(m: dict) -> str:
    """What sync.js contentHash computes (docs/sync.md, "same content")."""
    canon = json.dumps([m["seq"], m["kind"], m["observed_at"], m["payload"]], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canon.encode()).hexdigest()


def ranges(numbers) -> list[list[int]]:
    out: list[list[int]] = []
    for n in sorted(numbers):
        if out and n == out[-1][1] + 1:
            out[-1][1] = n
        else:
            out.append([n, n])
    return out


class Phone:
    """The app's wire behaviour: JSON bodies gzip-compressed from 1 KiB, answers accepted gzip-compressed."""

    def __init__(self, client, csrf: str, device: str):
        self.client, self.csrf, self.device = client, csrf, device
        self.sent = self.received = 0

    def post(self, url: str, body: dict) -> dict:
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {"X-CSRF-Token": self.csrf, "Content-Type": "application/json", "Accept-Encoding": "gzip"}
        if len(raw) >= GZIP_MIN:
            raw = gzip.compress(raw, compresslevel=6)
            headers["Content-Encoding"] = "gzip"
        r = self.client.post(url, data=raw, headers=headers)
        assert r.status_code == 200, r.data[:300]
        self.sent += len(raw)
        self.received += len(r.data)
        data = gzip.decompress(r.data) if r.headers.get("Content-Encoding") == "gzip" else r.data
        return json.loads(data)

    def push(self, mutations: list[dict]) -> list[str]:
        statuses = []
        for i in range(0, len(mutations), BATCH):
            answer = self.post("/api/sync/push", {"device_id": self.device, "device_time": datetime.now(timezone.utc).isoformat(),
                                                  "app_version": "bench", "mutations": mutations[i:i + BATCH]})
            statuses += [r["status"] for r in answer["results"]]
        return statuses

    def resend(self, outbox: list[dict]) -> tuple[list[dict], int]:
        """sync.js: ask what is held, mark what matches, push the rest; returns (pushed, marked)."""
        answer = self.post("/api/sync/held", {"device_id": self.device, "seqs": ranges(m["seq"] for m in outbox), "photos": []})
        by_id = {m["mutation_id"]: m for m in outbox}
        marked = {h["mutation_id"] for h in answer["held"]
                  if h["mutation_id"] in by_id and by_id[h["mutation_id"]]["seq"] == h["seq"]
                  and content_hash(by_id[h["mutation_id"]])[:len(h["hash"])] == h["hash"]}
        rest = [m for m in outbox if m["mutation_id"] not in marked]
        if rest:
            assert set(self.push(rest)) <= {"applied"}
        return rest, len(marked)


def measure() -> dict:
    """The resend's bytes against the first push's (what main writes; bench/sync_ingest.py takes its ratio)."""
    rng = random.Random(16)
    with tempfile.TemporaryDirectory(prefix="patrol-resend-") as tmp:
        app, info = setup(Path(tmp) / "resend.sqlite3")
        client = app.test_client()
        login = client.post("/api/auth/login", json={"username": "bench-resend", "password": PASSWORD})
        phone = Phone(client, login.get_json()["csrf_token"], "bench-resend-" + uuid.uuid4().hex[:12])
        visits = build(info, 1, VISITS, rng)
        plain_first = sum(len(json.dumps({"device_id": phone.device, "device_time": "2026-01-01T00:00:00.000000+00:00",
                                          "app_version": "bench", "mutations": visits[i:i + BATCH]},
                                         separators=(",", ":"), ensure_ascii=False).encode())
                          for i in range(0, VISITS, BATCH))

        assert set(phone.push(visits)) == {"applied"}
        first_sent, first_received = phone.sent, phone.received

        # Every answer was lost: the whole outbox again, the phone's way.
        phone.sent = phone.received = 0
        pushed, marked = phone.resend(visits)
        assert not pushed and marked == VISITS
        resend_sent, resend_received = phone.sent, phone.received

        # The same, with 100 visits recorded since.
        more = build(info, VISITS + 1, BATCH, rng)
        phone.sent = phone.received = 0
        pushed, marked = phone.resend(visits + more)
        assert len(pushed) == BATCH and marked == VISITS
        partial_sent = phone.sent

        # Before: the whole outbox pushed again (all duplicates), compressed as now.
        phone.sent = phone.received = 0
        assert set(phone.push(visits)) == {"duplicate"}
        full_push_sent = phone.sent
        with app.app_context():
            from server.extensions import db

            db.engine.dispose()

    out = {
        "visits": VISITS,
        "first_push_bytes_sent": first_sent,
        "first_push_bytes_sent_uncompressed": plain_first,
        "first_push_bytes_received": first_received,
        "resend_bytes_sent": resend_sent,
        "resend_bytes_received": resend_received,
        "resend_bytes_ratio": round(resend_sent / first_sent, 4),
        "resend_bytes_ratio_to_uncompressed_first_push": round(resend_sent / plain_first, 5),
        "resend_plus_100_new_bytes_sent": partial_sent,
        "resend_plus_100_new_ratio": round(partial_sent / first_sent, 4),
        "resend_without_preflight_bytes_sent": full_push_sent,
        "gzip_ratio_of_push_bodies": round(first_sent / plain_first, 3),
        "target": {"resend_bytes_ratio_max": 0.1},
    }
    out["target_met"] = out["resend_bytes_ratio"] <= 0.1
    return out


def main() -> int:
    out = measure()
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    (ROOT / "bench" / "out" / "resend.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
