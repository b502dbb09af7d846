"""The files an office opens: CSV and XLSX read by LibreOffice as a real client, and the XLSX as openpyxl sees it.

Text typed on a phone must come back as the text typed, never as an evaluated formula,
from every CSV and XLSX the server writes (exports, the month bundle, checkpoints.csv).
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import zipfile
from datetime import datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from server import archive, choices, tasks
from server.cells import export_cell, unguard
from server.extensions import db
from server.models import Checkpoint, Task, Verification
from server.timeutil import corrected

from .support.records import SEPT, add_finding, add_visit, columns, verify_task, zip_manifest
from .support.tasks import user

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
needs_soffice = pytest.mark.skipif(
    SOFFICE is None, reason="LibreOffice (soffice) is not installed: apt-get install libreoffice-calc-nogui (CI installs it)"
)

HYPERLINK = '=HYPERLINK("http://example.invalid","点击查看")'
# What people might type that a spreadsheet would run: each must come back as typed.
TYPED = (HYPERLINK, "+86 138 0000 0000", "-3 楼漏水", "@SUM(1,2)", "=1+2")


@pytest.fixture(scope="module")
def office(tmp_path_factory):
    """convert(path, format) → path of the file LibreOffice wrote; one profile of our own for the module."""
    profile = tmp_path_factory.mktemp("lo-profile")

    def convert(src, fmt: str, infilter: str | None = None):
        out = src.parent / f"lo-{fmt.split(':')[0]}-{src.stem}"
        out.mkdir(exist_ok=True)
        cmd = [SOFFICE, f"-env:UserInstallation=file://{profile}", "--headless", "--norestore"]
        if infilter:
            cmd.append(f"--infilter={infilter}")
        cmd += ["--convert-to", fmt, "--outdir", str(out), str(src)]
        subprocess.run(cmd, check=True, capture_output=True, timeout=180)
        made = [p for p in out.iterdir() if p.is_file()]
        assert len(made) == 1, (cmd, made)
        return made[0]

    return convert


# LibreOffice's CSV filter: comma, double quote, UTF-8 (76), from line 1.
CSV_IN = "CSV:44,34,76,1"
CSV_OUT = "csv:Text - txt - csv (StarCalc):44,34,76"


def lo_text_of_xlsx(office, path, sheet: int = 1) -> str:
    """The cells of one sheet (numbered from 1) as LibreOffice computes them, through its own CSV export."""
    return office(path, f"{CSV_OUT},1,,0,false,true,false,false,false,{sheet}").read_text(encoding="utf-8")


def assert_typed_text_survives(cells_text: str, exact: bool = False) -> None:
    """Each typed text is in the cells: as typed (an XLSX, `exact`), or with the CSV guard's apostrophe."""
    for typed in TYPED:
        shown = typed if exact else export_cell(typed)
        assert shown in cells_text or shown.replace('"', '""') in cells_text, typed
    # An evaluated HYPERLINK would show only its label, and =1+2 would show 3.
    assert "点击查看" not in cells_text.replace(HYPERLINK, "").replace(HYPERLINK.replace('"', '""'), "")


def typed_month(site) -> list:
    """September findings whose descriptions are the TYPED texts, one with a verified task."""
    found = []
    for n, text in enumerate(TYPED):
        v = add_visit(site, "F01", SEPT + timedelta(hours=n), results=("fail",))
        found.append(add_finding(site, v, description=text))
    return found


def test_export_cell_neutralises_every_formula_start_and_keeps_the_text():
    for typed in ("=1+2", "+1", "-1", "@A1", "\t=1", "\r=1"):
        out = export_cell(typed)
        assert out == "'" + typed and unguard(out) == typed
    for plain in ("走廊灯不亮", "B2层", "", "1-2", "a=b"):
        assert export_cell(plain) == plain
    assert export_cell(3) == 3 and export_cell(None) is None and export_cell(datetime(2026, 1, 1)) == datetime(2026, 1, 1)


@needs_soffice
def test_exports_typed_formulas_come_back_as_text_from_libreoffice(app, demo, as_role, tmp_path, office):
    typed_month(demo)
    api = as_role("archivist")
    base = f"/api/archive/sites/{demo.id}/exports?kind=findings&from=2026-09-01&to=2026-09-30"

    r = api.get(base + "&format=csv")
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/csv; charset=utf-8"
    src = tmp_path / "findings.csv"
    src.write_bytes(r.get_data())
    as_xlsx = office(src, "xlsx", infilter=CSV_IN)
    wb = load_workbook(as_xlsx)
    assert not [c.coordinate for row in wb.active.iter_rows() for c in row if c.data_type == "f"]
    assert_typed_text_survives(lo_text_of_xlsx(office, as_xlsx))

    r = api.get(base + "&format=xlsx")
    assert r.status_code == 200
    src = tmp_path / "findings.xlsx"
    src.write_bytes(r.get_data())
    assert_xlsx_keeps_typed_text_exactly(src)
    assert_typed_text_survives(lo_text_of_xlsx(office, src), exact=True)


def assert_xlsx_keeps_typed_text_exactly(path, sheet: int = 0) -> None:
    """No formula cell, and each typed text is a string cell holding exactly what was typed."""
    ws = load_workbook(path).worksheets[sheet]
    cells = [c for row in ws.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    for typed in TYPED:
        found = [c for c in cells if c.value == typed]
        assert found and all(c.data_type == "s" and c.quotePrefix for c in found), typed


@needs_soffice
def test_the_month_bundles_xlsx_and_csv_keep_typed_formulas_as_text_in_libreoffice(app, demo, tmp_path, office):
    typed_month(demo)
    archive.seal(demo, "2026-09", actor_id=user("archivist").id)
    db.session.commit()
    row = archive.describe_month(demo, "2026-09")
    assert row["state"] == choices.MONTH_ARCHIVED
    path = archive.file_for(demo.id, "2026-09", None)["path"]
    _manifest, zf, prefix = zip_manifest(open(path, "rb").read())
    for name in ("record.xlsx", "findings.csv"):
        src = tmp_path / name
        src.write_bytes(zf.read(prefix + name))
        if name.endswith(".csv"):
            src = office(src, "xlsx", infilter=CSV_IN)
            assert_typed_text_survives(lo_text_of_xlsx(office, src, 1))
        else:
            # record.xlsx: visits, findings, tasks, verifications; the findings are the second sheet.
            assert_xlsx_keeps_typed_text_exactly(src, 1)
            assert_typed_text_survives(lo_text_of_xlsx(office, src, 2), exact=True)


@needs_soffice
def test_checkpoints_csv_keeps_typed_formulas_as_text_in_libreoffice(app, demo, as_role, tmp_path, office):
    cp = db.session.execute(select(Checkpoint).where(Checkpoint.site_id == demo.id)).scalars().first()
    cp.name_zh = HYPERLINK
    db.session.commit()
    r = as_role("manager").get(f"/api/sites/{demo.id}/checkpoints.csv")
    assert r.status_code == 200
    src = tmp_path / "checkpoints.csv"
    src.write_bytes(r.get_data())
    text = lo_text_of_xlsx(office, office(src, "xlsx", infilter=CSV_IN))
    assert export_cell(HYPERLINK).replace('"', '""') in text and "点击查看\n" not in text


# --- the XLSX as an office expects it -------------------------------------------------------------


def test_xlsx_has_date_cells_in_site_local_time_labels_beside_codes_widths_frozen_header_and_filter(app, demo, as_role):
    v = add_visit(demo, "F01", datetime(2026, 10, 1, 15, 30), results=("fail",))  # 23:30 in Shanghai
    f = add_finding(demo, v, description="楼梯扶手松动", category="facilities")
    r = as_role("archivist").get(f"/api/archive/sites/{demo.id}/exports?kind=findings&format=xlsx&from=2026-10-01&to=2026-10-31")
    wb = load_workbook(io.BytesIO(r.get_data()))
    ws = wb["问题"]
    head = [c.value for c in ws[1]]
    col = columns(head)
    row = ws[2]
    observed = row[col["observed_at"]]
    assert observed.is_date and observed.value == datetime(2026, 10, 1, 23, 30)
    assert observed.number_format == "yyyy-mm-dd hh:mm"
    due = row[col["due_at"]]
    assert due.is_date and due.value == datetime(2026, 10, 8, 23, 30)
    assert row[col["category"]].value == "公共设施设备" and row[col["category_code"]].value == "facilities"
    assert row[col["route"]].value == "报修（设施损坏）" and row[col["route_code"]].value == "facility_repair"
    assert row[col["task_state"]].value == "待分派" and row[col["task_state_code"]].value == "open"
    assert row[0].value == f.id
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:{ws.cell(1, len(head)).column_letter}2"
    letter = ws.cell(1, col["description"] + 1).column_letter
    assert ws.column_dimensions[letter].width >= 30  # the description column is wide
    assert all(ws.column_dimensions[ws.cell(1, n + 1).column_letter].width >= 10 for n in range(len(head)))


# --- durations count from the corrected observation time ------------------------------------------


def test_days_to_fix_of_a_late_synced_task_counts_from_the_observation(app, demo, as_role):
    """Observed 3 Nov (on a phone 5 minutes fast), synced 20 Nov, verified 1 Dec: 28 days, not 11."""
    observed = corrected(datetime(2026, 11, 3, 2, 5), 5 * 60 * 1000)  # 10:00 in Shanghai on the server's clock
    v = add_visit(demo, "F01", observed, results=("fail",), received_at=datetime(2026, 11, 20, 2, 0))
    f = add_finding(demo, v, description="消防栓门损坏")
    task = db.session.execute(select(Task).where(Task.finding_id == f.id)).scalar_one()
    task.created_at = datetime(2026, 11, 20, 2, 0)  # the server heard of it when the phone synced
    db.session.commit()
    assert task.due_at == observed + timedelta(days=7)  # the deadline already counts from the observation
    verify_task(demo, task)
    task.closed_at = datetime(2026, 12, 1, 2, 0)
    db.session.execute(select(Verification).where(Verification.task_id == task.id)).scalar_one().verified_at = task.closed_at
    db.session.commit()

    r = as_role("archivist").get(f"/api/archive/sites/{demo.id}/exports?kind=tasks&format=csv&from=2026-11-01&to=2026-11-30")
    rows = list(csv.reader(io.StringIO(r.get_data().decode("utf-8-sig"))))
    col = columns(rows[0])
    assert rows[1][col["days_to_fix"]] == "28.0"
    summary = archive.summary(demo, "2026-11", now=datetime(2026, 12, 2))
    assert summary["median_days_to_fix"] == 28.0
    assert tasks.is_overdue(task, datetime(2026, 12, 2)) is False and summary["tasks_overdue"] == 1  # closed late


def test_every_export_writer_goes_through_export_cell():
    """No CSV or XLSX writer of the server bypasses the one cell function."""
    import pathlib

    writers = []
    for path in pathlib.Path("server").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if "csv.writer(" in text or "openpyxl" in text:
            writers.append(path.as_posix())
            assert "export_cell" in text, path
    assert sorted(writers) == ["server/checkpoint_csv.py", "server/exports.py"]
