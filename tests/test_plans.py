"""Patrol plans: managers write them, everyone at the site reads them, phones pull them,
and a schedule that does not make sense is refused with a message saying why."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from server import plans
from server.extensions import db
from server.models import Change, Checkpoint, PatrolPlan, User

from .support.api import error_of


def checkpoint_ids(site_id: int, *codes: str) -> list[int]:
    rows = db.session.execute(select(Checkpoint.short_code, Checkpoint.id).where(Checkpoint.site_id == site_id)).all()
    ids = dict(rows)
    return [ids[c] for c in codes]


def user_id(username: str) -> int:
    return db.session.execute(select(User.id).where(User.username == username)).scalar_one()


def plan_body(site_id: int, **over) -> dict:
    body = {
        "name_zh": "日常楼层巡查",
        "name_en": "Daily floor round",
        "assignee_id": user_id("patroller"),
        "schedule": {"days": [0, 1, 2, 3, 4, 5, 6], "windows": [["09:00", "11:00"], ["15:00", "17:00"]]},
        "focus_zh": "注意消防通道",
        "focus_en": "Watch the fire escapes",
        "checkpoint_ids": checkpoint_ids(site_id, "F01", "F02", "F03"),
    }
    body.update(over)
    return body


def change_of(plan_id: int):
    return db.session.execute(select(Change).where(Change.entity == "plan", Change.entity_id == str(plan_id))).scalar_one_or_none()


def plan_count() -> int:
    return db.session.execute(select(func.count()).select_from(PatrolPlan)).scalar()


def test_manager_writes_a_plan_and_phones_will_pull_it(as_role, demo):
    resp = as_role("manager").post(f"/api/sites/{demo.id}/plans", json=plan_body(demo.id))
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["site_id"] == demo.id
    assert body["assignee_name"].startswith("演示巡查员")
    assert body["schedule"]["windows"] == [["09:00", "11:00"], ["15:00", "17:00"]]
    change = change_of(body["id"])
    assert change is not None and change.op == "upsert" and change.site_id == demo.id


def test_plan_payload_carries_what_the_phone_shows(as_role, demo):
    plan_id = as_role("manager").post(f"/api/sites/{demo.id}/plans", json=plan_body(demo.id)).get_json()["id"]
    payload = plans.plan_payload(db.session.get(PatrolPlan, plan_id))
    assert set(payload) == {
        "id", "site_id", "name_zh", "name_en", "assignee_id", "assignee_name", "schedule",
        "focus_zh", "focus_en", "checkpoint_ids", "active", "updated_at",
    }
    assert payload["focus_zh"] == "注意消防通道" and payload["updated_at"].endswith("Z")


def test_everyone_at_the_site_reads_plans_but_only_managers_and_admins_write(as_role, demo):
    plan_id = as_role("admin").post(f"/api/sites/{demo.id}/plans", json=plan_body(demo.id)).get_json()["id"]
    for role in ("patroller", "supervisor", "archivist"):
        reader = as_role(role)
        assert reader.get(f"/api/sites/{demo.id}/plans").get_json()[0]["id"] == plan_id
        assert reader.get(f"/api/plans/{plan_id}").status_code == 200
        assert reader.post(f"/api/sites/{demo.id}/plans", json=plan_body(demo.id)).status_code == 403
        assert reader.patch(f"/api/plans/{plan_id}", json={"name_en": "x"}).status_code == 403
        assert reader.delete(f"/api/plans/{plan_id}").status_code == 403


def test_plans_of_another_site_are_not_found(as_role, demo, other_site):
    plan_id = as_role("manager").post(f"/api/sites/{demo.id}/plans", json=plan_body(demo.id)).get_json()["id"]
    stranger = as_role("other-manager")
    for resp in (
        stranger.get(f"/api/sites/{demo.id}/plans"),
        stranger.post(f"/api/sites/{demo.id}/plans", json=plan_body(demo.id)),
        stranger.get(f"/api/plans/{plan_id}"),
        stranger.patch(f"/api/plans/{plan_id}", json={"name_en": "mine now"}),
        stranger.delete(f"/api/plans/{plan_id}"),
    ):
        assert resp.status_code == 404
        assert error_of(resp)["code"] == "not_found"
    assert db.session.get(PatrolPlan, plan_id).name_en == "Daily floor round"


def test_windows_crossing_midnight_and_weekly_plans_are_accepted(as_role, demo):
    manager = as_role("manager")
    night = plan_body(demo.id, schedule={"days": [4, 5], "windows": [["22:00", "02:00"]]})
    assert manager.post(f"/api/sites/{demo.id}/plans", json=night).status_code == 201
    vacant = plan_body(demo.id, name_zh="空置房每周巡查", schedule={"days": [0], "windows": [["09:00", "12:00"]]},
                       checkpoint_ids=checkpoint_ids(demo.id, "U0801", "U1003"))
    assert manager.post(f"/api/sites/{demo.id}/plans", json=vacant).status_code == 201


BAD_SCHEDULES = [
    ("not an object", ["09:00", "11:00"], "must be an object"),
    ("no days", {"windows": [["09:00", "11:00"]]}, "days:"),
    ("empty days", {"days": [], "windows": [["09:00", "11:00"]]}, "days:"),
    ("weekday 7", {"days": [7], "windows": [["09:00", "11:00"]]}, "7 is not a weekday"),
    ("true is not a day", {"days": [True], "windows": [["09:00", "11:00"]]}, "True is not a weekday"),
    ("day twice", {"days": [1, 1], "windows": [["09:00", "11:00"]]}, "listed twice"),
    ("no windows", {"days": [0]}, "windows:"),
    ("one time", {"days": [0], "windows": [["09:00"]]}, "pair of times"),
    ("no leading zero", {"days": [0], "windows": [["9:00", "11:00"]]}, "'9:00' is not a 24-hour time"),
    ("24:00", {"days": [0], "windows": [["22:00", "24:00"]]}, "'24:00' is not a 24-hour time"),
    ("zero length", {"days": [0], "windows": [["09:00", "09:00"]]}, "needs some length"),
    ("overlap", {"days": [0], "windows": [["09:00", "11:00"], ["10:30", "12:00"]]}, "09:00-11:00 and 10:30-12:00 overlap"),
    ("overlap after midnight", {"days": [0, 1], "windows": [["22:00", "02:00"], ["01:00", "03:00"]]},
     "22:00-02:00 on Monday overlaps 01:00-03:00 on Tuesday"),
    ("Sunday night into Monday", {"days": [6, 0], "windows": [["23:00", "01:00"], ["00:30", "02:00"]]},
     "23:00-01:00 on Sunday overlaps 00:30-02:00 on Monday"),
    ("unknown key", {"days": [0], "windows": [["09:00", "11:00"]], "every": "week"}, "unknown key(s) every"),
]


@pytest.mark.parametrize("schedule,message", [b[1:] for b in BAD_SCHEDULES], ids=[b[0] for b in BAD_SCHEDULES])
def test_schedule_that_makes_no_sense_is_refused_with_a_clear_message(as_role, demo, schedule, message):
    resp = as_role("manager").post(f"/api/sites/{demo.id}/plans", json=plan_body(demo.id, schedule=schedule))
    assert resp.status_code == 422
    err = error_of(resp)
    assert any(message in m for m in err["details"]["fields"]["schedule"]), err
    assert plan_count() == 0


def test_plan_checkpoints_must_be_active_and_at_the_site(as_role, demo, other_site):
    manager = as_role("manager")
    foreign = checkpoint_ids(other_site.id, "OTF1")
    resp = manager.post(f"/api/sites/{demo.id}/plans", json=plan_body(demo.id, checkpoint_ids=foreign))
    assert resp.status_code == 422 and "not at this site" in error_of(resp)["message"]
    (f01,) = checkpoint_ids(demo.id, "F01")
    manager.patch(f"/api/checkpoints/{f01}", json={"active": False})
    resp = manager.post(f"/api/sites/{demo.id}/plans", json=plan_body(demo.id))
    assert resp.status_code == 422 and "deactivated" in error_of(resp)["message"]
    resp = manager.post(f"/api/sites/{demo.id}/plans", json=plan_body(demo.id, checkpoint_ids=[]))
    assert resp.status_code == 422
    assert plan_count() == 0


def test_plan_assignee_must_work_at_the_site(as_role, demo, other_site):
    resp = as_role("manager").post(f"/api/sites/{demo.id}/plans", json=plan_body(demo.id, assignee_id=user_id("other-patroller")))
    assert resp.status_code == 422
    assert "does not work at this site" in error_of(resp)["message"]


def test_editing_a_plan_is_pulled_again_and_a_bad_edit_changes_nothing(as_role, demo):
    manager = as_role("manager")
    plan_id = manager.post(f"/api/sites/{demo.id}/plans", json=plan_body(demo.id)).get_json()["id"]
    first = change_of(plan_id).cursor
    resp = manager.patch(f"/api/plans/{plan_id}", json={"schedule": {"days": [0], "windows": [["08:00", "09:00"]]}, "assignee_id": None})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["assignee_id"] is None
    second = change_of(plan_id).cursor
    assert second > first
    resp = manager.patch(f"/api/plans/{plan_id}", json={"schedule": {"days": [0], "windows": [["09:00", "08:60"]]}, "name_en": "renamed"})
    assert resp.status_code == 422
    db.session.expire_all()
    plan = db.session.get(PatrolPlan, plan_id)
    assert plan.name_en == "Daily floor round" and plan.schedule["windows"] == [["08:00", "09:00"]]
    assert change_of(plan_id).cursor == second


def test_deleting_a_plan_tells_phones_to_drop_it(as_role, demo):
    manager = as_role("manager")
    plan_id = manager.post(f"/api/sites/{demo.id}/plans", json=plan_body(demo.id)).get_json()["id"]
    assert manager.delete(f"/api/plans/{plan_id}").status_code == 204
    assert db.session.get(PatrolPlan, plan_id) is None
    assert change_of(plan_id).op == "delete"
    assert manager.get(f"/api/plans/{plan_id}").status_code == 404


def test_unknown_fields_in_a_plan_are_refused(as_role, demo):
    resp = as_role("manager").post(f"/api/sites/{demo.id}/plans", json=plan_body(demo.id, colour="red"))
    assert resp.status_code == 422
    assert "colour" in error_of(resp)["details"]["fields"]


def test_window_crossing_midnight_belongs_to_the_day_it_starts_in_site_time(demo):
    plan = PatrolPlan(id=1, site_id=demo.id, name_zh="夜巡", schedule={"days": [4], "windows": [["22:00", "02:00"]]}, checkpoint_ids=[])
    # Friday 2026-03-06 22:00 Shanghai (UTC+8) to Saturday 02:00.
    (w,) = plans.windows(plan, "Asia/Shanghai", date(2026, 3, 2), date(2026, 3, 8))
    assert w.day == date(2026, 3, 6)
    assert (w.start, w.end) == (datetime(2026, 3, 6, 14, 0), datetime(2026, 3, 6, 18, 0))


def test_windows_follow_daylight_saving_in_new_york(demo):
    plan = PatrolPlan(id=1, site_id=demo.id, name_zh="早巡", schedule={"days": [5, 6], "windows": [["09:00", "11:00"]]}, checkpoint_ids=[])
    # Clocks go forward on Sunday 2026-03-08: 09:00 is 14:00 UTC on Saturday, 13:00 UTC on Sunday.
    sat, sun = plans.windows(plan, "America/New_York", date(2026, 3, 7), date(2026, 3, 8))
    assert sat.start == datetime(2026, 3, 7, 14, 0)
    assert sun.start == datetime(2026, 3, 8, 13, 0)
