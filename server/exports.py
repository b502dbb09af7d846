"""Exports of patrol records as CSV or XLSX, streamed: rows come from a server-side cursor.

The row generators here are the one definition of what a visit, finding, task or
verification row holds; the month-end bundle (server/archive/bundle.py) writes the same
rows, and its PDF prints them. Nothing
loads a whole result set: queries run with `yield_per` (a named server-side cursor on
PostgreSQL), CSV is written to the response in chunks, and XLSX is written by openpyxl's
write-only workbook to a temporary file that is then streamed and deleted.
"""

from __future__ import annotations

import csv
from contextlib import contextmanager
from contextvars import ContextVar
import io
import os
import tempfile
from datetime import date, datetime, timezone
from typing import Callable, Iterable, Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import aliased

from . import choices, i18n
from .extensions import db
from .models import Checkpoint, Extension, Finding, ItemResult, ResidentNote, Site, Task, User, Verification, Visit
from .months import day_range
from .cells import FORMULA_START, export_cell
from .problems import Invalid
from .timeutil import elapsed_days

KINDS = ("visits", "findings", "tasks", "verifications")
FORMATS = ("csv", "xlsx")
BATCH = 2000
# Three years of 366 days between `from` and `to`, both days counted.
MAX_RANGE_DAYS = 3 * 366 + 1

# Column headings: Chinese for the people who file and read them, English for machines.
HEADERS = {
    "visits": [
        ("visit_id", "巡查记录编号"), ("month", "归档月份"), ("scanned_at", "巡查时间"), ("checkpoint_code", "点位编码"),
        ("checkpoint", "点位"), ("kind", "点位类型"), ("building", "楼栋"), ("floor", "楼层"), ("patroller", "巡查人"),
        ("purpose", "用途"), ("scan_method", "扫码方式"), ("items_ok", "合格项"), ("items_fail", "不合格项"),
        ("items_na", "不适用项"), ("note", "备注"), ("resident_note", "住户沟通"), ("addendum", "补录"),
    ],
    "findings": [
        ("finding_id", "问题编号"), ("month", "归档月份"), ("observed_at", "发现时间"), ("checkpoint_code", "点位编码"),
        ("checkpoint", "点位"), ("building", "楼栋"), ("floor", "楼层"), ("category", "类别"), ("route", "处理途径"),
        ("severity", "严重程度"), ("description", "描述"), ("dealt_on_spot", "现场处理"), ("spot_note", "现场处理说明"),
        ("reported_by", "报告人"), ("task_id", "任务编号"), ("task_state", "任务状态"), ("due_at", "期限"),
        ("closed_at", "关闭时间"), ("visit_id", "巡查记录编号"), ("addendum", "补录"),
    ],
    "tasks": [
        ("task_id", "任务编号"), ("finding_id", "问题编号"), ("month", "归档月份"), ("checkpoint", "点位"),
        ("route", "处理途径"), ("severity", "严重程度"), ("state", "状态"), ("assignee", "负责人"),
        ("created_at", "开单时间"), ("original_due_at", "原期限"), ("due_at", "期限"), ("closed_at", "关闭时间"),
        ("days_to_fix", "处理天数"), ("extensions_asked", "延期申请"), ("extensions_approved", "延期批准"),
        ("repeat_flag", "重复问题"), ("cancel_reason", "取消原因"),
    ],
    "verifications": [
        ("verification_id", "核查编号"), ("task_id", "任务编号"), ("finding_id", "问题编号"), ("verified_at", "核查时间"),
        ("result", "结果"), ("verifier", "核查人"), ("fixed_by_name", "维修人"), ("supervisor", "主管"),
        ("signatures", "签名"), ("after_photos", "完工照片"), ("note", "备注"), ("visit_id", "核查扫码记录"),
    ],
    # What residents said on patrol (docs/residents.md), in the month bundle only. The unit is kept where the
    # resident consented; their contact stays with the desk (GET /api/resident-notes), not in the filed record.
    "resident_notes": [
        ("note_id", "住户反映编号"), ("month", "归档月份"), ("observed_at", "记录时间"), ("checkpoint_code", "点位编码"),
        ("checkpoint", "点位"), ("recorded_by", "记录人"), ("said", "住户反映"), ("consent", "同意留下联系方式"),
        ("unit", "房号"), ("finding_id", "问题编号"), ("visit_id", "巡查记录编号"),
    ],
    # The month's complaint classification statistics (《顾客投诉分类统计表》, docs/complaints.md "Month end"):
    # one row per classification and value, a label beside each code.
    "complaint_stats": [
        ("dimension", "统计项"), ("dimension_code", "统计项代码"), ("item", "分类"), ("item_code", "分类代码"),
        ("count", "件数"), ("share", "占比"),
    ],
}


# Columns holding a code: the export shows its Chinese label there and keeps the code in
# the column after it ("<key>_code"), which is the one a machine reads.
CODED = {
    "kind": "checkpoint_kinds", "purpose": "visit_purposes", "scan_method": "scan_methods",
    "category": "categories", "route": "routes", "severity": "severities", "task_state": "task_states",
    "state": "task_states", "result": "verify_results",
}
# Columns holding a time: site-local, a real date-time cell in XLSX, "YYYY-MM-DD HH:MM" in CSV.
TIMES = {"scanned_at", "observed_at", "due_at", "closed_at", "created_at", "original_due_at", "verified_at"}
# Column widths in XLSX (characters); the rest get DEFAULT_WIDTH.
WIDTHS = {"description": 40, "note": 30, "spot_note": 24, "resident_note": 24, "cancel_reason": 24, "checkpoint": 22,
          "signatures": 30, "after_photos": 30, "visit_id": 38, "finding_id": 38, "verification_id": 38}
DEFAULT_WIDTH = 14
TIME_WIDTH = 17
XLSX_TIME_FORMAT = "yyyy-mm-dd hh:mm"

# --- times ------------------------------------------------------------------------------


def local_converter(tz: str) -> Callable[[datetime | None], datetime | None]:
    """Naive UTC → naive site-local time (to the minute), built once per export.

    The zone's offset is looked up once per UTC hour (offsets change on the hour or
    half hour at most, never inside a quarter), and the text is formatted by hand:
    strftime and astimezone per row were a third of an export's time.
    """
    zone = ZoneInfo(tz)
    offsets: dict = {}

    def convert(value: datetime | None) -> datetime | None:
        if value is None:
            return None
        key = (value.year, value.month, value.day, value.hour, value.minute // 15)
        offset = offsets.get(key)
        if offset is None:
            if len(offsets) > 4096:  # rows come in time order: old buckets are not needed again
                offsets.clear()
            offset = offsets[key] = value.replace(tzinfo=timezone.utc).astimezone(zone).utcoffset()
        return (value + offset).replace(second=0, microsecond=0)

    return convert


def shown_time(d: datetime | None) -> str:
    """A site-local time as CSV and the PDF write it: YYYY-MM-DD HH:MM; "" for none."""
    if d is None:
        return ""
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d} {d.hour:02d}:{d.minute:02d}"


def local_formatter(tz: str) -> Callable[[datetime | None], str]:
    """Naive UTC → 'YYYY-MM-DD HH:MM' site-local."""
    convert = local_converter(tz)
    return lambda value: shown_time(convert(value))


# A connection to read from instead of the session's (archive/bundle.py reads a month
# through one that holds no write lock while it writes the bundle).
_reader: ContextVar = ContextVar("export_reader", default=None)


@contextmanager
def reading(conn):
    token = _reader.set(conn)
    try:
        yield conn
    finally:
        _reader.reset(token)


def connection():
    return _reader.get() or db.session.connection()


def _stream(stmt) -> Iterator:
    """Rows in batches from a server-side cursor (PostgreSQL) or a lazily fetched cursor (SQLite).

    Core rows through the session's connection: the ORM's row processing is not needed
    for plain columns and costs a third of the time.
    """
    # Options on the statement, not the connection: Connection.execution_options() changes
    # the session's connection in place, and every later statement would use a server-side cursor.
    result = connection().execute(stmt.execution_options(yield_per=BATCH, stream_results=True))
    try:
        for partition in result.partitions():
            yield from partition
    finally:
        result.close()


# --- rows --------------------------------------------------------------------------------
# Each generator takes a `where` clause builder so the bundle (a month) and the exports (a
# date range) select with the same columns. `when` is the column the range applies to.


def _shown_name(user):
    """A person as the rows name them: the display name, or the username when it is empty."""
    return func.coalesce(func.nullif(user.display_name, ""), user.username)


# A visit's ok / fail / n.a. counts packed into one number (20 bits each), so one
# correlated lookup per visit gives all three: measured here, a third faster than
# grouping the item results and joining them back.
_FAIL_UNIT, _NA_UNIT, _MASK = 1 << 20, 1 << 40, (1 << 20) - 1


def visit_rows(site: Site, where) -> Iterator[list]:
    packed = (
        select(func.sum(case((ItemResult.result == choices.RESULT_OK, 1), (ItemResult.result == choices.RESULT_FAIL, _FAIL_UNIT), else_=_NA_UNIT)))
        .where(ItemResult.visit_id == Visit.id)
        .scalar_subquery()
    )
    stmt = (
        select(
            Visit.id, Visit.month, Visit.scanned_at, Checkpoint.short_code, Checkpoint.name_zh, Checkpoint.kind,
            Checkpoint.building, Checkpoint.floor, _shown_name(User),
            Visit.purpose, Visit.scan_method, packed, Visit.note, Visit.resident_note, Visit.addendum,
        )
        .join(Checkpoint, Checkpoint.id == Visit.checkpoint_id)
        .join(User, User.id == Visit.user_id)
        .where(Visit.site_id == site.id, where(Visit))
        .order_by(Visit.scanned_at, Visit.id)
    )
    fmt = local_converter(site.timezone)
    for r in _stream(stmt):
        n = int(r[11] or 0)
        yield [r[0], r[1], fmt(r[2]), r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10],
               n & _MASK, (n >> 20) & _MASK, n >> 40, r[12], r[13], "是" if r[14] else ""]


def finding_rows(site: Site, where) -> Iterator[list]:
    stmt = (
        select(
            Finding.id, Finding.month, Finding.observed_at, Checkpoint.short_code, Checkpoint.name_zh, Checkpoint.building,
            Checkpoint.floor, Finding.category, Finding.route, Finding.severity, Finding.description, Finding.dealt_on_spot,
            Finding.spot_note, _shown_name(User), Task.id, Task.state, Task.due_at, Task.closed_at, Finding.visit_id,
            Finding.addendum,
        )
        .join(Checkpoint, Checkpoint.id == Finding.checkpoint_id)
        .join(User, User.id == Finding.reported_by)
        .outerjoin(Task, Task.finding_id == Finding.id)
        .where(Finding.site_id == site.id, where(Finding))
        .order_by(Finding.observed_at, Finding.id)
    )
    fmt = local_converter(site.timezone)
    for r in _stream(stmt):
        yield [r[0], r[1], fmt(r[2]), r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], "是" if r[11] else "",
               r[12], r[13], r[14] or "", r[15] or "", fmt(r[16]), fmt(r[17]), r[18] or "", "是" if r[19] else ""]


def days_to_fix(state: str, observed_at: datetime, closed_at: datetime | None) -> float | None:
    """Days from the problem's (corrected) observation to its task's verification; None until verified.

    From the observation, not the task's creation: a phone that syncs a week late creates
    the task a week late, but the problem was there (and its deadline runs) from when it
    was seen, as `tasks.due_date` counts.
    """
    if state != choices.TASK_VERIFIED or closed_at is None:
        return None
    return elapsed_days(observed_at, closed_at)


def task_rows(site: Site, where) -> Iterator[list]:
    """Tasks opened by the selected findings (`where` applies to Finding)."""
    ext = (
        select(
            Extension.task_id.label("task_id"),
            func.count().label("asked"),
            func.sum(case((Extension.state == choices.EXTENSION_APPROVED, 1), else_=0)).label("approved"),
        )
        .join(Task, Task.id == Extension.task_id)
        .where(Task.site_id == site.id)
        .group_by(Extension.task_id)
        .subquery()
    )
    assignee = aliased(User)
    stmt = (
        select(
            Task.id, Task.finding_id, Finding.month, Checkpoint.name_zh, Task.route, Task.severity, Task.state,
            _shown_name(assignee), Task.created_at,
            Task.original_due_at, Task.due_at, Task.closed_at, ext.c.asked, ext.c.approved, Task.repeat_flag,
            Task.cancel_reason, Finding.observed_at,
        )
        .join(Finding, Finding.id == Task.finding_id)
        .join(Checkpoint, Checkpoint.id == Task.checkpoint_id)
        .outerjoin(assignee, assignee.id == Task.assignee_id)
        .outerjoin(ext, ext.c.task_id == Task.id)
        .where(Task.site_id == site.id, where(Finding))
        .order_by(Task.id)
    )
    fmt = local_converter(site.timezone)
    for r in _stream(stmt):
        days = days_to_fix(r[6], r[16], r[11])
        days = "" if days is None else round(days, 1)
        yield [r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7] or "", fmt(r[8]), fmt(r[9]), fmt(r[10]), fmt(r[11]), days, int(r[12] or 0), int(r[13] or 0),
               "是" if r[14] else "", r[15]]


def verification_rows(site: Site, where) -> Iterator[list]:
    """Verifications of the tasks of the selected findings (`where` applies to Finding)."""
    verifier = aliased(User)
    supervisor = aliased(User)
    stmt = (
        select(
            Verification.id, Verification.task_id, Task.finding_id, Verification.verified_at, Verification.result,
            _shown_name(verifier), Verification.fixed_by_name, _shown_name(supervisor), Verification.signatures,
            Verification.after_photo_ids, Verification.note, Verification.visit_id,
        )
        .join(Task, Task.id == Verification.task_id)
        .join(Finding, Finding.id == Task.finding_id)
        .join(verifier, verifier.id == Verification.verifier_id)
        .outerjoin(supervisor, supervisor.id == Verification.supervisor_id)
        .where(Task.site_id == site.id, where(Finding))
        .order_by(Verification.verified_at, Verification.id)
    )
    fmt = local_converter(site.timezone)
    for r in _stream(stmt):
        sigs = " ".join(f"{role}:{pid}" for role, pid in sorted((r[8] or {}).items()))
        yield [r[0], r[1], r[2], fmt(r[3]), r[4], r[5], r[6], r[7] or "", sigs, " ".join(r[9] or []), r[10], r[11]]


def resident_note_rows(site: Site, where) -> Iterator[list]:
    """Resident notes heard in the selected visits (`where` applies to Visit): a note arrives with its visit."""
    stmt = (
        select(
            ResidentNote.id, ResidentNote.month, ResidentNote.observed_at, Checkpoint.short_code, Checkpoint.name_zh,
            _shown_name(User), ResidentNote.said, ResidentNote.consent, ResidentNote.unit, ResidentNote.finding_id, ResidentNote.visit_id,
        )
        .join(Visit, Visit.id == ResidentNote.visit_id)
        .join(Checkpoint, Checkpoint.id == ResidentNote.checkpoint_id)
        .join(User, User.id == ResidentNote.recorded_by)
        .where(ResidentNote.site_id == site.id, where(Visit))
        .order_by(ResidentNote.observed_at, ResidentNote.id)
    )
    fmt = local_converter(site.timezone)
    for r in _stream(stmt):
        yield [r[0], r[1], fmt(r[2]), r[3], r[4], r[5], r[6], "是" if r[7] else "", r[8], r[9] or "", r[10]]


ROWS: dict[str, Callable] = {
    "visits": visit_rows,
    "findings": finding_rows,
    "tasks": task_rows,
    "verifications": verification_rows,
    "resident_notes": resident_note_rows,
}


def range_clause(kind: str, start: datetime, end: datetime):
    """The date-range filter of an export: visits by scan time, the rest by their finding's observation."""
    if kind == "visits":
        return lambda m: and_(m.scanned_at >= start, m.scanned_at < end)
    return lambda m: and_(m.observed_at >= start, m.observed_at < end)


# --- writers -------------------------------------------------------------------------------


def columns(kind: str) -> list[tuple[str, str]]:
    """(key, Chinese heading) of every column an export writes: each coded column is followed by its code."""
    out = []
    for key, zh in HEADERS[kind]:
        out.append((key, zh))
        if key in CODED:
            out.append((f"{key}_code", f"{zh}代码"))
    return out


def header(kind: str) -> list[str]:
    return [f"{zh} {key}" for key, zh in columns(kind)]


def _cells(kind: str) -> Callable[[list], list]:
    """A row generator's row → the export's cells: labels beside codes; times stay datetimes."""
    plan = [CODED.get(key) for key, _zh in HEADERS[kind]]

    def cells(row: list) -> list:
        out = []
        for value, vocabulary in zip(row, plan):
            if vocabulary is None:
                out.append(value)
            else:
                out.append(i18n.choice_label(vocabulary, value) if value else "")
                out.append(value)
        return out

    return cells


def csv_chunks(kind: str, rows: Iterable[list], chunk_rows: int = 500) -> Iterator[bytes]:
    """CSV as UTF-8 with a BOM (Excel then reads the Chinese right), in chunks of rows."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    buf.write("\ufeff")
    writer.writerow(header(kind))
    cells = _cells(kind)
    n = 0
    for row in rows:
        writer.writerow([shown_time(v) if isinstance(v, datetime) else export_cell(v) for v in cells(row)])
        n += 1
        if n % chunk_rows == 0:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


def write_csv(path, kind: str, rows: Iterable[list]) -> int:
    with open(path, "wb") as fh:
        for chunk in csv_chunks(kind, rows):
            fh.write(chunk)
    return os.path.getsize(path)


def _typed_text_cell(ws, value: str):
    """Text that starts like a formula, kept exactly as typed: a string cell is never run,
    and `quotePrefix` is what Excel itself stores for text typed after an apostrophe (so
    editing the cell keeps it text). CSV has no cell types and keeps its apostrophe guard."""
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(ws, value=value)
    cell.data_type = "s"
    cell.quotePrefix = True
    return cell


def write_xlsx(path, sheets: list[tuple[str, str, Iterable[list]]]) -> None:
    """A write-only workbook (memory stays flat): each (title, kind, rows) becomes a sheet.

    As an office expects it: date-time cells in site-local time, a label beside each code,
    column widths, the header row frozen and an autofilter over the table.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    for title, kind, rows in sheets:
        ws = wb.create_sheet(title=title)
        cols = columns(kind)
        # Widths and the frozen pane go into the sheet's XML before its first row.
        for n, (key, _zh) in enumerate(cols, start=1):
            ws.column_dimensions[get_column_letter(n)].width = TIME_WIDTH if key in TIMES else WIDTHS.get(key, DEFAULT_WIDTH)
        ws.freeze_panes = "A2"
        bold = Font(bold=True)
        head = []
        for text in header(kind):
            cell = WriteOnlyCell(ws, value=text)
            cell.font = bold
            head.append(cell)
        ws.append(head)
        cells = _cells(kind)
        count = 0
        for row in rows:
            out = []
            for value in cells(row):
                if isinstance(value, datetime):
                    cell = WriteOnlyCell(ws, value=value)
                    cell.number_format = XLSX_TIME_FORMAT
                    out.append(cell)
                elif isinstance(value, str) and value.startswith(FORMULA_START):
                    out.append(_typed_text_cell(ws, value))
                else:
                    out.append(value)
            ws.append(out)
            count += 1
        ws.auto_filter.ref = f"A1:{get_column_letter(len(cols))}{count + 1}"
    wb.save(path)


def file_chunks(path: str, size: int = 64 * 1024) -> Iterator[bytes]:
    """Stream a file, deleting it once sent (or abandoned)."""
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(size):
                yield chunk
    finally:
        os.unlink(path)


SHEET_TITLES = {"visits": "巡查记录", "findings": "问题", "tasks": "任务", "verifications": "核查", "complaint_stats": "投诉分类统计",
                "resident_notes": "住户反映"}

# The classifications of the month's complaint statistics: (summary key, heading, vocabulary of its values).
COMPLAINT_DIMENSIONS = (
    ("by_channel", "按投诉方式", "complaint_channels"), ("by_kind", "按投诉性质", "complaint_kinds"),
    ("by_category", "按问题类别", "categories"), ("by_department", "按责任部门", None),
    ("by_validity", "按有效性", None), ("by_deadline", "按处理时限", None), ("by_satisfaction", "回访满意度", "satisfaction"),
)
COMPLAINT_VALUE_ZH = {
    "valid": "有效", "invalid": "无效", "unjudged": "未判定", "met": "按时处理", "missed": "超时", "pending": "处理中",
    "none": "未填", **{code: zh for code, zh, _en in choices.DEFAULT_DEPARTMENTS},
}


def complaint_stat_rows(stats: dict | None) -> Iterator[list]:
    """Rows of the month's complaint statistics (archive summary "complaints"): the total, then each classification's counts."""
    if not stats:
        return
    yield ["合计", "total", "", "", stats.get("total", 0), None]
    for key, heading, vocabulary in COMPLAINT_DIMENSIONS:
        counts = stats.get(key) or {}
        total = sum(counts.values())
        for code, n in counts.items():
            label = i18n.choice_label(vocabulary, code) if vocabulary and code != "none" else COMPLAINT_VALUE_ZH.get(code, code)
            yield [heading, key, label, code, n, round(n / total, 4) if total else None]


def check(site: Site, kind: str, fmt: str, date_from: date, date_to: date) -> tuple[datetime, datetime, str]:
    """Refuse (Invalid) an export that cannot be made; else its [start, end) and file name without extension.

    The desk asks this first (`dry_run`), so a refusal is said on its form, not lost as a cancelled download.
    """
    if kind not in KINDS:
        raise Invalid.field("kind", "unknown", f"Export one of: {', '.join(KINDS)}.", field_code="field_one_of", choices=", ".join(KINDS))
    if fmt not in FORMATS:
        raise Invalid.field("format", "unknown", f"Export as one of: {', '.join(FORMATS)}.", field_code="field_one_of", choices=", ".join(FORMATS))
    start, end = day_range(date_from, date_to, site.timezone, MAX_RANGE_DAYS)
    return start, end, f"{site.code}-{kind}-{date_from.isoformat()}-{date_to.isoformat()}"


def export(site: Site, kind: str, fmt: str, date_from: date, date_to: date) -> tuple[Iterator[bytes], str, str]:
    """(chunks, content type, file name) of one export; the rows are read as they are sent."""
    start, end, name = check(site, kind, fmt, date_from, date_to)
    rows = ROWS[kind](site, range_clause(kind, start, end))
    if fmt == "csv":
        return csv_chunks(kind, rows), "text/csv", name + ".csv"
    fd, tmp = tempfile.mkstemp(suffix=".xlsx", prefix="export-")
    os.close(fd)
    try:
        write_xlsx(tmp, [(SHEET_TITLES[kind], kind, rows)])
    except BaseException:
        os.unlink(tmp)
        raise
    return file_chunks(tmp), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", name + ".xlsx"
