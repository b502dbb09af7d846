"""The audit trail: append-only events chained by hash, and the check of that chain.

Each event's hash covers its own content and the previous event's hash. Editing or
deleting a row breaks the chain from that row on, which `verify()` names.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from sqlalchemy import bindparam, select

from . import deferred
from .changes import take
from .extensions import db, insert_tuples
from .models import AuditEvent, Counter, utcnow

GENESIS = "0" * 64


def _digest(prev_hash: str, event_id: int, site_id, entity: str, entity_id: str, action: str, actor_id, at: datetime, data: dict) -> str:
    payload = json.dumps(
        [prev_hash, event_id, site_id, entity, str(entity_id), action, actor_id, at.isoformat(timespec="microseconds"), data],
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def record(entity: str, entity_id, action: str, *, actor_id: int | None, site_id: int | None, data: dict | None = None) -> None:
    """Queue one event; it is numbered and chained just before the transaction commits.

    Its data is serialised here, once (sort_keys, ensure_ascii off, default=str: the text
    the hash covers and the column stores): a later change to the caller's dict cannot
    reach the queued event, and a push's hundreds of events cost one C-speed dumps each.
    """
    record_many([(entity, entity_id, action, actor_id, site_id, data)])


def record_many(events) -> None:
    """Queue many events at once: (entity, entity_id, action, actor_id, site_id, data) each, in order."""
    at = utcnow()
    deferred.queue_many(
        db.session,
        "audit",
        [{"entity": entity, "entity_id": str(entity_id), "action": action, "actor_id": actor_id, "site_id": site_id, "at": at,
          "data_text": _dumps(data or {})} for entity, entity_id, action, actor_id, site_id, data in events],
    )


def _dumps(data) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)


def record_now(entity: str, entity_id, action: str, *, actor_id: int | None, site_id: int | None, data: dict | None = None) -> AuditEvent:
    """Append one event at once, for a caller that needs its hash now (a purge log)."""
    # Write it together with the events queued before it, so the chain keeps their order.
    record(entity, entity_id, action, actor_id=actor_id, site_id=site_id, data=data)
    session = db.session()
    queued = session.info.get(deferred.KEY, [])
    session.info[deferred.KEY] = [e for e in queued if e[1] != "audit"]
    last = _write_events(session, [item for _tag, kind, item in queued if kind == "audit"])[-1]
    return session.get(AuditEvent, last["id"])


@deferred.writer("audit")
def _write_events(session, items: list[dict]) -> list[dict]:
    """Number, chain and insert the queued events (one executemany); returns the rows written."""
    if not items:
        return []
    last = take("audit", len(items))
    first = last - len(items) + 1
    prev = session.execute(_HASH_OF, {"id": first - 1}).scalar() or GENESIS
    rows = []
    for n, item in enumerate(items):
        row = dict(item, id=first + n, prev_hash=prev)
        # The event's data as serialised when it was queued, for its hash and its column alike.
        row["hash"] = prev = _digest_with(row["data_text"], prev, row["id"], row["site_id"], row["entity"], row["entity_id"], row["action"], row["actor_id"], row["at"])
        rows.append(row)
    insert_tuples(AuditEvent.__table__, _COLUMNS, [tuple(row[k] for k in _KEYS) for row in rows], json_text=("data",))
    return rows


_HASH_OF = select(AuditEvent.hash).where(AuditEvent.id == bindparam("id"))  # built once: every commit that audits runs it
_COLUMNS = ("id", "site_id", "entity", "entity_id", "action", "actor_id", "at", "data", "prev_hash", "hash")
_KEYS = tuple("data_text" if c == "data" else c for c in _COLUMNS)


def _digest_with(data_text: str, prev_hash: str, event_id: int, site_id, entity: str, entity_id: str, action: str, actor_id, at: datetime) -> str:
    """`_digest` of an event whose data is already serialised (sort_keys, ensure_ascii off):
    the same text, since a JSON list is its items' texts joined by ", " in brackets."""
    # json.dumps of that list, written out: its strings by the json module's own C encoder,
    # its ints and nulls as JSON spells them (tests/test_audit.py checks it against `_digest`).
    head = (f"[{_string(prev_hash)}, {event_id}, {_number(site_id)}, {_string(entity)}, {_string(str(entity_id))}, "
            f"{_string(action)}, {_number(actor_id)}, {_string(at.isoformat(timespec='microseconds'))}, ")
    return hashlib.sha256(f"{head}{data_text}]".encode()).hexdigest()


_string = json.encoder.encode_basestring  # as json.dumps(ensure_ascii=False) writes a str


def _number(value) -> str:
    if value is None:
        return "null"
    if type(value) is int:
        return str(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def verify(batch: int = 5000) -> tuple[int, int | None, str]:
    """Walk the chain; return (events checked, first broken id or None, reason)."""
    expected_prev = GENESIS
    expected_id = 1
    checked = 0
    last_id = 0
    while True:
        rows = db.session.execute(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch)
        ).scalars().all()
        if not rows:
            # The counter remembers how many events were ever appended: a deleted tail shows.
            head = db.session.execute(select(Counter.value).where(Counter.name == "audit")).scalar() or 0
            if head > checked:
                return checked, checked + 1, f"events {checked + 1} to {head} are missing"
            return checked, None, ""
        for ev in rows:
            if ev.id != expected_id:
                return checked, expected_id, f"event {expected_id} is missing (next found is {ev.id})"
            if ev.prev_hash != expected_prev:
                return checked, ev.id, "its link to the previous event does not match"
            if ev.hash != _digest(ev.prev_hash, ev.id, ev.site_id, ev.entity, ev.entity_id, ev.action, ev.actor_id, ev.at, ev.data):
                return checked, ev.id, "its content does not match its hash (edited)"
            expected_prev = ev.hash
            expected_id += 1
            checked += 1
            last_id = ev.id
        db.session.expunge_all()
