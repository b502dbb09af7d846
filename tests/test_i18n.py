"""The one translation table (static/pwa/strings.json): complete for the vocabulary, read alike by server and phone."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from server import choices, i18n

PWA = Path(__file__).resolve().parents[1] / "server" / "static" / "pwa"


def test_every_value_of_every_list_has_a_chinese_and_an_english_label():
    vocab = choices.vocabulary()
    table = i18n.table()
    missing = []
    for name, values in vocab["lists"].items():
        for value in values:
            key = vocab["label_prefixes"][name] + value
            row = table.get(key)
            if not row or len(row) != 2 or not all(isinstance(x, str) and x.strip() for x in row):
                missing.append(f"{name}.{value} ({key})")
    assert missing == []


def test_each_entry_is_chinese_then_english():
    # The language button is the one entry that names the other language.
    entries = {k: v for k, v in i18n.table().items() if k != "lang_switch"}
    assert all(len(v) == 2 for v in entries.values())
    assert [k for k, (_zh, en) in entries.items() if re.search(r"[\u4e00-\u9fff]", en)] == []


@pytest.mark.parametrize(
    ("list_name", "value", "zh", "en"),
    [
        ("task_states", "done", "待验收", "Awaiting verification"),
        ("categories", "facilities", "公共设施设备", "Shared facilities"),
        ("routes", "resident_violation", "住户违约处理", "Residents' convention case"),
        ("departments", "engineering", "工程维修部", "Engineering and repairs"),
        ("month_states", "sealed", "已封存", "Sealed"),
        ("results", "fail", "有问题", "Problem"),
    ],
)
def test_choice_label_reads_the_code_in_both_languages(list_name, value, zh, en):
    assert i18n.choice_label(list_name, value) == zh
    assert i18n.choice_label(list_name, value, "zh") == zh
    assert i18n.choice_label(list_name, value, "en") == en


def test_label_fills_placeholders_and_a_missing_key_shows_itself_or_the_default():
    assert i18n.label("task_title", "zh", id=12) == "任务 #12"
    assert i18n.label("task_title", "en", id=12) == "Task #12"
    assert i18n.label("no_such_key") == "no_such_key"
    assert i18n.choice_label("task_states", "frozen", "en") == "frozen"  # a code the table does not know yet
    with pytest.raises(ValueError):
        i18n.label("task_title", "fr")


def test_every_key_the_phone_app_names_is_in_the_table():
    table = json.loads((PWA / "strings.json").read_text(encoding="utf-8"))
    named = set()
    for path in PWA.rglob("*.js"):
        if "vendor" in path.parts:
            continue
        named |= set(re.findall(r"\bt\('([a-z0-9_]+)'", path.read_text(encoding="utf-8")))
    assert named and sorted(named - set(table)) == []
