"""Photos out of the request path (issue 16, point 4): the upload keeps the original and answers; the copies come later.

Whatever the copies' state, nothing but a clean copy (upright, no EXIF/GPS) is ever served.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image

from server import choices, photos
from server.extensions import db
from server.models import Photo
from server.storage import get_store

from .support.api import error_of
from .support.ids import new_id
from .support.phone import Phone
from .support.photos import jpeg, put


@pytest.fixture
def patroller(as_role):
    return as_role("patroller")


def keys(app) -> list[str]:
    root = Path(app.config["PHOTO_DIR"])
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) if root.exists() else []


def photo(pid: str) -> Photo:
    db.session.expire_all()
    return db.session.get(Photo, pid)


def test_a_photo_whose_copies_are_pending_is_served_only_as_a_clean_copy_never_the_original(app, patroller):
    data = jpeg(2000, 1500, orientation=6, gps=True)
    pid = new_id()
    r = put(patroller, pid, data)
    assert r.status_code == 201, r.get_json()
    answered = r.get_json()
    # Answered with the original kept privately (GPS and all) and the copies still to make.
    assert keys(app) == [f"{pid[:2]}/{pid}.original"]
    assert photo(pid).copies_pending and photo(pid).status == choices.PHOTO_RECEIVED
    assert get_store("photos").read(photos.original_key(pid)) == data and Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)

    for size in ("thumb", "display"):
        served = patroller.get(f"/api/photos/{pid}?size={size}")
        assert served.status_code == 200 and served.mimetype == "image/jpeg"
        assert served.data != data and b"Exif" not in served.data
        im = Image.open(io.BytesIO(served.data))
        assert not im.getexif() and "exif" not in im.info
        if size == "display":
            # Upright (portrait) and exactly the size the upload answered before any pixel was resized.
            assert im.size == (answered["width"], answered["height"]) == (1200, 1600)
    # Made at that first read, and the original is gone.
    assert not photo(pid).copies_pending
    assert keys(app) == [f"{pid[:2]}/{pid}.display.jpg", f"{pid[:2]}/{pid}.thumb.jpg"]


def test_a_pending_photo_that_cannot_be_rendered_is_not_served_and_the_phone_is_told(app, patroller, demo):
    phone = Phone(patroller, demo.id)
    pid = new_id()
    assert phone.push_ok([phone.visit("F01", photo_ids=[pid])])[0]["status"] == "applied"
    assert put(patroller, pid, jpeg()).status_code == 201
    # The kept original is damaged on the server's disk before the copies are made.
    get_store("photos").put(photos.original_key(pid), b"\xff\xd8 not a picture any more")
    r = patroller.get(f"/api/photos/{pid}?size=display")
    assert r.status_code == 404 and error_of(r)["code"] == "photo_not_received"
    assert photo(pid).status == choices.PHOTO_UNREADABLE and not photo(pid).copies_pending
    assert keys(app) == []  # nothing left to serve, the damaged original included
    assert phone.push([]).get_json()["unreadable_photos"] == [pid]


def test_the_photo_worker_makes_the_copies_and_drops_the_originals(app, patroller, runner):
    ids = [new_id() for _ in range(3)]
    for pid in ids:
        assert put(patroller, pid, jpeg(640, 480, gps=True)).status_code == 201
    assert [k.rsplit(".", 1)[1] for k in keys(app)] == ["original"] * 3
    result = runner.invoke(args=["photos", "copies"])
    assert result.exit_code == 0 and "made the copies of 3 photo(s)" in result.output, result.output
    assert sorted(k.split(".", 1)[1] for k in keys(app)) == ["display.jpg"] * 3 + ["thumb.jpg"] * 3
    assert not any(Image.open(Path(app.config["PHOTO_DIR"]) / k).getexif() for k in keys(app))
    assert not any(photo(pid).copies_pending for pid in ids)
    # A resend of the same bytes is still 200 and changes nothing; nothing is pending again.
    data = jpeg(640, 480, gps=True)
    assert put(patroller, ids[0], data).status_code == 200
    assert runner.invoke(args=["photos", "copies"]).output.strip() == "made the copies of 0 photo(s)"


def test_the_photo_worker_renders_with_no_transaction_open(app, patroller, monkeypatch):
    """On SQLite a transaction holds the one write lock: rendering inside it stopped every push."""
    pid = new_id()
    assert put(patroller, pid, jpeg(640, 480)).status_code == 201
    seen = []
    real = photos.render

    def render(data, max_pixels):
        seen.append(db.session().in_transaction())
        return real(data, max_pixels)

    monkeypatch.setattr(photos, "render", render)
    assert photos.make_pending_copies() == 1
    assert seen == [False]
    assert not photo(pid).copies_pending and photo(pid).status == choices.PHOTO_RECEIVED


def _while_rendering(monkeypatch, meanwhile) -> None:
    """The photo worker's render runs, then `meanwhile` happens before the worker records its copies."""
    real = photos.render

    def render(data, max_pixels):
        out = real(data, max_pixels)
        monkeypatch.setattr(photos, "render", real)
        meanwhile()
        return out

    monkeypatch.setattr(photos, "render", render)


def test_a_photo_deleted_while_the_worker_renders_it_leaves_no_files(app, patroller, monkeypatch):
    pid = new_id()
    assert put(patroller, pid, jpeg(640, 480)).status_code == 201

    def delete():
        # Retention (or a test) removes the photo while its copies are being made.
        photos.delete_files(pid)
        db.session.delete(db.session.get(Photo, pid))
        db.session.commit()

    _while_rendering(monkeypatch, delete)
    assert photos.make_pending_copies() == 1
    assert keys(app) == [] and photo(pid) is None


def test_copies_made_meanwhile_at_a_first_read_are_kept_as_they_are(app, patroller, monkeypatch):
    pid = new_id()
    assert put(patroller, pid, jpeg(640, 480)).status_code == 201

    def first_read():
        assert patroller.get(f"/api/photos/{pid}?size=thumb").status_code == 200  # made them first

    _while_rendering(monkeypatch, first_read)
    assert photos.make_pending_copies() == 1
    assert sorted(k.split(".", 1)[1] for k in keys(app)) == ["display.jpg", "thumb.jpg"]
    assert not photo(pid).copies_pending and photo(pid).status == choices.PHOTO_RECEIVED


def test_a_damaged_upload_is_still_refused_in_the_request_and_nothing_is_kept(app, patroller):
    data = jpeg(1600, 1200)
    pid = new_id()
    r = put(patroller, pid, data[: len(data) * 2 // 3])
    assert r.status_code == 422 and error_of(r)["code"] == "not_an_image"
    assert keys(app) == [] and photo(pid) is None
    good = jpeg(1600, 1200)
    assert put(patroller, pid, good).status_code == 201
    assert photo(pid).sha256 == hashlib.sha256(good).hexdigest()


def test_the_photo_worker_leaves_a_photo_a_request_holds_for_the_next_pass(app, patroller):
    """PostgreSQL: a push links photos one record at a time, locking their rows in no set
    order, while the worker records a batch. The worker does not wait on a row a request
    holds (a deadlock could abort the push): it leaves its batch pending, and the next pass
    records it."""
    import time

    from sqlalchemy import text

    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("row locks: PostgreSQL (SQLite has one write lock)")
    pid = new_id()
    assert put(patroller, pid, jpeg(640, 480)).status_code == 201
    db.session.rollback()
    other = db.engine.connect()
    held = other.begin()
    other.execute(text("SELECT id FROM photos WHERE id = :id FOR UPDATE"), {"id": pid})
    try:
        started = time.monotonic()
        assert photos.make_pending_copies() == 0
        assert time.monotonic() - started < 5  # gave up, not the 1 s deadlock check or longer
        assert photo(pid).copies_pending
    finally:
        held.rollback()
        other.close()
    assert photos.make_pending_copies() == 1
    assert not photo(pid).copies_pending and photo(pid).status == choices.PHOTO_RECEIVED


def test_a_photo_uploaded_again_while_the_worker_renders_the_old_bytes_keeps_its_own_copies(app, patroller, monkeypatch):
    """The worker writes its copies under temporary names and names them only if the row is
    still the one it rendered: a photo deleted and uploaded again under the same id (other
    bytes, copies made at its first read) meanwhile keeps the new picture's copies."""
    pid = new_id()
    assert put(patroller, pid, jpeg(640, 480)).status_code == 201

    def replaced():
        photos.delete_files(pid)
        db.session.delete(db.session.get(Photo, pid))
        db.session.commit()
        assert put(patroller, pid, jpeg(480, 640)).status_code == 201  # portrait now
        r = patroller.get(f"/api/photos/{pid}?size=display")  # its copies made at this first read
        assert r.status_code == 200 and Image.open(io.BytesIO(r.data)).size[0] < Image.open(io.BytesIO(r.data)).size[1]

    _while_rendering(monkeypatch, replaced)
    photos.make_pending_copies()
    served = patroller.get(f"/api/photos/{pid}?size=display")
    width, height = Image.open(io.BytesIO(served.data)).size
    assert served.status_code == 200 and width < height, "the old landscape picture replaced the new one's copy"
    assert [k for k in keys(app) if ".upload-" in k] == []  # no temporary left behind
