"""Missed checkpoints of a planned round: the patroller's reasons (`round.missed`) are stored once, all or none, and shown in coverage."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from server import coverage
from server.extensions import db
from server.models import Checkpoint, MissedReason, Mutation, PatrolPlan
from server.plans import local_to_utc

from .support.ids import new_id
from .support.phone import Phone, statuses

LONG_AGO = datetime(2020, 1, 1)


def cp_id(site, code: str) -> int:
    return db.session.execute(select(Checkpoint.id).where(Checkpoint.site_id == site.id, Checkpoint.short_code == code)).scalar_one()


def plan_of(site, codes, windows=(("09:00", "09:30"),)) -> PatrolPlan:
    """A daily plan written long ago, so that every window of the test's days is expected."""
    plan = PatrolPlan(site_id=site.id, name_zh="早班巡查", name_en="Morning round", schedule={"days": list(range(7)), "windows": [list(w) for w in windows]},
                      checkpoint_ids=[cp_id(site, c) for c in codes], created_at=LONG_AGO)
    db.session.add(plan)
    db.session.commit()
    return plan


def reasons_stored() -> list[tuple]:
    db.session.expire_all()
    return db.session.execute(select(MissedReason.checkpoint_id, MissedReason.reason, MissedReason.note).order_by(MissedReason.checkpoint_id)).all()


def planned_round(phone: Phone, plan: PatrolPlan, at: datetime | None = None) -> tuple[str, list[dict]]:
    rid = new_id()
    return rid, [phone.mutation("round.start", {"round_id": rid, "site_id": phone.site_id, "plan_id": plan.id}, at)]


def test_reasons_for_missed_checkpoints_are_stored_with_the_round_and_its_plan(phone, demo):
    plan = plan_of(demo, ["F01", "F02", "F03"])
    rid, batch = planned_round(phone, plan)
    batch += [
        phone.visit("F02", round_id=rid),
        phone.mutation("round.end", {"round_id": rid}),
        phone.mutation("round.missed", {"round_id": rid, "reasons": [
            {"checkpoint_id": cp_id(demo, "F01"), "reason": "locked"},
            {"checkpoint_id": cp_id(demo, "F03"), "reason": "other", "note": "  业主在装修，门口堆满材料  "},
        ]}),
    ]
    results = phone.push_ok(batch)
    assert statuses(results) == ["applied"] * 4
    assert results[3]["result"] == {"round_id": rid, "checkpoint_ids": [cp_id(demo, "F01"), cp_id(demo, "F03")]}
    assert reasons_stored() == [(cp_id(demo, "F01"), "locked", ""), (cp_id(demo, "F03"), "other", "业主在装修，门口堆满材料")]
    row = db.session.execute(select(MissedReason).where(MissedReason.checkpoint_id == cp_id(demo, "F01"))).scalar_one()
    assert (row.round_id, row.plan_id, row.site_id) == (rid, plan.id, demo.id)


@pytest.mark.parametrize(
    "reasons, bad_field",
    [
        ([{"reason": "asleep"}], "reasons.0.reason"),
        ([{"reason": "other"}], "reasons.0.note"),
        ([{"reason": "other", "note": "   "}], "reasons.0.note"),
        ([{"reason": "locked"}, {"reason": "no_access", "checkpoint_id": "F01"}], "reasons.1.checkpoint_id"),
        ([{"reason": "locked"}, {"reason": "no_access"}], "reasons.1.checkpoint_id"),  # the same checkpoint twice
        ([], "reasons"),
    ],
)
def test_a_bad_reason_refuses_the_whole_mutation_naming_the_field(phone, demo, reasons, bad_field):
    plan = plan_of(demo, ["F01", "F02"])
    rid, batch = planned_round(phone, plan)
    given = [{"checkpoint_id": cp_id(demo, "F01"), **r} for r in reasons]
    batch.append(phone.mutation("round.missed", {"round_id": rid, "reasons": given}))
    results = phone.push_ok(batch)
    assert statuses(results) == ["applied", "rejected"]
    assert results[1]["code"] == "invalid_payload"
    assert bad_field in results[1]["details"]["fields"]
    assert reasons_stored() == []


def test_a_checkpoint_of_another_site_refuses_every_reason_of_the_mutation(phone, demo, other_site):
    plan = plan_of(demo, ["F01", "F02"])
    rid, batch = planned_round(phone, plan)
    theirs = db.session.execute(select(Checkpoint.id).where(Checkpoint.site_id == other_site.id)).scalars().first()
    batch.append(phone.mutation("round.missed", {"round_id": rid, "reasons": [
        {"checkpoint_id": cp_id(demo, "F01"), "reason": "locked"},
        {"checkpoint_id": theirs, "reason": "no_access"},
    ]}))
    results = phone.push_ok(batch)
    assert statuses(results) == ["applied", "rejected"]
    assert results[1]["code"] == "unknown_checkpoint"
    assert reasons_stored() == []


def test_reasons_need_my_own_round_that_follows_a_plan(phone, as_role, demo):
    plan = plan_of(demo, ["F01"])
    plain = new_id()
    results = phone.push_ok([
        phone.mutation("round.start", {"round_id": plain, "site_id": demo.id}),
        phone.mutation("round.missed", {"round_id": plain, "reasons": [{"checkpoint_id": cp_id(demo, "F01"), "reason": "locked"}]}),
    ])
    assert [r.get("code") for r in results] == [None, "unknown_plan"]
    # Another patroller's round is not mine to explain.
    rid, batch = planned_round(phone, plan)
    phone.push_ok(batch)
    someone = Phone(as_role("supervisor"), demo.id)
    results = someone.push_ok([someone.mutation("round.missed", {"round_id": rid, "reasons": [{"checkpoint_id": cp_id(demo, "F01"), "reason": "locked"}]})])
    assert results[0]["code"] == "unknown_round"
    assert reasons_stored() == []


def test_a_replayed_reason_mutation_is_a_duplicate_and_a_second_reason_for_the_same_checkpoint_is_refused(phone, demo):
    plan = plan_of(demo, ["F01", "F02"])
    rid, batch = planned_round(phone, plan)
    missed = phone.mutation("round.missed", {"round_id": rid, "reasons": [{"checkpoint_id": cp_id(demo, "F01"), "reason": "under_repair"}]})
    first = phone.push_ok(batch + [missed])
    for _ in range(3):
        again = phone.push_ok([copy.deepcopy(missed)])
        assert statuses(again) == ["duplicate"] and again[0]["result"] == first[1]["result"]
    other = phone.mutation("round.missed", {"round_id": rid, "reasons": [{"checkpoint_id": cp_id(demo, "F01"), "reason": "locked"}]})
    assert phone.push_ok([other])[0]["code"] == "record_exists"
    assert reasons_stored() == [(cp_id(demo, "F01"), "under_repair", "")]
    assert db.session.execute(select(func.count()).select_from(Mutation).where(Mutation.kind == "round.missed", Mutation.status == "applied")).scalar() == 1


def test_coverage_shows_the_reason_beside_each_missed_checkpoint(phone, as_role, demo):
    """A round in yesterday's 09:00-09:30 window, ended late at 09:40, its reasons sent today: they explain that window's misses."""
    plan = plan_of(demo, ["F01", "F02", "F03"])
    yesterday = coverage.local_today(demo) - timedelta(days=1)

    def at(hhmm: str) -> datetime:
        return local_to_utc(yesterday, hhmm, ZoneInfo(demo.timezone))

    rid, batch = planned_round(phone, plan, at("09:05"))
    batch += [
        phone.visit("F02", round_id=rid, scanned_at=at("09:10")),
        phone.mutation("round.end", {"round_id": rid}, at("09:40")),
        phone.mutation("round.missed", {"round_id": rid, "reasons": [
            {"checkpoint_id": cp_id(demo, "F01"), "reason": "no_access", "note": ""},
            {"checkpoint_id": cp_id(demo, "F03"), "reason": "other", "note": "<b>消防演习</b>"},
        ]}),  # given now, long after the round
    ]
    assert statuses(phone.push_ok(batch)) == ["applied"] * 4
    day = yesterday.isoformat()
    body = as_role("supervisor").get(f"/api/sites/{demo.id}/coverage?from={day}&to={day}&plan_id={plan.id}").get_json()
    why = {m["short_code"]: m["reason"] for m in body["missed"]}
    assert set(why) == {"F01", "F03"}
    assert (why["F01"]["reason"], why["F03"]["reason"], why["F03"]["note"]) == ("no_access", "other", "<b>消防演习</b>")
    assert why["F01"]["user_name"] and why["F01"]["round_id"] == rid
    assert body["totals"]["explained"] == 2 and body["windows"][0]["explained"] == 2
    assert [(r["checkpoint_id"], r["reason"]) for r in body["windows"][0]["reasons"]] == [(cp_id(demo, "F01"), "no_access"), (cp_id(demo, "F03"), "other")]
    # They explain neither today's window nor the day before's: those are other windows of the plan.
    today = coverage.local_today(demo).isoformat()
    now = as_role("supervisor").get(f"/api/sites/{demo.id}/coverage?from={today}&to={today}&plan_id={plan.id}").get_json()
    assert [w["reasons"] for w in now["windows"]] == [[]]
    before = (yesterday - timedelta(days=1)).isoformat()
    earlier = as_role("supervisor").get(f"/api/sites/{demo.id}/coverage?from={before}&to={before}&plan_id={plan.id}").get_json()
    assert [(m["short_code"], m["reason"]) for m in earlier["missed"]] == [("F01", None), ("F02", None), ("F03", None)]
