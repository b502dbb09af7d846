"""Devices: a phone registered to its user, its clock offset at each push, and the gaps in its sequence numbers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import and_, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Device, Membership, Mutation, SyncRequest, User, utcnow
from ..problems import Conflict
from ..timeutil import corrected


@dataclass
class Clock:
    """One push's view of the phone clock: offset = phone − server, in milliseconds."""

    received_at: datetime
    device_time: datetime | None
    offset_ms: int

    @classmethod
    def measure(cls, device_time: datetime | None, received_at: datetime) -> "Clock":
        offset = 0 if device_time is None else round((device_time - received_at).total_seconds() * 1000)
        return cls(received_at, device_time, offset)

    def correct(self, device_dt: datetime) -> datetime:
        """Device time on the server clock; nothing can have happened after we received it."""
        return min(corrected(device_dt, self.offset_ms), self.received_at)

    def flagged(self) -> bool:
        """Off by more than CLOCK_SKEW_FLAG_SECONDS: shown to supervisors on the device list."""
        return abs(self.offset_ms) > current_app.config["CLOCK_SKEW_FLAG_SECONDS"] * 1000


def _owned_by_another() -> Conflict:
    return Conflict(
        "This device id is registered to another user. Sign out and in again so the app makes a new one.", "device_owned"
    )


def refuse_if_owned_by_another(user: User, device_id: str) -> None:
    """For a push that records nothing: refuse a device id another user owns, register nothing."""
    owner = db.session.execute(select(Device.user_id).where(Device.id == device_id)).scalar()
    if owner is not None and owner != user.id:
        raise _owned_by_another()


# Built once: every push runs it (a statement object keeps its cache key).
_DEVICE_FOR_UPDATE = select(Device).where(Device.id == bindparam("device_id")).with_for_update()


def register_device(user: User, device_id: str, user_agent: str) -> Device:
    """The device row, locked for this push; created on first sight, 409 if another user owns it."""
    device = db.session.execute(_DEVICE_FOR_UPDATE, {"device_id": device_id}).scalar_one_or_none()
    if device is None:
        now = utcnow()
        try:
            with db.session.begin_nested():
                db.session.execute(
                    insert(Device).values(
                        id=device_id, user_id=user.id, first_seen_at=now, last_seen_at=now, clock_offset_ms=0,
                        clock_flagged=False, max_seq=0, user_agent=user_agent[:300],
                    )
                )
        except IntegrityError:
            pass  # registered by a concurrent push a moment ago
        device = db.session.execute(_DEVICE_FOR_UPDATE, {"device_id": device_id}).scalar_one()
    if device.user_id != user.id:
        raise _owned_by_another()
    return device


def note_push(device: Device, user: User, clock: Clock, user_agent: str, *, applied: int, duplicates: int, rejected: int, seqs: list[int]) -> None:
    """Keep the push's clock on the device (flagged when skewed) and its counts in `sync_requests`.

    `seqs` are the sequence numbers the push used (not those refused as taken): the
    device's highest one is where its gaps end.
    """
    db.session.execute(_NOTE_DEVICE, {
        "device_id": device.id, "last_seen_at": clock.received_at, "clock_offset_ms": clock.offset_ms,
        "clock_flagged": clock.flagged(), "max_seq": max([device.max_seq, *seqs]), "user_agent": user_agent[:300],
    })
    db.session.execute(_NOTE_REQUEST, {
        "device_id": device.id, "user_id": user.id, "received_at": clock.received_at, "device_time": clock.device_time,
        "clock_offset_ms": clock.offset_ms, "mutations": applied + duplicates + rejected, "applied": applied,
        "duplicates": duplicates, "rejected": rejected,
    })


# Built once on the tables (every push runs both): a statement object keeps its cache key,
# and the ORM's synchronisation of an UPDATE is not needed (the push commits next).
_DEVICES, _SYNC_REQUESTS = Device.__table__, SyncRequest.__table__
_NOTE_DEVICE = update(_DEVICES).where(_DEVICES.c.id == bindparam("device_id")).values(
    {name: bindparam(name) for name in ("last_seen_at", "clock_offset_ms", "clock_flagged", "max_seq", "user_agent")})
_NOTE_REQUEST = insert(_SYNC_REQUESTS).values({name: bindparam(name) for name in (
    "device_id", "user_id", "received_at", "device_time", "clock_offset_ms", "mutations", "applied", "duplicates", "rejected")})


def seq_gaps(device_id: str, limit: int = 100) -> list[list[int]]:
    """Missing ranges [first, last] of a device's sequence numbers: records it never sent."""
    ordered = select(
        Mutation.seq.label("seq"), func.lag(Mutation.seq).over(order_by=Mutation.seq).label("prev")
    ).where(Mutation.device_id == device_id).subquery()
    rows = db.session.execute(
        select(ordered.c.prev, ordered.c.seq)
        .where(or_(and_(ordered.c.prev.is_(None), ordered.c.seq > 1), ordered.c.seq - ordered.c.prev > 1))
        .order_by(ordered.c.seq)
        .limit(limit)
    ).all()
    return [[(prev or 0) + 1, seq - 1] for prev, seq in rows]


def devices_for_sites(site_ids: list[int]) -> list[dict]:
    """Devices of everyone working at these sites, with their clock flag and seq gaps."""
    if not site_ids:
        return []
    users = select(Membership.user_id).where(Membership.site_id.in_(site_ids))
    rows = db.session.execute(
        select(Device, User.username, User.display_name)
        .join(User, User.id == Device.user_id)
        .where(Device.user_id.in_(users))
        .order_by(Device.last_seen_at.desc())
    ).all()
    out = []
    for device, username, display_name in rows:
        out.append(
            {
                "id": device.id, "user_id": device.user_id, "username": username, "display_name": display_name,
                "first_seen_at": device.first_seen_at, "last_seen_at": device.last_seen_at,
                "clock_offset_ms": device.clock_offset_ms, "clock_flagged": device.clock_flagged,
                "max_seq": device.max_seq, "seq_gaps": seq_gaps(device.id), "user_agent": device.user_agent,
            }
        )
    return out
