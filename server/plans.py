"""Patrol plans: who patrols which checkpoints, in which time windows, with what focus.

A schedule is {"days": [0-6, Monday = 0], "windows": [["HH:MM", "HH:MM"], ...]} in the
site's timezone. A window whose end is not after its start crosses midnight and belongs
to the day it starts on (["22:00", "02:00"] on Monday runs into Tuesday morning). Weekly
patrols (vacant units) are simply one day: {"days": [0], "windows": [["09:00", "12:00"]]}.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select

from . import audit
from .changes import record_change
from .extensions import db
from .models import Checkpoint, Membership, PatrolPlan, User
from .problems import FieldMessage, Invalid
from .timeutil import iso

TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MAX_WINDOWS = 12
MAX_CHECKPOINTS = 2000
WEEK = 7 * 1440


def _invalid(field: str, messages: list[FieldMessage]) -> Invalid:
    """Every problem of one field, each message with its code (err_<code> says it to the reader)."""
    return Invalid(f"The plan's {field} is not valid: " + "; ".join(messages), None, {"fields": {field: messages}})


def _minutes(value: str) -> int:
    m = TIME_RE.match(value)
    return int(m.group(1)) * 60 + int(m.group(2))


def validate_schedule(schedule) -> dict:
    """Check a schedule strictly and return it normalised (days sorted); 422 naming every problem."""
    problems: list[FieldMessage] = []
    if not isinstance(schedule, dict):
        raise _invalid("schedule", [FieldMessage('must be an object like {"days": [0, 1, 2, 3, 4], "windows": [["09:00", "11:00"]]}',
                                      "field_invalid", type="object")])
    unknown = sorted(set(schedule) - {"days", "windows"})
    if unknown:
        problems.append(FieldMessage(f"unknown key(s) {', '.join(unknown)}; a schedule has only days and windows", "field_unknown"))
    days = schedule.get("days")
    if not isinstance(days, list) or not days:
        problems.append(FieldMessage("days: give a list of weekdays, 0 = Monday … 6 = Sunday, e.g. [0, 1, 2, 3, 4]", "field_weekdays_required"))
        days = []
    else:
        for d in days:
            if isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 6:
                problems.append(FieldMessage(f"days: {d!r} is not a weekday number from 0 (Monday) to 6 (Sunday)", "field_weekday"))
        if len(set(d for d in days if isinstance(d, int))) != len(days):
            problems.append(FieldMessage("days: a weekday is listed twice", "field_duplicate"))
    windows = schedule.get("windows")
    parsed: list[tuple[int, int, str]] = []
    if not isinstance(windows, list) or not windows:
        problems.append(FieldMessage('windows: give a list of time windows, e.g. [["09:00", "11:00"], ["15:00", "17:00"]]', "field_windows_required"))
        windows = []
    elif len(windows) > MAX_WINDOWS:
        problems.append(FieldMessage(f"windows: at most {MAX_WINDOWS} windows a day", "field_too_many", max=MAX_WINDOWS))
    for i, w in enumerate(windows):
        if not (isinstance(w, list) and len(w) == 2 and all(isinstance(t, str) for t in w)):
            problems.append(FieldMessage(f'windows[{i}]: must be a pair of times ["HH:MM", "HH:MM"]', "field_window_pair"))
            continue
        bad = [t for t in w if not TIME_RE.match(t)]
        if bad:
            problems.append(FieldMessage(f"windows[{i}]: {', '.join(repr(t) for t in bad)} is not a 24-hour time HH:MM (00:00-23:59)", "field_time"))
            continue
        start, end = _minutes(w[0]), _minutes(w[1])
        if start == end:
            problems.append(FieldMessage(f"windows[{i}]: starts and ends at {w[0]}; a window needs some length", "field_window_empty", first=w[0]))
            continue
        length = (end - start) % 1440
        parsed.append((start, length, f"{w[0]}-{w[1]}"))
    if not problems:
        problems.extend(_overlaps(sorted(set(days)), parsed))
    if problems:
        raise _invalid("schedule", problems)
    return {"days": sorted(days), "windows": [list(w) for w in windows]}


def _overlaps(days: list[int], windows: list[tuple[int, int, str]]) -> list[FieldMessage]:
    """Windows may not overlap, also across midnight into the next scheduled day."""
    spans = [((d * 1440 + start) % WEEK, length, label, d) for d in days for start, length, label in windows]
    found = []
    for i, (a_start, a_len, a_label, a_day) in enumerate(spans):
        for b_start, b_len, b_label, b_day in spans[i + 1 :]:
            # Circular overlap on a week of minutes.
            if (b_start - a_start) % WEEK < a_len or (a_start - b_start) % WEEK < b_len:
                first, second = ((a_label, a_day), (b_label, b_day))
                if (b_start - a_start) % WEEK >= a_len:  # b starts first and runs into a
                    first, second = second, first
                message = (
                    FieldMessage(f"windows {first[0]} and {second[0]} overlap", "field_windows_overlap", first=first[0], second=second[0])
                    if a_day == b_day
                    else FieldMessage(f"window {first[0]} on {DAY_NAMES[first[1]]} overlaps {second[0]} on {DAY_NAMES[second[1]]}",
                           "field_windows_overlap_next_day", first=first[0], second=second[0])
                )
                if message not in found:
                    found.append(message)
    return found


def _check_checkpoints(site_id: int, ids) -> list[int]:
    if not isinstance(ids, list) or not ids:
        raise _invalid("checkpoint_ids", [FieldMessage("give the ids of the checkpoints this plan covers", "field_checkpoints_required")])
    if len(ids) > MAX_CHECKPOINTS:
        raise _invalid("checkpoint_ids", [FieldMessage(f"at most {MAX_CHECKPOINTS} checkpoints", "field_too_many", max=MAX_CHECKPOINTS)])
    if len(set(ids)) != len(ids):
        raise _invalid("checkpoint_ids", [FieldMessage("a checkpoint is listed twice", "field_duplicate")])
    rows = dict(db.session.execute(select(Checkpoint.id, Checkpoint.active).where(Checkpoint.site_id == site_id, Checkpoint.id.in_(ids))).all())
    unknown = [i for i in ids if i not in rows]
    if unknown:
        raise _invalid("checkpoint_ids", [FieldMessage(f"not at this site: {', '.join(map(str, unknown))}", "field_not_at_site_ids",
                                            ids=", ".join(map(str, unknown)))])
    inactive = [i for i in ids if not rows[i]]
    if inactive:
        raise _invalid("checkpoint_ids", [FieldMessage(f"deactivated checkpoint(s): {', '.join(map(str, inactive))}", "field_deactivated_ids",
                                            ids=", ".join(map(str, inactive)))])
    return list(ids)


def _check_assignee(site_id: int, user_id) -> int | None:
    if user_id is None:
        return None
    works_here = db.session.execute(
        select(Membership.id).join(User, User.id == Membership.user_id).where(Membership.site_id == site_id, Membership.user_id == user_id, User.active.is_(True))
    ).first()
    if not works_here:
        raise _invalid("assignee_id", [FieldMessage(f"user {user_id} does not work at this site", "field_not_staff_here")])
    return user_id


def _clean(site_id: int, fields: dict) -> dict:
    out = dict(fields)
    if "schedule" in out:
        out["schedule"] = validate_schedule(out["schedule"])
    if "checkpoint_ids" in out:
        out["checkpoint_ids"] = _check_checkpoints(site_id, out["checkpoint_ids"])
    if "assignee_id" in out:
        out["assignee_id"] = _check_assignee(site_id, out["assignee_id"])
    return out


def create_plan(site_id: int, *, actor_id: int | None, **fields) -> PatrolPlan:
    """Create a plan after checking its schedule, checkpoints and assignee; phones pull it."""
    fields = _clean(site_id, fields)
    for required in ("name_zh", "schedule", "checkpoint_ids"):
        if required not in fields:
            raise _invalid(required, [FieldMessage("required", "field_required")])
    plan = PatrolPlan(site_id=site_id, **fields)
    db.session.add(plan)
    db.session.flush()
    _changed(plan, "created", actor_id)
    return plan


def update_plan(plan: PatrolPlan, *, actor_id: int | None, **fields) -> PatrolPlan:
    fields = _clean(plan.site_id, fields)
    for key, value in fields.items():
        setattr(plan, key, value)
    db.session.flush()
    _changed(plan, "updated", actor_id, sorted(fields))
    return plan


def delete_plan(plan: PatrolPlan, *, actor_id: int | None) -> None:
    plan_id, site_id = plan.id, plan.site_id
    db.session.delete(plan)
    db.session.flush()
    record_change("plan", plan_id, site_id=site_id, op="delete")
    audit.record("plan", plan_id, "deleted", actor_id=actor_id, site_id=site_id)


def _changed(plan: PatrolPlan, action: str, actor_id: int | None, fields: list[str] | None = None) -> None:
    record_change("plan", plan.id, site_id=plan.site_id)
    data = {"fields": fields} if fields is not None else {"schedule": plan.schedule, "checkpoint_ids": plan.checkpoint_ids}
    audit.record("plan", plan.id, action, actor_id=actor_id, site_id=plan.site_id, data=data)


def plan_payload(plan: PatrolPlan, assignee_name: str | None = None) -> dict:
    """What a phone keeps offline for a plan (the sync pull's `data` for entity "plan")."""
    assignee = db.session.get(User, plan.assignee_id) if plan.assignee_id and assignee_name is None else None
    return {
        "id": plan.id,
        "site_id": plan.site_id,
        "name_zh": plan.name_zh,
        "name_en": plan.name_en,
        "assignee_id": plan.assignee_id,
        "assignee_name": assignee_name or ((assignee.display_name or assignee.username) if assignee else None),
        "schedule": plan.schedule,
        "focus_zh": plan.focus_zh,
        "focus_en": plan.focus_en,
        "checkpoint_ids": list(plan.checkpoint_ids or []),
        "active": plan.active,
        "updated_at": iso(plan.updated_at),
    }


# --- windows in time ------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """One scheduled round window: the local day it belongs to, and its span in naive UTC."""

    plan_id: int
    day: date
    label: str  # "22:00-02:00", in the site's time
    start: datetime
    end: datetime


def local_to_utc(day: date, hhmm: str, tz: ZoneInfo) -> datetime:
    """A site-local wall-clock time as naive UTC.

    A time that does not exist (skipped by a daylight-saving change) is read with the
    offset before the change, so it lands just after the gap; an ambiguous one takes
    the first occurrence.
    """
    h, m = (int(x) for x in hhmm.split(":"))
    local = datetime.combine(day, time(h, m), tzinfo=tz)
    return local.astimezone(timezone.utc).replace(tzinfo=None)


def windows(plan: PatrolPlan, tz_name: str, first: date, last: date) -> list[Window]:
    """Every window of a plan starting on a local day from `first` to `last` inclusive."""
    tz = ZoneInfo(tz_name)
    days = set(plan.schedule.get("days", []))
    out = []
    day = first
    while day <= last:
        if day.weekday() in days:
            for start, end in plan.schedule.get("windows", []):
                end_day = day + timedelta(days=1) if _minutes(end) <= _minutes(start) else day
                out.append(Window(plan.id, day, f"{start}-{end}", local_to_utc(day, start, tz), local_to_utc(end_day, end, tz)))
        day += timedelta(days=1)
    return out


def plan_payloads(rows: list[PatrolPlan]) -> dict[int, dict]:
    """plan_payload for many plans at once, with one query for the assignees' names."""
    ids = {p.assignee_id for p in rows if p.assignee_id}
    names = dict(db.session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all()) if ids else {}
    out = {}
    for p in rows:
        payload = plan_payload(p, assignee_name=names.get(p.assignee_id))
        out[p.id] = payload
    return out
