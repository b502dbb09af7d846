"""One format for every month and day the API takes: a bad one is a 422 naming the field, never a 500, and saves nothing."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from server import months
from server.extensions import db
from server.models import LegalHold, MonthArchive
from server.problems import Invalid

from .support.api import error_of

BAD_MONTHS = ["0000-01", "9999-12", "1999-12", "3000-01", "2026-13", "2026-00", "2026-1", "26-09", "２０２６-10", "2026-+1", "2026- 1"]
BAD_DAYS = ["0000-01-01", "9999-12-31", "1999-12-31", "3000-01-01", "2026-02-30", "20261001", "2026-W40-1", "２０２６-10-01", ""]


def month_requests(site_id: int, month: str) -> list[tuple[str, str, dict, str]]:
    """(method, url, request options, the field the error names) of every endpoint taking a month."""
    base = f"/api/archive/sites/{site_id}"
    return [
        ("get", f"{base}/months/{month}", {}, "month"),
        ("post", f"{base}/months/{month}/seal", {}, "month"),
        ("post", f"{base}/months/{month}/build", {}, "month"),
        ("get", f"{base}/months/{month}/bundle", {}, "month"),
        ("post", f"{base}/holds", {"json": {"month": month, "reason": "审计 audit"}}, "month"),
        ("get", f"/api/sites/{site_id}/coverage/month", {"query_string": {"month": month}}, "month"),
    ]


def day_requests(site_id: int, day: str) -> list[tuple[str, str, dict, str]]:
    """The same for every endpoint taking a day: the bad day as `from`, then as `to`."""
    export = f"/api/archive/sites/{site_id}/exports"
    cover = f"/api/sites/{site_id}/coverage"
    return [
        ("get", export, {"query_string": {"kind": "visits", "format": "csv", "from": day, "to": "2026-10-01"}}, "from"),
        ("get", export, {"query_string": {"kind": "visits", "format": "csv", "from": "2026-10-01", "to": day}}, "to"),
        ("get", cover, {"query_string": {"from": day, "to": "2026-10-01"}}, "from"),
        ("get", cover, {"query_string": {"from": "2026-10-01", "to": day}}, "to"),
        ("get", cover, {"query_string": {"to": day}}, "to"),
    ]


def filed() -> tuple[int, int]:
    return (db.session.execute(select(func.count()).select_from(MonthArchive)).scalar(),
            db.session.execute(select(func.count()).select_from(LegalHold)).scalar())


@pytest.mark.parametrize("kind,value", [("month", m) for m in BAD_MONTHS] + [("day", d) for d in BAD_DAYS])
def test_every_month_and_day_parameter_refuses_a_bad_value_with_422_naming_the_field(as_role, demo, kind, value):
    requests, rule = (month_requests, months.MONTH_RULE) if kind == "month" else (day_requests, months.DAY_RULE)
    api = as_role("admin")
    for method, url, kw, field in requests(demo.id, value):
        r = getattr(api, method)(url, **kw)
        assert r.status_code == 422, (url, kw, r.get_json())
        err = error_of(r)
        assert err["code"] == "validation_error" and err["details"]["fields"] == {field: [rule]}, (url, err)
    assert filed() == (0, 0)


def test_the_first_and_last_years_are_accepted(as_role, demo):
    api = as_role("archivist")
    for month in ("2000-01", "2999-12"):
        assert api.get(f"/api/sites/{demo.id}/coverage/month?month={month}").status_code == 200
        r = api.get(f"/api/archive/sites/{demo.id}/months/{month}")
        assert r.status_code == 200 and r.get_json()["state"] == "open"
    for day in ("2000-01-01", "2999-12-31"):
        r = api.get(f"/api/archive/sites/{demo.id}/exports?kind=visits&format=csv&from={day}&to={day}")
        assert r.status_code == 200
        r.close()
        assert api.get(f"/api/sites/{demo.id}/coverage?from={day}&to={day}").status_code == 200


def test_a_month_of_the_last_year_that_has_not_ended_cannot_be_sealed(as_role, demo):
    r = as_role("archivist").post(f"/api/archive/sites/{demo.id}/months/2999-12/seal")
    assert r.status_code == 409 and error_of(r)["code"] == "month_not_ended"


def test_the_cli_refuses_a_bad_month(runner, demo):
    for month in ("0000-01", "2026-13", "２０２６-10"):
        result = runner.invoke(args=["archive", "seal", "--month", month])
        assert result.exit_code != 0 and "--month is written YYYY-MM" in result.output
    assert filed() == (0, 0)


@pytest.mark.parametrize("value", [None, 202610, "2026-10 ", "2026-10\n"])
def test_parse_month_takes_only_the_text_yyyy_mm(value):
    with pytest.raises(Invalid) as exc:
        months.parse_month(value, "since")
    assert exc.value.details == {"fields": {"since": [months.MONTH_RULE]}}


def test_parse_day_checks_a_date_object_too():
    assert months.parse_day(date(2026, 10, 1), "from") == date(2026, 10, 1)
    assert months.parse_day("2026-02-28", "from") == date(2026, 2, 28)
    for value in (date(1999, 12, 31), datetime(2026, 10, 1, 8, 0), None):
        with pytest.raises(Invalid):
            months.parse_day(value, "from")


def test_month_arithmetic():
    assert months.add_months("2026-12", 1) == "2027-01" and months.add_months("2026-01", -1) == "2025-12"
    assert months.add_months("2024-09", 25) == "2026-10"
    assert months.month_days("2028-02") == (date(2028, 2, 1), date(2028, 2, 29))
    # Local midnight in Shanghai is 16:00 UTC the day before; New York's moves with daylight saving.
    assert months.month_start("2026-10", "Asia/Shanghai") == datetime(2026, 9, 30, 16, 0)
    assert months.month_end("2026-10", "Asia/Shanghai") == datetime(2026, 10, 31, 16, 0)
    assert months.month_start("2026-03", "America/New_York") == datetime(2026, 3, 1, 5, 0)
    assert months.month_start("2026-04", "America/New_York") == datetime(2026, 4, 1, 4, 0)


def test_day_range_counts_both_days_and_refuses_reversed_or_long_ranges():
    start, end = months.day_range(date(2026, 10, 1), date(2026, 10, 1), "Asia/Shanghai", 1)
    assert (start, end) == (datetime(2026, 9, 30, 16, 0), datetime(2026, 10, 1, 16, 0))
    with pytest.raises(Invalid) as exc:
        months.day_range(date(2026, 10, 2), date(2026, 10, 1), "Asia/Shanghai", 10)
    assert list(exc.value.details["fields"]) == ["to"]
    with pytest.raises(Invalid) as exc:
        months.day_range(date(2026, 10, 1), date(2026, 10, 2), "Asia/Shanghai", 1)
    assert list(exc.value.details["fields"]) == ["to"]
