"""Photos: who may link a photo to a record, integrity-checked idempotent upload, and the clean copies Pillow makes.

Ownership (docs/sync.md "Photos"): a photo is linked only by the person who took it, and
to one record (`may_link`); sync, tasks and findings all claim photos through it.

What is kept (docs/sync.md "Photos"): the SHA-256 of the bytes the phone sent, as
evidence, plus two JPEGs made from them, upright and with every metadata tag dropped
(GPS included): a display copy (longest side 1600 px) and a thumbnail (320 px). The
original bytes are not kept once those exist: they carry the phone's GPS position and
are up to 12 MiB. The files go through the file store (server/storage: the local disk or
an S3-compatible bucket), which writes each to a temporary name, checks its SHA-256 and
only then shows it under its real key, so an interrupted upload never leaves a partial
file under a real name.

Out of the request path (issue 16): `upload` checks what must be known before answering
(hash, type, size, pixel count, and that the image decodes to the end, at 1/8 scale),
stores the original under a private key (`<id>.original`, never served) and marks the row
`copies_pending`; it writes the file before its caller commits the row. `make_copies`
makes the display copy and thumbnail later: in the `flask photos copies --watch` worker
process, or at the first read of the photo (`copies_for`), whichever comes first. The
original is deleted after the commit that records the copies.
"""

from __future__ import annotations

import hashlib
import io
import math
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterable, NamedTuple

from flask import current_app
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import event, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from . import choices, sounds
from .db_sqlite import lock_free, reading, start_writing
from .extensions import db
from .models import Membership, Photo, User, utcnow
from .problems import Conflict, Forbidden, Invalid, Malformed, NotFound, Problem, TooLarge, Unsupported
from .storage import MissingObject, Staged, get_store

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


def original_key(photo_id: str) -> str:
    """The bytes as received, kept only until the copies are made; never served (they may hold GPS)."""
    return f"{photo_id[:2]}/{photo_id}.original"


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


def _fit(width: int, height: int, side: int) -> tuple[int, int]:
    """The size Image.thumbnail((side, side)) gives (Pillow's own rounding), without touching pixels."""
    if side >= width and side >= height:
        return width, height
    aspect = width / height

    def round_aspect(number: float, key) -> int:
        return max(min(math.floor(number), math.ceil(number), key=key), 1)

    if 1 >= aspect:
        return round_aspect(side * aspect, key=lambda n: abs(aspect - n / side)), side
    return side, round_aspect(side / aspect, key=lambda n: 0 if n == 0 else abs(aspect - side / n))


def check(data: bytes, max_pixels: int) -> tuple[int, int]:
    """What the upload must know before it answers: our format, within the pixel limit, and
    decodable to its last byte (a truncated or damaged file fails here, not later). A JPEG
    is decoded at 1/8 scale (draft), which reads every byte for a fraction of the cost.

    Returns the size the display copy will have (as `render` makes it: draft, upright, fit).
    """
    im = _open(data, max_pixels)
    if im.format == "JPEG":
        im.draft("RGB", _draft_box(*im.size, DISPLAY_SIDE))
    width, height = im.size
    if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # EXIF orientation: turned a quarter
        width, height = height, width
    size = _fit(width, height, DISPLAY_SIDE)
    im = _open(data, max_pixels)
    try:
        if im.format == "JPEG":
            im.draft("RGB", (max(1, im.width // 8), max(1, im.height // 8)))
        im.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise Invalid(f"The image could not be read (damaged or incomplete file): {exc}", "not_an_image")
    return size


def _stage(photo_id: str, rendered: Rendered) -> list[Staged]:
    """The two copies written (each checked, all or nothing: server/storage) but not yet named."""
    store, staged = get_store("photos"), []
    try:
        for size, data in (("display", rendered.display), ("thumb", rendered.thumb)):
            staged.append(store.stage(photo_key(photo_id, size), data, "image/jpeg"))
    except BaseException:
        _discard(staged)
        raise
    return staged


def _publish(staged: list[Staged]) -> None:
    """Name the copies, before the row says they exist; a crash between the two leaves the row
    pending, and the next pass writes both again."""
    for n, item in enumerate(staged):
        try:
            item.publish()
        except BaseException:
            _discard(staged[n + 1 :])
            raise


def _discard(staged: list[Staged]) -> None:
    for item in staged:
        item.discard()


def delete_files(photo_id: str) -> int:
    """Remove a photo's stored files (retention); returns how many were there."""
    store = get_store("photos")
    return (sum(store.delete(photo_key(photo_id, size)) for size in SIZES) + store.delete(sounds.sound_key(photo_id))
            + store.delete(original_key(photo_id)))


# --- the display copy and thumbnail, made after the upload is answered ------------------

DROP_KEY = "patrol_drop_originals"


def make_copies(photo: Photo) -> bool:
    """Make a received photo's display copy and thumbnail from its kept original, in the caller's transaction.

    The caller holds the row (locked) and commits; the original is deleted after that
    commit. An original that cannot be rendered after all makes the photo `unreadable`
    (the phone is told to take it again). Returns whether copies now exist.
    """
    if not photo.copies_pending:
        return photo.status == choices.PHOTO_RECEIVED
    made, staged = _render_original(photo.id)
    _publish(staged)
    _set_copies(photo, made)
    return isinstance(made, Rendered)


def copies_for(photo: Photo) -> Photo:
    """A photo about to be read (served, filed): its copies made now if the worker has not yet."""
    if photo.copies_pending:
        locked = db.session.execute(select(Photo).where(Photo.id == photo.id).with_for_update()).scalar_one()
        db.session.refresh(locked)
        make_copies(locked)
        return locked
    return photo


def make_copies_where(*conditions) -> int:
    """Make now the copies of the pending photos matching `conditions` (a month being filed), in the caller's transaction."""
    pending = db.session.execute(
        select(Photo).where(Photo.copies_pending.is_(True), *conditions).order_by(Photo.id).with_for_update()
    ).scalars().all()
    for photo in pending:
        make_copies(photo)
    return len(pending)


def make_pending_copies(limit: int = 50, batch: int = 8) -> int:
    """One pass of the worker: make the copies of up to `limit` photos, oldest first, `batch` at a time.

    The rendering is done with no transaction open: the worker reads the next pending
    photos (on SQLite without its write lock: `lock_free`), ends that transaction, renders
    and stores their files, and only then locks their rows to record them all in one
    transaction (`_record_copies`). On SQLite a transaction that writes holds the one write
    lock, and this worker runs at a lower priority: rendering a 12 MP photo inside it
    stopped every push for its whole length, and at a shift change a write transaction per
    look and per photo (862 in one burst of 400 photos, bench/load.py) kept the pushes
    queueing behind it. Two workers may render the same photo; they write the same files.
    A batch whose rows a request holds is left for the next pass (no waiting on a push).
    """
    done = 0
    while done < limit:
        with lock_free():
            rows = db.session.execute(
                select(Photo.id, Photo.sha256).where(Photo.copies_pending.is_(True)).order_by(Photo.received_at, Photo.id)
                .limit(min(batch, limit - done))
            ).all()
            db.session.commit()  # nothing written: no lock is held during the rendering
        if not rows:
            break
        made = [(row.id, row.sha256, *_render_original(row.id)) for row in rows]
        try:
            if db.session.get_bind().dialect.name == "postgresql":
                # A push links photos one record at a time, locking their rows in no set order,
                # and this transaction locks up to `batch` of them: the two could wait for each
                # other. The worker gives up first (well before PostgreSQL's 1 s deadlock check
                # would pick a victim, perhaps the push); its photos stay pending for the next pass.
                db.session.execute(text(f"SET LOCAL lock_timeout = '{RECORD_LOCK_TIMEOUT_MS}ms'"))
            _record_copies(made)
            db.session.commit()
        except BaseException as exc:
            db.session.rollback()
            _discard([item for *_head, staged in made for item in staged])  # named ones are gone from their temporaries already
            if not isinstance(exc, OperationalError):
                raise
            current_app.logger.info("photo copies: rows busy, left for the next pass (%s)", exc.orig.__class__.__name__)
            break
        done += len(rows)
    return done


# How long the photo worker waits for a row a request holds before it leaves its batch for
# the next pass (PostgreSQL; SQLite has its one write lock and busy timeout instead).
RECORD_LOCK_TIMEOUT_MS = 200


def _render_original(photo_id: str) -> tuple[Rendered | Problem, list[Staged]]:
    """The copies of a kept original, written to the store but not yet named (`_publish` names
    them, `_discard` drops them); or why they cannot be made. Outside any transaction."""
    try:
        data = get_store("photos").read(original_key(photo_id))
    except MissingObject:
        return Invalid("The photo's original is missing on the server.", "not_an_image"), []
    try:
        rendered = render(data, current_app.config["MAX_IMAGE_PIXELS"])
    except (Invalid, TooLarge) as exc:
        return exc, []
    return rendered, _stage(photo_id, rendered)


def _record_copies(made: list[tuple[str, str | None, Rendered | Problem, list[Staged]]]) -> None:
    """Record copies made outside the transaction (photo id, the hash they were made from, the
    outcome, its unnamed files), in the caller's transaction: for each photo that is still the
    one they were made from, the files are named and the row updated; for any other (deleted
    meanwhile, given its copies at a first read, or other bytes uploaded under its id since)
    they are dropped, so nothing is left of a deleted photo and a newer photo's copies are
    never replaced by an older picture's."""
    photos = {p.id: p for p in db.session.execute(
        select(Photo).where(Photo.id.in_([photo_id for photo_id, *_rest in made])).order_by(Photo.id).with_for_update()
    ).scalars()}
    for photo_id, sha256, outcome, staged in made:
        photo = photos.get(photo_id)
        if photo is not None and photo.copies_pending and photo.sha256 == sha256:
            _publish(staged)
            _set_copies(photo, outcome)
        else:
            _discard(staged)


def _set_copies(photo: Photo, made: Rendered | Problem) -> None:
    """The row after its copies were made (their size), or could not be (`unreadable`); the original goes after the commit."""
    if isinstance(made, Rendered):
        photo.width, photo.height = made.width, made.height
    else:
        photo.status = choices.PHOTO_UNREADABLE
    photo.copies_pending = False
    _drop_after_commit(photo.id)


def _drop_after_commit(photo_id: str) -> None:
    db.session.info.setdefault(DROP_KEY, []).append(photo_id)


@event.listens_for(Session, "after_commit")
def _drop_originals(session: Session) -> None:
    ids = session.info.pop(DROP_KEY, None)
    if not ids:
        return
    store = get_store("photos")
    for photo_id in ids:
        try:
            store.delete(original_key(photo_id))
        except Exception:  # noqa: BLE001 - a leftover original is deleted with the photo (delete_files)
            current_app.logger.warning("could not delete the original of photo %s", photo_id, exc_info=True)


@event.listens_for(Session, "after_rollback")
def _keep_originals(session: Session) -> None:
    session.info.pop(DROP_KEY, None)


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
            raise Invalid.field("photo_ids", "not a photo id", "A photo id must be a UUID string.", field_code="field_invalid", type="uuid")
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

    # A `reads_first` request looks at the row without locking it (on PostgreSQL a row lock
    # taken here would be held through the image check and the file write below).
    first_look = reading()
    photo, same = _uploaded_yet(user, photo_id, digest, lock=not first_look)
    if same:
        return photo, False
    # The image is read, and its bytes written to a synced temporary file, before the write
    # lock is taken (SQLite's: a `reads_first` request reads lock-free until here); the row is
    # then looked at again under it, and the file named only if the upload stands.
    display_size = check(data, current_app.config["MAX_IMAGE_PIXELS"]) if clip is None else (0, 0)
    staged = get_store("photos").stage(original_key(photo_id), data, mime) if clip is None else None
    try:
        start_writing(db.session)
        if first_look:
            photo, same = _uploaded_yet(user, photo_id, digest)
            if same:
                return photo, False
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
        photo.width, photo.height = display_size  # the display copy's, as render will make it
        photo.copies_pending = clip is None
        photo.received_at = utcnow()
        db.session.flush()
        # File first, then the caller's commit: a crash in between leaves a complete file that
        # the retried upload (same id) overwrites; never a row saying "received" without it.
        if clip:
            sounds.store(photo_id, data, clip)
        else:
            staged.publish()
            staged = None
        return photo, True
    finally:
        if staged is not None:  # refused or answered otherwise under the lock: nothing is named
            staged.discard()


def _uploaded_yet(user: User, photo_id: str, digest: str, lock: bool = True) -> tuple[Photo | None, bool]:
    """The photo's row, if any (locked unless `lock` is off), and whether these very bytes were
    received already; refuses an upload that must not replace what is there."""
    if lock:
        photo = db.session.get(Photo, photo_id, with_for_update=True, populate_existing=True)
    else:
        photo = db.session.get(Photo, photo_id)
    if photo is not None and not can_see(user, photo):
        raise NotFound("Not found.")
    if photo is not None and photo.status == choices.PHOTO_RECEIVED:
        if photo.sha256 != digest:
            raise Conflict("A different photo was already uploaded under this id.", "photo_conflict")
        return photo, True
    if photo is not None and not taken_by(photo, user.id):
        raise Forbidden("This photo is expected from the person whose record names it.", "not_your_photo")
    return photo, False


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
