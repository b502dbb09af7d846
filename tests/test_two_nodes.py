"""Two gunicorn nodes on two ports, one PostgreSQL database, one bucket (a local S3 server over HTTP).

A phone pushes to node A, uploads its photo to node B and pulls from A; every guarantee of
docs/sync.md holds across the nodes (a push resent to the other node is a duplicate, the
photo upload is idempotent on either). Sessions, CSRF tokens and login throttling live in
the database, so no request depends on the node that served the one before; the phone
app's version is the same on both. One node SIGKILLed mid-upload, or mid-seal, leaves
nothing half-made, and the other completes the work on retry.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from server import archive, choices
from server.extensions import db
from server.models import Photo
from server.web import pwa_version

from .conftest import PG_URL
from .s3server import free_port, s3_config, s3_server  # noqa: F401 (fixtures)
from .support.photos import jpeg
from .support.records import september
from .support.ids import new_id
from .support.phone import Phone

pytestmark = pytest.mark.skipif(not PG_URL, reason="two nodes share a PostgreSQL database (TEST_DATABASE_URL); SQLite is single-node")

ROOT = Path(__file__).resolve().parent.parent


class Node:
    """One app node: a gunicorn master and worker in a process group of their own, with its own (empty) local folders."""

    def __init__(self, name: str, env: dict, tmp: Path):
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.photo_dir = tmp / f"{name}-photos"
        env = {**env, "PHOTO_DIR": str(self.photo_dir), "ARCHIVE_DIR": str(tmp / f"{name}-archives")}
        self.log = open(tmp / f"{name}.log", "ab")
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "-w", "1", "-b", f"127.0.0.1:{self.port}", "--timeout", "120", "wsgi:app"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/api/health", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"node {self.name} did not start; see {self.log.name}")

    def kill(self) -> None:
        """SIGKILL master and worker: no graceful shutdown."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)
        if not self.log.closed:
            self.log.close()


class Http:
    """The test client's calls (get/post/put with json, data, headers, query_string) over real HTTP to one node."""

    class Answer:
        def __init__(self, resp: requests.Response):
            self.status_code, self.data, self.headers = resp.status_code, resp.content, resp.headers
            self.get_json = resp.json

    def __init__(self, session: requests.Session, url: str):
        self.session, self.url = session, url

    def open(self, method: str, path: str, *, query_string=None, **kw) -> "Http.Answer":
        return self.Answer(self.session.request(method, self.url + path, params=query_string, timeout=60, **kw))

    def get(self, path, **kw):
        return self.open("GET", path, **kw)

    def post(self, path, **kw):
        return self.open("POST", path, **kw)

    def put(self, path, **kw):
        return self.open("PUT", path, **kw)


def node_env(app, server, bucket) -> dict:
    return {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "SECRET_KEY": "two-nodes-one-secret",
            "LOGIN_MAX_FAILURES": "5", **server.config(bucket)}


@pytest.fixture
def nodes(app, demo, s3_config, tmp_path):
    server, bucket = s3_config
    db.session.commit()
    env = node_env(app, server, bucket)
    a, b = Node("a", env, tmp_path), Node("b", env, tmp_path)
    try:
        a.wait_ready()
        b.wait_ready()
        yield a, b, server, bucket
    finally:
        a.kill()
        b.kill()


def login(url: str, username: str = "patroller", password: str = "patrol-demo") -> requests.Response:
    return requests.post(url + "/api/auth/login", json={"username": username, "password": password}, timeout=60)


def upload_headers(data: bytes) -> dict:
    return {"Content-Type": "image/jpeg", "X-Content-SHA256": hashlib.sha256(data).hexdigest()}


def pull_all(api: Http) -> dict:
    state, cursor = {}, 0
    while True:
        body = api.get("/api/sync/pull", query_string={"cursor": cursor, "limit": 1000}).get_json()
        for ch in body["changes"]:
            state[(ch["entity"], ch["id"])] = ch["data"]
        cursor = body["cursor"]
        if not body["has_more"]:
            return state


def photo_keys(server, bucket: str) -> list[str]:
    return server.keys(bucket, "photos/")


def test_a_phone_pushes_to_a_uploads_to_b_and_pulls_from_a(app, demo, nodes):
    a, b, server, bucket = nodes
    s = requests.Session()
    r = s.post(a.url + "/api/auth/login", json={"username": "patroller", "password": "patrol-demo"}, timeout=60)
    assert r.status_code == 200
    s.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    on_a, on_b = Http(s, a.url), Http(s, b.url)
    # The session and its CSRF token, made on A, are good on B.
    me = on_b.get("/api/auth/me").get_json()
    assert me["username"] == "patroller" and me["csrf_token"] == s.headers["X-CSRF-Token"]

    phone = Phone(on_a, demo.id)
    pid = new_id()
    visit = phone.visit("F05", fail=(0,), photo_ids=[pid])
    first = phone.push([visit], api=on_a)
    assert first.status_code == 200 and first.get_json()["results"][0]["status"] == "applied"
    assert pid in first.get_json()["expected_photos"]
    # The answer was lost; the phone resends to whichever node the balancer picks (G1, G2).
    again = phone.push([visit], api=on_b).get_json()["results"][0]
    assert again["status"] == "duplicate" and again["result"] == first.get_json()["results"][0]["result"]

    data = jpeg()
    assert on_b.put(f"/api/photos/{pid}", data=data, headers=upload_headers(data)).status_code == 201
    assert on_a.put(f"/api/photos/{pid}", data=data, headers=upload_headers(data)).status_code == 200  # idempotent (G6)
    other = jpeg(640, 480)
    assert on_a.put(f"/api/photos/{pid}", data=other, headers=upload_headers(other)).status_code == 409  # no silent overwrite (G7)
    assert pid not in on_a.get("/api/sync/expected").get_json()["photo_ids"]

    state = pull_all(on_a)
    result = first.get_json()["results"][0]["result"]
    task = state[("task", str(result["task_ids"][0]))]  # the task the push opened on A, pulled from A
    assert task["finding"]["id"] == result["finding_ids"][0]
    from_a = on_a.get(f"/api/photos/{pid}?size=display")
    from_b = on_b.get(f"/api/photos/{pid}?size=display")
    held = server.client().get_object(Bucket=bucket, Key=f"photos/{pid[:2]}/{pid}.display.jpg")["Body"].read()
    assert from_a.status_code == from_b.status_code == 200 and from_a.data == from_b.data == held
    assert not any(p.is_file() for p in a.photo_dir.rglob("*")) and not any(p.is_file() for p in b.photo_dir.rglob("*"))

    # Logging out on B ends the session on A too.
    assert on_b.post("/api/auth/logout").status_code == 204
    assert on_a.get("/api/auth/me").status_code == 401


def test_login_throttling_counts_failures_on_both_nodes_together(app, demo, nodes):
    a, b, *_ = nodes
    for url in (a.url, b.url, a.url, b.url, a.url):
        assert login(url, "supervisor", "wrong").status_code == 401
    locked = login(b.url, "supervisor", "patrol-demo")
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "login_locked"


def test_the_phone_app_has_one_version_on_every_node(app, demo, nodes):
    a, b, *_ = nodes
    versions = {re.search(r"const VERSION = '([^']+)'", requests.get(n.url + "/sw.js", timeout=30).text).group(1) for n in (a, b)}
    assert versions == {pwa_version()}  # and this process, a third one, derives the same from the files


def test_a_node_killed_mid_upload_leaves_nothing_and_the_other_takes_the_retry(app, demo, nodes):
    a, b, server, bucket = nodes
    s = requests.Session()
    r = s.post(a.url + "/api/auth/login", json={"username": "patroller", "password": "patrol-demo"}, timeout=60)
    s.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    phone = Phone(Http(s, a.url), demo.id)
    pid = new_id()
    phone.push_ok([phone.visit("F05", fail=(0,), photo_ids=[pid])])
    data = jpeg(3000, 2000)
    cookie = "; ".join(f"{c.name}={c.value}" for c in s.cookies)
    head = (f"PUT /api/photos/{pid} HTTP/1.1\r\nHost: 127.0.0.1:{b.port}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n"
            f"X-Content-SHA256: {hashlib.sha256(data).hexdigest()}\r\nX-CSRF-Token: {s.headers['X-CSRF-Token']}\r\nCookie: {cookie}\r\n\r\n")
    with socket.create_connection(("127.0.0.1", b.port), timeout=30) as sock:
        sock.sendall(head.encode() + data[: len(data) // 2])  # half the photo is on its way...
        time.sleep(0.5)
        b.kill()  # ...when node B dies
    assert photo_keys(server, bucket) == []
    db.session.expire_all()
    assert db.session.get(Photo, pid).status == choices.PHOTO_EXPECTED
    # The phone retries; the balancer sends it to A.
    r = s.put(f"{a.url}/api/photos/{pid}", data=data, headers=upload_headers(data), timeout=60)
    assert r.status_code == 201
    # Stored whole as the original; the copies are made at the first read (or by the photo worker), then it goes.
    assert photo_keys(server, bucket) == [f"photos/{pid[:2]}/{pid}.original"]
    assert s.get(f"{a.url}/api/photos/{pid}?size=thumb", timeout=60).status_code == 200
    assert photo_keys(server, bucket) == sorted([f"photos/{pid[:2]}/{pid}.display.jpg", f"photos/{pid[:2]}/{pid}.thumb.jpg"])
    assert server.keys(bucket, "tmp/") == []


def test_a_node_killed_mid_seal_leaves_no_bundle_and_the_other_files_it(app, demo, s3_config, tmp_path):
    server, bucket = s3_config
    september(demo)
    db.session.commit()
    env = {**node_env(app, server, bucket), "FLASK_APP": "wsgi", "PHOTO_DIR": str(tmp_path / "n"), "ARCHIVE_DIR": str(tmp_path / "na")}
    flask = str(ROOT / ".venv/bin/flask")
    seal = subprocess.Popen([flask, "archive", "seal", "--site", "DEMO", "--month", "2026-09"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    # The seal is committed before the bundle is built (archive/filing.py): kill the node as soon as it is.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        db.session.expire_all()
        row = archive.get_row(demo.id, "2026-09")
        db.session.commit()
        if row is not None and row.state != choices.MONTH_OPEN:
            break
        assert seal.poll() is None, seal.stdout.read().decode()
        time.sleep(0.02)
    os.killpg(seal.pid, signal.SIGKILL)
    seal.wait(30)
    db.session.expire_all()
    row = archive.get_row(demo.id, "2026-09")
    assert row.state == choices.MONTH_SEALED and not row.files  # killed while building: sealed, nothing filed
    assert server.keys(bucket, "archives/") == []  # and no half bundle visible
    db.session.commit()

    # The other node's next scheduled run files it (its advisory lock died with the killed process).
    built = subprocess.run([flask, "archive", "build"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0 and "built 1 file(s)" in built.stdout, built.stdout + built.stderr
    db.session.expire_all()
    row = archive.get_row(demo.id, "2026-09")
    assert row.state == choices.MONTH_ARCHIVED and archive.verify_filed(row) == []
    assert server.keys(bucket, "archives/") == ["archives/DEMO/2026-09/DEMO-2026-09.zip"]
    swept = subprocess.run([flask, "storage", "sweep", "--older-than-hours", "0"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert swept.returncode == 0 and server.keys(bucket, "tmp/") == []
