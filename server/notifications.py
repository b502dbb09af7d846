"""Notifications: the in-app feed, and escalating a major finding at once (overdue tasks: tasks/escalation.py).

Every notification carries a dedupe key, unique per user (`notifications` has a unique
constraint on (user_id, dedupe_key)), so replaying a sync push or running the daily
escalation twice sends nothing twice. Webhook deliveries are queued with the same key.
"""

from __future__ import annotations

import json

from sqlalchemy import bindparam, func, select, update

from . import choices, policy, webhooks
from .extensions import db, insert_tuples
from .models import Checkpoint, Extension, Finding, Membership, Notification, Site, Task, User, utcnow
from .timeutil import local_minute


def site_recipients(site_id: int, action: str = "notice.receive_major") -> list[int]:
    """Active users whose role at the site the policy gives `action` (by default: told of major problems)."""
    return Recipients()(site_id, action)


class Recipients:
    """`site_recipients` for several actions and sites, each site's active members read once:
    a sync push asks for majors' and new tasks' recipients, one query instead of two."""

    def __init__(self):
        self._members: dict[int, list[tuple[int, str]]] = {}

    def __call__(self, site_id: int, action: str = "notice.receive_major") -> list[int]:
        if site_id not in self._members:
            self._members[site_id] = [tuple(r) for r in db.session.execute(_MEMBERS, {"site_id": site_id})]
        roles = policy.roles_for(action)
        return sorted({user_id for user_id, role in self._members[site_id] if role in roles})


# Built once (every push with a finding asks): a statement object keeps its cache key.
_MEMBERS = (
    select(Membership.user_id, Membership.role)
    .join(User, User.id == Membership.user_id)
    .where(Membership.site_id == bindparam("site_id"), User.active.is_(True))
)


def notify(user_ids, *, site_id: int, kind: str, dedupe_key: str, task_id: int | None = None, data: dict | None = None) -> int:
    """Put a notification in each user's feed once per dedupe key; returns how many were new."""
    return add_notices([
        {"user_id": user_id, "site_id": site_id, "kind": kind, "task_id": task_id, "data": data or {}, "dedupe_key": dedupe_key}
        for user_id in sorted(set(user_ids))
    ])


def add_notices(rows: list[dict]) -> int:
    """Notification rows ({user_id, site_id, kind, task_id, data, dedupe_key}), each once per
    (user, dedupe key): one INSERT … ON CONFLICT DO NOTHING for all of them, so a replay or a
    concurrent writer that got there first costs nothing and a push of many notices is one
    statement. Returns how many were new."""
    if not rows:
        return 0
    now = utcnow()
    # Tuples through the driver's executemany (pipelined on PostgreSQL): a multi-row
    # INSERT … RETURNING of a push's notices was a statement of tens of kilobytes.
    return insert_tuples(
        Notification.__table__, NOTICE_COLUMNS,
        [(row["user_id"], row["site_id"], row["kind"], row["task_id"], json.dumps(row["data"]), row["dedupe_key"], now) for row in rows],
        json_text=("data",), skip_conflicts_on=("user_id", "dedupe_key"),
    )


NOTICE_COLUMNS = ("user_id", "site_id", "kind", "task_id", "data", "dedupe_key", "created_at")


def event_summary(task: Task | None, finding: Finding, site: Site) -> dict:
    """What a major or overdue notice says, in names and site-local times (the webhooks send the same)."""
    cp = db.session.get(Checkpoint, finding.checkpoint_id)
    return summary(site, _finding_values(finding), (cp.name_zh, cp.name_en) if cp else NO_NAMES, _task_values(task))


def _finding_values(finding: Finding) -> dict:
    return {k: getattr(finding, k) for k in ("id", "checkpoint_id", "category", "severity", "description", "observed_at")}


def _task_values(task: Task | None) -> dict | None:
    return {k: getattr(task, k) for k in ("id", "state", "due_at")} if task is not None else None


# A checkpoint's (Chinese, English) names, when it cannot be found.
NO_NAMES = ("", "")


def summary(site: Site, finding: dict, checkpoint_names: tuple[str, str], task: dict | None) -> dict:
    """`event_summary` from a finding's and a task's columns (rows a push has just written, or ORM objects' values).

    A notice keeps what it says, so it keeps the place's names in both languages: `site_name` and
    `checkpoint_name` are the Chinese ones (as webhooks have always had them), `*_name_en` the
    English ones (empty where none was given; notices sent before December 2026 lack them)."""
    out = {
        "site_id": site.id,
        "site_code": site.code,
        "site_name": site.name_zh,
        "site_name_en": site.name_en or "",
        "finding_id": finding["id"],
        "checkpoint_id": finding["checkpoint_id"],
        "checkpoint_name": checkpoint_names[0],
        "checkpoint_name_en": checkpoint_names[1] or "",
        "category": finding["category"],
        "severity": finding["severity"],
        "description": finding["description"],
        "observed_at_local": local_minute(finding["observed_at"], site.timezone),
    }
    if task is not None:
        out.update(
            task_id=task["id"],
            state=task["state"],
            due_at_local=local_minute(task["due_at"], site.timezone),
        )
    return out


def escalate_major(finding: Finding, task: Task | None, site: Site) -> int:
    """A major finding goes at once to each supervisor and manager of its site, and to its webhooks."""
    cp = db.session.get(Checkpoint, finding.checkpoint_id)
    return escalate_majors([(_finding_values(finding), _task_values(task), site)], {cp.id: (cp.name_zh, cp.name_en)} if cp else {})


def major_notices(majors: list[tuple[dict, dict | None, Site]], checkpoint_names: dict[int, tuple[str, str]] | None = None,
                  people: Recipients | None = None) -> tuple[list[dict], list[tuple]]:
    """The notices and webhook events of major findings (finding row, its task row or None, site):
    each to every supervisor and manager of its site. Recipients are looked up once per site and
    checkpoint names (Chinese, English) in one query; nothing is written here."""
    if not majors:
        return [], []
    if checkpoint_names is None:
        ids = {f["checkpoint_id"] for f, _t, _s in majors}
        checkpoint_names = {cp_id: (zh, en) for cp_id, zh, en in
                            db.session.execute(select(Checkpoint.id, Checkpoint.name_zh, Checkpoint.name_en).where(Checkpoint.id.in_(ids)))}
    people = people or Recipients()
    recipients: dict[int, list[int]] = {}
    notices, events = [], []
    for finding, task, site in majors:
        if site.id not in recipients:
            recipients[site.id] = people(site.id)
        key = f"major:{finding['id']}"
        data = summary(site, finding, checkpoint_names.get(finding["checkpoint_id"], NO_NAMES), task)
        notices += [{"user_id": u, "site_id": site.id, "kind": choices.NOTIFY_MAJOR_FINDING, "task_id": task["id"] if task else None,
                     "data": data, "dedupe_key": key} for u in recipients[site.id]]
        events.append((site.id, key, {"event": choices.NOTIFY_MAJOR_FINDING, **data}))
    return notices, events


def escalate_majors(majors: list[tuple[dict, dict | None, Site]], checkpoint_names: dict[int, tuple[str, str]] | None = None) -> int:
    """Major findings (finding row, task row or None, site) to their sites' people and webhooks, in one statement each."""
    notices, events = major_notices(majors, checkpoint_names)
    webhooks.queue_all(events)
    return add_notices(notices)


def new_task_notices(opened: list[tuple[int, int]], majors: set[int] = frozenset(), people: Recipients | None = None) -> list[dict]:
    """Each new task, as it is opened, goes to its site's supervisors' feeds, to be routed and assigned.

    One notice per task, not a daily digest: each is a thing to do now (the week to fix it
    runs from the observation), and a site opens a few dozen a day at most; the feed
    lists them newest first. A major problem's task is left out: its major notice went
    to the same people at once. Returns the rows; `add_notices` writes them.
    """
    rows = []
    people = people or Recipients()
    recipients: dict[int, list[int]] = {}  # one lookup per site, not per task (a push opens many)
    for task_id, site_id in opened:
        if task_id in majors:
            continue
        if site_id not in recipients:
            recipients[site_id] = people(site_id, "notice.receive_new_task")
        rows += [{"user_id": u, "site_id": site_id, "kind": choices.NOTIFY_TASK_OPENED, "task_id": task_id, "data": {},
                  "dedupe_key": f"opened:{task_id}"} for u in recipients[site_id]]
    return rows


def tell_new_tasks(opened: list[tuple[int, int]], majors: set[int] = frozenset()) -> int:
    """`new_task_notices`, written."""
    return add_notices(new_task_notices(opened, majors))


# --- the feed -------------------------------------------------------------------------


def unread_count(user_id: int) -> int:
    return db.session.execute(
        select(func.count()).select_from(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    ).scalar()


def mark_read(user_id: int, ids: list[int] | None = None) -> int:
    """Mark the user's own notifications read (all of them when `ids` is None)."""
    stmt = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if ids is not None:
        stmt = stmt.where(Notification.id.in_(ids))
    return db.session.execute(stmt.values(read_at=utcnow()).execution_options(synchronize_session=False)).rowcount


def settle(task_id: int, dedupe_key: str, kind: str) -> int:
    """Notices of `kind` about a task under `dedupe_key` that asked for something now done (an
    extension decided): marked read for everyone they went to, so nobody's feed keeps them as
    a to-do. Returns how many were still unread."""
    stmt = (update(Notification)
            .where(Notification.task_id == task_id, Notification.dedupe_key == dedupe_key, Notification.kind == kind,
                   Notification.read_at.is_(None))
            .values(read_at=utcnow()).execution_options(synchronize_session=False))
    return db.session.execute(stmt).rowcount


# --- readable details -------------------------------------------------------------------


def details(rows: list[Notification], visible_site_ids) -> dict[int, dict]:
    """What each notification is about, in words a person reads, by notification id.

    Assignments and extension notices are stored with ids only (task, extension, who),
    so the feed looks the rest up when it is read: the checkpoint's names, the problem,
    the due date in the site's time, the extension asked for and its decision, and who
    did it. Only for sites the reader still works at: a notification kept from an old
    site says no more than it did.
    """
    visible = set(visible_site_ids)
    out: dict[int, dict] = {}
    for n in rows:
        # A major problem dealt with on the spot has no task: its notice stored what it says. The
        # names in both languages as a task's notice has them (`*_name_zh`, `*_name_en`); a notice
        # stored before it kept the English name has an empty one (readers fall back to Chinese).
        data = n.data or {}
        if n.task_id is None and n.site_id in visible and data.get("finding_id"):
            d = {k: data[k] for k in ("finding_id", "checkpoint_id", "checkpoint_name", "site_name", "description",
                                      "category", "severity", "observed_at_local") if k in data}
            for name in ("checkpoint_name", "site_name"):
                if name in data:
                    d[f"{name}_zh"], d[f"{name}_en"] = data[name], data.get(f"{name}_en") or ""
            out[n.id] = d
    rows = [n for n in rows if n.task_id is not None and n.site_id in visible]
    if not rows:
        return out
    task_ids = {n.task_id for n in rows}
    found = db.session.execute(
        select(Task, Finding, Checkpoint, Site)
        .join(Finding, Finding.id == Task.finding_id)
        .join(Checkpoint, Checkpoint.id == Task.checkpoint_id)
        .join(Site, Site.id == Task.site_id)
        .where(Task.id.in_(task_ids))
    ).all()
    tasks = {t.id: (t, f, c, s) for t, f, c, s in found}
    ext_ids = {int(n.data["extension_id"]) for n in rows if isinstance((n.data or {}).get("extension_id"), int)}
    exts = {e.id: e for e in db.session.execute(select(Extension).where(Extension.id.in_(ext_ids))).scalars()} if ext_ids else {}
    people = {n.data.get("by") for n in rows if isinstance((n.data or {}).get("by"), int)}
    people |= {e.requested_by for e in exts.values()} | {e.decided_by for e in exts.values() if e.decided_by}
    names = {}
    if people:
        for uid, display, username in db.session.execute(select(User.id, User.display_name, User.username).where(User.id.in_(people))):
            names[uid] = display or username

    def local(dt, tz):
        return local_minute(dt, tz) if dt else None

    for n in rows:
        if n.task_id not in tasks:
            continue
        task, finding, cp, site = tasks[n.task_id]
        d = {
            "task_id": task.id,
            "task_state": task.state,
            "due_local": local(task.due_at, site.timezone),
            "site_name_zh": site.name_zh,
            "site_name_en": site.name_en,
            "checkpoint_id": cp.id,
            "checkpoint_name_zh": cp.name_zh,
            "checkpoint_name_en": cp.name_en,
            "checkpoint_short_code": cp.short_code,
            "description": finding.description,
            "category": finding.category,
            "severity": finding.severity,
        }
        data = n.data or {}
        if isinstance(data.get("by"), int):
            d["by_name"] = names.get(data["by"], "")
        ext = exts.get(data.get("extension_id")) if isinstance(data.get("extension_id"), int) else None
        if ext is not None and ext.task_id == task.id:
            d["extension"] = {
                "id": ext.id,
                "state": ext.state,
                "reason": ext.reason,
                "previous_due_local": local(ext.previous_due_at, site.timezone),
                "requested_due_local": local(ext.requested_due_at, site.timezone),
                "requested_by_name": names.get(ext.requested_by, ""),
                "decided_by_name": names.get(ext.decided_by, "") if ext.decided_by else "",
                "decision_note": ext.decision_note,
            }
        out[n.id] = d
    return out
