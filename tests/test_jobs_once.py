"""Scheduled commands started on two nodes at the same instant have the effect of one run (PostgreSQL).

Each test starts the same `flask` command twice at once, as two processes (two nodes'
cron at the same minute), against one PostgreSQL database and one bucket (a local S3
server over HTTP), and counts the effect: one notice per escalation and recipient, one
webhook delivery each, one bundle, one purge-log entry per month, each tombstone dropped
once. A second test per lock holds the job's advisory lock and shows the command stands
aside. On SQLite a single node is assumed (README), so these run on PostgreSQL only.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from server import archive, choices
from server.changes import record_change
from server.extensions import db
from server.joblock import single_run
from server.models import AuditEvent, Change, Notification, PurgeLog, Webhook, WebhookDelivery, utcnow

from .conftest import PG_URL
from .s3server import s3_config, s3_server  # noqa: F401 (fixtures)
from .support.tasks import user
from .support.records import september
from .support.retention import OCT_2024, SEPT_2024, build_month, seal_both
from .support.tasks import finding
from .support.receiver import Receiver

pytestmark = pytest.mark.skipif(not PG_URL, reason="jobs across nodes need PostgreSQL (TEST_DATABASE_URL); SQLite is single-node")

ROOT = Path(__file__).resolve().parent.parent
DAY = timedelta(days=1)


def node_env(app) -> dict:
    """The environment of a node started from this test's app settings."""
    env = {**os.environ, "FLASK_APP": "wsgi", "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "SECRET_KEY": "jobs-test",
           "PHOTO_DIR": app.config["PHOTO_DIR"], "ARCHIVE_DIR": app.config["ARCHIVE_DIR"]}
    for key in ("STORAGE_BACKEND", "S3_ENDPOINT_URL", "S3_BUCKET", "S3_ADDRESSING_STYLE", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "S3_REGION"):
        if app.config.get(key):
            env[key] = str(app.config[key])
    return env


def on_two_nodes(app, *args: str) -> list[str]:
    """Start `flask <args>` twice at the same instant; both must succeed; returns their outputs."""
    db.session.commit()  # and no transaction of ours stays open while the nodes run
    env = node_env(app)
    procs = [subprocess.Popen([str(ROOT / ".venv/bin/flask"), *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for _ in range(2)]
    outputs = [p.communicate(timeout=300)[0].decode() for p in procs]
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out
    db.session.expire_all()
    return outputs


def test_complaint_escalation_on_two_nodes_at_once_raises_each_level_once(app, demo):
    from .support.complaints import take

    db.session.add(Webhook(site_id=demo.id, url="http://127.0.0.1:9/hook", preset="generic"))
    late = take(demo, received_at=utcnow() - 3 * DAY)  # three levels due: supervisor, manager, general manager
    outputs = on_two_nodes(app, "complaints", "escalate")
    raised = sum(int(o.split("raised ")[1].split()[0]) for o in outputs if "raised " in o)
    assert raised == 3, outputs
    keys = db.session.execute(select(Notification.dedupe_key).where(Notification.dedupe_key.like(f"complaint:{late.id}:%"))).scalars().all()
    assert len(keys) == len(set(keys)) == 3, keys
    assert count(select(WebhookDelivery.id)) == 3


def count(stmt) -> int:
    return db.session.execute(select(func.count()).select_from(stmt.subquery())).scalar()


def test_escalation_on_two_nodes_at_once_sends_one_notice_per_task_and_recipient(app, demo):
    now = utcnow()
    db.session.add(Webhook(site_id=demo.id, url="http://127.0.0.1:9/hook", preset="generic"))
    lates = [finding(demo, code, observed_at=now - 8 * DAY)[1].id for code in ("F01", "F02", "F03")]
    outputs = on_two_nodes(app, "tasks", "escalate")
    notices = db.session.execute(select(Notification.task_id, Notification.user_id).where(Notification.kind == choices.NOTIFY_OVERDUE)).all()
    recipients = sorted([user("supervisor").id, user("manager").id])
    assert sorted(notices) == sorted((t, u) for t in lates for u in recipients), outputs
    assert count(select(WebhookDelivery.id)) == 3  # one queued message per escalation
    assert sum(int(o.split("escalated ")[1].split()[0]) for o in outputs if "escalated " in o) == 3, outputs


class SlowAnswers(list):
    """The receiver's script: every answer is 200 after 0.4 s, so the two runs overlap while they send."""

    def pop(self, index=-1):
        time.sleep(0.4)
        return 200, {}


def test_webhook_delivery_on_two_nodes_at_once_sends_each_message_once(app, demo):
    receiver = Receiver()
    receiver.script = SlowAnswers([None])
    try:
        hook = Webhook(site_id=demo.id, url=receiver.url + "/hook", preset="generic")
        db.session.add(hook)
        db.session.flush()
        for n in range(6):
            db.session.add(WebhookDelivery(webhook_id=hook.id, dedupe_key=f"k{n}", payload={"event": "test", "n": n},
                                           status=choices.WEBHOOK_PENDING, next_attempt_at=utcnow() - DAY))
        outputs = on_two_nodes(app, "webhooks", "deliver")
        sent = sorted(r["body"]["data"]["n"] for r in receiver.requests)
        assert sent == list(range(6)), outputs
        assert count(select(WebhookDelivery.id).where(WebhookDelivery.status == choices.WEBHOOK_SENT)) == 6
    finally:
        receiver.close()


def test_sealing_on_two_nodes_at_once_files_one_bundle(app, demo, s3_config):
    server, bucket = s3_config
    app.config["ARCHIVE_DIR"] = app.config["PHOTO_DIR"] + "-archives"
    september(demo)
    outputs = on_two_nodes(app, "archive", "seal", "--site", "DEMO", "--month", "2026-09")
    built = db.session.execute(select(AuditEvent).where(AuditEvent.entity == "month", AuditEvent.action == "bundle_built")).scalars().all()
    assert len(built) == 1, outputs
    assert server.keys(bucket, "archives/") == ["archives/DEMO/2026-09/DEMO-2026-09.zip"]  # no orphan, no second file
    row = archive.get_row(demo.id, "2026-09")
    assert row.state == choices.MONTH_ARCHIVED and len(row.files) == 1 and archive.verify_filed(row) == []
    on_two_nodes(app, "archive", "build")  # nothing new: no addendum from either node
    assert len(archive.get_row(demo.id, "2026-09").files) == 1


def test_retention_purge_on_two_nodes_at_once_writes_one_purge_log_entry_per_month(app, demo):
    app.config["ARCHIVE_DIR"] = app.config["PHOTO_DIR"] + "-archives"
    build_month(demo, SEPT_2024)
    build_month(demo, OCT_2024)
    seal_both(demo)
    outputs = on_two_nodes(app, "retention", "purge", "--apply", "--site", "DEMO")
    logs = db.session.execute(select(PurgeLog.month)).scalars().all()
    assert sorted(logs) == ["2024-09", "2024-10"], outputs
    assert count(select(AuditEvent.id).where(AuditEvent.action == "purged")) == 2


def test_sync_prune_on_two_nodes_at_once_drops_each_tombstone_once(app, demo):
    for n in range(5):
        record_change("task", 900000 + n, site_id=demo.id, op="delete")
    db.session.commit()
    db.session.execute(update(Change).where(Change.op == "delete").values(at=utcnow() - 400 * DAY))
    outputs = on_two_nodes(app, "sync", "prune")
    dropped = sum(int(o.split("dropped ")[1].split()[0]) for o in outputs if "dropped " in o)
    assert dropped == 5 and count(select(Change.cursor).where(Change.op == "delete")) == 0, outputs


@pytest.mark.parametrize("job,args", [
    ("tasks escalate", ["tasks", "escalate"]),
    ("complaints escalate", ["complaints", "escalate"]),
    ("archive filing", ["archive", "build"]),
    ("retention purge", ["retention", "purge", "--apply"]),
    ("sync prune", ["sync", "prune"]),
])
def test_a_job_another_node_is_running_is_skipped(app, demo, job, args):
    """While one node holds the job's advisory lock, the same command elsewhere stands aside (and succeeds)."""
    db.session.commit()
    holding, release = threading.Event(), threading.Event()

    def other_node():
        with app.app_context(), single_run(job) as mine:
            assert mine
            holding.set()
            release.wait(120)

    t = threading.Thread(target=other_node)
    t.start()
    try:
        assert holding.wait(30)
        result = subprocess.run([str(ROOT / ".venv/bin/flask"), *args], cwd=ROOT, env=node_env(app), capture_output=True, text=True, timeout=120)
        assert result.returncode == 0 and f"skipped: {job} is running on another node" in result.stdout, result.stdout + result.stderr
    finally:
        release.set()
        t.join()
    # Released: the next run does the job.
    with single_run(job) as mine:
        assert mine
