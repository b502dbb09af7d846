"""Outbound webhooks: queue one delivery per active site webhook, deliver with retries.

A delivery is queued in the same transaction as the event that caused it, under a dedupe
key unique per webhook, so a replayed sync queues nothing twice. `flask webhooks deliver`
(run every minute by cron or a systemd timer) sends what is due; a failed attempt is
retried with exponential backoff, and after the last attempt the delivery is marked
failed with its error, which admins see in the webhook API.

Sending commits on its own, delivery by delivery: the lease on a delivery (claimed with
FOR UPDATE SKIP LOCKED) is committed before the slow call to the outside, so an
overlapping run, on this node or another, skips it, and each outcome is
committed at once, because a message already sent cannot be taken back by a later
rollback.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update

from . import choices
from .extensions import db, dialect_insert
from .models import Webhook, WebhookDelivery, utcnow

MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 60
BACKOFF_MAX_SECONDS = 6 * 3600
# While one `deliver` run sends a delivery, another run leaves it alone for this long.
LEASE_SECONDS = 120
TIMEOUT_SECONDS = 10

_TITLES = {
    choices.NOTIFY_MAJOR_FINDING: ("重大问题", "Major problem"),
    choices.NOTIFY_OVERDUE: ("整改逾期", "Repair overdue"),
    choices.NOTIFY_COMPLAINT_ESCALATED: ("投诉升级", "Complaint escalated"),
}


def backoff(attempts: int) -> timedelta:
    """Wait before the next try after `attempts` failures: 1, 2, 4 … minutes, at most 6 hours."""
    return timedelta(seconds=min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS))


def queue(site_id: int, dedupe_key: str, event: dict) -> int:
    """Queue `event` for every active webhook of the site, once per dedupe key."""
    return queue_all([(site_id, dedupe_key, event)])


# Built once (every sync push with a major finding asks): a statement object keeps its cache key.
_ACTIVE_HOOKS = (select(Webhook.id, Webhook.site_id)
                 .where(Webhook.site_id.in_(bindparam("site_ids", expanding=True)), Webhook.active.is_(True)).order_by(Webhook.id))


def queue_all(events: list[tuple[int, str, dict]]) -> int:
    """Queue each (site id, dedupe key, event) for every active webhook of its site, once per key:
    one query for the hooks and one INSERT … ON CONFLICT DO NOTHING for all deliveries (a
    replay, or a concurrent writer that got there first, adds nothing). Returns how many are new."""
    if not events:
        return 0
    hooks: dict[int, list[int]] = {}
    for hook_id, site_id in db.session.execute(_ACTIVE_HOOKS, {"site_ids": sorted({e[0] for e in events})}):
        hooks.setdefault(site_id, []).append(hook_id)
    now = utcnow()
    rows = [
        {"webhook_id": hook_id, "dedupe_key": key, "payload": event, "status": choices.WEBHOOK_PENDING, "next_attempt_at": now}
        for site_id, key, event in events for hook_id in hooks.get(site_id, ())
    ]
    if not rows:
        return 0
    table = WebhookDelivery.__table__
    stmt = dialect_insert(table).on_conflict_do_nothing(index_elements=["webhook_id", "dedupe_key"]).returning(table.c.id)
    return len(db.session.execute(stmt, rows).all())


def _text(event: dict) -> tuple[str, str]:
    zh, en = _TITLES.get(event.get("event"), ("巡查通知", "Patrol notice"))
    title = f"{zh} {en} · {event.get('site_name', '')}"
    lines = [f"### {title}"]
    for label, key in (
        ("投诉 Complaint", "complaint_id"),
        # A unit such as "12-03" reads like a date unless it is called a unit.
        ("房号 Unit", "unit"),
        ("投诉内容 Complaint text", "content"),
        ("地点 Checkpoint", "checkpoint_name"),
        ("类别 Category", "category"),
        ("描述 Description", "description"),
        ("发现时间 Observed", "observed_at_local"),
        ("整改期限 Due", "due_at_local"),
        ("任务 Task", "task_id"),
        ("逾期天数 Days overdue", "days_overdue"),
    ):
        if event.get(key) not in (None, ""):
            lines.append(f"- {label}: {event[key]}")
    return title, "\n".join(lines)


def render(hook: Webhook, event: dict) -> tuple[str, dict, dict]:
    """(url, JSON body, extra headers) for a webhook's preset."""
    url = hook.url
    headers: dict[str, str] = {}
    if hook.preset == choices.WEBHOOK_WECOM:
        # WeCom group robot: the key is in the URL; markdown messages.
        _, text = _text(event)
        return url, {"msgtype": "markdown", "markdown": {"content": text}}, headers
    if hook.preset == choices.WEBHOOK_DINGTALK:
        title, text = _text(event)
        if hook.secret:
            # DingTalk "加签": HMAC-SHA256 of "timestamp\nsecret", base64, in the query string.
            ts = str(int(time.time() * 1000))
            digest = hmac.new(hook.secret.encode(), f"{ts}\n{hook.secret}".encode(), hashlib.sha256).digest()
            sign = urllib.parse.quote_plus(base64.b64encode(digest).decode())
            url = f"{url}{'&' if '?' in url else '?'}timestamp={ts}&sign={sign}"
        return url, {"msgtype": "markdown", "markdown": {"title": title, "text": text}}, headers
    body = {"event": event.get("event"), "data": event}
    if hook.secret:
        raw = json.dumps(body, sort_keys=True, ensure_ascii=False).encode()
        headers["X-Patrol-Signature"] = "sha256=" + hmac.new(hook.secret.encode(), raw, hashlib.sha256).hexdigest()
    return url, body, headers


def _post(url: str, body: dict, headers: dict) -> str | None:
    """Send once; None on success, else the error as a person would read it."""
    raw = json.dumps(body, sort_keys=True, ensure_ascii=False).encode()
    req = urllib.request.Request(url, data=raw, method="POST", headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "Patrol-Webhook/1", **headers})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_SECONDS) as resp:  # noqa: S310 (admins choose http(s) URLs)
            answer = resp.read(4096)
    except urllib.error.HTTPError as exc:
        exc.close()
        return f"HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return f"could not connect: {getattr(exc, 'reason', exc)}"
    # WeCom and DingTalk answer 200 with {"errcode": n} when they refuse a message.
    try:
        parsed = json.loads(answer or b"{}")
    except ValueError:
        return None
    if isinstance(parsed, dict) and parsed.get("errcode") not in (None, 0):
        return f"refused: errcode {parsed.get('errcode')} {parsed.get('errmsg', '')}".strip()
    return None


def deliver_one(delivery: WebhookDelivery, now: datetime | None = None) -> bool:
    """Try one delivery now and record the outcome; True when it was sent."""
    hook = db.session.get(Webhook, delivery.webhook_id)
    now = now or utcnow()
    error = "webhook is inactive" if not hook.active else _post(*render(hook, delivery.payload))
    delivery.attempts += 1
    if error is None:
        delivery.status = choices.WEBHOOK_SENT
        delivery.sent_at = utcnow()
        delivery.last_error = ""
    else:
        delivery.last_error = error[:2000]
        if delivery.attempts >= MAX_ATTEMPTS or not hook.active:
            delivery.status = choices.WEBHOOK_FAILED
        else:
            delivery.status = choices.WEBHOOK_PENDING
            delivery.next_attempt_at = now + backoff(delivery.attempts)
    db.session.commit()
    return error is None


def deliver_pending(now: datetime | None = None, limit: int = 200) -> dict:
    """Send every pending delivery that is due; returns counts of sent, retrying and failed.

    Safe on every node at once (docs/deploy.md): each delivery is claimed with
    `SELECT … FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite has one writer anyway) and its
    lease committed before it is sent, so two runs share the queue and none sends a
    delivery another one holds.
    """
    now = now or utcnow()
    counts = {"sent": 0, "retrying": 0, "failed": 0}
    for _ in range(limit):
        # One at a time: a lease taken just before its send cannot run out while earlier ones are sent.
        delivery_id = db.session.execute(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.status == choices.WEBHOOK_PENDING, WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).scalar()
        if delivery_id is None:
            db.session.commit()
            break
        db.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id)
            .values(next_attempt_at=now + timedelta(seconds=LEASE_SECONDS))
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        delivery = db.session.get(WebhookDelivery, delivery_id)
        db.session.refresh(delivery)
        if deliver_one(delivery, now):
            counts["sent"] += 1
        elif delivery.status == choices.WEBHOOK_FAILED:
            counts["failed"] += 1
        else:
            counts["retrying"] += 1
    return counts


def retry(delivery: WebhookDelivery) -> WebhookDelivery:
    """An admin asks for a failed delivery to be tried again from the start."""
    delivery.status = choices.WEBHOOK_PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = utcnow()
    return delivery
