"""Coverage: which planned checkpoints were visited in each round window, which were missed,
in the site's own time, by scan time rather than sync time; and scans no honest walk makes."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from server import coverage
from server.errors import problem_status
from server.extensions import db
from server.models import Checkpoint, PatrolPlan, User, Visit
from server.problems import Invalid
from server.timeutil import month_of

from .support.api import error_of

from .support.sites import make_site

LONG_AGO = datetime(2020, 1, 1)


def cp(site, code: str) -> Checkpoint:
    return db.session.execute(select(Checkpoint).where(Checkpoint.site_id == site.id, Checkpoint.short_code == code)).scalar_one()


def user(username: str) -> User:
    return db.session.execute(select(User).where(User.username == username)).scalar_one()


def make_plan(site, codes, days, windows, *, created_at=LONG_AGO, name="巡查") -> PatrolPlan:
    """A plan written long ago (windows before a plan existed are not expected)."""
    plan = PatrolPlan(
        site_id=site.id,
        name_zh=name,
        name_en=name,
        schedule={"days": days, "windows": windows},
        checkpoint_ids=[cp(site, c).id for c in codes],
        created_at=created_at,
    )
    db.session.add(plan)
    db.session.commit()
    return plan


def visit(site, code: str, scanned_at: datetime, *, by: str = "patroller", received_at: datetime | None = None, purpose: str = "patrol") -> Visit:
    """A visit as the sync layer stores it: `scanned_at` is naive UTC, already clock-corrected."""
    row = Visit(
        id=str(uuid.uuid4()),
        site_id=site.id,
        checkpoint_id=cp(site, code).id,
        user_id=user(by).id,
        device_id="test-device",
        purpose=purpose,
        scanned_at=scanned_at,
        scanned_at_device=scanned_at,
        received_at=received_at or scanned_at + timedelta(seconds=5),
        month=month_of(scanned_at, site.timezone),
    )
    db.session.add(row)
    db.session.commit()
    return row


def codes_of(site, ids) -> list[str]:
    return sorted(db.session.get(Checkpoint, i).short_code for i in ids)


# --- windows and days ---------------------------------------------------------------------


def test_night_window_crossing_midnight_counts_scans_after_midnight_for_the_day_it_started(demo):
    # Shanghai is UTC+8. Friday 2026-03-06 22:00 → Saturday 02:00 local = 14:00 → 18:00 UTC Friday.
    make_plan(demo, ["F01", "F02", "F03"], days=[4], windows=[["22:00", "02:00"]])
    visit(demo, "F01", datetime(2026, 3, 6, 15, 30))  # Friday 23:30 local
    visit(demo, "F02", datetime(2026, 3, 6, 17, 30))  # Saturday 01:30 local: still Friday's window
    visit(demo, "F03", datetime(2026, 3, 6, 18, 30))  # Saturday 02:30 local: too late
    report = coverage.coverage(demo, date(2026, 3, 6), date(2026, 3, 6))
    (window,) = report["windows"]
    assert (window["day"], window["window"], window["status"]) == ("2026-03-06", "22:00-02:00", "ended")
    assert (window["start"], window["end"]) == ("2026-03-06T14:00:00Z", "2026-03-06T18:00:00Z")
    assert (window["planned"], window["visited"]) == (3, 2)
    assert codes_of(demo, window["missed_checkpoint_ids"]) == ["F03"]
    assert [m["short_code"] for m in report["missed"]] == ["F03"]
    assert report["by_day"] == [{"day": "2026-03-06", "planned": 3, "visited": 2, "missed": 1, "coverage": 0.6667}]
    # Saturday has no window of its own: the night round is Friday's.
    assert coverage.coverage(demo, date(2026, 3, 7), date(2026, 3, 7))["windows"] == []


def test_two_windows_a_day_are_each_covered_on_their_own(demo):
    make_plan(demo, ["F01", "F02"], days=list(range(7)), windows=[["09:00", "11:00"], ["15:00", "17:00"]])
    # Morning: both floors. Afternoon: only F01.
    visit(demo, "F01", datetime(2026, 3, 10, 1, 10))  # 09:10 local
    visit(demo, "F02", datetime(2026, 3, 10, 2, 50))  # 10:50 local
    visit(demo, "F01", datetime(2026, 3, 10, 7, 5))  # 15:05 local
    visit(demo, "F02", datetime(2026, 3, 10, 9, 0))  # 17:00 local: the window has just closed
    report = coverage.coverage(demo, date(2026, 3, 10), date(2026, 3, 10))
    morning, afternoon = report["windows"]
    assert (morning["visited"], afternoon["visited"]) == (2, 1)
    assert codes_of(demo, afternoon["missed_checkpoint_ids"]) == ["F02"]
    # F02 came at 17:00 sharp: missed by the rule, but late rather than skipped.
    assert report["totals"] == {"windows": 2, "planned": 4, "visited": 3, "missed": 1, "coverage": 0.75, "late": 1, "explained": 0}


def test_missed_checkpoint_scanned_before_the_plans_next_window_is_late_but_still_missed(demo):
    # Every day 09:00-11:00 local (01:00-03:00 UTC).
    make_plan(demo, ["F01", "F02", "F03"], days=list(range(7)), windows=[["09:00", "11:00"]])
    visit(demo, "F01", datetime(2026, 3, 10, 1, 30))  # Tuesday 09:30: in the window
    visit(demo, "F02", datetime(2026, 3, 10, 5, 0))  # Tuesday 13:00: after it closed
    visit(demo, "F03", datetime(2026, 3, 11, 1, 15))  # Wednesday 09:15: the next window, not Tuesday's
    report = coverage.coverage(demo, date(2026, 3, 10), date(2026, 3, 10))
    (window,) = report["windows"]
    assert (window["visited"], window["missed"], window["late"]) == (1, 2, 1)
    late = {m["short_code"]: m["late_at"] for m in report["missed"]}
    assert late == {"F02": "2026-03-10T05:00:00Z", "F03": None}
    assert report["totals"]["late"] == 1 and report["totals"]["missed"] == 2
    # Wednesday counts F03's scan for its own window, and nothing of Tuesday's.
    wednesday = coverage.coverage(demo, date(2026, 3, 11), date(2026, 3, 11))
    assert wednesday["windows"][0]["visited"] == 1 and wednesday["totals"]["late"] == 0


def test_late_scan_of_a_weekly_round_counts_until_the_next_week(demo):
    make_plan(demo, ["U0801"], days=[0], windows=[["09:00", "12:00"]])  # Mondays
    visit(demo, "U0801", datetime(2026, 3, 12, 2, 0))  # Thursday 10:00
    report = coverage.coverage(demo, date(2026, 3, 9), date(2026, 3, 9))
    assert [m["late_at"] for m in report["missed"]] == ["2026-03-12T02:00:00Z"]


def test_coverage_in_new_york_follows_local_time_and_daylight_saving(app, demo):
    site = make_site("NYC", "纽约大厦", prefix="ny-", timezone="America/New_York")
    make_plan(site, ["NYF1"], days=list(range(7)), windows=[["09:00", "11:00"]])
    # Saturday 7 March 2026 is EST (UTC-5): 09:00-11:00 local = 14:00-16:00 UTC.
    visit(site, "NYF1", datetime(2026, 3, 7, 14, 30), by="ny-patroller")
    # Sunday 8 March is EDT (UTC-4): 09:00-11:00 local = 13:00-15:00 UTC; 15:30 UTC is 11:30 local, too late.
    visit(site, "NYF1", datetime(2026, 3, 8, 15, 30), by="ny-patroller")
    # Monday: a scan at 09:30 UTC is 05:30 in New York, long before the window.
    visit(site, "NYF1", datetime(2026, 3, 9, 9, 30), by="ny-patroller")
    report = coverage.coverage(site, date(2026, 3, 7), date(2026, 3, 9))
    assert [(w["day"], w["start"], w["visited"]) for w in report["windows"]] == [
        ("2026-03-07", "2026-03-07T14:00:00Z", 1),
        ("2026-03-08", "2026-03-08T13:00:00Z", 0),
        ("2026-03-09", "2026-03-09T13:00:00Z", 0),
    ]
    assert report["timezone"] == "America/New_York"


def test_visit_synced_days_later_still_counts_for_its_window(demo):
    make_plan(demo, ["F01"], days=list(range(7)), windows=[["09:00", "11:00"]])
    scanned = datetime(2026, 3, 10, 2, 0)  # 10:00 Shanghai
    visit(demo, "F01", scanned, received_at=scanned + timedelta(days=3, hours=4))
    report = coverage.coverage(demo, date(2026, 3, 10), date(2026, 3, 10))
    assert report["totals"]["visited"] == 1 and report["missed"] == []


def test_late_synced_visit_fills_a_window_that_looked_missed(demo):
    make_plan(demo, ["F01"], days=list(range(7)), windows=[["09:00", "11:00"]])
    before = coverage.coverage(demo, date(2026, 3, 10), date(2026, 3, 10))
    assert [m["short_code"] for m in before["missed"]] == ["F01"]
    # The phone was offline; its visit arrives a week later with the scan time it had.
    visit(demo, "F01", datetime(2026, 3, 10, 1, 30), received_at=datetime(2026, 3, 17, 8, 0))
    after = coverage.coverage(demo, date(2026, 3, 10), date(2026, 3, 10))
    assert after["missed"] == [] and after["totals"]["coverage"] == 1.0


def test_windows_not_yet_over_are_listed_but_not_counted_as_missed(demo):
    make_plan(demo, ["F01", "F02"], days=list(range(7)), windows=[["09:00", "11:00"], ["15:00", "17:00"]])
    visit(demo, "F01", datetime(2026, 3, 10, 1, 30))
    now = datetime(2026, 3, 10, 2, 30)  # 10:30 local: morning window in progress
    report = coverage.coverage(demo, date(2026, 3, 10), date(2026, 3, 10), now=now)
    morning, afternoon = report["windows"]
    assert (morning["status"], afternoon["status"]) == ("in_progress", "upcoming")
    assert codes_of(demo, morning["pending_checkpoint_ids"]) == ["F02"]
    assert report["missed"] == [] and report["totals"]["planned"] == 0


def test_windows_before_the_plan_was_written_are_not_expected(demo):
    make_plan(demo, ["F01"], days=list(range(7)), windows=[["09:00", "11:00"]], created_at=datetime(2026, 3, 10, 0, 0))
    report = coverage.coverage(demo, date(2026, 3, 9), date(2026, 3, 11))
    assert [w["day"] for w in report["windows"]] == ["2026-03-10", "2026-03-11"]


def test_paused_plans_and_deactivated_checkpoints_are_not_expected(demo):
    plan = make_plan(demo, ["F01", "F02"], days=list(range(7)), windows=[["09:00", "11:00"]])
    paused = make_plan(demo, ["F03"], days=list(range(7)), windows=[["13:00", "14:00"]])
    paused.active = False
    cp(demo, "F02").active = False
    db.session.commit()
    report = coverage.coverage(demo, date(2026, 3, 10), date(2026, 3, 10))
    assert [w["plan_id"] for w in report["windows"]] == [plan.id]
    assert report["totals"]["planned"] == 1


def test_verification_visits_do_not_count_as_patrol(demo):
    make_plan(demo, ["F01"], days=list(range(7)), windows=[["09:00", "11:00"]])
    visit(demo, "F01", datetime(2026, 3, 10, 1, 30), purpose="verify")
    assert coverage.coverage(demo, date(2026, 3, 10), date(2026, 3, 10))["totals"]["visited"] == 0


def test_coverage_per_floor_and_per_kind(demo):
    make_plan(demo, ["F01", "F02", "EL1", "EL2", "PB1"], days=list(range(7)), windows=[["09:00", "11:00"]])
    for code in ("F01", "EL1", "EL2"):
        visit(demo, code, datetime(2026, 3, 10, 1, 0) + timedelta(minutes=len(code) * 3 + int(code[-1])))
    report = coverage.coverage(demo, date(2026, 3, 10), date(2026, 3, 10))
    kinds = {k["kind"]: (k["planned"], k["visited"]) for k in report["by_kind"]}
    assert kinds == {"car_park": (1, 0), "elevator_car": (2, 2), "floor": (2, 1)}
    floors = [(f["floor"], f["planned"], f["visited"]) for f in report["by_floor"]]
    # Lifts have no floor; basements come before floor 1.
    assert floors == [("", 2, 2), ("B1", 1, 0), ("1", 1, 1), ("2", 1, 0)]
    assert report["by_plan"][0]["coverage"] == 0.6


def test_month_coverage_files_windows_by_the_day_they_start(demo):
    make_plan(demo, ["F01"], days=list(range(7)), windows=[["22:00", "02:00"]])
    # 31 March 22:00 → 1 April 02:00 Shanghai belongs to March; scanned 1 April 01:00 local.
    visit(demo, "F01", datetime(2026, 3, 31, 17, 0))
    report = coverage.month_coverage(demo, "2026-03")
    assert report["month"] == "2026-03"
    assert (report["from"], report["to"]) == ("2026-03-01", "2026-03-31")
    assert len(report["windows"]) == 31 and len(report["by_day"]) == 31
    assert report["by_day"][-1] == {"day": "2026-03-31", "planned": 1, "visited": 1, "missed": 0, "coverage": 1.0}
    assert report["totals"]["missed"] == 30
    april = coverage.month_coverage(demo, "2026-04")
    assert april["by_day"][0]["visited"] == 0


@pytest.mark.parametrize("month", ["2026-13", "2026-3", "March", "", "0000-01", "9999-12"])
def test_month_coverage_refuses_a_malformed_month(demo, month):
    with pytest.raises(Invalid) as exc:
        coverage.month_coverage(demo, month)
    assert problem_status(exc.value) == 422 and "month" in exc.value.details["fields"]


# --- suspicious scans ---------------------------------------------------------------------


def test_two_checkpoints_scanned_closer_than_the_minimum_walk_are_flagged(demo):
    demo.min_scan_gap_seconds = 20
    db.session.commit()
    t = datetime(2026, 3, 10, 1, 0)
    first = visit(demo, "F01", t)
    second = visit(demo, "F02", t + timedelta(seconds=6))
    visit(demo, "F03", t + timedelta(seconds=90))  # a believable walk
    visit(demo, "F04", t + timedelta(seconds=95), by="supervisor")  # someone else: not a pair
    flags = coverage.coverage(demo, date(2026, 3, 10), date(2026, 3, 10))["flags"]
    assert len(flags) == 1
    flag = flags[0]
    assert flag["type"] == "too_fast" and flag["short_codes"] == ["F01", "F02"]
    assert flag["visit_ids"] == [first.id, second.id]
    assert flag["gap_seconds"] == 6.0 and flag["min_gap_seconds"] == 20
    assert flag["user_id"] == user("patroller").id


def test_same_checkpoint_scanned_again_and_again_within_minutes_is_flagged(app, demo):
    t = datetime(2026, 3, 10, 1, 0)
    for minutes in (0, 4, 9):
        visit(demo, "F01", t + timedelta(minutes=minutes))
    visit(demo, "F02", t + timedelta(minutes=1))
    visit(demo, "F02", t + timedelta(minutes=30))  # twice in half an hour: normal
    flags = coverage.coverage(demo, date(2026, 3, 10), date(2026, 3, 10))["flags"]
    repeated = [f for f in flags if f["type"] == "repeated_scan"]
    assert len(repeated) == 1
    assert repeated[0]["short_codes"] == ["F01"] and repeated[0]["count"] == 3 and repeated[0]["within_minutes"] == 10
    # The thresholds are configuration: four scans needed → no flag.
    app.config["COVERAGE_REPEAT_SCANS"] = 4
    flags = coverage.coverage(demo, date(2026, 3, 10), date(2026, 3, 10))["flags"]
    assert [f for f in flags if f["type"] == "repeated_scan"] == []


def test_min_scan_gap_of_zero_turns_the_check_off(demo):
    demo.min_scan_gap_seconds = 0
    db.session.commit()
    t = datetime(2026, 3, 10, 1, 0)
    visit(demo, "F01", t)
    visit(demo, "F02", t + timedelta(seconds=1))
    assert coverage.coverage(demo, date(2026, 3, 10), date(2026, 3, 10))["flags"] == []


# --- the API ------------------------------------------------------------------------------


def test_coverage_api_reports_windows_days_floors_kinds_missed_and_flags(as_role, demo):
    make_plan(demo, ["F01", "F02"], days=list(range(7)), windows=[["09:00", "11:00"]])
    visit(demo, "F01", datetime(2026, 3, 10, 1, 0))
    visit(demo, "F02", datetime(2026, 3, 10, 1, 0, 3))
    for role in ("supervisor", "manager", "admin", "archivist"):
        resp = as_role(role).get(f"/api/sites/{demo.id}/coverage?from=2026-03-10&to=2026-03-11")
        assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert (body["from"], body["to"]) == ("2026-03-10", "2026-03-11")
    assert set(body) >= {"windows", "by_day", "by_floor", "by_kind", "by_plan", "missed", "flags", "totals", "thresholds"}
    assert body["totals"]["planned"] == 4 and body["totals"]["visited"] == 2
    assert [m["short_code"] for m in body["missed"]] == ["F01", "F02"]
    assert [f["type"] for f in body["flags"]] == ["too_fast"]


def test_month_coverage_api(as_role, demo):
    make_plan(demo, ["F01"], days=[0], windows=[["09:00", "12:00"]])
    body = as_role("archivist").get(f"/api/sites/{demo.id}/coverage/month?month=2026-03").get_json()
    assert body["month"] == "2026-03" and body["totals"]["windows"] == 5  # five Mondays in March 2026


def test_patrollers_do_not_read_coverage_and_other_sites_are_not_found(as_role, demo, other_site):
    assert as_role("patroller").get(f"/api/sites/{demo.id}/coverage").status_code == 403
    resp = as_role("other-manager").get(f"/api/sites/{demo.id}/coverage?from=2026-03-10&to=2026-03-10")
    assert resp.status_code == 404
    assert error_of(resp)["code"] == "not_found"


@pytest.mark.parametrize(
    "query",
    ["from=2026-03-10&to=2026-03-01", "from=2020-01-01&to=2026-01-01", "from=yesterday", "to=2026-02-30", "plan_id=0"],
)
def test_coverage_api_refuses_bad_ranges_with_the_error_shape(as_role, demo, query):
    resp = as_role("manager").get(f"/api/sites/{demo.id}/coverage?{query}")
    assert resp.status_code == 422
    error_of(resp)


def test_coverage_defaults_to_yesterday_and_today(as_role, demo):
    body = as_role("manager").get(f"/api/sites/{demo.id}/coverage").get_json()
    today = coverage.local_today(demo)
    assert (body["from"], body["to"]) == ((today - timedelta(days=1)).isoformat(), today.isoformat())


def test_a_range_over_a_year_names_the_to_date_with_a_code_a_desk_can_translate(as_role, demo):
    from server import i18n

    resp = as_role("manager").get(f"/api/sites/{demo.id}/coverage?from=2025-01-01&to=2026-01-02")
    assert resp.status_code == 422
    err = error_of(resp)
    assert err["details"]["field_errors"]["to"] == [
        {"code": "field_days_at_most", "message": "at most 366 days from `from`, both included", "params": {"max": "366"}}]
    zh, en = i18n.table()["err_field_days_at_most"]
    assert "{max}" in zh and "{max}" in en
    reversed_ = error_of(as_role("manager").get(f"/api/sites/{demo.id}/coverage?from=2026-01-02&to=2026-01-01"))
    assert reversed_["details"]["field_errors"]["to"][0]["code"] == "field_day_order"
