"""The Chinese TrueType font that label and archive PDFs embed: which file, and registering it.

The font comes with the install: `requirements.txt` pins the PyPI package
paperang-p2-fonts-cjk, which ships WenQuanYi Micro Hei 0.2.0-beta (wqy-microhei.ttc,
byte-identical to Debian's fonts-wqy-microhei; Apache-2.0 or GPL-3+ with the font
embedding exception). It has TrueType outlines, which reportlab can subset and embed;
the Noto/Source Han CJK fonts on PyPI are CFF-outline OpenType, which it cannot.
`LABEL_FONT` overrides it with any TrueType file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from . import problems

FONT_NAME = "PatrolFont"
DELIVERED_PACKAGE = "paperang_p2_fonts_cjk"
DELIVERED_FILE = "fonts/wqy-microhei.ttc"
# Used only when the delivered package is not installed (an install that skipped
# requirements.txt): the Debian packages' files.
SYSTEM_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)


@dataclass(frozen=True)
class FontSetting:
    path: str
    index: int
    # True when LABEL_FONT named the file: a missing file is then an error, not a fallback.
    configured: bool = False


def delivered_font() -> str | None:
    """The path of the font pip installed with the app, or None when it is not installed."""
    try:
        path = resources.files(DELIVERED_PACKAGE) / DELIVERED_FILE
    except ModuleNotFoundError:
        return None
    return str(path) if path.is_file() else None


def font_setting(config: dict | None = None) -> FontSetting:
    """LABEL_FONT (and LABEL_FONT_INDEX for a .ttc) when set; else the delivered font; else a system one."""
    config = config or {}
    configured = config.get("LABEL_FONT") or os.environ.get("LABEL_FONT")
    if configured:
        raw_index = config.get("LABEL_FONT_INDEX", os.environ.get("LABEL_FONT_INDEX", "0"))
        try:
            index = int(raw_index or 0)
        except ValueError:
            index = 0
        return FontSetting(str(configured), index, configured=True)
    found = delivered_font() or next((p for p in SYSTEM_FONTS if Path(p).is_file()), None)
    # Nothing found: name the delivered file, so the error says what is missing.
    return FontSetting(found or f"{DELIVERED_PACKAGE}/{DELIVERED_FILE}", 0)


_registered: dict[tuple[str, int], str] = {}


def register_font(setting: FontSetting) -> str:
    """Register the font with reportlab once and return its name; Unavailable when it is missing or unusable."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    key = (setting.path, setting.index)
    if key in _registered:
        return _registered[key]
    if not Path(setting.path).is_file():
        where = f"LABEL_FONT names {setting.path}, which does not exist." if setting.configured else "The Chinese font that comes with the app is not installed."
        raise problems.Unavailable(
            f"{where} Run `make install` (or `pip install -r requirements.txt`), which installs WenQuanYi Micro Hei, "
            "or set LABEL_FONT to a TrueType font (.ttf/.ttc) with Chinese characters, e.g. from the Debian package fonts-wqy-microhei.",
            "label_font_missing",
        )
    name = f"{FONT_NAME}{len(_registered)}"
    try:
        pdfmetrics.registerFont(TTFont(name, setting.path, subfontIndex=setting.index))
    except (TTFError, OSError, ValueError, IndexError) as exc:
        raise problems.Unavailable(
            f"The font {setting.path} cannot be used ({exc}). Set LABEL_FONT to a TrueType font (.ttf/.ttc) with Chinese characters; "
            "CFF-outline OpenType (.otf) fonts cannot be embedded.",
            "label_font_unusable",
        ) from exc
    _registered[key] = name
    return name
