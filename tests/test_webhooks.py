"""Outbound webhooks against a real HTTP server on 127.0.0.1: presets, retries with backoff, visible failures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import urllib.parse
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from server import choices, webhooks
from server.extensions import db
from server.models import Webhook, WebhookDelivery, utcnow

from .support.receiver import Receiver
from .support.tasks import finding


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _hook(site, url, preset="generic", secret=""):
    hook = Webhook(site_id=site.id, url=url, preset=preset, secret=secret)
    db.session.add(hook)
    db.session.commit()
    return hook


def _delivery() -> WebhookDelivery:
    db.session.expire_all()
    return db.session.execute(select(WebhookDelivery)).scalar_one()


def test_failing_webhook_is_retried_with_backoff_and_then_delivered(demo, receiver):
    _hook(demo, f"{receiver.url}/hook", secret="s3cret")
    receiver.script = [(500, {}), (503, {})]
    finding(demo, severity="major")
    now = utcnow()
    assert webhooks.deliver_pending(now) == {"sent": 0, "retrying": 1, "failed": 0}
    d = _delivery()
    assert d.status == "pending" and d.attempts == 1 and d.last_error == "HTTP 500 Internal Server Error"
    assert d.next_attempt_at == now + timedelta(minutes=1)
    # Not due yet: nothing is sent before the backoff has passed.
    assert webhooks.deliver_pending(now + timedelta(seconds=30)) == {"sent": 0, "retrying": 0, "failed": 0}
    assert webhooks.deliver_pending(now + timedelta(minutes=1)) == {"sent": 0, "retrying": 1, "failed": 0}
    assert _delivery().next_attempt_at == now + timedelta(minutes=1) + timedelta(minutes=2)
    assert webhooks.deliver_pending(now + timedelta(minutes=3)) == {"sent": 1, "retrying": 0, "failed": 0}
    d = _delivery()
    assert d.status == "sent" and d.attempts == 3 and d.last_error == "" and d.sent_at
    assert len(receiver.requests) == 3
    body = receiver.requests[-1]["body"]
    assert body["event"] == "major_finding" and body["data"]["severity"] == "major" and body["data"]["task_id"]
    raw = json.dumps(body, sort_keys=True, ensure_ascii=False).encode()
    assert receiver.requests[-1]["headers"]["X-Patrol-Signature"] == "sha256=" + hmac.new(b"s3cret", raw, hashlib.sha256).hexdigest()


def test_webhook_that_keeps_failing_is_marked_failed_and_admins_see_it(demo, receiver, as_role):
    hook = _hook(demo, f"{receiver.url}/hook")
    receiver.script = [(500, {})] * webhooks.MAX_ATTEMPTS
    finding(demo, severity="major")
    now = utcnow()
    for _ in range(webhooks.MAX_ATTEMPTS):
        now = _delivery().next_attempt_at
        webhooks.deliver_pending(now)
    d = _delivery()
    assert d.status == "failed" and d.attempts == webhooks.MAX_ATTEMPTS
    assert len(receiver.requests) == webhooks.MAX_ATTEMPTS
    assert webhooks.deliver_pending(now + timedelta(days=1))["failed"] == 0  # given up: not tried again
    admin = as_role("admin")
    listed = admin.get(f"/api/webhooks/?site_id={demo.id}").get_json()
    assert listed[0]["failed"] == 1 and listed[0]["last_error"] == "HTTP 500 Internal Server Error"
    failed = admin.get(f"/api/webhooks/{hook.id}/deliveries?status=failed").get_json()["items"]
    assert [x["attempts"] for x in failed] == [webhooks.MAX_ATTEMPTS]
    assert as_role("manager").get(f"/api/webhooks/{hook.id}/deliveries").status_code == 403
    # An admin can send it again once the receiver is fixed.
    r = admin.post(f"/api/webhooks/deliveries/{d.id}/retry")
    assert r.status_code == 200 and r.get_json()["status"] == "pending"
    assert webhooks.deliver_pending()["sent"] == 1
    assert admin.post(f"/api/webhooks/deliveries/{d.id}/retry").status_code == 409


def test_unreachable_webhook_error_is_recorded(demo):
    _hook(demo, "http://127.0.0.1:9/nothing-listens-here")
    finding(demo, severity="major")
    webhooks.deliver_pending()
    assert _delivery().last_error.startswith("could not connect")


def test_flask_webhooks_deliver_sends_what_is_due(demo, receiver, runner):
    _hook(demo, f"{receiver.url}/hook")
    finding(demo, severity="major")
    result = runner.invoke(args=["webhooks", "deliver"])
    assert result.exit_code == 0 and "sent 1" in result.output, result.output
    assert len(receiver.requests) == 1


def test_wecom_preset_sends_a_markdown_robot_message_and_errcode_counts_as_failure(demo, receiver):
    _hook(demo, f"{receiver.url}/cgi-bin/webhook/send?key=abc", preset="wecom")
    receiver.script = [(200, {"errcode": 93000, "errmsg": "invalid webhook url"})]
    finding(demo, severity="major")
    webhooks.deliver_pending()
    d = _delivery()
    assert d.status == "pending" and "errcode 93000" in d.last_error
    body = receiver.requests[0]["body"]
    assert body["msgtype"] == "markdown" and "重大问题" in body["markdown"]["content"] and "1楼" in body["markdown"]["content"]
    assert receiver.requests[0]["path"] == "/cgi-bin/webhook/send?key=abc"


def test_dingtalk_preset_signs_with_its_secret(demo, receiver):
    _hook(demo, f"{receiver.url}/robot/send?access_token=t", preset="dingtalk", secret="SECxyz")
    receiver.script = [(200, {"errcode": 0, "errmsg": "ok"})]
    finding(demo, severity="major")
    assert webhooks.deliver_pending()["sent"] == 1
    req = receiver.requests[0]
    query = urllib.parse.parse_qs(urllib.parse.urlparse(req["path"]).query)
    ts = query["timestamp"][0]
    expected = base64.b64encode(hmac.new(b"SECxyz", f"{ts}\nSECxyz".encode(), hashlib.sha256).digest()).decode()
    assert query["sign"][0] == expected and query["access_token"] == ["t"]
    assert req["body"]["msgtype"] == "markdown" and req["body"]["markdown"]["title"].startswith("重大问题")


def test_admin_manages_webhooks_and_the_secret_is_never_shown(demo, as_role, other_site):
    admin = as_role("admin")
    r = admin.post("/api/webhooks/", json={"site_id": demo.id, "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", "preset": "wecom", "secret": "x"})
    assert r.status_code == 201 and "secret" not in r.get_json() and r.get_json()["has_secret"]
    hook_id = r.get_json()["id"]
    assert admin.post("/api/webhooks/", json={"site_id": demo.id, "url": "ftp://example.com"}).status_code == 422
    assert admin.post("/api/webhooks/", json={"site_id": demo.id, "url": "https://x.example", "preset": "slack"}).status_code == 422
    assert admin.post("/api/webhooks/", json={"site_id": other_site.id, "url": "https://x.example"}).status_code == 404
    assert admin.patch(f"/api/webhooks/{hook_id}", json={"active": False}).get_json()["active"] is False
    # An inactive webhook gets nothing queued.
    finding(demo, severity="major")
    assert db.session.execute(select(WebhookDelivery)).first() is None
    assert admin.delete(f"/api/webhooks/{hook_id}").status_code == 204
    assert admin.get(f"/api/webhooks/{hook_id}").status_code == 404


def test_backoff_doubles_and_is_capped():
    assert [webhooks.backoff(n).total_seconds() for n in (1, 2, 3)] == [60, 120, 240]
    assert webhooks.backoff(20) == timedelta(hours=6)
    assert choices.WEBHOOK_FAILED == "failed"


def test_a_complaint_escalation_message_calls_the_unit_a_unit(demo, receiver):
    # "12-03" alone reads like 3 December: the message says it is the unit (房号).
    from server import complaints

    from .support.complaints import take

    _hook(demo, f"{receiver.url}/cgi-bin/webhook/send?key=abc", preset="wecom")
    c = take(demo, unit="12-03", content="电梯异响")
    complaints.escalate_due(c.due_at + timedelta(minutes=1))
    db.session.commit()
    webhooks.deliver_pending()
    text = receiver.requests[0]["body"]["markdown"]["content"]
    assert "投诉升级 Complaint escalated" in text and "房号 Unit: 12-03" in text and "电梯异响" in text, text
