"""The one translation table (static/pwa/strings.json, which the phone app reads too): labels on the server."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from . import choices

STRINGS = Path(__file__).parent / "static" / "pwa" / "strings.json"
LANGS = ("zh", "en")  # the order of each entry's two texts in the table


@lru_cache(maxsize=1)
def table() -> dict[str, list[str]]:
    """Key → [Chinese, English], read once per process."""
    return json.loads(STRINGS.read_text(encoding="utf-8"))


def label(key: str, lang: str = "zh", default: str | None = None, **fill) -> str:
    """The text of `key` in `lang` ("zh" or "en"), {name} placeholders filled from `fill`.

    A key the table lacks gives `default`, or the key itself (as the phone app shows it), so a
    file being written never fails over a missing label.
    """
    row = table().get(key)
    text = row[LANGS.index(lang)] if row else (key if default is None else default)
    for name, value in fill.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def choice_label(list_name: str, value: str, lang: str = "zh") -> str:
    """The label people read for value `value` of the named list (choices.VOCABULARY), e.g. a task state."""
    return label(choices.LABEL_KEYS[list_name] + value, lang, default=value)
