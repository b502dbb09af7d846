"""The push envelope's fast check takes exactly what MutationSchema takes, and answers the same."""

from __future__ import annotations

import uuid

import pytest
from marshmallow import ValidationError

from server.api.sync import MutationSchema, PushSchema, _plain_mutation

from .helpers import error_of
from .test_sync import phone  # noqa: F401  (fixture)

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
