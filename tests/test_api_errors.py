"""Bad input gets a 4xx in the one error shape and changes nothing."""

import json

import pytest
from sqlalchemy import func, select

from server.extensions import db
from server.models import Checkpoint

from .support.api import error_of


def _count():
    return db.session.execute(select(func.count()).select_from(Checkpoint)).scalar()


@pytest.fixture
def admin(as_role):
    return as_role("admin")


def test_unknown_fields_are_refused_by_name(admin, demo):
    before = _count()
    r = admin.post("/api/checkpoints/", json={"site_id": demo.id, "kind": "floor", "name_zh": "11楼", "colour": "red"})
    assert r.status_code == 422
    assert error_of(r)["details"]["fields"] == {"colour": ["Unknown field."]}
    assert _count() == before


@pytest.mark.parametrize(
    "body, field",
    [
        ({"site_id": "one", "kind": "floor", "name_zh": "x"}, "site_id"),
        ({"site_id": 1, "kind": "rooftop", "name_zh": "x"}, "kind"),
        ({"site_id": 1, "kind": "floor", "name_zh": ""}, "name_zh"),
        ({"site_id": 1, "kind": "floor", "name_zh": ["a"]}, "name_zh"),
        ({"site_id": 1, "kind": "floor"}, "name_zh"),
        ({"site_id": 1, "kind": "floor", "name_zh": "x", "position": -5}, "position"),
    ],
)
def test_wrong_types_and_values_name_the_field(admin, demo, body, field):
    before = _count()
    r = admin.post("/api/checkpoints/", json=body)
    assert r.status_code == 422
    assert field in error_of(r)["details"]["fields"]
    assert _count() == before


# Not JSON, or JSON that is not an object: 400 bad_json. No body, or an object whose text
# cannot be stored (a lone surrogate): the fields are wrong, 422 validation_error.
@pytest.mark.parametrize("raw, status, code", [
    ("{bad", 400, "bad_json"), ("", 422, "validation_error"), ("null", 400, "bad_json"), ("[1,2]", 400, "bad_json"),
    ('"text"', 400, "bad_json"), ("{\"name_zh\": \"\\ud800\"}", 422, "validation_error"),
])
def test_malformed_json_is_a_400_bad_json_or_a_422_validation_error(admin, demo, raw, status, code):
    before = _count()
    r = admin.post("/api/checkpoints/", data=raw, content_type="application/json")
    assert r.status_code == status
    assert error_of(r)["code"] == code
    assert _count() == before


def test_oversized_body_is_a_413_in_the_error_shape(app, admin, demo):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    r = admin.post("/api/checkpoints/", data=json.dumps({"site_id": demo.id, "kind": "floor", "name_zh": "x" * 5000}), content_type="application/json")
    assert r.status_code == 413
    assert error_of(r)["code"] == "too_large"


def test_failed_update_leaves_the_row_as_it_was(admin, demo):
    cp = db.session.execute(select(Checkpoint).where(Checkpoint.short_code == "F01")).scalar_one()
    r = admin.patch(f"/api/checkpoints/{cp.id}", json={"name_zh": "一楼新名", "short_code": "F02"})
    assert r.status_code == 409
    db.session.expire_all()
    assert db.session.get(Checkpoint, cp.id).name_zh == "1楼"


def test_unknown_path_and_wrong_method_use_the_error_shape(client):
    r = client.get("/api/no-such-thing")
    assert r.status_code == 404 and error_of(r)["code"] == "not_found"
    r = client.delete("/api/health")
    assert r.status_code == 405 and error_of(r)["code"] == "method_not_allowed"


def test_non_numeric_ids_are_not_found_not_errors(admin):
    r = admin.get("/api/checkpoints/abc")
    assert r.status_code == 404
    error_of(r)


def test_server_errors_use_the_shape_and_save_nothing(app, admin, demo, monkeypatch):
    import server.sites as sites

    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(sites, "record_change", boom)
    before = _count()
    r = admin.post("/api/checkpoints/", json={"site_id": demo.id, "kind": "floor", "name_zh": "x"})
    assert r.status_code == 500
    assert error_of(r)["code"] == "server_error"
    assert "disk on fire" not in r.get_data(as_text=True)
    assert _count() == before


def test_field_problems_carry_a_code_and_parameters_beside_the_message(admin, demo):
    # details.fields (messages) stays as it was; details.field_errors says the same with codes.
    r = admin.post("/api/checkpoints/", json={"site_id": demo.id, "kind": "floor", "name_zh": "", "colour": "red"})
    assert r.status_code == 422
    details = error_of(r)["details"]
    assert details["fields"]["colour"] == ["Unknown field."]
    assert details["field_errors"]["colour"] == [{"code": "field_unknown", "message": "Unknown field.", "params": {}}]
    # Left empty, a required name says so (not "Length must be between 1 and 200").
    [name] = details["field_errors"]["name_zh"]
    assert name == {"code": "field_required", "message": details["fields"]["name_zh"][0], "params": {}}
    r = admin.post("/api/checkpoints/", json={"site_id": demo.id, "kind": "floor", "name_zh": "x" * 201})
    [name] = error_of(r)["details"]["field_errors"]["name_zh"]
    assert name["code"] == "field_length_between" and name["params"] == {"min": "1", "max": "200"}
