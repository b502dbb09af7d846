"""Resident notes and photo drawings written straight to the database, and their authorisation-matrix samples."""

from __future__ import annotations

from datetime import timedelta

from server import residents
from server.extensions import db
from server.models import Photo, ResidentNote, Site, utcnow

from .ids import new_id
from .records import add_visit

DRAWING = {"shapes": [{"kind": "circle", "x": 0.42, "y": 0.31, "r": 0.12}, {"kind": "arrow", "x1": 0.1, "y1": 0.9, "x2": 0.38, "y2": 0.4}]}


def add_note(site: Site, *, code: str = "F01", consent: bool = True, said: str = "住户说楼道灯不亮", finding_id: str | None = None) -> ResidentNote:
    when = utcnow() - timedelta(minutes=5)
    visit = add_visit(site, code, when)
    row = residents.note_row(note_id=new_id(), site=site, checkpoint_id=visit.checkpoint_id, visit_id=visit.id, finding_id=finding_id,
                             user_id=visit.user_id, said=said, consent=consent, unit="8-02", contact="13800000000",
                             observed_at=when, created_at=when)
    note = ResidentNote(**row)
    db.session.add(note)
    db.session.commit()
    return note


def _drawn_photo(ctx) -> str:
    """The matrix's photo, with a drawing already kept: sending the same drawing again changes nothing."""
    photo = db.session.get(Photo, ctx.photo_id)
    photo.annotation = DRAWING
    db.session.commit()
    return ctx.photo_id


def _note_id(ctx) -> str:
    if not hasattr(ctx, "resident_note_id"):
        ctx.resident_note_id = add_note(ctx.site).id
    return ctx.resident_note_id


RESIDENT_SAMPLES = {
    ("GET", "/api/resident-notes/"): lambda c: {"url": f"/api/resident-notes/?site_id={c.site_id}"},
    ("GET", "/api/resident-notes/<note_id>"): lambda c: {"url": f"/api/resident-notes/{_note_id(c)}"},
    ("PUT", "/api/photos/<photo_id>/annotation"): lambda c: {"url": f"/api/photos/{_drawn_photo(c)}/annotation", "json": DRAWING},
}
