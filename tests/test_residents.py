"""Ask: what residents said on patrol (resident.note by sync), kept by consent, read by the site's desk only;
and a photo's drawn annotation beside its untouched original."""

from __future__ import annotations

import hashlib
import io

import pytest
from sqlalchemy import select

from server import archive, residents
from server.extensions import db
from server.models import Photo, ResidentNote, Visit

from .support.api import error_of
from .support.ids import new_id
from .support.phone import Phone, statuses
from .support.photos import jpeg, put
from .support.records import september, zip_manifest


def _note(phone: Phone, visit: dict, **fields) -> dict:
    p = visit["payload"]
    payload = {"note_id": new_id(), "site_id": p["site_id"], "checkpoint_id": p["checkpoint_id"], "visit_id": p["visit_id"],
               "said": "楼道灯晚上不亮，已经三天了", **fields}
    return phone.mutation("resident.note", payload)


def test_note_with_consent_keeps_unit_and_contact_and_the_sites_supervisor_reads_it(phone, as_role, demo):
    visit = phone.visit("F01")
    note = _note(phone, visit, consent=True, unit="8-02", contact="138 0000 0000")
    assert statuses(phone.push_ok([visit, note])) == ["applied", "applied"]
    r = as_role("supervisor").get(f"/api/resident-notes/?site_id={demo.id}")
    assert r.status_code == 200, r.get_json()
    [item] = r.get_json()["items"]
    assert (item["said"], item["consent"], item["unit"], item["contact"]) == ("楼道灯晚上不亮，已经三天了", True, "8-02", "138 0000 0000")
    assert item["visit_id"] == visit["payload"]["visit_id"] and item["recorded_by_name"]
    # A resend (the answer was lost) is the same note, once.
    again = phone.push_ok([visit, note])
    assert statuses(again) == ["duplicate", "duplicate"]
    assert db.session.execute(select(ResidentNote)).scalars().all().__len__() == 1


def test_without_consent_no_unit_or_contact_is_stored_even_if_sent(phone, as_role, demo):
    visit = phone.visit("F01")
    note = _note(phone, visit, consent=False, unit="8-02", contact="138 0000 0000")
    assert statuses(phone.push_ok([visit, note])) == ["applied", "applied"]
    row = db.session.get(ResidentNote, note["payload"]["note_id"])
    assert (row.consent, row.unit, row.contact) == (False, "", "")
    item = as_role("manager").get(f"/api/resident-notes/{row.id}").get_json()
    assert (item["unit"], item["contact"], item["said"]) == ("", "", "楼道灯晚上不亮，已经三天了")


def test_notes_are_seen_only_by_the_desk_of_their_own_site(phone, as_role, demo, other_site):
    visit = phone.visit("F01")
    note = _note(phone, visit, consent=True, unit="8-02", contact="13800000000")
    phone.push_ok([visit, note])
    note_id = note["payload"]["note_id"]
    stranger = as_role("other-supervisor")
    assert error_of(stranger.get(f"/api/resident-notes/?site_id={demo.id}"))["status"] == 404
    assert error_of(stranger.get(f"/api/resident-notes/{note_id}"))["status"] == 404
    mine = stranger.get("/api/resident-notes/")
    assert mine.status_code == 200 and mine.get_json()["items"] == []
    # Staff of the site without a desk role do not read residents' contacts either.
    assert error_of(as_role("patroller").get(f"/api/resident-notes/?site_id={demo.id}"))["status"] == 403
    assert as_role("supervisor").get(f"/api/resident-notes/{note_id}").status_code == 200


def test_patroller_of_another_site_cannot_record_here(as_role, demo, other_site, phone):
    visit = phone.visit("F01")
    phone.push_ok([visit])
    outsider = Phone(as_role("other-patroller"), demo.id)
    [res] = outsider.push_ok([_note(outsider, visit)])
    assert (res["status"], res["code"]) == ("rejected", "forbidden_site")
    assert db.session.execute(select(ResidentNote)).first() is None


def test_a_note_turned_into_a_finding_names_it_and_only_a_finding_of_its_visit(phone, as_role, demo):
    finding_id = new_id()
    visit = phone.visit("F01", extra=[{"finding_id": finding_id, "category": "facilities", "route": "facility_repair",
                                       "description": "住户反映：楼道灯晚上不亮", "severity": "normal", "dealt_on_spot": False}])
    linked = _note(phone, visit, finding_id=finding_id)
    other_visit = phone.visit("F02", fail=(0,))
    other_finding = other_visit["payload"]["results"][0]["finding"]["finding_id"]
    wrong = _note(phone, visit, finding_id=other_finding)
    unknown_visit = _note(phone, {"payload": {**visit["payload"], "visit_id": new_id()}})
    results = phone.push_ok([visit, linked, other_visit, wrong, unknown_visit])
    assert statuses(results) == ["applied", "applied", "applied", "rejected", "rejected"]
    assert [results[3]["code"], results[4]["code"]] == ["unknown_finding", "unknown_visit"]
    r = as_role("supervisor").get(f"/api/resident-notes/?finding_id={finding_id}")
    assert [n["id"] for n in r.get_json()["items"]] == [linked["payload"]["note_id"]]


@pytest.mark.parametrize("payload,field", [
    ({"said": ""}, "said"),
    ({"consent": "yes"}, "consent"),
    ({"unit": "x" * 65}, "unit"),
])
def test_bad_note_fields_are_rejected_by_name(phone, payload, field):
    visit = phone.visit("F01")
    results = phone.push_ok([visit, _note(phone, visit, **payload)])
    assert results[1]["status"] == "rejected" and results[1]["code"] == "invalid_payload"
    assert field in results[1]["details"]["fields"]


# --- photo annotation ---------------------------------------------------------------------

DRAWING = {"shapes": [{"kind": "circle", "x": 0.42, "y": 0.31, "r": 0.12}, {"kind": "arrow", "x1": 0.1, "y1": 0.9, "x2": 0.38, "y2": 0.4}]}


def _photo_of_visit(phone: Phone) -> tuple[str, bytes]:
    photo_id = new_id()
    phone.push_ok([phone.visit("F01", photo_ids=[photo_id])])
    data = jpeg(640, 480)
    assert put(phone.api, photo_id, data).status_code == 201
    return photo_id, data


def test_annotation_is_kept_beside_the_untouched_original(phone, as_role):
    photo_id, data = _photo_of_visit(phone)
    r = phone.api.put(f"/api/photos/{photo_id}/annotation", json=DRAWING)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["annotation"] == DRAWING
    row = db.session.get(Photo, photo_id)
    db.session.refresh(row)
    assert row.annotation == DRAWING and row.sha256 == hashlib.sha256(data).hexdigest()
    # The same drawing again (a resend) is fine; another one does not replace the first.
    assert phone.api.put(f"/api/photos/{photo_id}/annotation", json=DRAWING).status_code == 200
    other = {"shapes": [{"kind": "circle", "x": 0.5, "y": 0.5, "r": 0.3}]}
    assert error_of(phone.api.put(f"/api/photos/{photo_id}/annotation", json=other))["code"] == "annotation_conflict"
    # Only its taker draws on it; a supervisor of the site reads it.
    assert error_of(as_role("supervisor").put(f"/api/photos/{photo_id}/annotation", json=other))["status"] == 403
    listed = as_role("supervisor").get(f"/api/photos/?visit_id={row.visit_id}").get_json()
    assert [p["annotation"] for p in listed] == [DRAWING]


@pytest.mark.parametrize("body,field", [
    ({"shapes": []}, "shapes"),
    ({"shapes": [{"kind": "square", "x": 0.1}]}, "shapes.0.kind"),
    ({"shapes": [{"kind": "circle", "x": 1.5, "y": 0.2, "r": 0.1}]}, "shapes.0.x"),
    ({"shapes": [{"kind": "circle", "x": 0.5, "y": 0.2, "r": 0}]}, "shapes.0.r"),
    ({"shapes": [{"kind": "circle", "x": 0.5, "y": "0.2", "r": 0.1}]}, "shapes.0.y"),
    ({"shapes": [{"kind": "circle", "x": 0.5, "y": 0.2, "r": 0.1, "colour": "red"}]}, "shapes.0.colour"),
    ({"shapes": [{"kind": "arrow", "x1": 0.2, "y1": 0.2, "x2": 0.2, "y2": 0.2}]}, "shapes.0"),
    ({"shapes": [{"kind": "arrow", "x1": 0.2, "y1": True, "x2": 0.3, "y2": 0.4}]}, "shapes.0.y1"),
    ({"shapes": [{"kind": "circle", "x": 0.5, "y": 0.5, "r": 0.1}] * 21}, "shapes"),
    ({"lines": []}, "lines"),
])
def test_bad_drawings_are_refused_in_the_one_error_shape_and_change_nothing(phone, body, field):
    photo_id, _ = _photo_of_visit(phone)
    err = error_of(phone.api.put(f"/api/photos/{photo_id}/annotation", json=body))
    assert err["status"] == 422 and field in err["details"]["fields"]
    assert db.session.get(Photo, photo_id).annotation is None


def test_annotation_of_no_json_or_unknown_photo(phone, as_role, other_site):
    photo_id, _ = _photo_of_visit(phone)
    assert error_of(phone.api.put(f"/api/photos/{photo_id}/annotation", data=b"<svg/>", headers={"Content-Type": "image/svg+xml"}))["status"] == 400
    assert error_of(phone.api.put(f"/api/photos/{new_id()}/annotation", json=DRAWING))["status"] == 404
    assert error_of(as_role("other-supervisor").put(f"/api/photos/{photo_id}/annotation", json=DRAWING))["status"] == 404


# --- the month record -----------------------------------------------------------------------


def test_the_month_bundle_files_what_residents_said_with_the_unit_but_not_the_contact(app, demo, as_role):
    recs = september(demo)
    visit = db.session.get(Visit, recs["visit_ids"][0])
    row = residents.note_row(note_id=new_id(), site=demo, checkpoint_id=visit.checkpoint_id, visit_id=visit.id, finding_id=None,
                             user_id=visit.user_id, said="住户说垃圾桶满了", consent=True, unit="8-02", contact="13800000000",
                             observed_at=visit.scanned_at, created_at=visit.scanned_at)
    db.session.add(ResidentNote(**row))
    db.session.commit()
    r = as_role("archivist").post(f"/api/archive/sites/{demo.id}/months/2026-09/seal")
    assert r.status_code == 200, r.get_json()
    got = as_role("archivist").get(f"/api/archive/sites/{demo.id}/months/2026-09/bundle")
    manifest, zf, prefix = zip_manifest(got.data)
    got.close()
    notes_csv = zf.read(prefix + "resident_notes.csv").decode("utf-8-sig")
    assert "住户说垃圾桶满了" in notes_csv and "8-02" in notes_csv and "13800000000" not in notes_csv
    assert "resident_notes.csv" in {f["path"] for f in manifest["files"]}
    assert archive.verify_zip(io.BytesIO(got.data)) == []
