"""Photos as a phone sends them: a JPEG (with EXIF on request) and its upload by id with its SHA-256."""

from __future__ import annotations

import hashlib
import io

from PIL import ExifTags, Image

from .api import ApiClient


def jpeg(width: int = 800, height: int = 600, orientation: int | None = None, gps: bool = False, quality: int = 90) -> bytes:
    """A JPEG whose stored top-left quarter is red and the rest blue, with optional EXIF."""
    im = Image.new("RGB", (width, height), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, width // 2, height // 2))
    exif = Image.Exif()
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    if gps:
        exif[ExifTags.IFD.GPSInfo] = {
            ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (22.0, 32.0, 10.5),
            ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (114.0, 3.0, 40.2),
        }
    out = io.BytesIO()
    im.save(out, "JPEG", quality=quality, exif=exif.tobytes() if (orientation or gps) else b"")
    return out.getvalue()


def put(api: ApiClient, photo_id: str, data: bytes, content_type: str = "image/jpeg", sha: str | None = None):
    headers = {"X-Content-SHA256": hashlib.sha256(data).hexdigest() if sha is None else sha, "Content-Type": content_type}
    return api.put(f"/api/photos/{photo_id}", data=data, headers=headers)
