"""Draw the app icons with Pillow: `python server/static/pwa/icons/make_icons.py`."""

from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).parent
BLUE = (11, 61, 145)
WHITE = (255, 255, 255)
GREEN = (46, 204, 113)


def draw(size: int, safe: float) -> Image.Image:
    """A white QR-corner frame with a green tick on blue; `safe` shrinks it into the maskable zone."""
    img = Image.new("RGB", (size, size), BLUE)
    d = ImageDraw.Draw(img)
    inner = size * safe
    off = (size - inner) / 2
    s = inner / 100  # work in a 100-unit box

    def box(x0, y0, x1, y1, fill):
        d.rectangle([off + x0 * s, off + y0 * s, off + x1 * s, off + y1 * s], fill=fill)

    # Three QR finder corners.
    for x, y in ((12, 12), (62, 12), (12, 62)):
        box(x, y, x + 26, y + 26, WHITE)
        box(x + 5, y + 5, x + 21, y + 21, BLUE)
        box(x + 9, y + 9, x + 17, y + 17, WHITE)
    # The tick: the checkpoint is fine.
    pts = [(58, 74), (70, 86), (92, 60)]
    d.line([(off + x * s, off + y * s) for x, y in pts], fill=GREEN, width=max(2, int(9 * s)), joint="curve")
    return img


def main() -> None:
    draw(192, 1.0).save(HERE / "icon-192.png", optimize=True)
    draw(512, 1.0).save(HERE / "icon-512.png", optimize=True)
    # Maskable: everything important inside the central 80% circle.
    draw(512, 0.7).save(HERE / "icon-maskable-512.png", optimize=True)
    draw(180, 0.9).save(HERE / "apple-touch-icon.png", optimize=True)


if __name__ == "__main__":
    main()
