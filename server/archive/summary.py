"""A site's month in figures: visits, items, findings, tasks, extensions, major issues and coverage per floor.

The same figures go into the filed PDF, the bundle's manifest and the archivist's month
view. Counting rules that exist elsewhere are called, not restated: overdue is
`tasks.is_overdue`, days to fix `exports.days_to_fix`, the order of floors
`coverage.floor_order`.
"""

from __future__ import annotations

import json
import statistics
from datetime import datetime

from flask import current_app
from sqlalchemy import and_, func, select

from .. import choices, tasks
from ..coverage import floor_order, month_coverage
from ..exports import days_to_fix
from ..extensions import db
from ..models import Checkpoint, Extension, Finding, ItemResult, Site, Task, Visit, utcnow
from ..timeutil import to_local

# A major issue handled on the spot has no task; this stands in for its task state.
DEALT_ON_SPOT = "dealt_on_spot"


def week_of(local_day: int) -> int:
    """Week of the month by day: 1-7 → 1, 8-14 → 2, … 29-31 → 5."""
    return (local_day - 1) // 7 + 1


def area_name(building: str, floor: str) -> str:
    parts = [p for p in (building, f"{floor}层" if floor else "") if p]
    return " ".join(parts) or "其他"


def _percent(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def _closed_late(task: Task) -> bool:
    """Verified after its due time: the month's record counts it as overdue although it is closed now."""
    return task.state == choices.TASK_VERIFIED and task.closed_at is not None and task.closed_at > task.due_at


def floor_coverage(site: Site, month: str) -> list[dict]:
    """Per building and floor: active checkpoints, how many had a patrol visit this month."""
    cps = db.session.execute(
        select(Checkpoint.id, Checkpoint.building, Checkpoint.floor).where(Checkpoint.site_id == site.id, Checkpoint.active.is_(True))
    ).all()
    visited = set(
        db.session.execute(
            select(Visit.checkpoint_id)
            .where(Visit.site_id == site.id, Visit.month == month, Visit.purpose == choices.VISIT_PATROL)
            .distinct()
        ).scalars()
    )
    areas: dict[tuple[str, str], list[int]] = {}
    for cp_id, building, floor in cps:
        counts = areas.setdefault((building or "", floor or ""), [0, 0])
        counts[0] += 1
        counts[1] += cp_id in visited
    return [
        {"area": area_name(*key), "checkpoints": total, "visited": seen, "percent": _percent(seen, total)}
        for key, (total, seen) in sorted(areas.items(), key=lambda kv: floor_order(kv[0]))
    ]


def _coverage(site: Site, month: str) -> dict:
    """Coverage per floor: against the patrol plans (coverage.py) when the site has plans, else
    the share of active checkpoints patrolled at least once in the month."""
    out = {"basis": "checkpoints", "by_floor": floor_coverage(site, month)}
    out["percent"] = _percent(sum(a["visited"] for a in out["by_floor"]), sum(a["checkpoints"] for a in out["by_floor"]))
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
            {"area": area_name(f.get("building") or "", f.get("floor") or ""), "checkpoints": f.get("planned", 0),
             "visited": f.get("visited", 0), "percent": round(100 * (f.get("coverage") or 0), 1)}
            for f in report.get("by_floor", [])
        ],
        "by_kind": report.get("by_kind", []),
        "flags": len(report.get("flags") or []),
    }
    return json.loads(json.dumps(out, default=str))


def summary(site: Site, month: str, now: datetime | None = None) -> dict:
    """The month's figures (JSON-ready but for the major issues' naive UTC times)."""
    now = now or utcnow()
    tz = site.timezone
    visit_filter = and_(Visit.site_id == site.id, Visit.month == month)
    by_purpose = dict(db.session.execute(select(Visit.purpose, func.count()).where(visit_filter).group_by(Visit.purpose)).all())
    patrols = db.session.execute(
        select(Checkpoint.building, Checkpoint.floor, Checkpoint.kind, func.count())
        .select_from(Visit)
        .join(Checkpoint, Checkpoint.id == Visit.checkpoint_id)
        .where(visit_filter, Visit.purpose == choices.VISIT_PATROL)
        .group_by(Checkpoint.building, Checkpoint.floor, Checkpoint.kind)
    ).all()
    areas: dict[tuple[str, str], int] = {}
    per_kind: dict[str, int] = {}
    for building, floor, kind, n in patrols:
        key = (building or "", floor or "")
        areas[key] = areas.get(key, 0) + n
        per_kind[kind] = per_kind.get(kind, 0) + n
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
    by_category = {c: 0 for c in choices.CATEGORIES}
    by_route = {r: 0 for r in choices.ROUTES}
    weekly = {c: [0] * 5 for c in choices.CATEGORIES}
    spot = 0
    majors = []
    opened = []
    for finding, task, cp_name in rows:
        by_category[finding.category] = by_category.get(finding.category, 0) + 1
        by_route[finding.route] = by_route.get(finding.route, 0) + 1
        weekly.setdefault(finding.category, [0] * 5)[week_of(to_local(finding.observed_at, tz).day) - 1] += 1
        spot += bool(finding.dealt_on_spot)
        if task is not None:
            opened.append(task)
        if finding.severity == choices.SEVERITY_MAJOR:
            majors.append({
                "finding_id": finding.id, "checkpoint": cp_name, "observed_at": finding.observed_at,
                "category": finding.category, "description": finding.description,
                "task_state": task.state if task else DEALT_ON_SPOT,
            })
    closed = [t for t in opened if t.state in choices.TASK_CLOSED_STATES]
    overdue = [t for t in opened if tasks.is_overdue(t, now) or _closed_late(t)]
    fix_days = [d for d in (days_to_fix(t.state, t.created_at, t.closed_at) for t in opened) if d is not None]
    task_ids = [t.id for t in opened]
    asked = approved = 0
    if task_ids:
        ext = db.session.execute(
            select(Extension.state, func.count()).where(Extension.task_id.in_(task_ids)).group_by(Extension.state)
        ).all()
        asked = sum(n for _, n in ext)
        approved = sum(n for state, n in ext if state == choices.EXTENSION_APPROVED)
    return {
        "site": {"id": site.id, "code": site.code, "name_zh": site.name_zh, "name_en": site.name_en, "timezone": tz},
        "month": month,
        "visits": by_purpose.get(choices.VISIT_PATROL, 0),
        "verify_visits": by_purpose.get(choices.VISIT_VERIFY, 0),
        "visits_by_area": {area_name(*k): n for k, n in sorted(areas.items(), key=lambda kv: floor_order(kv[0]))},
        "visits_by_kind": {k: per_kind.get(k, 0) for k in choices.CHECKPOINT_KINDS if per_kind.get(k)},
        "items_checked": sum(items.values()),
        "items_by_result": {r: items.get(r, 0) for r in choices.RESULTS},
        "findings": len(rows),
        "findings_by_category": by_category,
        "findings_by_route": by_route,
        "findings_by_week": weekly,
        "dealt_on_spot": spot,
        "tasks_opened": len(opened),
        "tasks_closed": len(closed),
        "tasks_overdue": len(overdue),
        "tasks_open": len(opened) - len(closed),
        "median_days_to_fix": round(statistics.median(fix_days), 1) if fix_days else None,
        "extensions_asked": asked,
        "extensions_approved": approved,
        "major_issues": majors,
        "coverage": _coverage(site, month),
        "complaints": _complaints(site, month),
    }


def _complaints(site: Site, month: str) -> dict:
    """The month's complaint classification statistics (《顾客投诉分类统计表》), as counts only."""
    from ..complaints import month_stats

    stats = month_stats(site, month)
    return {
        **{k: stats[k] for k in ("total", "by_channel", "by_kind", "by_category", "by_department", "by_validity", "by_deadline", "by_satisfaction")},
        "patrolled_as_fine": len(stats["patrolled_as_fine"]),
        "by_checkpoint": [{k: r[k] for k in ("name_zh", "complaints", "findings")} for r in stats["by_checkpoint"][:10]],
    }
