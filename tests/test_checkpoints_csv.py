"""Checkpoint CSV: a whole building in one file, imported all rows or none, exported for Excel."""

from __future__ import annotations

import csv
import io

from sqlalchemy import func, select

from server.extensions import db
from server.models import Change, Checkpoint

from .support.api import error_of

HEADER = "kind,name_zh,name_en,building,floor,unit,short_code,position,active\n"


def count_checkpoints(site_id: int) -> int:
    return db.session.execute(select(func.count()).select_from(Checkpoint).where(Checkpoint.site_id == site_id)).scalar()


def snapshot(site_id: int) -> list[tuple]:
    rows = db.session.execute(select(Checkpoint).where(Checkpoint.site_id == site_id).order_by(Checkpoint.id)).scalars()
    return [(c.id, c.kind, c.name_zh, c.name_en, c.building, c.floor, c.unit, c.short_code, c.position, c.active) for c in rows]


def post_csv(client, site_id: int, text: str | bytes, content_type: str = "text/csv"):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return client.post(f"/api/sites/{site_id}/checkpoints.csv", data=data, headers={"Content-Type": content_type})


def by_code(site_id: int, code: str) -> Checkpoint:
    return db.session.execute(select(Checkpoint).where(Checkpoint.site_id == site_id, Checkpoint.short_code == code)).scalar_one()


def test_import_creates_new_rows_and_updates_rows_whose_short_code_exists(as_role, demo):
    manager = as_role("manager")
    before = count_checkpoints(demo.id)
    text = HEADER + (
        "floor,11楼,Floor 11,A座,11,,F11,200,true\n"
        "floor,十楼（翻新）,Floor 10 (renovated),A座,10,,F10,,\n"
        "vacant_unit,空置房 11楼02室,Vacant unit 11-02,A座,11,1102,,,\n"
    )
    resp = post_csv(manager, demo.id, text)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert (body["created"], body["updated"], body["unchanged"]) == (2, 1, 0)
    assert [r["line"] for r in body["checkpoints"]] == [2, 3, 4]
    assert count_checkpoints(demo.id) == before + 2
    f11 = by_code(demo.id, "F11")
    assert (f11.name_zh, f11.floor, f11.position, f11.active) == ("11楼", "11", 200, True)
    f10 = by_code(demo.id, "F10")
    assert f10.name_zh == "十楼（翻新）"
    # Blank position and active leave an existing checkpoint's values alone.
    assert f10.position == 120 and f10.active is True
    generated = body["checkpoints"][2]["short_code"]
    assert len(generated) == 5 and by_code(demo.id, generated).unit == "1102"
    # A new row without a position goes after everything else.
    assert by_code(demo.id, generated).position > 200


def test_dry_run_says_row_by_row_what_an_import_would_do_and_changes_nothing(as_role, demo):
    manager = as_role("manager")
    before = snapshot(demo.id)
    changes_before = db.session.execute(select(func.count()).select_from(Change)).scalar()
    text = HEADER + (
        "floor,11楼,Floor 11,A座,11,,F11,200,true\n"
        "floor,十楼（翻新）,Floor 10 (renovated),A座,10,,F10,,\n"
        "floor,1楼,Floor 1,A座,1,,F01,,\n"
        "vacant_unit,空置房 11楼02室,Vacant unit 11-02,A座,11,1102,,,\n"
    )
    resp = manager.post(f"/api/sites/{demo.id}/checkpoints.csv?dry_run=true", data=text.encode(), headers={"Content-Type": "text/csv"})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["dry_run"] is True and (body["created"], body["updated"], body["unchanged"]) == (2, 1, 1)
    f10 = by_code(demo.id, "F10")
    assert body["checkpoints"] == [
        {"line": 2, "id": None, "short_code": "F11", "name_zh": "11楼", "action": "created", "changed": []},
        {"line": 3, "id": f10.id, "short_code": "F10", "name_zh": "十楼（翻新）", "action": "updated", "changed": ["name_en", "name_zh"]},
        {"line": 4, "id": by_code(demo.id, "F01").id, "short_code": "F01", "name_zh": "1楼", "action": "unchanged", "changed": []},
        {"line": 5, "id": None, "short_code": None, "name_zh": "空置房 11楼02室", "action": "created", "changed": []},
    ]
    db.session.expire_all()
    assert snapshot(demo.id) == before
    assert db.session.execute(select(func.count()).select_from(Change)).scalar() == changes_before
    # The real import then does what the preview said.
    done = post_csv(manager, demo.id, text).get_json()
    assert done["dry_run"] is False and [(r["line"], r["action"], r["changed"]) for r in done["checkpoints"]] == [
        (r["line"], r["action"], r["changed"]) for r in body["checkpoints"]
    ]


def test_dry_run_of_a_file_with_bad_rows_reports_them_like_an_import(as_role, demo):
    manager = as_role("manager")
    text = HEADER + "flor,12楼,Floor 12,A座,12,,F12,,\nfloor,13楼,Floor 13,A座,13,,F13,x,\n"
    dry = manager.post(f"/api/sites/{demo.id}/checkpoints.csv?dry_run=true", data=text.encode(), headers={"Content-Type": "text/csv"})
    real = post_csv(manager, demo.id, text)
    assert dry.status_code == real.status_code == 422
    assert error_of(dry)["details"] == error_of(real)["details"]
    assert [r["line"] for r in error_of(dry)["details"]["rows"]] == [2, 3]
    # A supervisor may export but not import, not even as a dry run.
    assert as_role("supervisor").post(f"/api/sites/{demo.id}/checkpoints.csv?dry_run=true", data=text.encode(), headers={"Content-Type": "text/csv"}).status_code == 403


def test_import_with_bad_rows_saves_nothing_and_reports_every_bad_row(as_role, demo):
    manager = as_role("manager")
    before = snapshot(demo.id)
    changes_before = db.session.execute(select(func.count()).select_from(Change)).scalar()
    text = HEADER + (
        "floor,11楼,Floor 11,A座,11,,F11,200,true\n"  # line 2: good
        "flor,12楼,Floor 12,A座,12,,F12,,\n"  # line 3: unknown kind
        "floor,,Floor 13,A座,13,,F13,,\n"  # line 4: no Chinese name
        "floor,10楼,Floor 10,A座,10,,F10,ten,maybe\n"  # line 5: position and active
        "\n"  # line 6: blank, skipped
        "floor,14楼,Floor 14,A座,14,,F11,,\n"  # line 7: short code repeated from line 2
        "floor,15楼,Floor 15,A座,15,,F15,,,extra\n"  # line 8: too many cells
        'lobby,"大堂\n(二期)",Lobby,B座,1,,*!,,\n'  # lines 9-10: a quoted newline, bad short code
    )
    resp = post_csv(manager, demo.id, text)
    assert resp.status_code == 422
    err = error_of(resp)
    assert err["code"] == "csv_invalid"
    assert "nothing was imported" in err["message"]
    rows = {r["line"]: r["errors"] for r in err["details"]["rows"]}
    assert sorted(rows) == [3, 4, 5, 7, 8, 9]
    assert "kind" in rows[3][0] and "flor" in rows[3][0]
    assert rows[4] == ["name_zh: required"]
    assert len(rows[5]) == 2 and rows[5][0].startswith("position") and rows[5][1].startswith("active")
    assert "line 2" in rows[7][0]
    assert "cells" in rows[8][0]
    assert rows[9][0].startswith("short_code")
    assert snapshot(demo.id) == before
    assert db.session.execute(select(func.count()).select_from(Change)).scalar() == changes_before


def test_import_accepts_utf8_with_bom_as_excel_writes_it(as_role, demo):
    text = "\ufeff" + HEADER.replace("\n", "\r\n") + "elevator_car,3号电梯轿厢,Elevator car 3,A座,,,EL3,,\r\n"
    resp = post_csv(as_role("admin"), demo.id, text)
    assert resp.status_code == 200, resp.get_json()
    assert by_code(demo.id, "EL3").name_zh == "3号电梯轿厢"


def test_import_accepts_gb18030_as_chinese_excel_saves_plain_csv(as_role, demo):
    text = HEADER + "lobby,二楼门厅,Level 2 hall,A座,2,,HALL2,,\n"
    resp = post_csv(as_role("manager"), demo.id, text.encode("gb18030"))
    assert resp.status_code == 200, resp.get_json()
    assert by_code(demo.id, "HALL2").name_zh == "二楼门厅"


def test_import_accepts_a_multipart_file_upload_and_kind_names(as_role, demo):
    text = HEADER + "停车库、停车场、自行车棚、摩托车场,地下停车库 B3,Car park B3,A座,B3,,PB3,,\n"
    resp = as_role("manager").post(
        f"/api/sites/{demo.id}/checkpoints.csv",
        data={"file": (io.BytesIO(text.encode()), "building-a.csv", "text/csv")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 200, resp.get_json()
    assert by_code(demo.id, "PB3").kind == "car_park"


def test_import_with_wrong_header_names_the_columns(as_role, demo):
    resp = post_csv(as_role("manager"), demo.id, "kind,name,colour\nfloor,1,red\n")
    assert resp.status_code == 422
    err = error_of(resp)
    (row,) = err["details"]["rows"]
    assert row["line"] == 1
    joined = " ".join(row["errors"])
    assert "'name'" in joined and "'colour'" in joined and "name_zh" in joined


def test_import_of_empty_or_binary_file_is_refused_cleanly(as_role, demo):
    manager = as_role("manager")
    for data in (b"", HEADER.encode(), b"\xff\xfe\x00\x81\x00\x00\xff" * 10):
        resp = post_csv(manager, demo.id, data)
        assert resp.status_code == 422, data
        assert error_of(resp)["details"]["rows"][0]["line"] == 1


def test_import_refuses_json_bodies(as_role, demo):
    resp = as_role("manager").post(f"/api/sites/{demo.id}/checkpoints.csv", json={"rows": []})
    assert resp.status_code == 415
    error_of(resp)


def test_export_then_import_round_trips_without_changes(as_role, demo):
    manager = as_role("manager")
    resp = manager.get(f"/api/sites/{demo.id}/checkpoints.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert resp.data.startswith("\ufeff".encode())  # Excel reads the Chinese correctly
    rows = list(csv.DictReader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert len(rows) == count_checkpoints(demo.id)
    assert rows[0]["short_code"] == "LOBBY" and rows[0]["name_zh"] == "一楼大堂"
    again = post_csv(manager, demo.id, resp.data)
    body = again.get_json()
    assert again.status_code == 200, body
    assert body["unchanged"] == len(rows) and body["created"] == body["updated"] == 0


def test_export_guards_cells_a_spreadsheet_would_run_as_formulas(as_role, demo):
    manager = as_role("manager")
    cp = by_code(demo.id, "F01")
    manager.patch(f"/api/checkpoints/{cp.id}", json={"name_en": "=HYPERLINK(\"http://x\")"})
    data = manager.get(f"/api/sites/{demo.id}/checkpoints.csv").data.decode("utf-8-sig")
    assert "'=HYPERLINK" in data
    # ...and the quote is taken off again on import.
    resp = post_csv(manager, demo.id, data)
    assert resp.get_json()["unchanged"] == count_checkpoints(demo.id)
    db.session.expire_all()
    assert by_code(demo.id, "F01").name_en == '=HYPERLINK("http://x")'


def test_export_of_one_building(as_role, demo):
    manager = as_role("manager")
    post_csv(manager, demo.id, HEADER + "lobby,B座大堂,Lobby B,B座,1,,LOBB,,\n")
    data = manager.get(f"/api/sites/{demo.id}/checkpoints.csv?building=B座").data.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(data)))
    assert [r["short_code"] for r in rows] == ["LOBB"]


def test_import_can_deactivate_a_checkpoint(as_role, demo):
    manager = as_role("manager")
    resp = post_csv(manager, demo.id, HEADER + "vacant_unit,空置房 8楼01室,Vacant unit 8-01,A座,8,0801,U0801,,否\n")
    assert resp.status_code == 200 and resp.get_json()["updated"] == 1
    assert by_code(demo.id, "U0801").active is False


def test_only_managers_and_admins_import_and_patrollers_do_not_export(as_role, demo):
    text = HEADER + "floor,11楼,Floor 11,A座,11,,F11,,\n"
    for role in ("patroller", "supervisor", "archivist"):
        resp = post_csv(as_role(role), demo.id, text)
        assert resp.status_code == 403, role
    assert as_role("patroller").get(f"/api/sites/{demo.id}/checkpoints.csv").status_code == 403
    assert as_role("supervisor").get(f"/api/sites/{demo.id}/checkpoints.csv").status_code == 200


def test_csv_of_another_site_is_not_found(as_role, demo, other_site):
    stranger = as_role("other-manager")
    assert stranger.get(f"/api/sites/{demo.id}/checkpoints.csv").status_code == 404
    resp = post_csv(stranger, demo.id, HEADER + "floor,11楼,Floor 11,A座,11,,F11,,\n")
    assert resp.status_code == 404
    assert error_of(resp)["code"] == "not_found"


def test_walking_order_is_set_by_listing_checkpoints(as_role, demo, other_site):
    manager = as_role("manager")
    f02, f01 = by_code(demo.id, "F02"), by_code(demo.id, "F01")
    resp = manager.post(f"/api/sites/{demo.id}/checkpoints/order", json={"checkpoint_ids": [f02.id, f01.id]})
    assert resp.status_code == 200
    assert [(c["short_code"], c["position"]) for c in resp.get_json()] == [("F02", 10), ("F01", 20)]
    foreign = by_code(other_site.id, "OTF1")
    resp = manager.post(f"/api/sites/{demo.id}/checkpoints/order", json={"checkpoint_ids": [foreign.id]})
    assert resp.status_code == 422
