"""Photos: who may link a photo to a record, integrity-checked idempotent upload, and the clean copies Pillow makes.

Ownership (docs/sync.md "Photos"): a photo is linked only by the person who took it, and
to one record (`may_link`); sync, tasks and findings all claim photos through it.

What is kept (docs/sync.md "Photos"): the SHA-256 of the bytes the phone sent, as
evidence, plus two JPEGs made from them, upright and with every metadata tag dropped
(GPS included): a display copy (longest side 1600 px) and a thumbnail (320 px). The
original bytes are not kept: they carry the phone's GPS position and are up to 12 MiB.
The files go through the file store (server/storage: the local disk or an S3-compatible
bucket), which writes each to a temporary name, checks its SHA-256 and only then shows it
under its real key, so an interrupted upload never leaves a partial file under a real
name. `upload` writes the files before its caller commits the row that says they are there.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterable, NamedTuple

from flask import current_app
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy.exc import IntegrityError

from . import choices, sounds
from .extensions import db
from .models import Membership, Photo, User, utcnow
from .problems import Conflict, Forbidden, Invalid, Malformed, NotFound, TooLarge, Unsupported
from .storage import get_store

FORMATS = ("JPEG", "PNG", "WEBP")
CONTENT_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
DISPLAY_SIDE = 1600
THUMB_SIDE = 320
SIZES = ("display", "thumb")


@dataclass
class Rendered:
    display: bytes
    thumb: bytes
    width: int
    height: int


def photo_key(photo_id: str, size: str) -> str:
    """<first two hex digits>/<id>.<size>.jpg in the photo store: at most 256 entries per level on a disk."""
    return f"{photo_id[:2]}/{photo_id}.{size}.jpg"


def photo_path(photo_id: str, size: str) -> Path:
    """Where the local-disk store keeps a photo file (PHOTO_DIR/<key>)."""
    return Path(current_app.config["PHOTO_DIR"]) / photo_key(photo_id, size)


def _draft_box(width: int, height: int, side: int) -> tuple[int, int]:
    """The draft request for a JPEG: the target size in the file's own orientation.

    draft() only scales down when the requested box is no bigger than the real target on
    both sides, so it follows the aspect ratio; a 90° EXIF rotation keeps the longest side.
    """
    scale = side / max(width, height)
    return max(1, int(width * scale)), max(1, int(height * scale))


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """Open with Pillow, only our formats, refusing decompression bombs and non-images."""
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; we refuse both.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=list(FORMATS))
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise TooLarge(f"The image has too many pixels (the limit is {max_pixels:,}).", "too_many_pixels")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise Invalid("This file is not a JPEG, PNG or WebP image.", "not_an_image")
    width, height = im.size
    if width * height > max_pixels or width < 1 or height < 1:
        raise TooLarge(f"The image has too many pixels (the limit is {max_pixels:,}).", "too_many_pixels")
    return im


def _as_rgb(im: Image.Image) -> Image.Image:
    if im.mode in ("RGBA", "LA", "P", "PA"):
        im = im.convert("RGBA")
        background = Image.new("RGB", im.size, (255, 255, 255))
        background.paste(im, mask=im.getchannel("A"))
        return background
    return im if im.mode == "RGB" else im.convert("RGB")


def _jpeg(im: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    # Pillow would copy some of the source's info (a JPEG comment, for one) into the new
    # file; with info emptied and no exif= or icc_profile=, it carries no metadata at all.
    im.info = {}
    im.save(out, "JPEG", quality=quality, optimize=False, progressive=False)
    return out.getvalue()


def render(data: bytes, max_pixels: int) -> Rendered:
    """Decode once at reduced size, turn upright, and make the display and thumbnail JPEGs."""
    im = _open(data, max_pixels)
    try:
        if im.format == "JPEG":
            # Must come before anything loads pixels (exif_transpose does).
            im.draft("RGB", _draft_box(*im.size, DISPLAY_SIDE))
        im = ImageOps.exif_transpose(im)
        im = _as_rgb(im)
        im.thumbnail((DISPLAY_SIDE, DISPLAY_SIDE), Image.Resampling.LANCZOS, reducing_gap=2.0)
        display = _jpeg(im, 85)
        thumb_im = im.copy()
        thumb_im.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS, reducing_gap=2.0)
        return Rendered(display, _jpeg(thumb_im, 80), im.width, im.height)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        # A truncated or corrupt file fails only when its pixels are decoded.
        raise Invalid(f"The image could not be read (damaged or incomplete file): {exc}", "not_an_image")


def _store(photo_id: str, rendered: Rendered) -> None:
    """Each file all or nothing (server/storage); a crash between the two leaves the row uncommitted, and the retry rewrites both."""
    store = get_store("photos")
    for size, data in (("display", rendered.display), ("thumb", rendered.thumb)):
        store.put(photo_key(photo_id, size), data, "image/jpeg")


def delete_files(photo_id: str) -> int:
    """Remove a photo's stored files (retention); returns how many were there."""
    store = get_store("photos")
    return sum(store.delete(photo_key(photo_id, size)) for size in SIZES) + store.delete(sounds.sound_key(photo_id))


# --- who may link a photo to a record ------------------------------------------------


class Held(NamedTuple):
    """What `may_link` reads of a photo: who took it and the record it belongs to (a Photo has the same attributes)."""

    uploaded_by: int | None
    site_id: int | None
    visit_id: str | None
    finding_id: str | None
    task_id: int | None
    purpose: str
    complaint_id: int | None = None


HELD_COLUMNS = (Photo.uploaded_by, Photo.site_id, Photo.visit_id, Photo.finding_id, Photo.task_id, Photo.purpose, Photo.complaint_id)
UNLINKED = (None, None, None, None)


@dataclass(frozen=True)
class Link:
    """The one record a photo belongs to (a visit, a finding of a visit, a task, or a complaint), at one site, and its role there."""

    site_id: int
    purpose: str
    visit_id: str | None = None
    finding_id: str | None = None
    task_id: int | None = None
    complaint_id: int | None = None

    def columns(self) -> dict:
        return {"site_id": self.site_id, "visit_id": self.visit_id, "finding_id": self.finding_id, "task_id": self.task_id,
                "complaint_id": self.complaint_id, "purpose": self.purpose}

    def held_by(self, user_id: int) -> Held:
        return Held(user_id, self.site_id, self.visit_id, self.finding_id, self.task_id, self.purpose, self.complaint_id)


def taken_by(photo, user_id: int) -> bool:
    """Whether this person took the photo. A photo with no uploader (its taker is not known) is nobody's."""
    return photo.uploaded_by is not None and photo.uploaded_by == user_id


def may_link(photo, user_id: int, link: Link) -> bool:
    """The rule of photo claims: a photo is linked only by the person who took it, and to one record.

    `photo` is a Photo or a `Held`, or None for an id nobody has named yet (the record's
    author is then expected to upload it). A photo already linked may be named again by
    the same record in the same role, and by nothing else; a photo of another site, or
    with no uploader, may be linked by no one.
    """
    if photo is None:
        return True
    linked = (photo.visit_id, photo.finding_id, photo.task_id, photo.complaint_id)
    return (
        taken_by(photo, user_id)
        and photo.site_id in (None, link.site_id)
        and (linked == UNLINKED or (*linked, photo.purpose) == (link.visit_id, link.finding_id, link.task_id, link.complaint_id, link.purpose))
    )


def taken(photo_id: str) -> Conflict:
    """The refusal when `may_link` says no."""
    return Conflict(f"Photo {photo_id} already belongs to another record or person.", "photo_conflict")


def expected_row(photo_id: str, user_id: int, link: Link, created_at: datetime) -> dict:
    """A photo a record names before its bytes arrive: expected from the record's author (the upload fills it in)."""
    return {
        "id": photo_id, "uploaded_by": user_id, **link.columns(), "status": choices.PHOTO_EXPECTED, "sha256": None,
        "content_type": "", "size_bytes": 0, "width": 0, "height": 0, "created_at": created_at, "received_at": None,
    }


def claim(photo_ids: Iterable[str], user_id: int, link: Link) -> list[str]:
    """Link photos to one record by id, as `may_link` allows; an id not seen yet becomes an expected photo."""
    ids = list(dict.fromkeys(photo_ids or ()))
    for pid in ids:
        if not isinstance(pid, str) or not 1 <= len(pid) <= 36:
            raise Invalid.field("photo_ids", "not a photo id", "A photo id must be a UUID string.")
    for pid in ids:
        photo = db.session.get(Photo, pid)
        if not may_link(photo, user_id, link):
            raise taken(pid)
        if photo is None:
            db.session.add(Photo(**expected_row(pid, user_id, link, utcnow())))
        else:
            for column, value in link.columns().items():
                setattr(photo, column, value)
    db.session.flush()
    return ids


def can_see(user: User, photo: Photo) -> bool:
    """The person who took it, or anyone with a role at the photo's site."""
    if taken_by(photo, user.id):
        return True
    if photo.site_id is None:
        return False
    return db.session.execute(
        db.select(Membership.id).where(Membership.user_id == user.id, Membership.site_id == photo.site_id).limit(1)
    ).first() is not None


def upload(user: User, photo_id: str, data: bytes, content_type: str, sha256_header: str) -> tuple[Photo, bool]:
    """Store a photo's bytes; returns (photo, created). Idempotent by id and hash."""
    max_bytes = current_app.config["MAX_PHOTO_BYTES"]
    if len(data) > max_bytes:
        raise TooLarge(f"The photo is larger than {max_bytes // (1024 * 1024)} MiB.", "photo_too_large")
    claimed = (sha256_header or "").strip().lower()
    if not claimed:
        raise Malformed("Send the SHA-256 of the body in the X-Content-SHA256 header.", "hash_missing")
    digest = hashlib.sha256(data).hexdigest()
    if digest != claimed:
        raise Malformed("The body does not match its X-Content-SHA256: the upload was damaged; send it again.", "hash_mismatch")
    mime = (content_type or "").split(";")[0].strip().lower()
    clip = None
    if sounds.is_sound(mime):
        # A sound clip ("listen" evidence) travels the same protocol; its bytes decide what it is.
        clip = sounds.check(data, current_app.config["MAX_SOUND_BYTES"])
    elif mime not in CONTENT_TYPES:
        # HEIC (an iPhone camera's format) is refused, not converted: the phone app turns what it
        # can decode into JPEG before sending, and iOS hands file inputs JPEG (README, Photos).
        raise Unsupported("HEIC and other formats are not accepted: send a JPEG, PNG or WebP image (Content-Type image/jpeg, image/png or image/webp), or a sound clip (audio/webm, audio/ogg, audio/mp4).")

    photo = db.session.get(Photo, photo_id, with_for_update=True)
    if photo is not None and not can_see(user, photo):
        raise NotFound("Not found.")
    if photo is not None and photo.status == choices.PHOTO_RECEIVED:
        if photo.sha256 != digest:
            raise Conflict("A different photo was already uploaded under this id.", "photo_conflict")
        return photo, False
    if photo is not None and not taken_by(photo, user.id):
        raise Forbidden("This photo is expected from the person whose record names it.", "not_your_photo")

    rendered = render(data, current_app.config["MAX_IMAGE_PIXELS"]) if clip is None else None
    if photo is None:
        try:
            with db.session.begin_nested():
                db.session.add(Photo(id=photo_id, site_id=None, uploaded_by=user.id, purpose=choices.PHOTO_FINDING, created_at=utcnow()))
        except IntegrityError:
            # The same id arrived on another connection a moment ago: answer as a re-upload.
            db.session.rollback()
            return upload(user, photo_id, data, content_type, sha256_header)
        photo = db.session.get(Photo, photo_id)
    photo.status = choices.PHOTO_RECEIVED
    photo.sha256 = digest
    photo.content_type = clip.mime if clip else mime
    photo.size_bytes = len(data)
    photo.width, photo.height = (rendered.width, rendered.height) if rendered else (0, 0)
    photo.received_at = utcnow()
    db.session.flush()
    # Files first, then the caller's commit: a crash in between leaves complete files that
    # the retried upload (same id) overwrites; never a row saying "received" without its files.
    if clip:
        sounds.store(photo_id, data, clip)
    else:
        _store(photo_id, rendered)
    return photo, True


def mark_unreadable(user: User, photo_id: str) -> Photo | None:
    """After an upload was refused as unreadable: the expected photo of this user's record says so.

    The phone is told (sync's `unreadable_photos`) which photo to take again, and a
    supervisor sees "unreadable", not "not uploaded yet". A later good upload under the
    same id still replaces it.
    """
    photo = db.session.get(Photo, photo_id, with_for_update=True)
    if photo is None or photo.status == choices.PHOTO_RECEIVED or not taken_by(photo, user.id):
        return None
    photo.status = choices.PHOTO_UNREADABLE
    db.session.flush([photo])
    return photo


def is_sound(photo) -> bool:
    """A sound clip kept through the photo protocol (its content type says so)."""
    return (photo.content_type or "").startswith("audio/")


def get_for(user: User, photo_id: str) -> Photo:
    photo = db.session.get(Photo, photo_id)
    if photo is None or not can_see(user, photo):
        raise NotFound("Not found.")
    if photo.status != choices.PHOTO_RECEIVED:
        raise NotFound("This photo is expected but has not been uploaded yet.", "photo_not_received")
    return photo
