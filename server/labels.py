"""QR labels for checkpoints: one QR as PNG or SVG, and an A4 PDF sheet to print and cut.

Each QR encodes `<base URL>/c/<token>`, so a phone's own camera app opens the right
checkpoint; the short code under it is typed in when a label will not scan. The PDF
embeds a subset of a Chinese TrueType font, so it prints the same on any machine.
"""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_Q

# archive.py takes the font from here too.
from .fonts import FontSetting, font_setting, register_font  # noqa: F401
from .models import Checkpoint, Site

# Page layout, in millimetres. Two columns of four labels fill an A4 sheet; the QR is
# drawn 54 mm wide with a two-module quiet zone, so the symbol itself is about 48 mm,
# which phones read from an arm's length away.
PAGE_W, PAGE_H = 210.0, 297.0
COLUMNS, ROWS = 2, 4
MARGIN_X, MARGIN_Y = 8.0, 12.0
CELL_W = (PAGE_W - 2 * MARGIN_X) / COLUMNS
CELL_H = (PAGE_H - 2 * MARGIN_Y) / ROWS
QR_MM = 54.0
PAD = 3.5


def checkpoint_url(base_url: str, cp: Checkpoint) -> str:
    """The URL a checkpoint's QR encodes."""
    return f"{base_url.rstrip('/')}/c/{cp.token}"


def _qr(url: str, border: int) -> qrcode.QRCode:
    # Level Q survives a quarter of the symbol being dirty or scratched.
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, border=border, box_size=10)
    qr.add_data(url)
    qr.make(fit=True)
    return qr


def qr_png(url: str) -> bytes:
    """A QR as a PNG image, with the standard four-module quiet zone."""
    img = _qr(url, border=4).make_image()
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def qr_svg(url: str) -> bytes:
    """A QR as one SVG path: scales to any print size without blurring."""
    img = _qr(url, border=4).make_image(image_factory=qrcode.image.svg.SvgPathImage)
    buf = io.BytesIO()
    img.save(buf)
    return buf.getvalue()


# --- the PDF sheet -------------------------------------------------------------------


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Break text into lines no wider than `width` points: at spaces, or anywhere in CJK text."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    lines: list[str] = []
    line = ""
    for token in _tokens(text):
        candidate = (line + token) if line else token.lstrip()
        if stringWidth(candidate, font, size) <= width or not line:
            line = candidate
            # A single token wider than the line (a long word) is cut by characters.
            while stringWidth(line, font, size) > width and len(line) > 1:
                cut = len(line)
                while cut > 1 and stringWidth(line[:cut], font, size) > width:
                    cut -= 1
                lines.append(line[:cut])
                line = line[cut:]
        else:
            lines.append(line.rstrip())
            line = token.lstrip()
    if line.strip():
        lines.append(line.rstrip())
    return lines


def _tokens(text: str) -> list[str]:
    """Latin words stay whole (with their leading space); each CJK character stands alone."""
    out: list[str] = []
    word = ""
    for ch in text:
        if ord(ch) > 0x2E7F:  # CJK and beyond: a line may break before any of them
            if word:
                out.append(word)
                word = ""
            out.append(ch)
        elif ch == " ":
            if word:
                out.append(word)
            word = " "
        else:
            word += ch
    if word:
        out.append(word)
    return out


def _ellipsis(line: str, font: str, size: float, width: float) -> str:
    """Cut a line so that it ends in "…" within `width`: the text went on."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    while line and stringWidth(line + "…", font, size) > width:
        line = line[:-1]
    return line.rstrip() + "…"


def _fit_size(text: str, font: str, largest: float, smallest: float, width: float) -> float:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    size = largest
    while size > smallest and stringWidth(text, font, size) > width:
        size -= 0.5
    return size


def _draw_qr(canvas, url: str, x: float, y: float, size: float) -> None:
    """Draw the QR as vector squares (quiet zone included in `size`), merging runs of modules."""
    matrix = _qr(url, border=2).get_matrix()
    n = len(matrix)
    module = size / n
    canvas.setFillColorRGB(1, 1, 1)
    canvas.rect(x, y, size, size, stroke=0, fill=1)
    canvas.setFillColorRGB(0, 0, 0)
    for r, row in enumerate(matrix):
        c = 0
        while c < n:
            if row[c]:
                start = c
                while c < n and row[c]:
                    c += 1
                # A hair of overlap so no white seam shows between merged rows.
                canvas.rect(x + start * module, y + size - (r + 1) * module, (c - start) * module, module * 1.02, stroke=0, fill=1)
            else:
                c += 1


def labels_pdf(site: Site, checkpoints: list[Checkpoint], base_url: str, kind_names: dict[str, dict], font: FontSetting) -> bytes:
    """An A4 sheet (or several) of labels, eight to a page, with cutting lines."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas

    font_name = register_font(font)
    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=A4, pageCompression=1, initialFontName=font_name, initialFontSize=10)
    canvas.setTitle(f"{site.name_zh} {site.name_en} — QR labels".strip())
    canvas.setAuthor("Patrol")
    canvas.setCreator("Patrol")
    per_page = COLUMNS * ROWS
    if not checkpoints:
        canvas.setFont(font_name, 12)
        canvas.drawString(MARGIN_X * mm, (PAGE_H - MARGIN_Y) * mm, "没有要打印的检查点 / No checkpoints to print")
        canvas.showPage()
    for start in range(0, len(checkpoints), per_page):
        for i, cp in enumerate(checkpoints[start : start + per_page]):
            col, row = i % COLUMNS, i // COLUMNS
            x = (MARGIN_X + col * CELL_W) * mm
            top = (PAGE_H - MARGIN_Y - row * CELL_H) * mm
            _draw_label(canvas, cp, site, x, top, base_url, kind_names.get(cp.kind, {}), font_name)
        canvas.showPage()
    canvas.save()
    return buf.getvalue()


def _draw_label(canvas, cp: Checkpoint, site: Site, x: float, top: float, base_url: str, kind_name: dict, font: str) -> None:
    from reportlab.lib.units import mm

    w, h = CELL_W * mm, CELL_H * mm
    # Cutting line.
    canvas.setStrokeColorRGB(0.7, 0.7, 0.7)
    canvas.setLineWidth(0.4)
    canvas.setDash(3, 3)
    canvas.rect(x, top - h, w, h, stroke=1, fill=0)
    canvas.setDash()

    qr = QR_MM * mm
    pad = PAD * mm
    qr_x = x + pad
    qr_y = top - h + (h - qr) / 2
    _draw_qr(canvas, checkpoint_url(base_url, cp), qr_x, qr_y, qr)

    # Text column to the right of the QR. The short code sits at the bottom, large:
    # it is typed when the QR fails. The texts above it stop short of the code.
    tx = qr_x + qr + pad
    tw = x + w - pad - tx
    code_size = _fit_size(cp.short_code, font, 30, 8, tw)
    base = top - h + pad + 12
    floor_ = base + code_size + 18
    floor = f"{cp.floor}F" if cp.floor.isdigit() else cp.floor
    where = " ".join(p for p in (cp.building, floor, cp.unit) if p)
    grey = (0.3, 0.3, 0.3)
    blocks = [
        (cp.name_zh, 15, 18, 3, (0, 0, 0)),
        (cp.name_en, 10, 12, 3, (0, 0, 0)),
        (kind_name.get("zh", "") or cp.kind, 8, 10, 2, grey),
        (kind_name.get("en", ""), 8, 10, 2, grey),
        (where, 9, 11, 1, grey),
    ]
    y = top - pad - 12
    for text, size, leading, most, colour in blocks:
        lines = _wrap(text, font, size, tw) if text else []
        room = max(0, int((y - floor_) // leading) + 1)
        shown = lines[: min(most, room)]
        if len(shown) < len(lines) and shown:
            shown[-1] = _ellipsis(shown[-1], font, size, tw)
        canvas.setFillColorRGB(*colour)
        canvas.setFont(font, size)
        for line in shown:
            canvas.drawString(tx, y, line)
            y -= leading
        if text is cp.name_en:
            y -= 3

    canvas.setFillColorRGB(0, 0, 0)
    canvas.setFont(font, code_size)
    canvas.drawString(tx, base, cp.short_code)
    canvas.setFillColorRGB(*grey)
    canvas.setFont(font, 6.5)
    canvas.drawString(tx, base + code_size + 1, "Scan, or type the code:")
    canvas.drawString(tx, base + code_size + 9, "扫码或输入代码：")
    site_line = f"{site.name_zh} {site.name_en}".strip()
    canvas.drawString(tx, top - h + pad, _wrap(site_line, font, 6.5, tw)[0])
