"""Pull: a page of the change log for a user's sites with each entity's current data, cursor resets, and tombstone pruning.

Nothing here commits. A pull may first need checklist versions made (`ensure_checklists`);
their changes are numbered only at commit (server/deferred.py), so the pull view commits
them before it reads the page that must carry them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, and_, bindparam, cast, delete, func, insert, or_, select, update

from .. import choices
from ..changes import current_cursor
from ..checklists import current_version
from ..db_sqlite import start_writing
from ..extensions import db
from ..models import Change, ChecklistVersion, Checkpoint, Counter, Department, Extension, Finding, Membership, PatrolPlan, Photo, Site, Task, User, utcnow
from ..plans import plan_payloads
from ..problems import Gone
from ..timeutil import iso
from .context import built, ids_in

# Below this cursor the change log was pruned (tombstones dropped): such a phone starts again.
HORIZON = "change_horizon"


def _reset(message: str) -> Gone:
    return Gone(message + " Pull again from cursor 0; keep your unsent records.", "cursor_reset")


def check_cursor(cursor: int) -> None:
    """Refuse (410 cursor_reset) a cursor the server cannot continue from; the phone starts again from 0."""
    if cursor > current_cursor():
        raise _reset("This cursor is ahead of the server (its data was restored from a backup).")
    horizon = db.session.execute(select(Counter.value).where(Counter.name == HORIZON)).scalar() or 0
    if 0 < cursor < horizon:
        raise _reset("This cursor is older than the oldest change the server still keeps.")


def _site_ids(user: User) -> list[int]:
    return list(db.session.execute(select(Membership.site_id).where(Membership.user_id == user.id).distinct()).scalars())


def ensure_checklists(user: User) -> bool:
    """A phone needs a checklist version for every kind at each of its sites: make the missing ones.

    True when it made any; the caller commits them before pulling, so that their changes
    are numbered and in the page.
    """
    sites = _site_ids(user)
    if not sites:
        return False
    have = set(db.session.execute(select(ChecklistVersion.site_id, ChecklistVersion.kind).where(ChecklistVersion.site_id.in_(sites))).all())
    missing = [(s, k) for s in sites for k in choices.CHECKPOINT_KINDS if (s, k) not in have]
    if missing and start_writing(db.session):
        return ensure_checklists(user)  # looked at again under the write lock
    for s, k in missing:
        current_version(s, k)
    return bool(missing)


# What a page reads of each change row, as plain rows: a page of 500 changes loaded as ORM
# objects spent more time populating them than reading them (a pull at shift change).
_CHANGE = (Change.cursor, Change.entity, Change.entity_id, Change.op, Change.site_id)


def pull(user: User, cursor: int, limit: int) -> dict:
    """One page of the change log for this user's sites, with each entity's current data."""
    check_cursor(cursor)
    sites = _site_ids(user)
    rows = db.session.execute(
        select(*_CHANGE)
        .where(
            Change.cursor > cursor,
            or_(and_(Change.site_id.in_(sites), Change.user_id.is_(None)), Change.user_id == user.id),
        )
        .order_by(Change.cursor)
        .limit(limit + 1)
    ).all()
    has_more = len(rows) > limit
    rows = rows[:limit]
    changes = _materialise(rows, set(sites))
    if cursor > 0:
        changes = _with_granted_sites(changes, rows, cursor, set(sites))
    return {
        "changes": changes,
        "cursor": rows[-1].cursor if rows else cursor,
        "has_more": has_more,
        "server_time": utcnow(),
    }


def _with_granted_sites(changes: list[dict], rows: list, cursor: int, sites: set[int]) -> list[dict]:
    """A site given to the user after `cursor` arrives whole (WatermelonDB 1264).

    Its entities changed at or before `cursor` were not this user's then, so the phone
    never saw them: they are sent right after the grant, under the grant's cursor. This
    needs no reset, so a phone paging from zero while access changes never loops; a phone
    that already had them just receives the same upserts again.
    """
    grants = {ch.cursor: ch.site_id for ch in rows if ch.entity == "access" and ch.op == "grant" and ch.site_id in sites}
    if not grants:
        return changes
    out = []
    for change in changes:
        out.append(change)
        site_id = grants.pop(change["cursor"], None) if change["entity"] == "site" else None
        if site_id is None:
            continue
        missed = db.session.execute(
            select(*_CHANGE)
            .where(Change.site_id == site_id, Change.user_id.is_(None), Change.cursor <= cursor)
            .order_by(Change.cursor)
        ).all()
        for entry in _materialise(missed, sites):
            if entry["op"] == "upsert":
                out.append({**entry, "cursor": change["cursor"]})
    return out


def _materialise(rows: list, sites: set[int]) -> list[dict]:
    """Load every entity of the page in bulk and turn each change into upsert or delete."""
    ids: dict[str, set] = {}
    for ch in rows:
        if ch.entity == "access":
            ids.setdefault("site", set()).add(ch.site_id)
        else:
            ids.setdefault(ch.entity, set()).add(ch.entity_id)
    data: dict[str, dict] = {name: LOADERS[name](keys) for name, keys in ids.items() if name in LOADERS}
    out = []
    for cursor, entity, entity_id, op, site_id in rows:  # the columns of _CHANGE
        if entity == "access":
            if op == "revoke" or site_id not in sites:
                out.append({"cursor": cursor, "entity": "site", "id": str(site_id), "op": "delete"})
            elif site_id in data.get("site", {}):
                out.append({"cursor": cursor, "entity": "site", "id": str(site_id), "op": "upsert", "data": data["site"][site_id]})
            continue
        loaded = data.get(entity)
        if loaded is None:
            continue  # not kept offline; the cursor still moves past it
        current = loaded.get(entity_id if entity == "checklist" else _int_or(entity_id))
        if op == "delete" or current is None or current.get("closed"):
            gone = {"cursor": cursor, "entity": entity, "id": entity_id, "op": "delete"}
            if current is not None and current.get("closed"):
                # A closed task leaves the phone, saying how it ended (a screen showing it says so).
                gone["data"] = {"id": current["id"], "state": current["state"]}
            out.append(gone)
        else:
            out.append({"cursor": cursor, "entity": entity, "id": entity_id, "op": "upsert", "data": current})
    return out


def _int_or(value: str):
    try:
        return int(value)
    except ValueError:
        return value


def _ints(keys) -> list[int]:
    return [k for k in (_int_or(str(x)) for x in keys) if isinstance(k, int)]


def load_sites(keys) -> dict:
    rows = db.session.execute(select(Site).where(Site.id.in_(_ints(keys)))).scalars()
    return {
        s.id: {"id": s.id, "code": s.code, "name_zh": s.name_zh, "name_en": s.name_en, "timezone": s.timezone,
               "task_due_days": s.task_due_days, "min_scan_gap_seconds": s.min_scan_gap_seconds}
        for s in rows
    }


def load_departments(keys) -> dict:
    rows = db.session.execute(select(Department).where(Department.id.in_(_ints(keys)), Department.active)).scalars()
    return {d.id: {"id": d.id, "site_id": d.site_id, "code": d.code, "name_zh": d.name_zh, "name_en": d.name_en} for d in rows}


def load_checkpoints(keys) -> dict:
    """Active checkpoints; a deactivated one becomes a delete tombstone."""
    rows = db.session.execute(select(Checkpoint).where(Checkpoint.id.in_(_ints(keys)), Checkpoint.active)).scalars()
    return {
        c.id: {"id": c.id, "site_id": c.site_id, "kind": c.kind, "name_zh": c.name_zh, "name_en": c.name_en,
               "building": c.building, "floor": c.floor, "unit": c.unit, "short_code": c.short_code, "token": c.token,
               "position": c.position}
        for c in rows
    }


def load_checklists(keys) -> dict:
    """The newest version of each (site, kind), keyed "<site_id>:<kind>"."""
    wanted = set()
    for key in keys:
        site, _, kind = str(key).partition(":")
        if site.isdigit():
            wanted.add((int(site), kind))
    if not wanted:
        return {}
    newest = (
        select(ChecklistVersion.site_id, ChecklistVersion.kind, func.max(ChecklistVersion.version).label("v"))
        .where(ChecklistVersion.site_id.in_({s for s, _ in wanted}))
        .group_by(ChecklistVersion.site_id, ChecklistVersion.kind)
        .subquery()
    )
    rows = db.session.execute(
        select(ChecklistVersion).join(
            newest,
            and_(ChecklistVersion.site_id == newest.c.site_id, ChecklistVersion.kind == newest.c.kind, ChecklistVersion.version == newest.c.v),
        )
    ).scalars()
    return {
        f"{v.site_id}:{v.kind}": {"id": v.id, "site_id": v.site_id, "kind": v.kind, "version": v.version, "content_hash": v.content_hash, "body": v.body}
        for v in rows
        if (v.site_id, v.kind) in wanted
    }


def load_plans(keys) -> dict:
    """Active plans as the phone keeps them (plans.plan_payloads is the one shape)."""
    rows = db.session.execute(select(PatrolPlan).where(PatrolPlan.id.in_(_ints(keys)), PatrolPlan.active)).scalars().all()
    return plan_payloads(rows)


# Built once per kind of database, with the ids as one parameter (an array on PostgreSQL, an
# expanding list elsewhere): a page of 500 tasks named each id as a literal that SQLAlchemy
# coerced one by one, twice a pull (open and closed tasks), and every phone pulls the same
# tasks at a shift change; on PostgreSQL an expanding list was still 400 placeholders
# written into the statement's text and split by psycopg on every pull. A task always has
# its finding.
def _tasks_statement(postgresql: bool):
    return (
        select(
            Task.id, Task.site_id, Task.checkpoint_id, Task.state, Task.due_at, Task.assignee_id, User.display_name,
            Task.severity, Task.route, Task.department_id, Finding.id.label("finding_id"), Finding.item_id, Finding.category,
            Finding.description, Finding.observed_at, Finding.reported_by,
        )
        .join(Finding, Finding.id == Task.finding_id)
        .outerjoin(User, User.id == Task.assignee_id)
        .where(ids_in(Task.id, "ids", postgresql))
    )


def _finding_photos_statement(postgresql: bool):
    return (
        select(Photo.id, Photo.finding_id)
        .where(ids_in(Photo.finding_id, "finding_ids", postgresql), Photo.status == choices.PHOTO_RECEIVED,
               ~Photo.content_type.like("audio/%"))
        .order_by(Photo.created_at)
    )


# Every extension request of the tasks, oldest first: the phone shows the newest (a task has a
# handful at most).
def _extensions_statement(postgresql: bool):
    return (
        select(Extension.id, Extension.task_id, Extension.state, Extension.requested_due_at, Extension.previous_due_at,
               Extension.reason, Extension.requested_by, Extension.decided_at, Extension.decision_note)
        .where(ids_in(Extension.task_id, "task_ids", postgresql))
        .order_by(Extension.id)
    )


def _latest_extensions(task_ids: list[int]) -> dict[int, dict]:
    """The newest extension request of each task that has one, as the phone's task screen shows it."""
    out = {}
    for ext_id, task_id, state, due, previous, reason, by, decided_at, note in db.session.execute(
            built("pull.extensions", _extensions_statement), {"task_ids": task_ids}):
        out[task_id] = {
            "id": ext_id, "state": state, "requested_due_at": iso(due), "previous_due_at": iso(previous), "reason": reason,
            "requested_by": by, "decided_at": iso(decided_at), "decision_note": note,
        }
    return out


def load_tasks(keys) -> dict:
    """Open tasks with what the phone shows; a closed task becomes a delete tombstone carrying its final state."""
    ids = _ints(keys)
    if not ids:
        return {}
    closed = choices.TASK_CLOSED_STATES
    rows = db.session.execute(built("pull.tasks", _tasks_statement), {"ids": ids}).all()
    finding_ids = [r.finding_id for r in rows if r.state not in closed]
    photos: dict[str, list] = {}
    if finding_ids:
        for pid, fid in db.session.execute(built("pull.finding_photos", _finding_photos_statement), {"finding_ids": finding_ids}):
            photos.setdefault(fid, []).append(pid)
    open_ids = [r.id for r in rows if r.state not in closed]
    extensions = _latest_extensions(open_ids) if open_ids else {}
    out = {}
    # Unpacked: a pull at shift change builds hundreds of these, and a Row's attributes are
    # looked up by name.
    for (tid, site_id, checkpoint_id, state, due_at, assignee_id, assignee_name, severity, route, department_id,
         finding_id, item_id, category, description, observed_at, reported_by) in rows:
        if state in closed:
            out[tid] = {"id": tid, "state": state, "closed": True}
            continue
        out[tid] = {
            "id": tid, "site_id": site_id, "checkpoint_id": checkpoint_id, "state": state,
            "due_at": iso(due_at), "assignee_id": assignee_id, "assignee_name": assignee_name,
            "severity": severity, "route": route, "department_id": department_id,
            "finding": {
                "id": finding_id, "item_id": item_id, "category": category, "description": description,
                "observed_at": iso(observed_at), "reported_by": reported_by,
            },
            "photos": photos.get(finding_id, []),
        }
        if tid in extensions:
            out[tid]["extension"] = extensions[tid]
    return out


LOADERS = {
    "site": load_sites,
    "department": load_departments,
    "checkpoint": load_checkpoints,
    "checklist": load_checklists,
    "plan": load_plans,
    "task": load_tasks,
}


def prune_tombstones(before: datetime) -> int:
    """Drop change rows that only say "gone" (deletes, revokes, closed tasks) older than `before`.

    Phones whose cursor is below the newest dropped row may have missed a deletion, so
    the horizon moves up to it and they are told to start again (410 cursor_reset).
    """
    closed = select(cast(Task.id, String)).where(Task.state.in_(choices.TASK_CLOSED_STATES))
    gone = or_(
        Change.op.in_(("delete", "revoke")),
        and_(Change.entity == "task", Change.entity_id.in_(closed)),
    )
    newest = db.session.execute(select(func.max(Change.cursor)).where(gone, Change.at < before)).scalar()
    if newest is None:
        return 0
    count = db.session.execute(delete(Change).where(gone, Change.at < before, Change.cursor <= newest)).rowcount
    current = db.session.execute(select(Counter.value).where(Counter.name == HORIZON)).scalar()
    if current is None:
        db.session.execute(insert(Counter).values(name=HORIZON, value=newest))
    elif newest > current:
        db.session.execute(update(Counter).where(Counter.name == HORIZON).values(value=newest))
    return count
