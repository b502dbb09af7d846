"""The push envelope's fast check takes exactly what MutationSchema takes, and answers the same."""

from __future__ import annotations

import uuid

import pytest
from marshmallow import ValidationError

from server import choices

from server.api.sync import MutationSchema, PushSchema, _plain_mutation
from server.sync.fields import Fields, plain_result
from server.sync.handlers import _plain_visit, _read_visit

from .support.api import error_of

GOOD = {"mutation_id": str(uuid.uuid4()), "seq": 7, "kind": "visit.record", "observed_at": "2026-11-25T08:00:00Z", "payload": {"a": 1}}

CASES = [
    GOOD,
    {**GOOD, "mutation_id": GOOD["mutation_id"].upper()},
    {**GOOD, "mutation_id": GOOD["mutation_id"] + "\n"},
    {**GOOD, "mutation_id": GOOD["mutation_id"][:-1]},
    {**GOOD, "mutation_id": "x" * 36},
    {**GOOD, "mutation_id": 12},
    {**GOOD, "seq": 0},
    {**GOOD, "seq": 1},
    {**GOOD, "seq": 2**53},
    {**GOOD, "seq": 2**53 + 1},
    {**GOOD, "seq": True},
    {**GOOD, "seq": 3.0},
    {**GOOD, "seq": "3"},
    {**GOOD, "kind": ""},
    {**GOOD, "kind": "k" * 32},
    {**GOOD, "kind": "k" * 33},
    {**GOOD, "kind": None},
    {**GOOD, "observed_at": "o" * 40},
    {**GOOD, "observed_at": "o" * 41},
    {**GOOD, "payload": []},
    {**GOOD, "payload": None},
    {**GOOD, "extra": 1},
    {k: v for k, v in GOOD.items() if k != "payload"},
    [GOOD],
    "text",
]


def schema_takes(item) -> bool:
    try:
        MutationSchema().load(item)
        return True
    except ValidationError:
        return False


@pytest.mark.parametrize("item", CASES, ids=range(len(CASES)))
def test_fast_check_never_takes_what_the_schema_refuses(item):
    if _plain_mutation(item):
        assert schema_takes(item)


def test_fast_check_takes_the_usual_envelope():
    assert _plain_mutation(GOOD)


@pytest.mark.parametrize("item", CASES, ids=range(len(CASES)))
def test_a_push_loads_each_envelope_as_the_schema_alone_would(item):
    body = {"device_id": "device-0001", "device_time": "2026-11-25T08:00:00Z", "mutations": [GOOD, item]}
    expected = None
    try:
        expected = MutationSchema(many=True).load([GOOD, item])
    except ValidationError as exc:
        expected = exc.messages
    try:
        got = PushSchema().load(body)["mutations"]
    except ValidationError as exc:
        got = exc.messages["mutations"]
    assert got == expected


def test_a_bad_envelope_in_a_push_is_a_422_naming_the_record_and_field(phone):
    m = phone.visit("F01")
    bad = dict(m, seq=0)
    r = phone.api.post("/api/sync/push", json={"device_id": phone.device_id, "device_time": m["observed_at"], "mutations": [m, bad]})
    err = error_of(r)
    assert r.status_code == 422 and err["code"] == "validation_error"
    assert list(err["details"]["fields"]["mutations"]) == ["1"] and "seq" in err["details"]["fields"]["mutations"]["1"], err


# --- item results: the fast path of handle_visit_record against the field reader ----------

ITEM = {"item_id": "floor.lights", "result": "ok"}
ITEM_CASES = [
    ITEM,
    {**ITEM, "note": "dim"},
    {**ITEM, "note": None},
    {**ITEM, "note": ""},
    {**ITEM, "note": "x" * 4000},
    {**ITEM, "note": "x" * 4001},
    {**ITEM, "note": 5},
    {**ITEM, "photo_ids": []},
    {**ITEM, "photo_ids": ""},
    {**ITEM, "photo_ids": [str(uuid.uuid4())]},
    {**ITEM, "result": "fail"},
    {**ITEM, "result": "n/a"},
    {**ITEM, "result": "na"},
    {**ITEM, "result": None},
    {**ITEM, "item_id": ""},
    {**ITEM, "item_id": "   "},
    {**ITEM, "item_id": "i" * 80},
    {**ITEM, "item_id": "i" * 81},
    {**ITEM, "item_id": 3},
    {**ITEM, "finding": None},
    {**ITEM, "extra": 1},
    ["floor.lights", "ok"],
]


@pytest.mark.parametrize("raw", ITEM_CASES, ids=range(len(ITEM_CASES)))
def test_item_fast_path_reads_what_the_field_reader_reads(raw):
    plain = plain_result(raw)
    if plain is None:
        return  # the field reader decides, as before
    r = Fields(raw, "results.0.")
    slow = (r.text("item_id", required=True, max_len=80), r.choice("result", choices.RESULTS), r.text("note"))
    assert r.uuids("photo_ids") == [] and r.errors == {}
    assert plain == slow


# --- whole visits: handle_visit_record's fast path against the field reader ----------------

FINDING = {"finding_id": str(uuid.uuid4()), "severity": "major", "dealt_on_spot": False, "description": "lamp out"}
FAILED = {"item_id": "floor.exit_sign", "result": "fail", "note": "out", "finding": FINDING}
VISIT = {
    "visit_id": str(uuid.uuid4()), "site_id": 1, "checkpoint_id": 2, "checklist_version_id": 3, "scanned_at": "2026-11-25T08:00:00Z",
    "scan_method": "qr", "results": [ITEM, FAILED],
}


def _with_finding(**changes) -> dict:
    return {**VISIT, "results": [ITEM, {**FAILED, "finding": {**FINDING, **changes}}]}


def _without(data: dict, key: str) -> dict:
    return {k: v for k, v in data.items() if k != key}


VISIT_CASES = [
    VISIT,
    {**VISIT, "visit_id": VISIT["visit_id"].upper()},
    {**VISIT, "visit_id": VISIT["visit_id"] + "\n"},
    {**VISIT, "visit_id": "x" * 36},
    {**VISIT, "visit_id": None},
    _without(VISIT, "visit_id"),
    {**VISIT, "site_id": True},
    {**VISIT, "site_id": 0},
    {**VISIT, "site_id": 2**53},
    {**VISIT, "site_id": "1"},
    {**VISIT, "round_id": None},
    {**VISIT, "round_id": str(uuid.uuid4()).upper()},
    {**VISIT, "round_id": "round"},
    {**VISIT, "round_id": 5},
    {**VISIT, "checklist_version_id": 1.0},
    _without(VISIT, "checklist_version_id"),
    {**VISIT, "checkpoint_code": "F01"},
    {**VISIT, "scanned_at": "2026-11-25T08:00:00"},
    {**VISIT, "scanned_at": "2026-11-25T08:00:00+08:00"},
    {**VISIT, "scanned_at": "2026-11-25t08:00:00z"},
    {**VISIT, "scanned_at": 1764057600},
    _without(VISIT, "scanned_at"),
    {**VISIT, "scan_method": "nfc"},
    {**VISIT, "scan_method": None},
    {**VISIT, "scan_method": ["qr"]},
    {**VISIT, "note": "all fine", "resident_note": ""},
    {**VISIT, "note": None, "resident_note": None},
    {**VISIT, "note": "x" * 4001},
    {**VISIT, "resident_note": 3},
    {**VISIT, "photo_ids": []},
    {**VISIT, "photo_ids": [str(uuid.uuid4())]},
    {**VISIT, "photo_ids": None},
    {**VISIT, "photo_ids": 0},
    {**VISIT, "extra_findings": []},
    {**VISIT, "extra_findings": [{"finding_id": str(uuid.uuid4()), "category": "facilities", "route": "facility_repair", "description": "x"}]},
    {**VISIT, "results": []},
    {**VISIT, "results": None},
    {**VISIT, "results": {}},
    {**VISIT, "results": [ITEM] * 201},
    {**VISIT, "results": [ITEM, ITEM]},
    {**VISIT, "results": [{**ITEM, "result": "fail"}]},
    {**VISIT, "results": [{**ITEM, "finding": FINDING}]},
    {**VISIT, "results": [{**FAILED, "finding": None}]},
    {**VISIT, "results": [{**FAILED, "finding": "lamp"}]},
    {**VISIT, "results": [{**FAILED, "note": "x" * 4001}]},
    {**VISIT, "results": [{**FAILED, "photo_ids": [str(uuid.uuid4())]}]},
    {**VISIT, "results": [{**FAILED, "item_id": " "}]},
    {**VISIT, "results": [{**FAILED, "extra": 1}]},
    _with_finding(),
    _with_finding(finding_id=FINDING["finding_id"].upper()),
    _with_finding(finding_id="f" * 36),
    _with_finding(finding_id=None),
    _with_finding(severity=None),
    _with_finding(severity="minor"),
    _with_finding(severity=["major"]),
    _with_finding(dealt_on_spot=True, spot_note="fixed it"),
    _with_finding(dealt_on_spot=None),
    _with_finding(dealt_on_spot=1),
    _with_finding(spot_note=5),
    _with_finding(description=None),
    _with_finding(description="x" * 4001),
    _with_finding(photo_ids=[]),
    _with_finding(photo_ids=[str(uuid.uuid4())]),
    _with_finding(category="security"),
    {**VISIT, "results": [ITEM, {**FAILED, "finding": _without(FINDING, "description")}]},
    {**VISIT, "results": [ITEM, {**FAILED, "finding": _without(FINDING, "dealt_on_spot")}]},
    {**VISIT, "extra": 1},
    [VISIT],
]


@pytest.mark.parametrize("payload", VISIT_CASES, ids=range(len(VISIT_CASES)))
def test_visit_fast_path_reads_what_the_field_reader_reads(payload):
    """Whatever _plain_visit takes, _read_visit reads without a problem and to the same values."""
    plain = _plain_visit(payload)
    if plain is None:
        return  # the field reader decides, naming each problem
    f = Fields(payload)
    assert _read_visit(f, payload) == plain
    assert f.errors == {}


def test_visit_fast_path_takes_the_usual_visits():
    for payload in (VISIT, _with_finding(dealt_on_spot=True, spot_note="done"), {**VISIT, "round_id": str(uuid.uuid4()), "note": "ok"}):
        assert _plain_visit(payload) is not None
