"""The push envelope's fast check takes exactly what MutationSchema takes, and answers the same."""

from __future__ import annotations

import uuid

import pytest
from marshmallow import ValidationError

from server import choices

from server.api.sync import MutationSchema, PushSchema, _plain_mutation
from server.sync.fields import Fields, plain_result

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
