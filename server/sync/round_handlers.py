"""Round mutations beyond its start and end: why checkpoints of the round's plan were missed (`round.missed`)."""

from __future__ import annotations

from sqlalchemy import insert, select

from .. import choices
from ..extensions import db
from ..field_errors import DUPLICATE, REQUIRED
from ..models import MissedReason, Round
from ..plans import MAX_CHECKPOINTS
from .context import Context, Observed, Plan
from .fields import UNKNOWN_PLAN, UNKNOWN_ROUND, Fields, Rejection

NOTE_MAX = 500


def handle_round_missed(ctx: Context, payload, observed: Observed) -> Plan:
    """One reason per missed checkpoint (locked, under repair, no access, other + words), all or none.

    Given when the round ends, so the round may be open or already ended. The checkpoints must
    be of the round's site; the round must follow a plan (it has nothing to miss otherwise).
    A reason once given for a checkpoint of a round is not replaced: another mutation naming
    it again is refused as `record_exists`.
    """
    f = Fields(payload)
    round_id = f.uuid("round_id")
    raw = f.objects("reasons", limit=MAX_CHECKPOINTS)
    if f.has("reasons") and not raw and "reasons" not in f.errors:
        f.fail("reasons", "give at least one reason", REQUIRED)
    given: list[tuple[int, int, str, str]] = []
    seen: set[int] = set()
    for n, item in enumerate(raw):
        r = f.sub(item, f"reasons.{n}.")
        checkpoint_id = r.int("checkpoint_id")
        reason = r.choice("reason", choices.MISSED_REASONS)
        note = r.text("note", required=reason == choices.MISSED_OTHER, max_len=NOTE_MAX).strip()
        if checkpoint_id in seen:
            r.fail("checkpoint_id", "each checkpoint has one reason only", DUPLICATE)
        seen.add(checkpoint_id)
        given.append((n, checkpoint_id, reason, note))
    if not f.has("reasons"):
        f.fail("reasons", "required", REQUIRED)
    f.check()
    known = ctx.round(round_id)
    if known is None or known.user_id != ctx.user.id:
        raise Rejection(UNKNOWN_ROUND, "This round is not known; it may have been rejected when it started.")
    site = ctx.recording_site(known.site_id)
    for n, checkpoint_id, _reason, _note in given:
        ctx.checkpoint(site.id, Fields({"checkpoint_id": checkpoint_id}, f"reasons.{n}."))

    def record() -> dict:
        # The round may have started earlier in this very push: the engine has written it by now.
        plan_id = db.session.execute(select(Round.plan_id).where(Round.id == round_id)).scalar()
        if plan_id is None:
            raise Rejection(UNKNOWN_PLAN, "This round follows no patrol plan, so no checkpoint of it can be missed.")
        rows = [
            {
                "round_id": round_id, "site_id": site.id, "plan_id": plan_id, "checkpoint_id": checkpoint_id, "user_id": ctx.user.id,
                "reason": reason, "note": note, "given_at": observed.at, "given_at_device": observed.device,
                "created_at": ctx.clock.received_at,
            }
            for _n, checkpoint_id, reason, note in given
        ]
        db.session.execute(insert(MissedReason), rows)
        return {"round_id": round_id, "checkpoint_ids": [row["checkpoint_id"] for row in rows]}

    return Plan(call=record)
