"""The resend preflight (docs/sync.md "Resending a long outbox"): what of a phone's outbox the server already holds.

Before pushing a long outbox, the phone names the sequence numbers of its unsent records
(as ranges: a few bytes for thousands of records) and the photos it still has to upload
(id and SHA-256). The answer comes from the idempotency table and the photo rows:

- each stored mutation of that device and user in those ranges, with its id, the first 16
  hex digits of its content hash and how it ended (applied with its first result, as a
  `duplicate` answer carries it, or rejected with its code), so
  the phone marks exactly those records as a `duplicate` (or `rejected`) answer would,
  after checking that the id and the content are its own;
- the photos already received under that id with that SHA-256.

It writes nothing and decides nothing: a record the phone does not mark here is simply
pushed, and the push's own idempotency answers it. So a lost answer costs nothing but the
full push, which still ends in `duplicate`.
"""

from __future__ import annotations

from sqlalchemy import and_, or_, select

from .. import choices
from ..extensions import db
from ..models import Mutation, Photo, User
from ..problems import Invalid, TooLarge
from .devices import refuse_if_owned_by_another

MAX_SPAN = 5000  # sequence numbers named by one preflight, all ranges together
MAX_PHOTOS = 1000
HASH_DIGITS = 16


def held(user: User, device_id: str, ranges: list[list[int]], photos: list[dict]) -> dict:
    """What the server holds of these seq ranges of this device (this user's only) and of these photos."""
    span = 0
    for pair in ranges:
        first, last = pair
        if last < first:
            raise Invalid.field("seqs", "invalid", "Each range is [first, last] with first ≤ last.", field_code="field_invalid", type="list")
        span += last - first + 1
    if span > MAX_SPAN:
        raise TooLarge(f"At most {MAX_SPAN} sequence numbers per question; ask for the rest in the next one.", "too_many_seqs",
                       {"limit": MAX_SPAN})
    if len(photos) > MAX_PHOTOS:
        raise TooLarge(f"At most {MAX_PHOTOS} photos per question.", "too_many_photos", {"limit": MAX_PHOTOS})
    refuse_if_owned_by_another(user, device_id)
    out: list[dict] = []
    if ranges:
        rows = db.session.execute(
            select(Mutation.seq, Mutation.id, Mutation.payload_hash, Mutation.status, Mutation.result)
            .where(Mutation.device_id == device_id, Mutation.user_id == user.id,
                   or_(*(Mutation.seq.between(first, last) for first, last in ranges)))
            .order_by(Mutation.seq)
        )
        for row in rows:
            item = {"seq": row.seq, "mutation_id": row.id, "hash": row.payload_hash[:HASH_DIGITS], "status": row.status}
            if row.status == choices.SYNC_REJECTED:
                item.update({k: v for k, v in (row.result or {}).items() if k in ("code", "message", "details")})
            else:
                item["result"] = row.result or {}
            out.append(item)
    photo_ids: list[str] = []
    wanted = {p["id"].lower(): p["sha256"].lower() for p in photos}
    if wanted:
        photo_ids = sorted(
            pid for pid, sha in db.session.execute(
                select(Photo.id, Photo.sha256).where(
                    and_(Photo.id.in_(list(wanted)), Photo.uploaded_by == user.id, Photo.status == choices.PHOTO_RECEIVED)
                )
            )
            if sha == wanted[pid]
        )
    return {"held": out, "photo_ids": photo_ids}
