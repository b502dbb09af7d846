"""Checklists as data: every item of DOMAIN.md is shipped, broken files are explained."""

import shutil
import tomllib
from pathlib import Path

import pytest

from server import choices
from server.checklists import ChecklistError, current_version, load_dir
from server.extensions import db
from server.models import ChecklistVersion

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "checklists"

# DOMAIN.md § 8-13: every item, by its letter in the source (11c is only a heading).
DOMAIN_ITEMS = {
    "floor": ["8a", "8b", "8c", "8d", "8e", "8f"],
    "elevator_car": ["9a", "9b", "9c", "9d", "9e"],
    "lobby": ["10a", "10b", "10c"],
    "outdoor_plaza": ["11a", "11b", "11d", "11e", "11f", "11g"],
    "car_park": ["12a", "12b", "12c"],
    "vacant_unit": ["13.1", "13.2", "13.3"],
}


def test_every_domain_item_is_shipped_with_zh_en_text_and_methods():
    loaded = load_dir(SHIPPED)
    assert set(loaded) == set(choices.CHECKPOINT_KINDS)
    for kind, refs in DOMAIN_ITEMS.items():
        items = loaded[kind].items
        assert [i["ref"] for i in items] == refs, kind
        for item in items:
            assert item["text"]["zh"].strip() and item["text"]["en"].strip()
            assert item["methods"] and set(item["methods"]) <= set(choices.METHODS)
            assert item["category"] in choices.CATEGORIES
            assert item["route"] in choices.ROUTES


def test_checklist_text_is_chinese_first():
    loaded = load_dir(SHIPPED)
    for checklist in loaded.values():
        for item in checklist.items:
            assert any("\u4e00" <= ch <= "\u9fff" for ch in item["text"]["zh"]), item["id"]


def _copy(tmp_path) -> Path:
    target = tmp_path / "checklists"
    shutil.copytree(SHIPPED, target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ('methods = ["listen", "touch"]', 'methods = ["sniff"]', ["elevator_car.toml", "elevator_car.ride_smooth", "methods", "sniff"]),
        ('category = "facilities"', 'category = "plumbing"', ["elevator_car.toml", "elevator_car.ride_smooth", "category"]),
        ('route = "facility_repair"', 'route = "somewhere"', ["elevator_car.toml", "elevator_car.ride_smooth", "route"]),
        ('methods = ["listen", "touch"]\n', "", ["elevator_car.toml", "elevator_car.ride_smooth", "'methods' is missing"]),
        ('id = "elevator_car.ride_smooth"', 'id = "Elevator Car"', ["elevator_car.toml", "field 'id'"]),
        ('ref = "9a"', 'ref = "9a"\ncolour = "red"', ["elevator_car.toml", "elevator_car.ride_smooth", "unknown field 'colour'"]),
        ("en = \"The elevator rides smoothly with no abnormal noise\"", 'en = ""', ["elevator_car.toml", "elevator_car.ride_smooth", "text'.en"]),
        ('kind = "elevator_car"', 'kind = "spaceship"', ["elevator_car.toml", "kind"]),
    ],
)
def test_broken_checklist_is_reported_with_file_item_and_field(tmp_path, old, new, expected):
    folder = _copy(tmp_path)
    _edit(folder / "elevator_car.toml", old, new)
    with pytest.raises(ChecklistError) as info:
        load_dir(folder)
    message = str(info.value)
    for part in expected:
        assert part in message, (part, message)


def test_invalid_toml_names_the_file_and_line(tmp_path):
    folder = _copy(tmp_path)
    (folder / "lobby.toml").write_text('kind = "lobby"\nname = { zh = "大堂"\n', encoding="utf-8")
    with pytest.raises(ChecklistError) as info:
        load_dir(folder)
    assert "lobby.toml: not valid TOML" in str(info.value)
    assert "line 2" in str(info.value)


def test_duplicate_item_id_across_files_is_reported(tmp_path):
    folder = _copy(tmp_path)
    data = (folder / "lobby.toml").read_text(encoding="utf-8")
    first = tomllib.loads(data)["items"][0]["id"]
    _edit(folder / "lobby.toml", f'id = "{first}"', 'id = "lobby.signs"')
    _edit(folder / "lobby.toml", tomllib.loads(data)["items"][1]["id"], "lobby.signs")
    with pytest.raises(ChecklistError) as info:
        load_dir(folder)
    assert "lobby.toml: item lobby.signs: id is used twice" in str(info.value)


def test_missing_kind_file_is_reported(tmp_path):
    folder = _copy(tmp_path)
    (folder / "vacant_unit.toml").unlink()
    with pytest.raises(ChecklistError) as info:
        load_dir(folder)
    assert "vacant_unit.toml: missing" in str(info.value)


def test_validate_command_passes_on_shipped_files_and_fails_on_broken_ones(runner, tmp_path):
    ok = runner.invoke(args=["checklists", "validate"])
    assert ok.exit_code == 0, ok.output
    assert "ok: floor.toml: 6 items" in ok.output
    folder = _copy(tmp_path)
    _edit(folder / "floor.toml", 'category = "cleanliness"', 'category = "dirt"')
    bad = runner.invoke(args=["checklists", "validate", "--dir", str(folder)])
    assert bad.exit_code == 1
    assert "floor.toml: item floor." in bad.output and "'category'" in bad.output


def test_site_item_makes_a_new_version_and_old_records_keep_theirs(as_role, demo):
    manager = as_role("manager")
    before = {v["kind"]: v for v in manager.get(f"/api/sites/{demo.id}/checklists/").get_json()}
    r = manager.post(
        f"/api/sites/{demo.id}/checklists/items",
        json={"kind": "floor", "key": "fire_extinguisher", "text_zh": "灭火器压力正常", "text_en": "Extinguisher pressure normal", "methods": ["look"], "category": "security_hazard", "route": "facility_repair"},
    )
    assert r.status_code == 201, r.get_json()
    after = {v["kind"]: v for v in manager.get(f"/api/sites/{demo.id}/checklists/").get_json()}
    assert after["floor"]["version"] == before["floor"]["version"] + 1
    assert after["floor"]["body"]["items"][-1]["text"]["zh"] == "灭火器压力正常"
    assert after["lobby"]["id"] == before["lobby"]["id"]  # other kinds unchanged
    old = manager.get(f"/api/sites/{demo.id}/checklists/versions/{before['floor']['id']}").get_json()
    assert old["body"]["items"] == before["floor"]["body"]["items"]
    shipped = tomllib.loads((SHIPPED / "floor.toml").read_text(encoding="utf-8"))
    assert len(shipped["items"]) == len(before["floor"]["body"]["items"])  # the shipped file is untouched


def test_same_content_is_the_same_version(app, demo):
    first = current_version(demo.id, "floor")
    second = current_version(demo.id, "floor")
    assert first.id == second.id
    assert db.session.query(ChecklistVersion).filter_by(site_id=demo.id, kind="floor").count() == 1
