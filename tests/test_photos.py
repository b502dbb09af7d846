"""Photo upload: idempotent and hash-checked, Pillow-cleaned, expected until it arrives (offline-sync.md G6)."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import ExifTags, Image
from sqlalchemy import select, update

from server import choices, photos
from server.extensions import db
from server.models import Photo, utcnow

from .support.api import ApiClient, error_of
from .support.ids import new_id
from .support.phone import Phone
from .support.photos import jpeg, put


def files_under(app) -> list[Path]:
    root = Path(app.config["PHOTO_DIR"])
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def make_copies() -> int:
    """One pass of the photo worker (`flask photos copies`): the display copies and thumbnails made, originals gone."""
    return photos.make_pending_copies()


@pytest.fixture
def patroller(as_role):
    return as_role("patroller")


# --- the Pillow pipeline ------------------------------------------------------------------


def test_12_megapixel_jpeg_with_orientation_6_and_gps_comes_out_upright_small_and_without_exif(app, patroller):
    """A 4000x3000 phone photo stored sideways (orientation 6) with GPS tags."""
    data = jpeg(4000, 3000, orientation=6, gps=True)
    assert b"Exif" in data
    pid = new_id()
    r = put(patroller, pid, data)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["sha256"] == hashlib.sha256(data).hexdigest()
    display = patroller.get(f"/api/photos/{pid}?size=display")
    assert display.status_code == 200 and display.mimetype == "image/jpeg"
    im = Image.open(io.BytesIO(display.data))
    # Turned upright: portrait, longest side 1600.
    assert im.size == (1200, 1600)
    # Orientation 6 means "rotate 90° clockwise to view": the stored top-left (red) is now top-right.
    assert im.getpixel((1100, 100))[0] > 200 and im.getpixel((100, 100))[2] > 200
    assert not im.getexif() and "exif" not in im.info
    assert b"Exif" not in display.data and b"GPS" not in display.data
    thumb = Image.open(io.BytesIO(patroller.get(f"/api/photos/{pid}?size=thumb").data))
    assert max(thumb.size) == 320 and thumb.size[1] > thumb.size[0]


def test_png_with_transparency_and_webp_are_accepted(patroller):
    png = io.BytesIO()
    Image.new("RGBA", (300, 200), (0, 255, 0, 128)).save(png, "PNG")
    webp = io.BytesIO()
    Image.new("RGB", (2000, 1000), (10, 20, 30)).save(webp, "WEBP")
    assert put(patroller, new_id(), png.getvalue(), "image/png").status_code == 201
    pid = new_id()
    r = put(patroller, pid, webp.getvalue(), "image/webp")
    assert r.status_code == 201 and (r.get_json()["width"], r.get_json()["height"]) == (1600, 800)


def test_decompression_bomb_is_refused_and_nothing_is_written(app, patroller):
    """A 10000x10000 PNG of one colour is a few kB on the wire and 100 MP (over twice the limit) decoded."""
    out = io.BytesIO()
    Image.new("1", (10000, 10000)).save(out, "PNG")
    assert len(out.getvalue()) < 200_000
    pid = new_id()
    r = put(patroller, pid, out.getvalue(), "image/png")
    assert r.status_code == 413 and error_of(r)["code"] == "too_many_pixels"
    assert files_under(app) == [] and db.session.get(Photo, pid) is None


def test_image_just_over_the_pixel_limit_is_refused_not_only_warned_about(app, patroller):
    """Between the limit and twice it Pillow only warns; we refuse."""
    app.config["MAX_IMAGE_PIXELS"] = 1_000_000
    r = put(patroller, new_id(), jpeg(1200, 1000))
    assert r.status_code == 413 and error_of(r)["code"] == "too_many_pixels"
    assert files_under(app) == []


def test_truncated_jpeg_is_refused_and_nothing_is_written(app, patroller):
    data = jpeg(2000, 1500)
    pid = new_id()
    r = put(patroller, pid, data[: len(data) // 2])
    assert r.status_code == 422 and error_of(r)["code"] == "not_an_image"
    assert files_under(app) == [] and db.session.get(Photo, pid) is None


def test_text_file_named_jpg_is_refused(app, patroller):
    r = put(patroller, new_id(), b"these are not the pixels you are looking for\n" * 10)
    assert r.status_code == 422 and error_of(r)["code"] == "not_an_image"
    assert files_under(app) == []


def test_gif_is_refused_even_when_sent_as_jpeg(app, patroller):
    gif = io.BytesIO()
    Image.new("P", (10, 10)).save(gif, "GIF")
    assert put(patroller, new_id(), gif.getvalue()).status_code == 422
    assert put(patroller, new_id(), gif.getvalue(), "image/gif").status_code == 415
    assert files_under(app) == []


def test_photo_larger_than_the_limit_is_413(app, patroller):
    app.config["MAX_PHOTO_BYTES"] = 20_000
    data = jpeg(1500, 1500, quality=100)
    assert len(data) > 20_000
    r = put(patroller, new_id(), data)
    assert r.status_code == 413 and error_of(r)["code"] == "photo_too_large"


def test_body_that_does_not_match_its_hash_is_400_and_nothing_written(app, patroller):
    data = jpeg()
    r = put(patroller, new_id(), data, sha="0" * 64)
    assert r.status_code == 400 and error_of(r)["code"] == "hash_mismatch"
    r = patroller.put(f"/api/photos/{new_id()}", data=data, headers={"Content-Type": "image/jpeg"})
    assert r.status_code == 400 and error_of(r)["code"] == "hash_missing"
    assert files_under(app) == []


def test_bad_photo_id_is_404(patroller):
    assert put(patroller, "not-a-uuid", jpeg()).status_code == 404


# --- idempotence and integrity (G6) -----------------------------------------------------


def test_same_photo_twice_is_200_and_a_different_one_under_the_same_id_is_409(app, patroller):
    """G6: a resend of the same bytes succeeds without change; other bytes under the id are refused."""
    pid = new_id()
    first = jpeg(640, 480)
    assert put(patroller, pid, first).status_code == 201
    assert make_copies() == 1
    stored = {p: p.read_bytes() for p in files_under(app)}
    again = put(patroller, pid, first)
    assert again.status_code == 200 and again.get_json()["sha256"] == hashlib.sha256(first).hexdigest()
    other = put(patroller, pid, jpeg(640, 480, quality=50))
    assert other.status_code == 409 and error_of(other)["code"] == "photo_conflict"
    assert {p: p.read_bytes() for p in files_under(app)} == stored
    assert len(stored) == 2 and all(".tmp" not in p.name for p in stored)


def test_record_before_photo_lists_it_as_expected_until_it_arrives(patroller, demo):
    """G6: a visit names two photos; both are expected, the one that arrives is no longer."""
    phone = Phone(patroller, demo.id)
    arrives, never = new_id(), new_id()
    answer = phone.push([phone.visit("F01", photo_ids=[arrives, never])]).get_json()
    assert set(answer["expected_photos"]) == {arrives, never}
    assert put(patroller, arrives, jpeg()).status_code == 201
    assert patroller.get("/api/sync/expected").get_json()["photo_ids"] == [never]
    visit_id = phone.push([]).get_json()  # an empty push also answers the expected list
    assert visit_id["expected_photos"] == [never]
    photo = db.session.get(Photo, arrives)
    db.session.refresh(photo)
    assert photo.status == choices.PHOTO_RECEIVED and photo.site_id == demo.id and photo.visit_id is not None


def test_a_push_answers_the_photos_to_send_oldest_first_and_the_unreadable_apart(patroller, demo):
    """The phone uploads in the order it is told: the photo waiting longest first."""
    phone = Phone(patroller, demo.id)
    named = []
    for code in ("F03", "F01", "F02"):
        pid = new_id()
        phone.push_ok([phone.visit(code, photo_ids=[pid])])
        named.append(pid)
    db.session.execute(update(Photo).where(Photo.id == named[1]).values(created_at=utcnow() - timedelta(days=1)))
    db.session.commit()
    assert put(patroller, named[2], jpeg()[:300]).status_code == 422  # unreadable: to be taken again
    answer = phone.push([]).get_json()
    assert answer["expected_photos"] == [named[1], named[0]]
    assert answer["unreadable_photos"] == [named[2]]


def test_supervisor_sees_which_photos_a_record_still_expects(patroller, as_role, demo):
    phone = Phone(patroller, demo.id)
    m = phone.visit("F02", fail=(0,))
    pid = new_id()
    m["payload"]["results"][0]["finding"]["photo_ids"] = [pid]
    finding_id = phone.push_ok([m])[0]["result"]["finding_ids"][0]
    sup = as_role("supervisor")
    rows = sup.get("/api/photos/", query_string={"finding_id": finding_id}).get_json()
    assert [(r["id"], r["status"], r["purpose"]) for r in rows] == [(pid, "expected", "finding")]
    rows = sup.get("/api/photos/", query_string={"visit_id": m["payload"]["visit_id"], "status": "expected"}).get_json()
    assert [r["id"] for r in rows] == [pid]


def test_an_unreadable_upload_is_a_state_the_supervisor_and_the_phone_both_see(patroller, as_role, demo):
    """Not "still expected" for ever: the phone is told which photo to take again, the desk sees why it is missing."""
    phone = Phone(patroller, demo.id)
    m = phone.visit("F02", fail=(0,))
    broken, fine = new_id(), new_id()
    m["payload"]["results"][0]["finding"]["photo_ids"] = [broken, fine]
    finding_id = phone.push_ok([m])[0]["result"]["finding_ids"][0]
    r = put(patroller, broken, jpeg()[:300])  # a truncated JPEG
    assert r.status_code == 422 and error_of(r)["code"] == "not_an_image"
    assert put(patroller, fine, jpeg()).status_code == 201
    rows = as_role("supervisor").get("/api/photos/", query_string={"finding_id": finding_id}).get_json()
    assert {r["id"]: r["status"] for r in rows} == {broken: "unreadable", fine: "received"}
    answer = phone.push([]).get_json()
    assert answer["unreadable_photos"] == [broken] and answer["expected_photos"] == []
    assert patroller.get("/api/sync/expected").get_json() == {"photo_ids": [], "unreadable": [broken]}
    # A readable upload under the same id still replaces it.
    assert put(patroller, broken, jpeg()).status_code == 201
    assert phone.push([]).get_json()["unreadable_photos"] == []


def test_photo_before_record_is_linked_when_the_record_arrives(patroller, as_role, demo):
    """G6: the photo arrives first (no site yet, only its uploader sees it); the visit then links it."""
    pid = new_id()
    assert put(patroller, pid, jpeg()).status_code == 201
    sup = as_role("supervisor")
    assert sup.get(f"/api/photos/{pid}").status_code == 404
    phone = Phone(patroller, demo.id)
    m = phone.visit("F03", photo_ids=[pid])
    assert phone.push_ok([m])[0]["status"] == "applied"
    photo = db.session.execute(select(Photo).where(Photo.id == pid)).scalar_one()
    db.session.refresh(photo)
    assert photo.site_id == demo.id and photo.visit_id == m["payload"]["visit_id"] and photo.status == "received"
    assert phone.push([]).get_json()["expected_photos"] == []
    assert sup.get(f"/api/photos/{pid}?size=thumb").status_code == 200


def test_photo_expected_from_someone_else_cannot_be_uploaded_by_me(patroller, as_role, demo):
    phone = Phone(patroller, demo.id)
    pid = new_id()
    phone.push_ok([phone.visit("F04", photo_ids=[pid])])
    r = put(as_role("supervisor"), pid, jpeg())
    assert r.status_code == 403 and error_of(r)["code"] == "not_your_photo"


def test_photos_of_another_site_are_not_found(patroller, as_role, demo, other_site):
    pid = new_id()
    phone = Phone(patroller, demo.id)
    phone.push_ok([phone.visit("F05", photo_ids=[pid])])
    assert put(patroller, pid, jpeg()).status_code == 201
    outsider = ApiClient(patroller.client.application.test_client())
    outsider.login("other-supervisor")
    assert outsider.get(f"/api/photos/{pid}").status_code == 404
    assert put(outsider, pid, jpeg()).status_code == 404
    assert outsider.get("/api/photos/", query_string={"site_id": demo.id}).status_code == 404


def test_expected_photo_is_not_served_before_it_arrives(patroller, demo):
    phone = Phone(patroller, demo.id)
    pid = new_id()
    phone.push_ok([phone.visit("F06", photo_ids=[pid])])
    r = patroller.get(f"/api/photos/{pid}")
    assert r.status_code == 404 and error_of(r)["code"] == "photo_not_received"


def test_photo_upload_needs_login(client):
    data = jpeg()
    r = client.put(f"/api/photos/{new_id()}", data=data, headers={"X-Content-SHA256": hashlib.sha256(data).hexdigest(), "Content-Type": "image/jpeg"})
    assert r.status_code == 401


def test_jpeg_comment_and_icc_profile_are_not_copied_into_the_stored_files(app, patroller):
    im = Image.new("RGB", (400, 300), (200, 100, 50))
    out = io.BytesIO()
    im.save(out, "JPEG", comment=b"taken at 22.5N 114.1E by phone 1234", icc_profile=b"\0" * 128)
    pid = new_id()
    assert put(patroller, pid, out.getvalue()).status_code == 201
    assert make_copies() == 1
    assert sorted(p.name.split(".", 1)[1] for p in files_under(app)) == ["display.jpg", "thumb.jpg"]  # the original is gone
    for path in files_under(app):
        data = path.read_bytes()
        assert b"114.1E" not in data and b"ICC_PROFILE" not in data
        assert "comment" not in Image.open(path).info


def test_an_upload_takes_sqlite_write_lock_once(app, as_role):
    """Its answer is dumped from the committed row: read again without queueing for the lock a second time."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite's one write lock")
    from sqlalchemy import event

    api = as_role("patroller")
    db.session.rollback()
    begins = []

    def seen(conn, cursor, statement, *args):
        if statement.startswith("BEGIN"):
            begins.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        r = put(api, new_id(), jpeg())
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert r.status_code == 201 and r.get_json()["status"] == choices.PHOTO_RECEIVED
    assert begins.count("BEGIN IMMEDIATE") == 1, begins
