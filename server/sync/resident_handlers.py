"""The `resident.note` mutation: what a resident said at a checkpoint, queued on the phone with its visit.

The phone queues it right after the visit it was heard in (the visit, and a finding made
from the note, are then already on the server). Its `note_id` makes it once; the mutation
id makes a resend answer the same (docs/sync.md). Without the resident's consent the unit
and contact are not kept, whatever was sent (server/residents.py).
"""

from __future__ import annotations

from sqlalchemy import insert

from .. import residents
from ..extensions import db
from ..models import ResidentNote
from .context import Context, Observed, Plan
from .fields import RECORD_EXISTS, Fields, Rejection

UNKNOWN_VISIT = "unknown_visit"
UNKNOWN_FINDING = "unknown_finding"


def handle_resident_note(ctx: Context, payload, observed: Observed) -> Plan:
    f = Fields(payload)
    note_id = f.uuid("note_id")
    site_id = f.int("site_id")
    visit_id = f.uuid("visit_id")
    finding_id = f.uuid("finding_id", required=False)
    said = f.text("said", required=True, max_len=residents.MAX_SAID)
    consent = f.flag("consent")
    unit = f.text("unit", max_len=residents.MAX_UNIT)
    contact = f.text("contact", max_len=residents.MAX_CONTACT)
    f.check()
    site = ctx.recording_site(site_id)
    cp = ctx.checkpoint(site.id, f)

    def record() -> dict:
        if db.session.get(ResidentNote, note_id) is not None:
            raise Rejection(RECORD_EXISTS, "A resident note with this id already exists.")
        visit = residents.visit_of(visit_id)
        if visit is None or visit.site_id != site.id or visit.checkpoint_id != cp.id or visit.user_id != ctx.user.id:
            raise Rejection(UNKNOWN_VISIT, "This note names a visit of yours at this checkpoint that is not known; it may have been rejected.")
        if finding_id is not None:
            finding = residents.finding_of(finding_id)
            if finding is None or finding.visit_id != visit_id:
                raise Rejection(UNKNOWN_FINDING, "This note names a finding that is not one of its visit's.")
        row = residents.note_row(
            note_id=note_id, site=site, checkpoint_id=cp.id, visit_id=visit_id, finding_id=finding_id, user_id=ctx.user.id,
            said=said, consent=consent, unit=unit, contact=contact, observed_at=observed.at, created_at=ctx.clock.received_at,
        )
        db.session.execute(insert(ResidentNote).values(**row))
        return {"note_id": note_id, "finding_id": finding_id}

    return Plan(call=record)
