"""Photos: integrity-checked, idempotent upload; Pillow makes a clean display copy and a thumbnail.

What is kept (docs/sync.md "Photos"): the SHA-256 of the bytes the phone sent, as
evidence, plus two JPEGs made from them, upright and with every metadata tag dropped
(GPS included): a display copy (longest side 1600 px) and a thumbnail (320 px). The
original bytes are not kept: they carry the phone's GPS position and are up to 12 MiB.
Files are written to a temporary name in their own directory and moved into place with
os.replace, so an interrupted upload never leaves a partial file under a real name.
`upload` writes the files before its caller commits the row that says they are there.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy.exc import IntegrityError

from . import choices
from .extensions import db
from .models import Membership, Photo, User, utcnow
from .problems import Conflict, Forbidden, Invalid, Malformed, NotFound, TooLarge, Unsupported

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


def photo_path(photo_id: str, size: str) -> Path:
    """PHOTO_DIR/<first two hex digits>/<id>.<size>.jpg: at most 256 entries per level."""
    return Path(current_app.config["PHOTO_DIR"]) / photo_id[:2] / f"{photo_id}.{size}.jpg"


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


def _write_atomically(path: Path, data: bytes) -> Path:
    """Write to a temporary file beside `path`; the caller moves it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".upload-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return Path(tmp)


def _store(photo_id: str, rendered: Rendered) -> None:
    temps = []
    try:
        for size, data in (("display", rendered.display), ("thumb", rendered.thumb)):
            temps.append((_write_atomically(photo_path(photo_id, size), data), photo_path(photo_id, size)))
    except BaseException:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, final in temps:
        os.replace(tmp, final)


def can_see(user: User, photo: Photo) -> bool:
    """The uploader, or anyone with a role at the photo's site."""
    if photo.uploaded_by == user.id:
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
    if mime not in CONTENT_TYPES:
        raise Unsupported("Send a JPEG, PNG or WebP image (Content-Type image/jpeg, image/png or image/webp).")

    photo = db.session.get(Photo, photo_id, with_for_update=True)
    if photo is not None and not can_see(user, photo):
        raise NotFound("Not found.")
    if photo is not None and photo.status == choices.PHOTO_RECEIVED:
        if photo.sha256 != digest:
            raise Conflict("A different photo was already uploaded under this id.", "photo_conflict")
        return photo, False
    if photo is not None and photo.uploaded_by != user.id:
        raise Forbidden("This photo is expected from the person whose record names it.", "not_your_photo")

    rendered = render(data, current_app.config["MAX_IMAGE_PIXELS"])
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
    photo.content_type = mime
    photo.size_bytes = len(data)
    photo.width, photo.height = rendered.width, rendered.height
    photo.received_at = utcnow()
    db.session.flush()
    # Files first, then the caller's commit: a crash in between leaves complete files that
    # the retried upload (same id) overwrites; never a row saying "received" without its files.
    _store(photo_id, rendered)
    return photo, True


def get_for(user: User, photo_id: str) -> Photo:
    photo = db.session.get(Photo, photo_id)
    if photo is None or not can_see(user, photo):
        raise NotFound("Not found.")
    if photo.status != choices.PHOTO_RECEIVED:
        raise NotFound("This photo is expected but has not been uploaded yet.", "photo_not_received")
    return photo
