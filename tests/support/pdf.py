"""PDFs as a reader sees them: every page rasterised with poppler's pdftoppm."""

from __future__ import annotations

import shutil
import subprocess

from PIL import Image

DPI = 150


def render_pages(pdf: bytes, tmp_path) -> list[Image.Image]:
    """Rasterise every page with poppler's pdftoppm (Debian poppler-utils)."""
    assert shutil.which("pdftoppm"), "pdftoppm is missing: apt-get install poppler-utils"
    src = tmp_path / "labels.pdf"
    src.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", str(DPI), str(src), str(tmp_path / "page")], check=True)
    return [Image.open(p) for p in sorted(tmp_path.glob("page-*.png"))]
