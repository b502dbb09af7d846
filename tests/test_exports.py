"""Exports for archivists: any date range, CSV or XLSX, streamed, scoped to the site."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

from openpyxl import load_workbook


from .support.api import error_of
from .support.records import add_finding, add_visit, columns

# Shanghai is UTC+8: 23:30 local on 1 October is 15:30 UTC, 00:30 local on 2 October is 16:30 UTC.
LATE_OCT_1 = datetime(2026, 10, 1, 15, 30)
EARLY_OCT_2 = datetime(2026, 10, 1, 16, 30)


def rows_of(resp) -> list[list[str]]:
    text = resp.get_data().decode("utf-8")
    assert text.startswith("\ufeff")  # Excel reads the Chinese right only with the BOM
    return list(csv.reader(io.StringIO(text[1:])))


def test_csv_export_holds_exactly_the_site_local_days_asked_for(app, demo, as_role):
    inside = add_visit(demo, "F01", LATE_OCT_1)
    outside = add_visit(demo, "F02", EARLY_OCT_2)
    before = add_visit(demo, "F03", datetime(2026, 9, 30, 15, 59))
    r = as_role("archivist").get(f"/api/archive/sites/{demo.id}/exports?kind=visits&format=csv&from=2026-10-01&to=2026-10-01")
    assert r.status_code == 200, r.get_json()
    assert r.is_streamed and r.mimetype == "text/csv"
    assert 'filename="DEMO-visits-2026-10-01-2026-10-01.csv"' in r.headers["Content-Disposition"]
    rows = rows_of(r)
    assert rows[0][0] == "巡查记录编号 visit_id"
    ids = [row[0] for row in rows[1:]]
    assert ids == [inside.id]
    assert rows[1][2] == "2026-10-01 23:30"  # site-local time
    assert outside.id not in ids and before.id not in ids


def test_findings_export_carries_task_state_and_xlsx_opens(app, demo, as_role):
    v = add_visit(demo, "F01", LATE_OCT_1, results=("fail",))
    f = add_finding(demo, v, description="楼梯扶手松动", severity="major")
    api = as_role("manager")
    r = api.get(f"/api/archive/sites/{demo.id}/exports?kind=findings&format=csv&from=2026-10-01&to=2026-10-31")
    rows = rows_of(r)
    col = columns(rows[0])
    assert len(rows) == 2 and rows[1][0] == f.id and rows[1][col["description"]] == "楼梯扶手松动"
    assert rows[1][col["task_state"]] == "待分派" and rows[1][col["task_state_code"]] == "open"

    r = api.get(f"/api/archive/sites/{demo.id}/exports?kind=findings&format=xlsx&from=2026-10-01&to=2026-10-31")
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    wb = load_workbook(io.BytesIO(r.get_data()), read_only=True)
    ws = wb["问题"]
    values = list(ws.iter_rows(values_only=True))
    col = columns(values[0])
    assert values[1][0] == f.id and values[1][col["severity"]] == "重大" and values[1][col["severity_code"]] == "major"
    wb.close()


def test_every_kind_exports_and_an_empty_range_is_just_the_header(app, demo, as_role):
    api = as_role("archivist")
    for kind in ("visits", "findings", "tasks", "verifications"):
        r = api.get(f"/api/archive/sites/{demo.id}/exports?kind={kind}&format=csv&from=2020-01-01&to=2020-01-31")
        assert r.status_code == 200, kind
        assert len(rows_of(r)) == 1


def test_bad_export_requests_are_4xx_in_the_one_error_shape(app, demo, as_role, other_site):
    api = as_role("archivist")
    base = f"/api/archive/sites/{demo.id}/exports"
    for query, status in (
        ("kind=visits&format=csv&from=2026-10-05&to=2026-10-01", 422),
        ("kind=visits&format=pdf&from=2026-10-01&to=2026-10-02", 422),
        ("kind=rounds&format=csv&from=2026-10-01&to=2026-10-02", 422),
        ("kind=visits&format=csv&from=yesterday&to=2026-10-02", 422),
        ("kind=visits&format=csv", 422),
        ("kind=visits&format=csv&from=2010-01-01&to=2026-10-02", 422),
    ):
        r = api.get(f"{base}?{query}")
        assert r.status_code == status, query
        error_of(r)
    assert as_role("patroller").get(f"{base}?from=2026-10-01&to=2026-10-02").status_code == 403
    assert as_role("other-archivist").get(f"{base}?from=2026-10-01&to=2026-10-02").status_code == 404


def test_export_times_are_site_local_across_daylight_saving_changes():
    from server.exports import local_formatter
    from server.timeutil import to_local

    for tz in ("Asia/Shanghai", "Europe/Berlin", "America/St_Johns", "Asia/Kathmandu"):
        fmt = local_formatter(tz)
        t = datetime(2026, 3, 1)
        while t < datetime(2026, 11, 30):
            assert fmt(t) == to_local(t, tz).strftime("%Y-%m-%d %H:%M"), (tz, t)
            t += timedelta(minutes=37)


def test_a_dry_run_answers_the_file_name_or_the_refusal_the_download_would_get(app, demo, as_role):
    api = as_role("archivist")
    base = f"/api/archive/sites/{demo.id}/exports"
    r = api.get(f"{base}?kind=tasks&format=xlsx&from=2026-10-01&to=2026-10-31&dry_run=true")
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert r.get_json() == {"file_name": "DEMO-tasks-2026-10-01-2026-10-31.xlsx"}
    # More than three years: the same refusal as the download, with a code and the limit.
    for query in ("from=2020-01-01&to=2023-01-05", "from=2020-01-01&to=2023-01-05&dry_run=true"):
        err = error_of(api.get(f"{base}?kind=visits&format=csv&{query}"))
        assert err["details"]["field_errors"]["to"][0]["code"] == "field_days_at_most"
        assert err["details"]["field_errors"]["to"][0]["params"] == {"max": "1099"}
    # A year before 2000: the day rule, with its bounds.
    err = error_of(api.get(f"{base}?kind=visits&format=csv&from=1999-12-01&to=2000-01-01&dry_run=true"))
    assert err["details"]["field_errors"]["from"] == [
        {"code": "field_day", "message": "YYYY-MM-DD with a year from 2000 to 2999", "params": {"min": "2000", "max": "2999"}}]
    assert as_role("patroller").get(f"{base}?from=2026-10-01&to=2026-10-02&dry_run=true").status_code == 403
