"""HEIC photos (an iPhone's camera format) are refused with a clear 415; nothing is stored."""

from __future__ import annotations

import hashlib
import io
import uuid

import pytest
from PIL import Image

pillow_heif = pytest.importorskip("pillow_heif")


def _heic() -> bytes:
    """A real HEIC file, encoded by libheif (x265), as an iPhone's library would hand over."""
    out = io.BytesIO()
    pillow_heif.from_pillow(Image.new("RGB", (640, 480), (30, 120, 200))).save(out, format="HEIF", quality=80)
    data = out.getvalue()
    assert data[4:12] == b"ftypheic"  # the real container, not a JPEG in disguise
    return data


@pytest.mark.parametrize("content_type", ["image/heic", "image/heif"])
def test_a_heic_photo_is_refused_with_415_naming_heic_and_the_formats_accepted(as_role, content_type):
    client = as_role("patroller")
    data = _heic()
    photo_id = str(uuid.uuid4())
    r = client.put(f"/api/photos/{photo_id}", data=data, headers={"Content-Type": content_type, "X-Content-SHA256": hashlib.sha256(data).hexdigest()})
    assert r.status_code == 415
    err = r.get_json()["error"]
    assert err["code"] == "unsupported_media_type"
    assert "HEIC" in err["message"] and "JPEG" in err["message"]
    assert client.get(f"/api/photos/{photo_id}").status_code == 404


def test_heic_bytes_sent_as_jpeg_are_refused_as_not_an_image_and_nothing_is_stored(as_role):
    client = as_role("patroller")
    data = _heic()
    photo_id = str(uuid.uuid4())
    r = client.put(f"/api/photos/{photo_id}", data=data, headers={"Content-Type": "image/jpeg", "X-Content-SHA256": hashlib.sha256(data).hexdigest()})
    assert r.status_code == 422, r.status_code
    assert r.get_json()["error"]["code"] == "not_an_image"
    assert client.get(f"/api/photos/{photo_id}").status_code == 404
