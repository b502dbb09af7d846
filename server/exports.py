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

from . import choices
from .extensions import db
from .models import Checkpoint, Extension, Finding, ItemResult, Site, Task, User, Verification, Visit
from .months import day_range
from .problems import Invalid

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
}


# --- times ------------------------------------------------------------------------------


def local_formatter(tz: str) -> Callable[[datetime | None], str]:
    """Naive UTC → 'YYYY-MM-DD HH:MM' site-local, built once per export.

    The zone's offset is looked up once per UTC hour (offsets change on the hour or
    half hour at most, never inside a quarter), and the text is formatted by hand:
    strftime and astimezone per row were a third of an export's time.
    """
    zone = ZoneInfo(tz)
    offsets: dict = {}

    def fmt(value: datetime | None) -> str:
        if value is None:
            return ""
        key = (value.year, value.month, value.day, value.hour, value.minute // 15)
        offset = offsets.get(key)
        if offset is None:
            if len(offsets) > 4096:  # rows come in time order: old buckets are not needed again
                offsets.clear()
            offset = offsets[key] = value.replace(tzinfo=timezone.utc).astimezone(zone).utcoffset()
        d = value + offset
        return f"{d.year:04d}-{d.month:02d}-{d.day:02d} {d.hour:02d}:{d.minute:02d}"

    return fmt


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
    fmt = local_formatter(site.timezone)
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
    fmt = local_formatter(site.timezone)
    for r in _stream(stmt):
        yield [r[0], r[1], fmt(r[2]), r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], "是" if r[11] else "",
               r[12], r[13], r[14] or "", r[15] or "", fmt(r[16]), fmt(r[17]), r[18] or "", "是" if r[19] else ""]


def days_to_fix(state: str, created_at: datetime, closed_at: datetime | None) -> float | None:
    """Days from a task's opening to its verification; None until it is verified."""
    if state != choices.TASK_VERIFIED or closed_at is None:
        return None
    return (closed_at - created_at).total_seconds() / 86400


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
            Task.cancel_reason,
        )
        .join(Finding, Finding.id == Task.finding_id)
        .join(Checkpoint, Checkpoint.id == Task.checkpoint_id)
        .outerjoin(assignee, assignee.id == Task.assignee_id)
        .outerjoin(ext, ext.c.task_id == Task.id)
        .where(Task.site_id == site.id, where(Finding))
        .order_by(Task.id)
    )
    fmt = local_formatter(site.timezone)
    for r in _stream(stmt):
        days = days_to_fix(r[6], r[8], r[11])
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
    fmt = local_formatter(site.timezone)
    for r in _stream(stmt):
        sigs = " ".join(f"{role}:{pid}" for role, pid in sorted((r[8] or {}).items()))
        yield [r[0], r[1], r[2], fmt(r[3]), r[4], r[5], r[6], r[7] or "", sigs, " ".join(r[9] or []), r[10], r[11]]


ROWS: dict[str, Callable] = {
    "visits": visit_rows,
    "findings": finding_rows,
    "tasks": task_rows,
    "verifications": verification_rows,
}


def range_clause(kind: str, start: datetime, end: datetime):
    """The date-range filter of an export: visits by scan time, the rest by their finding's observation."""
    if kind == "visits":
        return lambda m: and_(m.scanned_at >= start, m.scanned_at < end)
    return lambda m: and_(m.observed_at >= start, m.observed_at < end)


# --- writers -------------------------------------------------------------------------------


def header(kind: str) -> list[str]:
    return [f"{zh} {key}" for key, zh in HEADERS[kind]]


def csv_chunks(kind: str, rows: Iterable[list], chunk_rows: int = 500) -> Iterator[bytes]:
    """CSV as UTF-8 with a BOM (Excel then reads the Chinese right), in chunks of rows."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    buf.write("\ufeff")
    writer.writerow(header(kind))
    n = 0
    for row in rows:
        writer.writerow(row)
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


def write_xlsx(path, sheets: list[tuple[str, str, Iterable[list]]]) -> None:
    """A write-only workbook: each (title, kind, rows) becomes a sheet; memory stays flat."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    for title, kind, rows in sheets:
        ws = wb.create_sheet(title=title)
        ws.append(header(kind) if kind else [])
        for row in rows:
            ws.append(row)
    wb.save(path)


def file_chunks(path: str, size: int = 64 * 1024) -> Iterator[bytes]:
    """Stream a file, deleting it once sent (or abandoned)."""
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(size):
                yield chunk
    finally:
        os.unlink(path)


SHEET_TITLES = {"visits": "巡查记录", "findings": "问题", "tasks": "任务", "verifications": "核查"}


def export(site: Site, kind: str, fmt: str, date_from: date, date_to: date) -> tuple[Iterator[bytes], str, str]:
    """(chunks, content type, file name) of one export; the rows are read as they are sent."""
    if kind not in KINDS:
        raise Invalid.field("kind", "unknown", f"Export one of: {', '.join(KINDS)}.")
    start, end = day_range(date_from, date_to, site.timezone, MAX_RANGE_DAYS)
    rows = ROWS[kind](site, range_clause(kind, start, end))
    name = f"{site.code}-{kind}-{date_from.isoformat()}-{date_to.isoformat()}"
    if fmt == "csv":
        return csv_chunks(kind, rows), "text/csv; charset=utf-8", name + ".csv"
    fd, tmp = tempfile.mkstemp(suffix=".xlsx", prefix="export-")
    os.close(fd)
    try:
        write_xlsx(tmp, [(SHEET_TITLES[kind], kind, rows)])
    except BaseException:
        os.unlink(tmp)
        raise
    return file_chunks(tmp), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", name + ".xlsx"
