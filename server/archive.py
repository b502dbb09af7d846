"""Month-end filing: the monthly patrol record, sealing, the archive bundle and its addenda.

A site's month moves open → sealed → archived (→ purged, retention.py). Sealing makes
the month's records read-only: `ensure_writable` is the one rule every writer calls.
A record of a sealed month that arrives late (a phone that was offline) is still
accepted, flagged addendum (`is_sealed` tells the sync path), and filed in an addendum
file next to the sealed bundle; the sealed bundle itself is never rewritten. Every file
filed is hashed, and its hash is written into the audit chain (docs/archive.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import statistics
import tempfile
import zipfile
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError

from . import audit, choices
from .errors import ApiError
from .extensions import db
from .exports import ROWS, SHEET_TITLES, connection, reading, write_csv, write_xlsx
from .models import (
    Checkpoint,
    Extension,
    Finding,
    ItemResult,
    MonthArchive,
    Photo,
    Site,
    Task,
    Verification,
    Visit,
    utcnow,
)
from .timeutil import month_of, to_local

S = choices
SEALED_STATES = (S.MONTH_SEALED, S.MONTH_ARCHIVED, S.MONTH_PURGED)
MANIFEST_FORMAT = "patrol-archive/1"
ARCHIVISTS = (S.ARCHIVIST, S.ADMIN)
READERS = (S.ARCHIVIST, S.ADMIN, S.MANAGER)

CATEGORY_ZH = {
    "security_hazard": "治安隐患",
    "facilities": "公共设施设备",
    "cleanliness": "清洁卫生",
    "landscaping": "园林绿化",
    "renovation_violation": "装修违章",
}
ROUTE_ZH = {"facility_repair": "报修", "department_work": "部门整改", "resident_violation": "住户违规"}
KIND_ZH = {
    "floor": "楼层",
    "elevator_car": "电梯轿厢",
    "lobby": "大堂门厅走廊",
    "outdoor_plaza": "外围广场",
    "car_park": "停车场",
    "vacant_unit": "空置房",
}
TASK_STATE_ZH = {
    "open": "待分派", "assigned": "已分派", "in_progress": "处理中", "done": "待核查", "verified": "已核查关闭", "cancelled": "已取消",
}
SCAN_ZH = {"qr": "扫码", "code": "编码", "url": "链接"}
MONTH_STATE_ZH = {"open": "未封存", "sealed": "已封存", "archived": "已归档", "purged": "已清除"}


# --- months ---------------------------------------------------------------------------------


def check_month(month: str) -> str:
    """'YYYY-MM' or a 422 naming the field."""
    try:
        year, mon = (int(x) for x in month.split("-"))
        if len(month) != 7 or not (1 <= mon <= 12 and 2000 <= year <= 2999):
            raise ValueError
    except (ValueError, AttributeError):
        raise ApiError(422, "A month is written YYYY-MM, e.g. 2026-10.", "validation_error", {"fields": {"month": ["YYYY-MM"]}})
    return month


def add_months(month: str, n: int) -> str:
    year, mon = (int(x) for x in month.split("-"))
    total = year * 12 + (mon - 1) + n
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


def month_start(month: str, tz: str) -> datetime:
    """The first instant of a site-local month, as naive UTC."""
    year, mon = (int(x) for x in month.split("-"))
    return datetime(year, mon, 1, tzinfo=ZoneInfo(tz)).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def month_end(month: str, tz: str) -> datetime:
    """The first instant after the month, as naive UTC."""
    return month_start(add_months(month, 1), tz)


def previous_month(site: Site, now: datetime | None = None) -> str:
    return add_months(month_of(now or utcnow(), site.timezone), -1)


def has_ended(site: Site, month: str, now: datetime | None = None) -> bool:
    return (now or utcnow()) >= month_end(month, site.timezone)


# --- the one rule of sealed months ------------------------------------------------------------


def state_of(site_id: int, month: str) -> str:
    state = db.session.execute(
        select(MonthArchive.state).where(MonthArchive.site_id == site_id, MonthArchive.month == month)
    ).scalar()
    return state or S.MONTH_OPEN


def is_sealed(site_id: int, month: str) -> bool:
    """True once the month is sealed: a record of it arriving now is an addendum."""
    return state_of(site_id, month) in SEALED_STATES


def ensure_writable(site_id: int, month: str | None) -> None:
    """Refuse (409 month_sealed) a change to a record filed under a sealed month.

    `month` is the month the record is filed under (Visit.month, Finding.month, or
    `task_month(task)`); None means the record is not frozen by any month.
    """
    if month is None:
        return
    state = state_of(site_id, month)
    if state in SEALED_STATES:
        raise ApiError(
            409,
            f"The records of {month} were sealed at month-end filing and are read-only now. "
            "Record what happened as a new entry instead.",
            "month_sealed",
            {"site_id": site_id, "month": month, "state": state},
        )


def task_month(task: Task) -> str | None:
    """The month that freezes a task: its finding's month once the task is closed.

    A task still open when its month is sealed carries on (the repair goes on after
    month end); from the moment it is verified or cancelled it is part of the filed
    record of its finding's month, and a sealed month keeps it read-only.
    """
    if task.state not in S.TASK_CLOSED_STATES:
        return None
    return db.session.execute(select(Finding.month).where(Finding.id == task.finding_id)).scalar()


# --- listing ------------------------------------------------------------------------------------


def get_row(site_id: int, month: str, create: bool = False, lock: bool = False) -> MonthArchive | None:
    """The month's filing row; `lock` holds it (FOR UPDATE) so two archivists cannot seal or build at once."""
    stmt = select(MonthArchive).where(MonthArchive.site_id == site_id, MonthArchive.month == month)
    if lock:
        stmt = stmt.with_for_update()
    row = db.session.execute(stmt).scalar_one_or_none()
    if row is None and create:
        try:
            with db.session.begin_nested():
                row = MonthArchive(site_id=site_id, month=month, state=S.MONTH_OPEN, files=[], addendum_count=0)
                db.session.add(row)
        except IntegrityError:
            # Another session created it a moment ago: use theirs.
            row = db.session.execute(stmt).scalar_one()
    return row


def months(site: Site, now: datetime | None = None) -> list[dict]:
    """Every month with records or a filing row, newest first, with its state and counts."""
    visits = dict(db.session.execute(select(Visit.month, func.count()).where(Visit.site_id == site.id).group_by(Visit.month)).all())
    findings = dict(db.session.execute(select(Finding.month, func.count()).where(Finding.site_id == site.id).group_by(Finding.month)).all())
    rows = {r.month: r for r in db.session.execute(select(MonthArchive).where(MonthArchive.site_id == site.id)).scalars()}
    current = month_of(now or utcnow(), site.timezone)
    out = []
    for month in sorted(set(visits) | set(findings) | set(rows) | {current}, reverse=True):
        row = rows.get(month)
        out.append({
            "site_id": site.id,
            "month": month,
            "state": row.state if row else S.MONTH_OPEN,
            "ended": has_ended(site, month, now),
            "visits": visits.get(month, 0),
            "findings": findings.get(month, 0),
            "sealed_at": row.sealed_at if row else None,
            "sealed_by": row.sealed_by if row else None,
            "bundle_sha256": row.bundle_sha256 if row else "",
            "addendum_count": row.addendum_count if row else 0,
            "files": [{k: f[k] for k in ("kind", "name", "sha256", "bytes", "built_at", "records")} for f in (row.files if row else [])],
            "purged_at": row.purged_at if row else None,
        })
    return out


# --- the monthly summary -------------------------------------------------------------------------


def _month_where(month: str):
    return lambda m: m.month == month


def week_of(local_day: int) -> int:
    """Week of the month by day: 1-7 → 1, 8-14 → 2, … 29-31 → 5."""
    return (local_day - 1) // 7 + 1


def _floor_key(area_key: tuple[str, str]) -> tuple:
    """Buildings by name; floors basement-first then upwards (B2, B1, 1, 2 … 10), unnamed last."""
    building, floor = area_key
    f = floor.upper()
    if f.isdigit():
        return (building, 1, int(f), f)
    if f[:1] == "B" and f[1:].isdigit():
        return (building, 0, -int(f[1:]), f)
    return (building, 2 if f else 3, 0, f)


def _area(building: str, floor: str) -> str:
    parts = [p for p in (building, f"{floor}层" if floor else "") if p]
    return " ".join(parts) or "其他"


def floor_coverage(site: Site, month: str) -> list[dict]:
    """Per building and floor: active checkpoints, how many had a patrol visit this month."""
    cps = db.session.execute(
        select(Checkpoint.id, Checkpoint.building, Checkpoint.floor).where(Checkpoint.site_id == site.id, Checkpoint.active.is_(True))
    ).all()
    visited = set(
        db.session.execute(
            select(Visit.checkpoint_id).where(Visit.site_id == site.id, Visit.month == month, Visit.purpose == "patrol").distinct()
        ).scalars()
    )
    areas: dict[tuple[str, str], list[int]] = {}
    for cp_id, building, floor in cps:
        counts = areas.setdefault((building or "", floor or ""), [0, 0])
        counts[0] += 1
        counts[1] += cp_id in visited
    return [
        {"area": _area(*key), "checkpoints": total, "visited": seen, "percent": round(100 * seen / total, 1) if total else 0.0}
        for key, (total, seen) in sorted(areas.items(), key=lambda kv: _floor_key(kv[0]))
    ]


def _coverage(site: Site, month: str) -> dict:
    """Coverage per floor: against the patrol plans (coverage.py) when the site has plans, else
    the share of active checkpoints patrolled at least once in the month."""
    out = {"basis": "checkpoints", "by_floor": floor_coverage(site, month)}
    total = sum(a["checkpoints"] for a in out["by_floor"])
    seen = sum(a["visited"] for a in out["by_floor"])
    out["percent"] = round(100 * seen / total, 1) if total else 0.0
    try:  # the checkpoints issue's plan-based figures, when that module is present
        from .coverage import month_coverage
    except ImportError:
        return out
    try:
        report = month_coverage(site, month)
    except Exception as exc:  # its figures are extra; a failure there must not stop the filing
        current_app.logger.warning("month_coverage failed for %s %s: %s", site.code, month, exc)
        return out
    totals = report.get("totals") or {}
    if not totals.get("planned"):
        return out
    # The windows and missed lists can be long: the archive keeps the totals and breakdowns.
    out = {
        "basis": "plans",
        "percent": round(100 * (totals.get("coverage") or 0), 1),
        "planned": totals.get("planned"),
        "visited": totals.get("visited"),
        "missed": totals.get("missed"),
        "windows": totals.get("windows"),
        "by_floor": [
            {"area": _area(f.get("building") or "", f.get("floor") or ""), "checkpoints": f.get("planned", 0),
             "visited": f.get("visited", 0), "percent": round(100 * (f.get("coverage") or 0), 1)}
            for f in report.get("by_floor", [])
        ],
        "by_kind": report.get("by_kind", []),
        "flags": len(report.get("flags") or []),
    }
    return json.loads(json.dumps(out, default=str))


def summary(site: Site, month: str, now: datetime | None = None) -> dict:
    """The month's figures, as written into the PDF, the XLSX and the manifest."""
    now = now or utcnow()
    tz = site.timezone
    visit_filter = and_(Visit.site_id == site.id, Visit.month == month)
    by_purpose = dict(db.session.execute(select(Visit.purpose, func.count()).where(visit_filter).group_by(Visit.purpose)).all())
    per_area = db.session.execute(
        select(Checkpoint.building, Checkpoint.floor, func.count())
        .select_from(Visit)
        .join(Checkpoint, Checkpoint.id == Visit.checkpoint_id)
        .where(visit_filter, Visit.purpose == "patrol")
        .group_by(Checkpoint.building, Checkpoint.floor)
    ).all()
    areas: dict[tuple[str, str], int] = {}
    for building, floor, n in per_area:
        key = (building or "", floor or "")
        areas[key] = areas.get(key, 0) + n
    per_kind = dict(
        db.session.execute(
            select(Checkpoint.kind, func.count())
            .select_from(Visit)
            .join(Checkpoint, Checkpoint.id == Visit.checkpoint_id)
            .where(visit_filter, Visit.purpose == "patrol")
            .group_by(Checkpoint.kind)
        ).all()
    )
    items = dict(
        db.session.execute(
            select(ItemResult.result, func.count()).join(Visit, Visit.id == ItemResult.visit_id).where(visit_filter).group_by(ItemResult.result)
        ).all()
    )
    rows = db.session.execute(
        select(Finding, Task, Checkpoint.name_zh)
        .join(Checkpoint, Checkpoint.id == Finding.checkpoint_id)
        .outerjoin(Task, Task.finding_id == Finding.id)
        .where(Finding.site_id == site.id, Finding.month == month)
        .order_by(Finding.observed_at)
    ).all()
    by_category = {c: 0 for c in S.CATEGORIES}
    by_route = {r: 0 for r in S.ROUTES}
    weekly = {c: [0] * 5 for c in S.CATEGORIES}
    spot = 0
    majors = []
    tasks = []
    for finding, task, cp_name in rows:
        by_category[finding.category] = by_category.get(finding.category, 0) + 1
        by_route[finding.route] = by_route.get(finding.route, 0) + 1
        weekly.setdefault(finding.category, [0] * 5)[week_of(to_local(finding.observed_at, tz).day) - 1] += 1
        spot += bool(finding.dealt_on_spot)
        if task is not None:
            tasks.append(task)
        if finding.severity == S.SEVERITY_MAJOR:
            majors.append({
                "finding_id": finding.id, "checkpoint": cp_name, "observed_at": finding.observed_at,
                "category": finding.category, "description": finding.description,
                "task_state": task.state if task else "dealt_on_spot",
            })
    closed = [t for t in tasks if t.state in S.TASK_CLOSED_STATES]
    overdue = [
        t for t in tasks
        if (t.closed_at is not None and t.state == S.TASK_VERIFIED and t.closed_at > t.due_at)
        or (t.state not in S.TASK_CLOSED_STATES and t.due_at < now)
    ]
    fix_days = [(t.closed_at - t.created_at).total_seconds() / 86400 for t in tasks if t.state == S.TASK_VERIFIED and t.closed_at]
    task_ids = [t.id for t in tasks]
    asked = approved = 0
    if task_ids:
        ext = db.session.execute(
            select(Extension.state, func.count()).where(Extension.task_id.in_(task_ids)).group_by(Extension.state)
        ).all()
        asked = sum(n for _, n in ext)
        approved = sum(n for state, n in ext if state == S.EXTENSION_APPROVED)
    return {
        "site": {"id": site.id, "code": site.code, "name_zh": site.name_zh, "name_en": site.name_en, "timezone": tz},
        "month": month,
        "visits": by_purpose.get("patrol", 0),
        "verify_visits": by_purpose.get("verify", 0),
        "visits_by_area": {_area(*k): n for k, n in sorted(areas.items(), key=lambda kv: _floor_key(kv[0]))},
        "visits_by_kind": {k: per_kind.get(k, 0) for k in S.CHECKPOINT_KINDS if per_kind.get(k)},
        "items_checked": sum(items.values()),
        "items_by_result": {r: items.get(r, 0) for r in S.RESULTS},
        "findings": len(rows),
        "findings_by_category": by_category,
        "findings_by_route": by_route,
        "findings_by_week": weekly,
        "dealt_on_spot": spot,
        "tasks_opened": len(tasks),
        "tasks_closed": len(closed),
        "tasks_overdue": len(overdue),
        "tasks_open": len(tasks) - len(closed),
        "median_days_to_fix": round(statistics.median(fix_days), 1) if fix_days else None,
        "extensions_asked": asked,
        "extensions_approved": approved,
        "major_issues": majors,
        "coverage": _coverage(site, month),
    }


# --- sealing ------------------------------------------------------------------------------------


def seal(site: Site, month: str, *, actor_id: int | None, now: datetime | None = None, build: bool = True) -> MonthArchive:
    """Seal a month that has ended and commit; then build its bundle (state archived) and commit.

    Sealing again is harmless (the row is returned as it is). The seal is committed on
    its own first, so the month is read-only even if the bundle cannot be built; then
    the month stays sealed and `flask archive build` retries.
    """
    check_month(month)
    now = now or utcnow()
    if not has_ended(site, month, now):
        raise ApiError(409, f"{month} has not ended yet at {site.code} ({site.timezone}); a month is sealed after it ends.", "month_not_ended")
    get_row(site.id, month, create=True)
    row = get_row(site.id, month, lock=True)
    if row.state in SEALED_STATES:
        return row
    row.state = S.MONTH_SEALED
    row.sealed_at = now
    row.sealed_by = actor_id
    db.session.flush([row])
    audit.record("month", f"{site.id}:{month}", "sealed", actor_id=actor_id, site_id=site.id, data={"month": month, "site": site.code})
    if build:
        db.session.commit()
        build_bundle(site, month, actor_id=actor_id)
        db.session.commit()
    return row


def months_to_seal(now: datetime | None = None) -> list[tuple[Site, str]]:
    """The scheduled command's work: every site's previous month, if not sealed yet."""
    out = []
    for site in db.session.execute(select(Site).order_by(Site.code)).scalars():
        month = previous_month(site, now)
        if not is_sealed(site.id, month):
            out.append((site, month))
    return out


# --- the bundle -----------------------------------------------------------------------------------


def archive_dir(site: Site, month: str) -> Path:
    return Path(current_app.config["ARCHIVE_DIR"]) / site.code / month


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 16):
            h.update(chunk)
    return h.hexdigest()


def _photo_file(photo_id: str) -> Path | None:
    try:
        from .photos import photo_path
    except ImportError:
        return None
    path = photo_path(photo_id, "display")
    return path if path.is_file() else None


def _selection(site: Site, month: str, since: datetime | None):
    """`where` builders for the bundle (since=None: the whole month) or an addendum (records since a cutoff).

    An addendum holds what reached the server after the previous file was built: late
    visits and findings (by arrival time), and tasks of the month's findings that changed
    since (closed, verified, extended).
    """
    if since is None:
        return _month_where(month), _month_where(month), None
    late_visits = lambda m: and_(m.month == month, m.received_at > since)  # noqa: E731
    late_findings = lambda m: and_(m.month == month, or_(m.created_at > since, m.id.in_(  # noqa: E731
        select(Task.finding_id).where(Task.site_id == site.id, Task.updated_at > since)
    )))
    return late_visits, late_findings, since


def _bundle_records(site: Site, month: str, since: datetime | None) -> dict:
    visit_where, finding_where, _ = _selection(site, month, since)
    visit_ids = select(Visit.id).where(Visit.site_id == site.id, visit_where(Visit))
    finding_ids = select(Finding.id).where(Finding.site_id == site.id, finding_where(Finding))
    task_ids = select(Task.id).where(Task.finding_id.in_(finding_ids))
    counts = {
        "visits": db.session.execute(select(func.count()).select_from(visit_ids.subquery())).scalar(),
        "findings": db.session.execute(select(func.count()).select_from(finding_ids.subquery())).scalar(),
        "tasks": db.session.execute(select(func.count()).select_from(task_ids.subquery())).scalar(),
    }
    photos = db.session.execute(
        select(Photo.id, Photo.purpose, Photo.sha256)
        .where(
            Photo.status == S.PHOTO_RECEIVED,
            or_(Photo.visit_id.in_(visit_ids), Photo.finding_id.in_(finding_ids), Photo.task_id.in_(task_ids)),
        )
        .order_by(Photo.id)
    ).all()
    return {"visit_where": visit_where, "finding_where": finding_where, "counts": counts, "photos": photos, "since": since}


def build_bundle(site: Site, month: str, *, actor_id: int | None, now: datetime | None = None) -> dict | None:
    """Write the month's bundle, or an addendum when the bundle exists; None if nothing is new.

    The files are written to a temporary folder and zipped; the zip is moved into place
    under its final name only when complete, so a crash never leaves a half bundle.
    """
    row = get_row(site.id, month, lock=True)
    if row is None or row.state not in (S.MONTH_SEALED, S.MONTH_ARCHIVED):
        raise ApiError(409, f"{month} must be sealed before its bundle is built.", "month_not_sealed")
    site_id = site.id
    now = now or utcnow()
    files = list(row.files or [])
    since = max((datetime.fromisoformat(f["cutoff"]) for f in files), default=None)
    kind = "bundle" if since is None else "addendum"
    records = _bundle_records(site, month, since)
    if kind == "addendum" and not any(records["counts"].values()):
        return None
    number = row.addendum_count + 1 if kind == "addendum" else 0
    stem = f"{site.code}-{month}" + (f"-addendum-{number:02d}" if number else "")
    target_dir = archive_dir(site, month)
    target_dir.mkdir(parents=True, exist_ok=True)
    final = target_dir / f"{stem}.zip"
    if final.exists():
        # Never overwrite a filed file: a leftover from a build whose transaction failed.
        final.rename(final.with_suffix(f".orphan-{now:%Y%m%d%H%M%S%f}.zip"))
    base = files[0] if files else None
    sealed_at = row.sealed_at
    fig = summary(site, month, now)
    view = SimpleNamespace(id=site.id, code=site.code, name_zh=site.name_zh, name_en=site.name_en, timezone=site.timezone)
    # The rows are read and the files rendered outside the session's transaction: on
    # SQLite every transaction holds the write lock, and a busy month takes a while.
    db.session.commit()
    work = Path(tempfile.mkdtemp(prefix=f"{stem}-", dir=target_dir))
    try:
        manifest = {
            "format": MANIFEST_FORMAT,
            "kind": kind,
            "addendum_number": number or None,
            "site": fig["site"],
            "month": month,
            "sealed_at": _iso(sealed_at),
            "built_at": _iso(now),
            "records_received_after": _iso(since),
            "base_bundle_sha256": base["sha256"] if base else None,
            "counts": {**records["counts"], "photos": 0},
            "summary": fig if kind == "bundle" else None,
            "files": [],
        }
        with _read_connection() as conn, reading(conn):
            written = _write_tables(view, work, records)
            render_pdf(work / "record.pdf", view, month, fig, records, kind=kind, number=number, sealed_at=sealed_at, built_at=now)
        photo_entries = []
        for photo_id, purpose, original_sha in records["photos"]:
            src = _photo_file(photo_id)
            if src is None:
                continue
            rel = f"photos/{photo_id}.jpg"
            (work / "photos").mkdir(exist_ok=True)
            shutil.copyfile(src, work / rel)
            photo_entries.append({"id": photo_id, "purpose": purpose, "path": rel, "original_sha256": original_sha})
        manifest["counts"]["photos"] = len(photo_entries)
        manifest["photos"] = photo_entries
        written.insert(0, "record.pdf")
        for rel in written + [p["path"] for p in photo_entries]:
            path = work / rel
            manifest["files"].append({"path": rel, "sha256": sha256_file(path), "bytes": path.stat().st_size})
        (work / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
        tmp_zip = work / "bundle.zip"
        with zipfile.ZipFile(tmp_zip, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for rel in ["manifest.json"] + [f["path"] for f in manifest["files"]]:
                # Photos are JPEGs already: storing them saves time and gains nothing.
                zf.write(work / rel, f"{stem}/{rel}", compress_type=zipfile.ZIP_STORED if rel.startswith("photos/") else zipfile.ZIP_DEFLATED)
        digest = sha256_file(tmp_zip)
        os.replace(tmp_zip, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    row = get_row(site_id, month, lock=True)
    if list(row.files or []) != files or row.state not in (S.MONTH_SEALED, S.MONTH_ARCHIVED):
        # Someone else filed (or purged) this month while we rendered: theirs stands.
        final.rename(final.with_suffix(f".orphan-{now:%Y%m%d%H%M%S%f}.zip"))
        raise ApiError(409, f"{month} was filed by someone else at the same time; reload and try again.", "build_conflict")
    entry = {
        "kind": kind, "name": final.name, "path": str(final), "sha256": digest, "bytes": final.stat().st_size,
        "built_at": _iso(now), "cutoff": now.isoformat(), "records": manifest["counts"],
    }
    row.files = files + [entry]
    if kind == "bundle":
        row.bundle_path, row.bundle_sha256, row.built_at, row.state = str(final), digest, now, S.MONTH_ARCHIVED
    else:
        row.addendum_count = number
    db.session.flush([row])
    audit.record(
        "month", f"{site_id}:{month}", "bundle_built" if kind == "bundle" else "addendum_built",
        actor_id=actor_id, site_id=site_id, data={"file": final.name, "sha256": digest, "records": manifest["counts"]},
    )
    return entry


_plain_engines: dict = {}


@contextmanager
def _read_connection():
    """A connection for reading a month while the bundle is rendered.

    SQLite: an engine of its own without the app's BEGIN IMMEDIATE, so the reads take
    no write lock (WAL lets phones keep syncing meanwhile). PostgreSQL: a pooled
    connection; reads never block writers there.
    """
    engine = db.engine
    if engine.dialect.name == "sqlite":
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        key = str(engine.url)
        engine = _plain_engines.get(key) or _plain_engines.setdefault(key, create_engine(engine.url, poolclass=NullPool))
    conn = engine.connect()
    try:
        yield conn
    finally:
        conn.close()


def _write_tables(site: Site, work: Path, records: dict) -> list[str]:
    """CSV per table and one XLSX with a sheet per table; returns the relative paths."""
    wheres = {
        "visits": records["visit_where"],
        "findings": records["finding_where"],
        "tasks": records["finding_where"],
        "verifications": records["finding_where"],
    }
    out = []
    for kind, where in wheres.items():
        write_csv(work / f"{kind}.csv", kind, ROWS[kind](site, where))
        out.append(f"{kind}.csv")
    write_xlsx(work / "record.xlsx", [(SHEET_TITLES[k], k, ROWS[k](site, w)) for k, w in wheres.items()])
    out.insert(0, "record.xlsx")
    return out


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat(timespec="seconds") + "Z" if dt else None


def build_pending(now: datetime | None = None, actor_id: int | None = None) -> list[tuple[Site, str, dict]]:
    """Build every missing bundle and every addendum that has new records."""
    out = []
    rows = db.session.execute(
        select(MonthArchive, Site).join(Site, Site.id == MonthArchive.site_id)
        .where(MonthArchive.state.in_((S.MONTH_SEALED, S.MONTH_ARCHIVED)))
        .order_by(Site.code, MonthArchive.month)
    ).all()
    for row, site in rows:
        entry = build_bundle(site, row.month, actor_id=actor_id, now=now)
        if entry:
            out.append((site, row.month, entry))
    return out


# --- checking a bundle ----------------------------------------------------------------------------


def verify_zip(path) -> list[str]:
    """Problems found in a bundle zip (empty when every file matches its manifest hash)."""
    problems = []
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            manifests = [n for n in names if n.endswith("/manifest.json") and n.count("/") == 1]
            if len(manifests) != 1:
                return ["no manifest.json at the top of the bundle"]
            prefix = manifests[0][: -len("manifest.json")]
            manifest = json.loads(zf.read(manifests[0]))
            listed = set()
            for f in manifest.get("files", []):
                name = prefix + f["path"]
                listed.add(name)
                if name not in names:
                    problems.append(f"{f['path']}: missing")
                    continue
                h = hashlib.sha256()
                with zf.open(name) as fh:
                    while chunk := fh.read(1 << 16):
                        h.update(chunk)
                if h.hexdigest() != f["sha256"]:
                    problems.append(f"{f['path']}: hash does not match the manifest")
            for extra in sorted(set(names) - listed - {manifests[0]}):
                problems.append(f"{extra[len(prefix):]}: not in the manifest")
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        problems.append(f"not a readable bundle: {exc}")
    return problems


def verify_filed(row: MonthArchive) -> list[str]:
    """Check every filed file of a month against the hash recorded when it was filed."""
    problems = []
    for f in row.files or []:
        path = Path(f["path"])
        if not path.is_file():
            problems.append(f"{f['name']}: missing")
            continue
        if sha256_file(path) != f["sha256"]:
            problems.append(f"{f['name']}: changed since it was filed")
        problems.extend(f"{f['name']}: {p}" for p in verify_zip(path))
    return problems


def file_for(row: MonthArchive, name: str | None) -> dict:
    """A filed file by name (the sealed bundle when no name is given)."""
    for f in row.files or []:
        if (name is None and f["kind"] == "bundle") or f["name"] == name:
            if not Path(f["path"]).is_file():
                raise ApiError(410, "This file was removed (the month was purged).", "bundle_removed")
            return f
    raise ApiError(404, "No such file filed for this month.", "not_found")


# --- the printable PDF ----------------------------------------------------------------------------
# reportlab platypus with the embedded Chinese TrueType font (labels.py registers it), so
# the filed record reads the same on any machine; charts with reportlab.graphics.

CHART_COLOURS = ("#c0392b", "#2e86c1", "#27ae60", "#d68910", "#7d3c98")


def _font() -> str:
    from .labels import font_setting, register_font

    return register_font(font_setting(current_app.config))


def _styles(font: str) -> dict:
    from reportlab.lib.styles import ParagraphStyle

    base = ParagraphStyle("base", fontName=font, fontSize=9, leading=12, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=17, leading=22, spaceAfter=4),
        "h2": ParagraphStyle("h2", parent=base, fontSize=12.5, leading=16, spaceBefore=8, spaceAfter=4, keepWithNext=1),
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.5),
        "note": ParagraphStyle("note", parent=base, fontSize=8, leading=10, textColor="#555555"),
    }


def _p(text, style):
    from reportlab.platypus import Paragraph
    from xml.sax.saxutils import escape

    return Paragraph(escape(str(text if text is not None else "")).replace("\n", "<br/>"), style)


def _table(data, widths, font: str, header_rows: int = 1, size: float = 8):
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    t = Table(data, colWidths=widths, repeatRows=header_rows, hAlign="LEFT")
    t.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), font),
        ("FONTSIZE", (0, 0), (-1, -1), size),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")),
        ("BACKGROUND", (0, 0), (-1, header_rows - 1), colors.HexColor("#e8eef4")),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]))
    return t


def _tables(rows, widths, font: str, size: float = 8, per_table: int = 60) -> list:
    """A long list as several tables of `per_table` rows, each with the header row.

    reportlab splits one long table page by page by re-measuring what is left, which
    grows with the square of its length; a month's thousands of visits in one table
    took minutes, in blocks it is linear.
    """
    head, body = rows[0], rows[1:]
    return [_table([head] + body[i : i + per_table], widths, font, size=size) for i in range(0, len(body), per_table)]


def _weekly_chart(fig: dict, font: str, width: float):
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.charts.legends import Legend
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors

    weeks = fig["findings_by_week"]
    cats = [c for c in S.CATEGORIES if c in weeks]
    d = Drawing(width, 170)
    d.add(String(0, 158, "每周发现问题（按类别）", fontName=font, fontSize=10))
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 30, 25, width - 170, 120
    chart.data = [weeks[c] for c in cats] or [[0] * 5]
    chart.categoryAxis.categoryNames = ["1-7日", "8-14日", "15-21日", "22-28日", "29日起"]
    chart.categoryAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = 7.5
    chart.valueAxis.labels.fontName = font
    chart.valueAxis.labels.fontSize = 7.5
    chart.valueAxis.valueMin = 0
    top = max([sum(col) for col in zip(*chart.data)] + [1])
    chart.valueAxis.valueMax = top + max(1, top // 5)
    chart.valueAxis.valueStep = max(1, (top + 4) // 5)
    chart.categoryAxis.style = "stacked"
    for i, _ in enumerate(cats):
        chart.bars[i].fillColor = colors.HexColor(CHART_COLOURS[i % len(CHART_COLOURS)])
        chart.bars[i].strokeColor = None
    d.add(chart)
    legend = Legend()
    legend.x, legend.y = width - 130, 140
    legend.fontName = font
    legend.fontSize = 8
    legend.alignment = "right"
    legend.colorNamePairs = [(colors.HexColor(CHART_COLOURS[i % len(CHART_COLOURS)]), CATEGORY_ZH.get(c, c)) for i, c in enumerate(cats)]
    d.add(legend)
    return d


def _coverage_chart(fig: dict, font: str, width: float):
    from reportlab.graphics.charts.barcharts import HorizontalBarChart
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors

    floors = fig["coverage"]["by_floor"][:40]
    height = 40 + 13 * max(len(floors), 1)
    d = Drawing(width, height + 20)
    cov = fig["coverage"]
    basis = "按巡查计划，已巡 / 应巡" if cov.get("basis") == "plans" else "本月至少巡查一次的点位"
    d.add(String(0, height + 8, f"各楼层覆盖率（{basis}）：全站 {cov['percent']}%", fontName=font, fontSize=10))
    chart = HorizontalBarChart()
    chart.x, chart.y, chart.width, chart.height = 80, 20, width - 120, height - 30
    chart.data = [[f["percent"] for f in reversed(floors)] or [0]]
    chart.categoryAxis.categoryNames = [f["area"] for f in reversed(floors)] or ["—"]
    chart.categoryAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = 7.5
    chart.valueAxis.valueMin, chart.valueAxis.valueMax, chart.valueAxis.valueStep = 0, 100, 20
    chart.valueAxis.labels.fontName = font
    chart.valueAxis.labels.fontSize = 7.5
    chart.bars[0].fillColor = colors.HexColor("#2e86c1")
    chart.bars[0].strokeColor = None
    chart.barLabelFormat = "%.0f%%"
    chart.barLabels.fontName = font
    chart.barLabels.fontSize = 6.5
    chart.barLabels.boxAnchor = "w"
    chart.barLabels.dx = 2
    d.add(chart)
    return d


def _signature_images(site: Site, finding_where, width_mm: float = 28):
    """{verification id: [(role, Image flowable)]} for the drawn signatures that were received."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Image

    out: dict[str, list] = {}
    stmt = (
        select(Verification.id, Verification.signatures)
        .join(Task, Task.id == Verification.task_id)
        .join(Finding, Finding.id == Task.finding_id)
        .where(Task.site_id == site.id, finding_where(Finding))
    )
    for vid, sigs in connection().execute(stmt):
        for role, photo_id in sorted((sigs or {}).items()):
            path = _photo_file(str(photo_id))
            if path is None:
                continue
            img = Image(str(path))
            # Fit into a signature box, keeping the drawing's proportions.
            scale = min(width_mm * mm / max(img.imageWidth, 1), 14 * mm / max(img.imageHeight, 1))
            img.drawWidth, img.drawHeight = img.imageWidth * scale, img.imageHeight * scale
            out.setdefault(vid, []).append((role, img))
    return out


def render_pdf(path, site: Site, month: str, fig: dict, records: dict, *, kind: str, number: int, sealed_at, built_at) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    font = _font()
    st = _styles(font)
    year, mon = month.split("-")
    title = f"{site.name_zh} 巡查记录月报 {year}年{int(mon)}月" + (f" · 补录 第{number}号" if kind == "addendum" else "")
    doc = SimpleDocTemplate(str(path), pagesize=A4, leftMargin=14 * mm, rightMargin=14 * mm, topMargin=14 * mm, bottomMargin=16 * mm,
                            title=title, author="Patrol", subject=f"{site.code} {month}")
    width = A4[0] - 28 * mm - 12  # the frame's own padding is 6 pt a side
    tz = site.timezone

    def footer(canvas, doc_):
        canvas.saveState()
        canvas.setFont(font, 7.5)
        canvas.drawString(14 * mm, 9 * mm, f"{site.code} {month} · 封存于 {_local(sealed_at, tz)} · 生成于 {_local(built_at, tz)}")
        canvas.drawRightString(A4[0] - 14 * mm, 9 * mm, f"第 {doc_.page} 页")
        canvas.restoreState()

    story = [_p(title, st["title"]),
             _p(f"项目 {site.code}（{site.name_en or site.name_zh}） · 时区 {tz} · 状态 {MONTH_STATE_ZH[S.MONTH_ARCHIVED]}", st["note"])]
    if kind == "addendum":
        story.append(_p(f"本补录收录 {_iso(records.get('since'))} 之后才到达服务器的本月记录（离线手机迟到的同步、本月问题的后续处理）。"
                        "已封存的月报文件保持不变。", st["body"]))
    else:
        story += _summary_story(fig, font, st, width)
    story += _records_story(site, records, font, st, width)
    doc.build(story, onFirstPage=footer, onLaterPages=footer)


def _clip(text, width: int) -> str:
    """Cut text to about `width` CJK characters (a Latin letter counts half)."""
    text = str(text or "")
    out, used = [], 0.0
    for ch in text:
        used += 0.5 if ord(ch) < 0x2E80 else 1
        if used > width:
            return "".join(out) + "…"
        out.append(ch)
    return text


def _local(dt, tz: str) -> str:
    return to_local(dt, tz).strftime("%Y-%m-%d %H:%M") if dt else "—"


def _summary_story(fig: dict, font: str, st: dict, width: float) -> list:
    from reportlab.platypus import Spacer

    med = fig["median_days_to_fix"]
    kv = [
        ["巡查次数", fig["visits"], "核查扫码", fig["verify_visits"]],
        ["检查项目", fig["items_checked"], "合格 / 不合格 / 不适用",
         f"{fig['items_by_result']['ok']} / {fig['items_by_result']['fail']} / {fig['items_by_result']['na']}"],
        ["发现问题", fig["findings"], "现场处理", fig["dealt_on_spot"]],
        ["开出任务", fig["tasks_opened"], "已关闭 / 未关闭", f"{fig['tasks_closed']} / {fig['tasks_open']}"],
        ["逾期任务", fig["tasks_overdue"], "修复天数中位数", "—" if med is None else f"{med} 天"],
        ["延期申请", fig["extensions_asked"], "延期批准", fig["extensions_approved"]],
        ["重大问题", len(fig["major_issues"]), "点位覆盖率", f"{fig['coverage']['percent']}%"],
    ]
    q = width / 4
    story = [_p("一、本月概况", st["h2"]), _table([["项目", "数量", "项目", "数量"]] + kv, [q * 1.1, q * 0.9, q * 1.2, q * 0.8], font, size=9)]
    cat_rows = [["类别", "问题数"]] + [[CATEGORY_ZH.get(c, c), n] for c, n in fig["findings_by_category"].items()]
    route_rows = [["处理途径", "问题数"]] + [[ROUTE_ZH.get(r, r), n] for r, n in fig["findings_by_route"].items()]
    kind_rows = [["点位类型", "巡查次数"]] + [[KIND_ZH.get(k, k), n] for k, n in fig["visits_by_kind"].items()]
    third = (width - 12) / 3
    from reportlab.platypus import Table

    side = Table([[_table(cat_rows, [third * 0.65, third * 0.35], font), _table(route_rows, [third * 0.65, third * 0.35], font),
                   _table(kind_rows, [third * 0.65, third * 0.35], font)]], colWidths=[third + 4] * 3)
    side.setStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)])
    story += [_p("二、问题分类与巡查分布", st["h2"]), side, Spacer(1, 6)]
    area_rows = [["区域（楼栋 楼层）", "巡查次数"]] + [[a, n] for a, n in fig["visits_by_area"].items()]
    if len(area_rows) > 1:
        story.append(_table(area_rows, [width * 0.4, width * 0.15], font))
    story += [_p("三、图表", st["h2"]), _weekly_chart(fig, font, width), Spacer(1, 8), _coverage_chart(fig, font, width)]
    story.append(_p("四、重大问题", st["h2"]))
    if fig["major_issues"]:
        rows = [["发现时间", "点位", "类别", "描述", "处理状态"]]
        for m in fig["major_issues"]:
            rows.append([_local(m["observed_at"], fig["site"]["timezone"]), _p(m["checkpoint"], st["small"]),
                         CATEGORY_ZH.get(m["category"], m["category"]), _p(m["description"], st["small"]),
                         "现场处理" if m["task_state"] == "dealt_on_spot" else TASK_STATE_ZH.get(m["task_state"], m["task_state"])])
        story.append(_table(rows, [width * 0.17, width * 0.18, width * 0.13, width * 0.37, width * 0.15], font))
    else:
        story.append(_p("本月无重大问题。", st["body"]))
    return story


def _records_story(site: Site, records: dict, font: str, st: dict, width: float) -> list:
    from reportlab.platypus import PageBreak, Spacer

    sm = st["small"]
    story = [PageBreak(), _p("五、问题及处理记录", st["h2"])]
    rows = [["发现时间", "点位", "类别 / 途径", "描述", "现场处理", "任务", "期限 / 关闭"]]
    for r in ROWS["findings"](site, records["finding_where"]):
        sev = "【重大】" if r[9] == S.SEVERITY_MAJOR else ""
        rows.append([
            _p(r[2], sm), _p(f"{r[4]}\n{r[3]}", sm), _p(f"{CATEGORY_ZH.get(r[7], r[7])}\n{ROUTE_ZH.get(r[8], r[8])}", sm),
            _p(sev + (r[10] or ""), sm), _p(("是 " + r[12]) if r[11] else "否", sm),
            _p(f"#{r[14]} {TASK_STATE_ZH.get(r[15], r[15])}" if r[14] else "—", sm),
            _p("\n".join(x for x in (f"期限 {r[16]}" if r[16] else "", f"关闭 {r[17]}" if r[17] else "") if x) or "—", sm),
        ])
    if len(rows) == 1:
        story.append(_p("无。", st["body"]))
    else:
        story.extend(_tables(rows, [width * w for w in (0.13, 0.15, 0.11, 0.29, 0.11, 0.09, 0.12)], font))
    story.append(_p("六、完工核查与签名", st["h2"]))
    sigs = _signature_images(site, records["finding_where"])
    rows = [["核查时间", "任务", "结果", "核查人", "维修人", "备注", "签名"]]
    for r in ROWS["verifications"](site, records["finding_where"]):
        images = sigs.get(r[0], [])
        sign_cell = [x for role, img in images for x in (_p({"fixer": "维修人", "verifier": "核查人", "supervisor": "主管"}.get(role, role), sm), img)]
        rows.append([_p(r[3], sm), f"#{r[1]}", "通过" if r[4] == S.VERIFY_PASS else "不通过", _p(r[5], sm), _p(r[6], sm),
                     _p(r[10], sm), sign_cell or _p("（签名照片未上传）" if r[8] else "—", sm)])
    if len(rows) == 1:
        story.append(_p("无。", st["body"]))
    else:
        story.extend(_tables(rows, [width * w for w in (0.14, 0.07, 0.08, 0.12, 0.12, 0.24, 0.23)], font))
    story += [Spacer(1, 4), PageBreak(), _p("七、巡查记录明细", st["h2"])]
    rows = [["巡查时间", "点位", "类型", "巡查人", "方式", _p("合格/不合格\n/不适用", sm), "备注", "补录"]]
    for r in ROWS["visits"](site, records["visit_where"]):
        note = " ".join(x for x in (r[14], ("住户：" + r[15]) if r[15] else "") if x)
        # Plain strings where a line is enough: a Paragraph per cell made a busy month's
        # thousands of rows several times slower to lay out. Names are cut to the column.
        rows.append([r[2], _clip(f"{r[4]} {r[3]}", 16), KIND_ZH.get(r[5], r[5]) if r[9] == "patrol" else "核查", _clip(r[8], 14),
                     SCAN_ZH.get(r[10], r[10]), f"{r[11]}/{r[12]}/{r[13]}", _p(note, sm) if note else "", r[16]])
    if len(rows) == 1:
        story.append(_p("无。", st["body"]))
    else:
        story.extend(_tables(rows, [width * w for w in (0.15, 0.2, 0.1, 0.18, 0.06, 0.12, 0.14, 0.05)], font, size=7))
    return story
