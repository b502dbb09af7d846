"""Benchmark: the photo pipeline (draft decode) against the naive full decode, on a 12 MP phone JPEG.

Both paths take the same bytes (4000x3000, EXIF orientation 6, GPS tags, camera-like
noise) and produce the same outputs: an upright display JPEG (longest side 1600 px) and a
320 px thumbnail without metadata. Writes bench/out/photos.json with pipeline_ms,
naive_ms (medians) and speedup. Target (issue 3): speedup >= 1.8.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import ExifTags, Image, ImageOps  # noqa: E402

from server import photos  # noqa: E402
from server.photos import render  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "9"))
MAX_PIXELS = 40_000_000


def phone_jpeg(width: int = 4000, height: int = 3000) -> bytes:
    """A 12 MP JPEG that compresses like a photo (gradient plus noise), sideways, with GPS."""
    gradient = Image.linear_gradient("L").resize((width, height))
    noise = Image.effect_noise((width, height), 40)
    im = Image.merge("RGB", (gradient, noise, Image.blend(gradient, noise, 0.5)))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.IFD.GPSInfo] = {ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (22.0, 32.0, 10.5)}
    out = io.BytesIO()
    im.save(out, "JPEG", quality=92, exif=exif.tobytes())
    return out.getvalue()


def render_naive(data: bytes) -> photos.Rendered:
    """The obvious path, full decode then resize, with the pipeline's own colour and JPEG steps."""
    im = Image.open(io.BytesIO(data), formats=list(photos.FORMATS))
    im = ImageOps.exif_transpose(im)
    im = photos._as_rgb(im)
    im.thumbnail((photos.DISPLAY_SIDE, photos.DISPLAY_SIDE), Image.Resampling.LANCZOS)
    display = photos._jpeg(im, 85)
    thumb_im = im.copy()
    thumb_im.thumbnail((photos.THUMB_SIDE, photos.THUMB_SIDE), Image.Resampling.LANCZOS)
    return photos.Rendered(display, photos._jpeg(thumb_im, 80), im.width, im.height)


def timed(fn, data: bytes) -> float:
    t0 = time.perf_counter()
    fn(data)
    return (time.perf_counter() - t0) * 1000


def main() -> dict:
    data = phone_jpeg()
    fast = render(data, MAX_PIXELS)
    slow = render_naive(data)
    assert (fast.width, fast.height) == (slow.width, slow.height) == (1200, 1600)
    pipeline, naive = [], []
    for _ in range(RUNS):
        # Interleaved, so machine load affects both paths alike.
        pipeline.append(timed(lambda d: render(d, MAX_PIXELS), data))
        naive.append(timed(render_naive, data))
    out = {
        "image": "4000x3000 JPEG, EXIF orientation 6, GPS",
        "bytes": len(data),
        "runs": RUNS,
        "pipeline_ms": round(statistics.median(pipeline), 1),
        "naive_ms": round(statistics.median(naive), 1),
    }
    out["speedup"] = round(out["naive_ms"] / out["pipeline_ms"], 2)
    out["target"] = {"speedup": ">= 1.8"}
    out["meets_targets"] = out["speedup"] >= 1.8
    target = ROOT / "bench" / "out"
    target.mkdir(parents=True, exist_ok=True)
    (target / "photos.json").write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
