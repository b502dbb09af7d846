"""Resending costs what is missing: the already-held preflight, and gzip request bodies (issue 16, point 3)."""

from __future__ import annotations

import gzip
import hashlib
import json

from sqlalchemy import func, select

from server.extensions import db
from server.models import Finding, Mutation, Task, Visit

from .support.api import error_of
from .support.ids import new_id
from .support.phone import Phone, statuses
from .support.photos import jpeg, put


def canonical_hash(m: dict) -> str:
    """docs/sync.md "same content": SHA-256 of [seq, kind, observed_at, payload] as canonical JSON (as the phone computes it)."""
    canon = json.dumps([m["seq"], m["kind"], m["observed_at"], m["payload"]], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canon.encode()).hexdigest()


def held(phone: Phone, seqs, photos=(), api=None):
    return (api or phone.api).post("/api/sync/held", json={"device_id": phone.device_id, "seqs": seqs, "photos": list(photos)})


def rows() -> tuple[int, int, int, int]:
    return tuple(db.session.execute(select(func.count()).select_from(m)).scalar() for m in (Mutation, Visit, Finding, Task))


def test_held_preflight_after_a_lost_answer_lets_the_phone_send_only_what_is_missing(phone):
    """A push whose answer was lost, then more records: the preflight names exactly the stored ones with their content
    hash; the phone sends only the rest; and when the preflight's own answer is lost the full resend is all duplicate."""
    first = [phone.visit("F01"), phone.visit("F02", fail=(0,)), phone.visit("F03")]
    assert statuses(phone.push_ok(first)) == ["applied"] * 3  # ...and the phone never heard this answer
    later = [phone.visit("F04"), phone.visit("F05", fail=(1,))]
    outbox = first + later
    after_first = rows()

    r = held(phone, [[1, 5]])
    assert r.status_code == 200
    answer = r.get_json()
    assert [(h["seq"], h["mutation_id"], h["status"]) for h in answer["held"]] == [(m["seq"], m["mutation_id"], "applied") for m in first]
    assert [h["hash"] for h in answer["held"]] == [canonical_hash(m)[:16] for m in first]
    # The first result, as a `duplicate` answer would carry it.
    assert [h["result"]["visit_id"] for h in answer["held"]] == [m["payload"]["visit_id"] for m in first]
    assert answer["photo_ids"] == []
    assert rows() == after_first  # asking writes nothing

    held_ids = {h["mutation_id"] for h in answer["held"] if h["hash"] == canonical_hash(next(m for m in outbox if m["mutation_id"] == h["mutation_id"]))[:16]}
    missing = [m for m in outbox if m["mutation_id"] not in held_ids]
    assert [m["seq"] for m in missing] == [4, 5]
    assert statuses(phone.push_ok(missing)) == ["applied", "applied"]
    after_rest = rows()
    assert after_rest[1] == after_first[1] + 2 and after_rest[3] == after_first[3] + 1

    # The preflight's answer is lost too: the phone pushes the whole outbox; every record counts once.
    assert statuses(phone.push_ok(outbox)) == ["duplicate"] * 5
    assert rows() == after_rest


def test_held_names_a_stored_rejection_with_its_reason_and_nothing_of_other_devices_or_people(phone, as_role, demo):
    bad = phone.visit("F01", checkpoint_id=999999)
    good = phone.visit("F02")
    assert statuses(phone.push_ok([bad, good])) == ["rejected", "applied"]
    answer = held(phone, [[1, 1], [2, 9]]).get_json()["held"]
    assert [(h["seq"], h["status"]) for h in answer] == [(1, "rejected"), (2, "applied")]
    assert answer[0]["code"] and answer[0]["message"] and "code" not in answer[1]

    # Another device of the same person holds nothing of these seqs.
    other_device = Phone(phone.api, demo.id)
    assert held(other_device, [[1, 9]]).get_json()["held"] == []
    # Another person may not ask about this device (it is registered to the patroller).
    r = held(phone, [[1, 9]], api=as_role("supervisor"))
    assert r.status_code == 409 and error_of(r)["code"] == "device_owned"


def test_held_photos_are_those_received_with_that_sha256(phone):
    received, expected, data = new_id(), new_id(), jpeg()
    assert statuses(phone.push_ok([phone.visit("F01", photo_ids=[received, expected])])) == ["applied"]
    assert put(phone.api, received, data).status_code == 201
    sha = hashlib.sha256(data).hexdigest()
    asked = [{"id": received, "sha256": sha}, {"id": expected, "sha256": sha}, {"id": new_id(), "sha256": sha}]
    assert held(phone, [], asked).get_json()["photo_ids"] == [received]
    # The same id with other bytes is not held: the upload must go, and will be refused 409 on its own.
    assert held(phone, [], [{"id": received, "sha256": "0" * 64}]).get_json()["photo_ids"] == []


def test_held_refuses_questions_too_large_or_malformed(phone):
    r = held(phone, [[1, 6000]])
    assert r.status_code == 413 and error_of(r)["code"] == "too_many_seqs"
    for seqs in ([[5, 1]], [[1]], [["a", 2]], [[0, 3]]):
        r = held(phone, seqs)
        assert r.status_code == 422, seqs
        error_of(r)


# --- gzip request bodies ----------------------------------------------------------------


def push_gzip(phone: Phone, raw: bytes, encoding: str = "gzip"):
    return phone.api.post("/api/sync/push", data=raw, headers={"Content-Type": "application/json", "Content-Encoding": encoding})


def body_of(phone: Phone, mutations: list[dict]) -> bytes:
    return json.dumps({"device_id": phone.device_id, "device_time": "2026-01-01T00:00:00Z", "app_version": "test",
                       "mutations": mutations}).encode()


def test_a_gzip_push_is_applied_as_the_plain_one_would_be(phone):
    batch = [phone.visit("F01"), phone.visit("F02", fail=(0,))]
    raw = body_of(phone, batch)
    packed = gzip.compress(raw)
    assert len(packed) < len(raw) / 2
    r = push_gzip(phone, packed)
    assert r.status_code == 200, r.get_json()
    assert statuses(r.get_json()["results"]) == ["applied", "applied"]
    assert statuses(phone.push_ok(batch)) == ["duplicate", "duplicate"]


def test_a_gzip_body_over_the_limit_once_decompressed_is_413_and_nothing_is_stored(app, phone):
    """A gzip bomb: small on the wire, far over MAX_CONTENT_LENGTH decompressed. Refused in the one error shape."""
    app.config["MAX_CONTENT_LENGTH"] = 256 * 1024
    batch = [phone.visit("F01")]
    raw = body_of(phone, batch)
    bomb = raw[:-2] + b"," + b'"pad": "' + b" " * (64 * 1024 * 1024) + b'"}'  # 64 MiB of spaces
    packed = gzip.compress(bomb, compresslevel=9)
    assert len(packed) < app.config["MAX_CONTENT_LENGTH"]
    before = rows()
    r = push_gzip(phone, packed)
    assert r.status_code == 413
    assert error_of(r)["code"] == "too_large"
    assert rows() == before
    # Just under the limit decompressed is fine.
    r = push_gzip(phone, gzip.compress(raw))
    assert r.status_code == 200 and statuses(r.get_json()["results"]) == ["applied"]


def test_garbage_or_cut_off_gzip_is_400_and_another_encoding_415(phone):
    raw = body_of(phone, [phone.visit("F01")])
    packed = gzip.compress(raw)
    for bad in (b"this is not gzip at all" * 10, packed[: len(packed) // 2], packed + b"trailing junk"):
        r = push_gzip(phone, bad)
        assert r.status_code == 400, r.get_json()
        assert error_of(r)["code"] == "bad_encoding"
    r = push_gzip(phone, packed, encoding="br")
    assert r.status_code == 415 and error_of(r)["code"] == "unsupported_encoding"
    assert rows()[0] == 0


def test_pull_is_gzipped_once_when_the_phone_accepts_it(phone):
    r = phone.api.get("/api/sync/pull?cursor=0&limit=500", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert r.status_code == 200 and r.headers["Content-Encoding"] == "gzip"
    page = json.loads(gzip.decompress(r.data))
    assert page["changes"] and int(r.headers["Content-Length"]) == len(r.data)
