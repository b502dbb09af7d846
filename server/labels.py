"""QR labels for checkpoints: one QR as PNG or SVG, and an A4 PDF sheet to print and cut.

Each QR encodes `<base URL>/c/<token>`, so a phone's own camera app opens the right
checkpoint; the short code under it is typed in when a label will not scan. The PDF
embeds a subset of a Chinese TrueType font, so it prints the same on any machine.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import qrcode
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_Q

from .fonts import FontSetting, register_font
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
#
# The text column right of the QR is about 32 mm wide. What must stay on a label, in
# order: the short code (typed when the QR fails), the building/floor/unit line (it tells
# A座 from B座), the Chinese name; then the English name and the kind, as room allows.
# Each text shrinks first, then wraps, and is cut short with "…" only as a last resort.

NAME_ZH_SIZES = (15, 14, 13, 12, 11, 10)
NAME_EN_SIZES = (10, 9, 8, 7)
WHERE_SIZES = (9, 8, 7)
KIND_SIZES = (8, 7)
SMALL = 6.5  # the "scan or type" prompt and the site line
CODE_MAX = 30
# A code of more than eight characters is printed in groups of four, on two lines when one
# line would be smaller than this; the phone drops the spaces when it is typed back
# (scan.js, sites.normalise_code).
CODE_ONE_LINE_MIN = 16
LEADING = 1.2
ASCENT, DESCENT = 0.88, 0.12  # of the em: the ideograph box of WenQuanYi Micro Hei
GAP = 3

# Chinese line breaking (GB/T 15834 and W3C clreq): these never start a line...
CLOSING = set("）〕］｝〉》」』】〙〗〞’”｠»、。，．・：；？！…‥～%)]},.:;?!")
# ...and these never end one.
OPENING = set("（〔［｛〈《「『【〘〖〝‘“｟«([{")


@dataclass
class Block:
    """Lines of one text at one size, and the height they take."""

    lines: list[str]
    size: float
    grey: bool = False

    @property
    def height(self) -> float:
        return self.size * (ASCENT + (len(self.lines) - 1) * LEADING + DESCENT) if self.lines else 0.0


def _width(text: str, font: str, size: float) -> float:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    return stringWidth(text, font, size)


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Break text into lines no wider than `width` points: at spaces, or between CJK characters."""
    lines: list[str] = []
    line = ""
    for token in _tokens(text):
        candidate = (line + token) if line else token.lstrip()
        if _width(candidate, font, size) <= width or not line:
            line = candidate
            # A single token wider than the line (a long word) is cut by characters.
            while _width(line, font, size) > width and len(line) > 1:
                cut = len(line)
                while cut > 1 and _width(line[:cut], font, size) > width:
                    cut -= 1
                while 1 < cut < len(line) and (line[cut] in CLOSING or line[cut - 1] in OPENING):
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
    """Unbreakable pieces: a Latin word (with its leading space), or one CJK character with
    any closing punctuation after it and opening punctuation before it."""
    pieces: list[str] = []
    word = ""
    for ch in text:
        # CJK and beyond, and punctuation next to it: a line may break around them. Inside a
        # Latin word ("3.5", "(B2)") punctuation stays part of the word.
        if ord(ch) > 0x2E7F or (not word.strip() and (ch in CLOSING or ch in OPENING)):
            if word:
                pieces.append(word)
                word = ""
            pieces.append(ch)
        elif ch == " ":
            if word:
                pieces.append(word)
            word = " "
        else:
            word += ch
    if word:
        pieces.append(word)
    out: list[str] = []
    opening = ""
    for piece in pieces:
        if piece in CLOSING and out and not opening:
            out[-1] += piece
        elif piece in OPENING:
            opening += piece
        else:
            out.append(opening + piece)
            opening = ""
    if opening:
        out.append(opening)
    return out


def _ellipsis(line: str, font: str, size: float, width: float) -> str:
    """Cut a line so that it ends in "…" within `width`: the text went on."""
    while line and (_width(line + "…", font, size) > width or line[-1] in OPENING):
        line = line[:-1]
    return line.rstrip() + "…"


def _fit(text: str, font: str, sizes: tuple, most_lines: int, width: float, room: float) -> Block | None:
    """The text whole, at the largest size where it takes at most `most_lines` lines within `room` points."""
    for size in sizes:
        block = Block(_wrap(text, font, size, width), size)
        if len(block.lines) <= most_lines and block.height <= room:
            return block
    return None


def _cut(text: str, font: str, size: float, width: float, room: float) -> Block:
    """The text at `size` in as many lines as `room` holds (at least one), the last ending in "…"."""
    lines = _wrap(text, font, size, width)
    most = max(1, int((room / size - ASCENT - DESCENT) // LEADING) + 1)
    if len(lines) > most:
        lines = lines[: most - 1] + [_ellipsis(lines[most - 1], font, size, width)]
    return Block(lines, size)


def _where(cp: Checkpoint, font: str, width: float) -> Block | None:
    """Building, floor and unit, in black: always on the label. A building name too long for two lines
    is cut short, never the floor and unit after it."""
    floor = f"{cp.floor}F" if cp.floor.isdigit() else cp.floor
    tail = " ".join(p for p in (floor, cp.unit) if p)
    building = cp.building
    text = " ".join(p for p in (building, tail) if p)
    if not text:
        return None
    block = _fit(text, font, WHERE_SIZES, 2, width, float("inf"))
    while block is None and building:
        building = building[:-1]
        block = _fit(f"{building}… {tail}".strip() if building else tail, font, WHERE_SIZES[-1:], 2, width, float("inf"))
    return block or Block(_wrap(tail, font, WHERE_SIZES[-1], width), WHERE_SIZES[-1])


def _code_lines(code: str, font: str, width: float) -> tuple[list[str], float]:
    """The short code as one line, or two lines of four-character groups, and the largest size that fits `width`."""

    def largest(lines: list[str]) -> float:
        return min(CODE_MAX, width / max(_width(line, font, 1) for line in lines))

    if len(code) <= 8:
        return [code], largest([code])
    groups = [code[i : i + 4] for i in range(0, len(code), 4)]
    one_line = [" ".join(groups)]
    if largest(one_line) >= CODE_ONE_LINE_MIN:
        return one_line, largest(one_line)
    half = -(-len(groups) // 2)
    two_lines = [" ".join(groups[:half]), " ".join(groups[half:])]
    return two_lines, largest(two_lines)


def _kind(zh: str, en: str, font: str, width: float, room: float) -> Block | None:
    """The kind's names in grey: on one line when short, else Chinese then English (two lines
    each at most), else Chinese alone; left off when there is no room (name and place matter more)."""
    one_line = _fit(f"{zh} {en}".strip(), font, KIND_SIZES, 1, width, room)
    if one_line:
        one_line.grey = True
        return one_line
    for with_en in (True, False):
        for size in KIND_SIZES:
            zh_lines = _wrap(zh, font, size, width)
            en_lines = _wrap(en, font, size, width) if with_en else []
            block = Block(zh_lines + en_lines, size, grey=True)
            if len(zh_lines) <= 2 and len(en_lines) <= 2 and block.height <= room:
                return block
    return None


def label_blocks(cp: Checkpoint, kind_name: dict, font: str, width: float, room: float) -> list[Block]:
    """The texts above the code, top to bottom, chosen to fit `width` × `room` points."""
    where = _where(cp, font, width)
    left = room - (where.height + GAP if where else 0)
    # Keep a line of English in reserve while the Chinese name is fitted.
    reserve = Block(["x"], NAME_EN_SIZES[-1]).height + GAP if cp.name_en else 0
    name_zh = _fit(cp.name_zh, font, NAME_ZH_SIZES, 3, width, left - reserve) or _cut(cp.name_zh, font, NAME_ZH_SIZES[-1], width, left - reserve)
    left -= name_zh.height + GAP
    blocks = [name_zh]
    if cp.name_en:
        name_en = _fit(cp.name_en, font, NAME_EN_SIZES, 3, width, left) or _cut(cp.name_en, font, NAME_EN_SIZES[-1], width, left)
        left -= name_en.height + GAP
        blocks.append(name_en)
    kind = _kind(kind_name.get("zh", "") or cp.kind, kind_name.get("en", ""), font, width, left)
    if kind:
        blocks.append(kind)
    if where:
        blocks.append(where)
    return blocks


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


GREY = (0.3, 0.3, 0.3)


def _draw_label(canvas, cp: Checkpoint, site: Site, x: float, top: float, base_url: str, kind_name: dict, font: str) -> None:
    from reportlab.lib.units import mm

    w, h = CELL_W * mm, CELL_H * mm
    bottom = top - h
    # Cutting line.
    canvas.setStrokeColorRGB(0.7, 0.7, 0.7)
    canvas.setLineWidth(0.4)
    canvas.setDash(3, 3)
    canvas.rect(x, bottom, w, h, stroke=1, fill=0)
    canvas.setDash()

    qr = QR_MM * mm
    pad = PAD * mm
    qr_x = x + pad
    _draw_qr(canvas, checkpoint_url(base_url, cp), qr_x, bottom + (h - qr) / 2, qr)

    # Text column to the right of the QR: the site line at the foot, the short code above
    # it (large: it is typed when the QR fails) under its prompt, the other texts on top.
    tx = qr_x + qr + pad
    tw = x + w - pad - tx
    canvas.setFillColorRGB(*GREY)
    canvas.setFont(font, SMALL)
    site_line = f"{site.name_zh} {site.name_en}".strip()
    canvas.drawString(tx, bottom + pad, _cut(site_line, font, SMALL, tw, 0).lines[0])

    code_lines, code_size = _code_lines(cp.short_code, font, tw)
    base = bottom + pad + 12
    canvas.setFillColorRGB(0, 0, 0)
    canvas.setFont(font, code_size)
    for n, line in enumerate(reversed(code_lines)):
        canvas.drawString(tx, base + n * code_size * 1.1, line)
    code_top = base + (len(code_lines) - 1) * code_size * 1.1 + 0.75 * code_size
    canvas.setFillColorRGB(*GREY)
    canvas.setFont(font, SMALL)
    canvas.drawString(tx, code_top + 2.5, "Scan, or type the code:")
    canvas.drawString(tx, code_top + 10.5, "扫码或输入代码：")
    floor_ = code_top + 10.5 + ASCENT * SMALL + GAP

    y = top - pad
    for block in label_blocks(cp, kind_name, font, tw, y - floor_):
        canvas.setFillColorRGB(*(GREY if block.grey else (0, 0, 0)))
        canvas.setFont(font, block.size)
        baseline = y - ASCENT * block.size
        for line in block.lines:
            canvas.drawString(tx, baseline, line)
            baseline -= block.size * LEADING
        y -= block.height + GAP
