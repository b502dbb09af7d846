"""Repeat problems: the same item at the same checkpoint failing 3 times within 30 days flags its tasks for root-cause work."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from .. import audit
from ..extensions import db
from ..models import Checkpoint, Finding, Task, utcnow
from ..timeutil import iso
from .state import tell_phones_all

REPEAT_COUNT = 3
REPEAT_WINDOW = timedelta(days=30)
# A flag's audit event names at most this many failures of its group (those nearest in time
# to the task's own), with the group's size and first and last failure: a checkpoint that
# fails daily for a year must not make every new flag copy hundreds of ids.
MAX_EVIDENCE = 10
F, T = Finding.__table__, Task.__table__


@dataclass
class RepeatPlan:
    """What `plan_repeats` found: each finding in a repeat group with its group, and the tasks
    already stored among them that are not flagged yet."""

    involved: dict = field(default_factory=dict)  # finding id → (its group's (time, id) in time order, item, its place there)
    unflagged: dict = field(default_factory=dict)  # finding id → (task id, site id, state) of its stored task, not flagged


def plan_repeats(findings: list[dict]) -> RepeatPlan:
    """The repeat groups the new findings are in: read, nothing written.

    Looks both ways in time, because a late sync can bring an older failure after a newer
    one. One query for the failures near all of them, a linear scan per checkpoint and
    item. A group is the failures joined by overlapping 30-day windows of 3 or more (as
    when the findings arrive one at a time); each flag's audit event names its group's.
    """
    new = [f for f in findings if f.get("item_id")]
    if not new:
        return RepeatPlan()
    keys = {(f["site_id"], f["checkpoint_id"], f["item_id"]) for f in new}
    new_ids = {f["id"] for f in new}
    lo = min(f["observed_at"] for f in new) - REPEAT_WINDOW
    hi = max(f["observed_at"] for f in new) + REPEAT_WINDOW
    groups: dict[tuple, list] = {}
    unflagged: dict[str, tuple] = {}  # finding id → (task id, site id, state) of its task not yet flagged
    # The failures near the push's, read along the index on (checkpoint_id, item_id,
    # observed_at): by checkpoint IN and item IN (both leading columns, so the index is
    # searched, where SQLite scans the whole table for a row-value IN), then filtered to the
    # push's own pairs here. A chunk of checkpoints per query keeps under SQLite's cap on
    # bound parameters.
    checkpoints = sorted({k[1] for k in keys})
    items = sorted({k[2] for k in keys})
    conn = db.session.connection()
    # By the driver: a Core select with two expanding INs is compiled anew for each count of
    # checkpoints and items, and its rows processed one by one; this is one of the push's
    # few reads. On SQLite the time comes back as the stored text and is parsed here
    # (datetime's own parser, many times faster than the dialect's per-row one).
    sqlite = conn.dialect.name == "sqlite"
    head = ("SELECT f.site_id, f.checkpoint_id, f.item_id, f.id, f.observed_at, t.id, t.site_id, t.state, t.repeat_flag "
            "FROM findings AS f LEFT OUTER JOIN tasks AS t ON t.finding_id = f.id WHERE ")
    if sqlite:
        # A chunk of checkpoints per query keeps under SQLite's cap on bound parameters.
        as_stored = F.c.observed_at.type._cached_bind_processor(conn.dialect)  # what Core would send for them
        lo_text, hi_text = as_stored(lo), as_stored(hi)
        reads = []
        for start in range(0, len(checkpoints), 400):
            chunk = checkpoints[start : start + 400]
            sql = (f"{head}f.checkpoint_id IN ({', '.join('?' * len(chunk))}) AND f.item_id IN ({', '.join('?' * len(items))}) "
                   "AND f.observed_at >= ? AND f.observed_at <= ?")
            reads.append(conn.exec_driver_sql(sql, (*chunk, *items, lo_text, hi_text)).fetchall())
    else:
        sql = f"{head}f.checkpoint_id = ANY(%s) AND f.item_id = ANY(%s) AND f.observed_at >= %s AND f.observed_at <= %s"
        reads = [conn.exec_driver_sql(sql, (checkpoints, items, lo, hi)).fetchall()]
    for rows in reads:
        for site_id, checkpoint_id, item_id, fid, at, task_id, task_site, state, flag in rows:
            if (site_id, checkpoint_id, item_id) in keys:
                groups.setdefault((site_id, checkpoint_id, item_id), []).append((datetime.fromisoformat(at) if sqlite else at, fid))
                if task_id is not None and not flag:
                    unflagged[fid] = (task_id, task_site, state)
    involved: dict[str, tuple[list, str, int]] = {}  # finding id → (its repeat group's (time, id) in time order, item, its place there)
    for key, rows in groups.items():
        rows.sort()
        n = len(rows)
        # new_before[k]: how many of rows[:k] are new; windows start at each row and span 30 days.
        new_before = [0] * (n + 1)
        for k, (_, fid) in enumerate(rows):
            new_before[k + 1] = new_before[k] + (fid in new_ids)
        starts, ends = [0] * (n + 1), [0] * (n + 1)  # qualifying windows [i, j) starting / ending here
        j = 0
        for i in range(n):
            j = max(j, i)
            while j < n and rows[j][0] - rows[i][0] <= REPEAT_WINDOW:
                j += 1
            if j - i >= REPEAT_COUNT and new_before[j] - new_before[i] > 0:
                starts[i] += 1
                ends[j] += 1
        # A repeat group is a run of rows joined by overlapping windows: a late sync can bring
        # two runs weeks apart in one push, and each task names only the failures of its own.
        runs, run, active = [], [], 0
        for k in range(n):
            active -= ends[k]
            if active == 0 and run:  # no window spans rows k-1 and k
                runs.append(run)
                run = []
            active += starts[k]
            if active > 0:
                run.append(rows[k])
        if run:
            runs.append(run)
        for members in runs:
            for place, (_at, fid) in enumerate(members):
                involved[fid] = (members, key[2], place)
    return RepeatPlan(involved, unflagged)


def apply_repeats(plan: RepeatPlan, opened_flagged: dict[str, tuple[int, int]] | None = None) -> list[int]:
    """Flag the stored tasks of the plan's groups, and audit each flag, with those of the tasks
    just opened already flagged (`opened_flagged`: finding id → (task id, site id), told to
    phones when opened). Returns the task ids flagged, in order."""
    involved, unflagged = plan.involved, plan.unflagged
    stored = sorted((task_id, site_id, fid, state) for fid in involved if fid in unflagged for task_id, site_id, state in [unflagged[fid]])
    opened = [(task_id, site_id, fid, None) for fid, (task_id, site_id) in (opened_flagged or {}).items()]
    flagged = sorted(stored + opened)
    if not flagged:
        return []
    stored_ids = [t[0] for t in stored]
    if stored_ids:
        now = utcnow()
        for start in range(0, len(stored_ids), 500):
            db.session.execute(update(Task.__table__).where(Task.__table__.c.id.in_(stored_ids[start : start + 500])).values(repeat_flag=True, updated_at=now))
        flagged_ids = set(stored_ids)
        for obj in list(db.session.identity_map.values()):  # a Task loaded by the caller reads the flag afresh
            if isinstance(obj, Task) and obj.id in flagged_ids:
                db.session.expire(obj, ["repeat_flag", "updated_at"])
    audit.record_many(
        ("task", task_id, "repeat_flagged", None, site_id, evidence(members, finding_id, item_id, place))
        for task_id, site_id, finding_id, _state in flagged
        for members, item_id, place in [involved[finding_id]]
    )
    tell_phones_all((task_id, site_id, state) for task_id, site_id, _fid, state in stored)
    return [t[0] for t in flagged]


def evidence(members: list, finding_id: str, item_id: str, at: int | None = None) -> dict:
    """What a flag's audit event keeps of its repeat group: bounded, and enough for an auditor.

    The group's size, its first and last failure, and the ids of at most MAX_EVIDENCE
    failures nearest in time to this task's own (all of them in a group that small).
    """
    if at is None:
        at = [fid for _t, fid in members].index(finding_id)
    start = max(0, min(at - MAX_EVIDENCE // 2, len(members) - MAX_EVIDENCE))
    near = members[start : start + MAX_EVIDENCE]
    return {
        "item_id": item_id,
        "group_size": len(members),
        "first": {"finding_id": members[0][1], "observed_at": iso(members[0][0])},
        "last": {"finding_id": members[-1][1], "observed_at": iso(members[-1][0])},
        "finding_ids": sorted(fid for _t, fid in near),
    }


def repeat_groups(site_ids: list[int], now: datetime | None = None) -> list[dict]:
    """Item-and-checkpoint pairs with 3+ failures in the last 30 days, with the checkpoint's name, for root-cause work."""
    since = (now or utcnow()) - REPEAT_WINDOW
    rows = db.session.execute(
        select(Finding.site_id, Finding.checkpoint_id, Finding.item_id, func.count(), func.max(Finding.observed_at))
        .where(Finding.site_id.in_(site_ids), Finding.item_id.is_not(None), Finding.observed_at >= since)
        .group_by(Finding.site_id, Finding.checkpoint_id, Finding.item_id)
        .having(func.count() >= REPEAT_COUNT)
        .order_by(func.count().desc(), Finding.checkpoint_id)
    ).all()
    names = dict(db.session.execute(select(Checkpoint.id, Checkpoint.name_zh).where(Checkpoint.id.in_({r[1] for r in rows}))).all()) if rows else {}
    out = []
    for site_id, checkpoint_id, item_id, count, last in rows:
        task_ids = db.session.execute(
            select(Task.id).join(Finding, Finding.id == Task.finding_id).where(Finding.checkpoint_id == checkpoint_id, Finding.item_id == item_id, Finding.observed_at >= since).order_by(Task.id)
        ).scalars().all()
        out.append({
            "site_id": site_id, "checkpoint_id": checkpoint_id, "checkpoint_name": names.get(checkpoint_id, ""), "item_id": item_id,
            "failures": count, "last_observed_at": last, "task_ids": task_ids,
        })
    return out
