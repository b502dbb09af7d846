"""Coverage: for every scheduled round window, which planned checkpoints were visited, which were missed.

Rules (docs/checkpoints.md, "Coverage"):
- Windows come from the site's active plans, in the site's timezone; a window crossing
  midnight belongs to the day it starts. Windows that started before the plan was
  written are not expected.
- A planned checkpoint counts as visited in a window when a patrol visit (purpose
  `choices.VISIT_PATROL`) to it, by anyone, was scanned at or after the window's start and before its
  end. Scan time is the phone's time corrected by its measured clock offset
  (`Visit.scanned_at`), never the time the server received it: a visit synced days
  later still counts for its window.
- Only windows that have ended are counted; later ones are listed as "upcoming" or
  "in_progress". Deactivated checkpoints are not expected.
- A missed checkpoint carries the patroller's reason (`missed_reasons`, given at the end of a
  round of the same plan: locked, under repair, no access, other) when that round ended at
  or after the window's start and before the plan's next window opened (a reason sent before
  its round's end: when it was given). It is still missed: the reason explains the gap, it
  does not fill it.
- Suspicious patterns: one person scanning two different checkpoints closer together
  than the site's `min_scan_gap_seconds`, and one person scanning the same checkpoint
  `COVERAGE_REPEAT_SCANS` times or more within `COVERAGE_REPEAT_MINUTES` minutes.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from datetime import date, datetime, timedelta

from flask import current_app, has_app_context
from sqlalchemy import func, select

from . import choices, months
from . import plans as plans_mod
from .extensions import db
from .models import Checkpoint, MissedReason, PatrolPlan, Round, Site, User, Visit, utcnow
from .plans import Window
from .timeutil import iso, to_local

DEFAULTS = {"COVERAGE_REPEAT_SCANS": 3, "COVERAGE_REPEAT_MINUTES": 10}
MAX_DAYS = 366


def setting(name: str) -> int:
    """A coverage threshold from the app's configuration (server/config.py)."""
    if has_app_context():
        return int(current_app.config.get(name, DEFAULTS[name]))
    return DEFAULTS[name]


def _ratio(visited: int, planned: int) -> float | None:
    return round(visited / planned, 4) if planned else None


class _Tally:
    """Planned and visited counts under one key (a day, a floor, a kind, a plan)."""

    def __init__(self):
        self.planned = 0
        self.visited = 0

    def add(self, visited: bool) -> None:
        self.planned += 1
        self.visited += int(visited)

    def as_dict(self) -> dict:
        return {"planned": self.planned, "visited": self.visited, "missed": self.planned - self.visited, "coverage": _ratio(self.visited, self.planned)}


def coverage(site: Site, first: date, last: date, *, plan_id: int | None = None, now: datetime | None = None) -> dict:
    """The coverage report of a site for local days `first`..`last` inclusive (JSON-ready)."""
    day_start, day_end = months.day_range(first, last, site.timezone, MAX_DAYS)
    now = now or utcnow()
    stmt = select(PatrolPlan).where(PatrolPlan.site_id == site.id, PatrolPlan.active.is_(True))
    if plan_id is not None:
        stmt = stmt.where(PatrolPlan.id == plan_id)
    plans = db.session.execute(stmt.order_by(PatrolPlan.id)).scalars().all()
    checkpoints = {cp.id: cp for cp in db.session.execute(select(Checkpoint).where(Checkpoint.site_id == site.id)).scalars()}

    windows: list[tuple[PatrolPlan, Window]] = []
    # Where a missed checkpoint stops counting as "late": the plan's next window (a plan
    # runs at least once a week, so the week after the range holds it).
    late_until: dict[tuple[int, datetime], datetime] = {}
    for plan in plans:
        every = sorted(plans_mod.windows(plan, site.timezone, first, last + timedelta(days=7)), key=lambda w: w.start)
        for w, after in zip(every, every[1:] + [None]):
            if w.day > last:
                continue
            late_until[(plan.id, w.start)] = after.start if after else w.end + timedelta(days=7)
            if w.start >= plan.created_at:
                windows.append((plan, w))
    windows.sort(key=lambda pw: (pw[1].start, pw[0].id))

    span_start = min([day_start] + [w.start for _, w in windows])
    span_end = max([day_end] + [late_until[(p.id, w.start)] for p, w in windows])
    visits = db.session.execute(
        select(Visit.id, Visit.checkpoint_id, Visit.user_id, Visit.scanned_at)
        .where(Visit.site_id == site.id, Visit.purpose == choices.VISIT_PATROL, Visit.scanned_at >= span_start, Visit.scanned_at < span_end)
        .order_by(Visit.scanned_at, Visit.id)
    ).all()
    scans: dict[int, list[datetime]] = {}
    for v in visits:
        scans.setdefault(v.checkpoint_id, []).append(v.scanned_at)

    reasons = _reasons(site.id, [p.id for p in plans], span_start, span_end)

    def reason_for(plan_id: int, cid: int, w: Window, until: datetime) -> dict | None:
        """The first reason for this checkpoint from a round that ended in this window's time (up to the plan's next window)."""
        for r in reasons.get((plan_id, cid), []):
            if w.start <= r["at"] < until:
                return r["out"]
        return None

    def visited_in(cid: int, w: Window) -> bool:
        times = scans.get(cid, [])
        i = bisect_left(times, w.start)
        return i < len(times) and times[i] < w.end

    def late_scan(cid: int, w: Window, until: datetime) -> datetime | None:
        """The first scan after the window closed and before the plan's next window opened."""
        times = scans.get(cid, [])
        i = bisect_left(times, w.end)
        return times[i] if i < len(times) and times[i] < until else None

    totals, by_day, by_floor, by_kind, by_plan = _Tally(), {}, {}, {}, {}
    day = first
    while day <= last:
        by_day[day] = _Tally()
        day += timedelta(days=1)
    window_rows, missed = [], []
    late_total = explained_total = 0
    for plan, w in windows:
        planned = [cid for cid in plan.checkpoint_ids if cid in checkpoints and checkpoints[cid].active]
        status = "upcoming" if w.start > now else "in_progress" if w.end > now else "ended"
        hits = {cid: visited_in(cid, w) for cid in planned}
        row = {
            "plan_id": plan.id,
            "plan_name_zh": plan.name_zh,
            "plan_name_en": plan.name_en,
            "assignee_id": plan.assignee_id,
            "day": w.day.isoformat(),
            "window": w.label,
            "start": iso(w.start),
            "end": iso(w.end),
            "status": status,
            "planned": len(planned),
            "visited": sum(hits.values()),
            "missed": len(planned) - sum(hits.values()),
            "coverage": _ratio(sum(hits.values()), len(planned)),
            "missed_checkpoint_ids": [cid for cid in planned if not hits[cid]],
            "late": 0,
            "explained": 0,
        }
        # The patrollers' reasons for checkpoints of this window they did not reach (also while it runs).
        given = {cid: reason_for(plan.id, cid, w, late_until[(plan.id, w.start)]) for cid in planned if not hits[cid]}
        row["reasons"] = [{"checkpoint_id": cid, **why} for cid, why in given.items() if why is not None]
        window_rows.append(row)
        if status != "ended":
            # Not over yet: nothing is missed, and it does not count towards the figures.
            row["missed"] = 0
            row["pending_checkpoint_ids"] = row.pop("missed_checkpoint_ids")
            continue
        for cid in planned:
            cp, hit = checkpoints[cid], hits[cid]
            totals.add(hit)
            by_day[w.day].add(hit)
            by_floor.setdefault((cp.building, cp.floor), _Tally()).add(hit)
            by_kind.setdefault(cp.kind, _Tally()).add(hit)
            by_plan.setdefault(plan.id, _Tally()).add(hit)
            if not hit:
                late = late_scan(cid, w, min(late_until[(plan.id, w.start)], now))
                row["late"] += late is not None
                late_total += late is not None
                why = given[cid]
                row["explained"] += why is not None
                explained_total += why is not None
                missed.append(
                    {
                        "day": w.day.isoformat(),
                        "plan_id": plan.id,
                        "window": w.label,
                        "start": iso(w.start),
                        "end": iso(w.end),
                        "checkpoint_id": cp.id,
                        "short_code": cp.short_code,
                        "name_zh": cp.name_zh,
                        "name_en": cp.name_en,
                        "kind": cp.kind,
                        "building": cp.building,
                        "floor": cp.floor,
                        # Still missed (the rule is the window), but somebody did come, later.
                        "late_at": iso(late),
                        # Why it was missed, as the patroller said when ending the round (or None).
                        "reason": why,
                    }
                )

    flagged = [v for v in visits if day_start <= v.scanned_at < day_end]
    thresholds = {
        "min_scan_gap_seconds": site.min_scan_gap_seconds,
        "repeat_scans": setting("COVERAGE_REPEAT_SCANS"),
        "repeat_minutes": setting("COVERAGE_REPEAT_MINUTES"),
    }
    plan_names = {p.id: p for p in plans}
    return {
        "site_id": site.id,
        "timezone": site.timezone,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "generated_at": iso(now),
        "thresholds": thresholds,
        "totals": {"windows": sum(1 for r in window_rows if r["status"] == "ended"), **totals.as_dict(), "late": late_total, "explained": explained_total},
        "windows": window_rows,
        "by_day": [{"day": d.isoformat(), **t.as_dict()} for d, t in by_day.items()],
        "by_floor": [{"building": b, "floor": f, **t.as_dict()} for (b, f), t in sorted(by_floor.items(), key=lambda kv: floor_order(kv[0]))],
        "by_kind": [{"kind": k, **t.as_dict()} for k, t in sorted(by_kind.items())],
        "by_plan": [
            {"plan_id": pid, "name_zh": plan_names[pid].name_zh, "name_en": plan_names[pid].name_en, **t.as_dict()}
            for pid, t in sorted(by_plan.items())
        ],
        "missed": missed,
        "flags": suspicious(flagged, checkpoints, thresholds),
    }


def _reasons(site_id: int, plan_ids: list[int], start: datetime, end: datetime) -> dict[tuple[int, int], list[dict]]:
    """Missed reasons of these plans given from `start` to `end`, by (plan, checkpoint), oldest first."""
    if not plan_ids:
        return {}
    # When the round ended (the moment its misses were counted); a reason given before its end, when it was given.
    at = func.coalesce(Round.ended_at, MissedReason.given_at)
    rows = db.session.execute(
        select(MissedReason.plan_id, MissedReason.checkpoint_id, MissedReason.reason, MissedReason.note, MissedReason.user_id,
               MissedReason.round_id, MissedReason.given_at, at.label("at"), User.display_name)
        .join(Round, Round.id == MissedReason.round_id)
        .join(User, User.id == MissedReason.user_id)
        .where(MissedReason.site_id == site_id, MissedReason.plan_id.in_(plan_ids), at >= start, at < end)
        .order_by(at, MissedReason.id)
    ).all()
    out: dict[tuple[int, int], list[dict]] = {}
    for r in rows:
        out.setdefault((r.plan_id, r.checkpoint_id), []).append({
            "at": r.at,
            "out": {"reason": r.reason, "note": r.note, "user_id": r.user_id, "user_name": r.display_name or "",
                    "round_id": r.round_id, "given_at": iso(r.given_at)},
        })
    return out


def floor_order(key: tuple[str, str]):
    """Sort key of a (building, floor): buildings by name; in each, the unnamed floor (lifts,
    whole-building places) first, then basements (B2, B1), then 1, 2, … 10, then other names."""
    building, floor = key
    m = re.fullmatch(r"[Bb](\d+)", floor)
    if m:
        return (building, 0, -int(m.group(1)), floor)
    if floor.isdigit():
        return (building, 1, int(floor), floor)
    return (building, 2 if floor else -1, 0, floor)


def suspicious(visits, checkpoints: dict[int, Checkpoint], thresholds: dict) -> list[dict]:
    """Scans no honest walk produces: too close together, or one label scanned again and again."""
    by_user: dict[int, list] = {}
    for v in visits:
        by_user.setdefault(v.user_id, []).append(v)
    names = dict(db.session.execute(select(User.id, User.display_name).where(User.id.in_(list(by_user)))).all()) if by_user else {}
    flags = []
    gap = thresholds["min_scan_gap_seconds"]
    repeat_n, repeat_span = thresholds["repeat_scans"], timedelta(minutes=thresholds["repeat_minutes"])
    for user_id, rows in sorted(by_user.items()):
        rows.sort(key=lambda v: (v.scanned_at, v.id))
        if gap > 0:
            for a, b in zip(rows, rows[1:]):
                seconds = (b.scanned_at - a.scanned_at).total_seconds()
                if a.checkpoint_id != b.checkpoint_id and seconds < gap:
                    flags.append(
                        {
                            "type": "too_fast",
                            "user_id": user_id,
                            "user_name": names.get(user_id, ""),
                            "at": iso(b.scanned_at),
                            "checkpoint_ids": [a.checkpoint_id, b.checkpoint_id],
                            "short_codes": [_code(checkpoints, a.checkpoint_id), _code(checkpoints, b.checkpoint_id)],
                            "visit_ids": [a.id, b.id],
                            "gap_seconds": round(seconds, 1),
                            "min_gap_seconds": gap,
                        }
                    )
        if repeat_n >= 2:
            per_checkpoint: dict[int, list] = {}
            for v in rows:
                per_checkpoint.setdefault(v.checkpoint_id, []).append(v)
            for cid, scans in sorted(per_checkpoint.items()):
                i = 0
                while i < len(scans):
                    j = i
                    while j + 1 < len(scans) and scans[j + 1].scanned_at - scans[i].scanned_at <= repeat_span:
                        j += 1
                    if j - i + 1 >= repeat_n:
                        cluster = scans[i : j + 1]
                        flags.append(
                            {
                                "type": "repeated_scan",
                                "user_id": user_id,
                                "user_name": names.get(user_id, ""),
                                "at": iso(cluster[0].scanned_at),
                                "last_at": iso(cluster[-1].scanned_at),
                                "checkpoint_ids": [cid],
                                "short_codes": [_code(checkpoints, cid)],
                                "visit_ids": [v.id for v in cluster],
                                "count": len(cluster),
                                "within_minutes": thresholds["repeat_minutes"],
                            }
                        )
                        i = j + 1
                    else:
                        i += 1
    flags.sort(key=lambda f: (f["at"], f["type"], f["user_id"]))
    return flags


def _code(checkpoints: dict[int, Checkpoint], cid: int) -> str:
    cp = checkpoints.get(cid)
    return cp.short_code if cp else ""


def month_coverage(site: Site, month: str, *, now: datetime | None = None) -> dict:
    """A month's coverage (site-local days), as the monthly archive files it.

    The same report as `coverage`, for the month's first to last day, plus "month".
    """
    first, last = months.month_days(months.parse_month(month))
    return {"month": month, **coverage(site, first, last, now=now)}


def local_today(site: Site, now: datetime | None = None) -> date:
    return to_local(now or utcnow(), site.timezone).date()
