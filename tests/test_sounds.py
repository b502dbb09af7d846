"""Sound clips ("listen"): uploaded through the photo protocol, checked by their bytes, size and length."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from server import sounds
from server.extensions import db
from server.models import Photo
from server.storage import get_store

from .sound_files import m4a, ogg_opus, webm
from .support.ids import new_id
from .support.phone import Phone
from .support.photos import jpeg, put

@pytest.fixture
def patroller(as_role):
    return as_role("patroller")


@pytest.mark.parametrize(
    ("name", "data", "content_type", "mime", "seconds"),
    [
        ("ogg", ogg_opus(4.0), "audio/ogg;codecs=opus", "audio/ogg", 4.0),
        ("webm-mediarecorder", webm(6.0), "audio/webm;codecs=opus", "audio/webm", 5.98),
        ("webm-with-duration", webm(6.0, with_duration=True), "audio/webm", "audio/webm", 6.0),
        ("m4a", m4a(3.5), "audio/mp4", "audio/mp4", 3.5),
        ("m4a-fragmented", m4a(5.0, fragmented=True), "audio/mp4;codecs=mp4a.40.2", "audio/mp4", 4.99),
    ],
)
def test_each_container_phones_record_is_sniffed_with_its_length(name, data, content_type, mime, seconds):
    clip = sounds.sniff(data)
    assert clip is not None, name
    assert clip.mime == mime
    assert clip.seconds == pytest.approx(seconds, abs=0.03)


@pytest.mark.parametrize(
    ("data", "content_type"),
    [(ogg_opus(4.0), "audio/ogg"), (webm(3.0), "audio/webm;codecs=opus"), (m4a(2.0, fragmented=True), "audio/mp4")],
    ids=["ogg", "webm", "m4a-fragmented"],
)
def test_clip_is_uploaded_by_id_and_played_back_as_recorded(app, patroller, demo, data, content_type):
    phone = Phone(patroller, demo.id)
    clip_id = new_id()
    # A failed item names the clip beside its photos, as the phone sends it.
    result = phone.push_ok([phone.visit("F05", fail=(1,), photo_ids=[clip_id])])[0]
    assert result["status"] == "applied", result
    r = put(patroller, clip_id, data, content_type)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["content_type"] == content_type.split(";")[0]
    assert put(patroller, clip_id, data, content_type).status_code == 200  # a resend changes nothing
    row = db.session.get(Photo, clip_id)
    assert row.status == "received" and row.sha256 == hashlib.sha256(data).hexdigest()
    assert (Path(app.config["PHOTO_DIR"]) / sounds.sound_key(clip_id)).read_bytes() == data  # the local store's file
    got = patroller.get(f"/api/photos/{clip_id}")
    assert got.status_code == 200
    assert got.headers["Content-Type"] == content_type.split(";")[0]
    assert got.data == data


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        (b"this is a text file, renamed clip.webm\n", "audio/webm", 415, "not_a_sound"),
        (b"OggS but nothing of an Ogg page", "audio/ogg", 415, "not_a_sound"),
        (ogg_opus(3.0)[:95], "audio/ogg", 422, "sound_unreadable"),  # its two header pages only: no sound recorded
        (m4a(3.0)[:60], "audio/mp4", 422, "sound_unreadable"),  # cut inside its tracks
        (jpeg(200, 100), "audio/mp4", 415, "not_a_sound"),
        (ogg_opus(30.0), "audio/ogg", 422, "sound_too_long"),
        (webm(20.0), "audio/webm", 422, "sound_too_long"),
        (m4a(16.5), "audio/mp4", 422, "sound_too_long"),
        (m4a(3.0, handlers=(b"vide", b"soun")), "audio/mp4", 415, "not_a_sound"),  # a video is not a clip
        (webm(3.0, track_type=1), "audio/webm", 415, "not_a_sound"),
        (m4a(3.0, brand=b"qt  "), "audio/mp4", 415, "not_a_sound"),
        (ogg_opus(3.0), "audio/x-wav", 415, "unsupported_media_type"),
    ],
    ids=["renamed-text", "ogg-no-opus", "ogg-headers-only", "m4a-cut", "jpeg-as-mp4", "ogg-30s", "webm-20s", "m4a-16.5s",
         "mp4-video", "webm-video", "mp4-quicktime-brand", "wav-type"],
)
def test_what_is_not_a_short_clip_is_refused_in_the_one_error_shape(app, patroller, data, content_type, status, code):
    clip_id = new_id()
    r = put(patroller, clip_id, data, content_type)
    assert r.status_code == status, r.get_json()
    assert r.get_json()["error"]["code"] == code
    assert db.session.get(Photo, clip_id) is None
    assert not get_store("photos").exists(sounds.sound_key(clip_id))


def test_clip_over_the_size_limit_is_413(app, patroller):
    app.config["MAX_SOUND_BYTES"] = 2048
    r = put(patroller, new_id(), ogg_opus(10.0), "audio/ogg")
    assert r.status_code == 413
    assert r.get_json()["error"]["code"] == "sound_too_large"
