"""POST /api/client-errors: what the app met on a phone reaches the server's log, as data."""

from __future__ import annotations

import json
import logging

import pytest

from server.api import client_errors

from .support.api import error_of


@pytest.fixture(autouse=True)
def _fresh_allowance():
    client_errors._seen.clear()
    yield
    client_errors._seen.clear()


def _logged(caplog) -> list[dict]:
    lines = [r.getMessage() for r in caplog.records if r.name == "patrol.client" and r.getMessage().startswith("client error ")]
    assert all("\n" not in line and "\r" not in line for line in lines)
    return [json.loads(line.removeprefix("client error ")) for line in lines]


def test_an_error_a_phone_met_is_one_log_line_of_json_and_typed_text_stays_data(as_role, caplog):
    caplog.set_level(logging.WARNING, logger="patrol.client")
    forged = "oops\n2026-12-06 01:00:00 ERROR server: admin password changed\r\x1b[2J"
    r = as_role("patroller").post("/api/client-errors/", json={"errors": [
        {"message": forged, "stack": "at begin (scan.js:61)\nat handle (scan.js:118)", "screen": "scan", "at": "2026-12-06T09:00:00+08:00", "count": 3},
        {"message": "TypeError: x is undefined"},
    ]})
    assert r.status_code == 202 and r.get_json() == {"logged": 2, "dropped": 0}
    first, second = _logged(caplog)
    assert first["message"] == forged and first["username"] == "patroller" and first["screen"] == "scan"
    assert first["at"] == "2026-12-06T01:00:00Z" and first["count"] == 3 and first["stack"].endswith("(scan.js:118)")
    assert second["message"] == "TypeError: x is undefined" and second["screen"] == "" and second["count"] == 1


def test_a_page_in_a_loop_cannot_flood_the_log(app, as_role, caplog):
    caplog.set_level(logging.WARNING, logger="patrol.client")
    app.config["CLIENT_ERRORS_PER_USER"] = 3
    patroller = as_role("patroller")
    assert patroller.post("/api/client-errors/", json={"errors": [{"message": f"e{n}"} for n in range(2)]}).get_json() == {"logged": 2, "dropped": 0}
    assert patroller.post("/api/client-errors/", json={"errors": [{"message": f"e{n}"} for n in range(2, 5)]}).get_json() == {"logged": 1, "dropped": 2}
    assert [e["message"] for e in _logged(caplog)] == ["e0", "e1", "e2"]
    # Another person's allowance is their own.
    assert as_role("supervisor").post("/api/client-errors/", json={"errors": [{"message": "s"}]}).get_json() == {"logged": 1, "dropped": 0}


@pytest.mark.parametrize("body, field", [
    ({"errors": []}, "errors"),
    ({"errors": [{"message": ""}]}, "errors"),
    ({"errors": [{"message": "x" * 501}]}, "errors"),
    ({"errors": [{"message": "x"}] * 11}, "errors"),
    ({"errors": [{"message": "x", "at": "yesterday"}]}, "errors"),
    ({"errors": [{"message": "x", "sql": "drop"}]}, "errors"),
    ({}, "errors"),
])
def test_bad_reports_are_refused_in_the_one_error_shape_and_nothing_is_logged(as_role, caplog, body, field):
    caplog.set_level(logging.WARNING, logger="patrol.client")
    r = as_role("patroller").post("/api/client-errors/", json=body)
    assert r.status_code == 422
    assert field in json.dumps(error_of(r)["details"])
    assert _logged(caplog) == []


def test_only_a_logged_in_page_with_its_csrf_token_may_report(app, as_role):
    assert app.test_client().post("/api/client-errors/", json={"errors": [{"message": "x"}]}).status_code == 401
    patroller = as_role("patroller")
    patroller.csrf = ""
    assert patroller.post("/api/client-errors/", json={"errors": [{"message": "x"}]}).status_code == 403
