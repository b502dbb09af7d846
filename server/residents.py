"""What residents say on patrol ("ask", the fourth method): notes taken at a checkpoint during a visit.

A note keeps the resident's words. Their unit and contact are personal data: kept only when
the resident agreed (`consent`), and dropped here whatever the phone sent otherwise. Notes
are read by the site's desk only (policy `resident.read`). A note may be turned into a
finding of the same visit on the phone; it then names that finding (`finding_id`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from .extensions import db
from .models import Checkpoint, Finding, ResidentNote, User, Visit
from .timeutil import month_of

MAX_SAID = 4000
MAX_UNIT = 64
MAX_CONTACT = 120


def personal(consent: bool, unit: str, contact: str) -> tuple[str, str]:
    """The unit and contact to keep: none at all without the resident's consent."""
    if not consent:
        return "", ""
    return unit.strip(), contact.strip()


def note_row(*, note_id: str, site, checkpoint_id: int, visit_id: str, finding_id: str | None, user_id: int,
             said: str, consent: bool, unit: str, contact: str, observed_at: datetime, created_at: datetime) -> dict:
    unit, contact = personal(consent, unit, contact)
    return {
        "id": note_id, "site_id": site.id, "checkpoint_id": checkpoint_id, "visit_id": visit_id, "finding_id": finding_id,
        "recorded_by": user_id, "said": said, "consent": bool(consent), "unit": unit, "contact": contact,
        "observed_at": observed_at, "created_at": created_at, "month": month_of(observed_at, site.timezone),
    }


def visit_of(visit_id: str):
    return db.session.execute(select(Visit.id, Visit.site_id, Visit.checkpoint_id, Visit.user_id, Visit.scanned_at).where(Visit.id == visit_id)).first()


def finding_of(finding_id: str):
    return db.session.execute(select(Finding.id, Finding.visit_id).where(Finding.id == finding_id)).first()


def as_dict(note: ResidentNote, names: dict, checkpoints: dict) -> dict:
    cp = checkpoints.get(note.checkpoint_id)
    return {
        "id": note.id, "site_id": note.site_id, "checkpoint_id": note.checkpoint_id,
        "checkpoint_name": cp.name_zh if cp else "", "checkpoint_name_en": (cp.name_en or "") if cp else "",
        "checkpoint_short_code": cp.short_code if cp else "",
        "visit_id": note.visit_id, "finding_id": note.finding_id, "recorded_by": note.recorded_by,
        "recorded_by_name": names.get(note.recorded_by, ""), "said": note.said, "consent": note.consent,
        "unit": note.unit, "contact": note.contact, "observed_at": note.observed_at, "month": note.month,
    }


def described(notes: list[ResidentNote]) -> list[dict]:
    """Notes with the names a screen shows (who recorded it, where), in two queries for the lot."""
    user_ids = {n.recorded_by for n in notes}
    cp_ids = {n.checkpoint_id for n in notes}
    names = {u.id: u.display_name or u.username for u in db.session.execute(select(User).where(User.id.in_(user_ids))).scalars()} if user_ids else {}
    cps = {c.id: c for c in db.session.execute(select(Checkpoint).where(Checkpoint.id.in_(cp_ids))).scalars()} if cp_ids else {}
    return [as_dict(n, names, cps) for n in notes]


def of_finding(finding_id: str) -> list[ResidentNote]:
    return list(db.session.execute(select(ResidentNote).where(ResidentNote.finding_id == finding_id).order_by(ResidentNote.observed_at)).scalars())
