"""Opening a finding's task: its due date and the department its cause routes it to (DOMAIN.md § 14.2-3)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import select

from .. import audit
from .. import choices as C
from ..extensions import db, insert_tuples
from ..models import Department, Site, Task, utcnow
from .state import tell_phones_all

# Department work goes to the department of the problem's category; anything else to customer service.
CATEGORY_DEPARTMENTS = {
    C.CAT_CLEANLINESS: C.DEPT_CLEANING,
    C.CAT_LANDSCAPING: C.DEPT_LANDSCAPING,
    C.CAT_SECURITY_HAZARD: C.DEPT_SECURITY,
}


def due_date(observed_at: datetime, site: Site) -> datetime:
    """Due = the finding's corrected observation time + the site's due days (7 by default).

    Neither a late sync nor a wrong phone clock moves it: `observed_at` is already on
    the server's clock.
    """
    return observed_at + timedelta(days=site.task_due_days)


def route_for(route: str, category: str) -> str:
    """The department code that receives a finding's work, from its cause and category."""
    if route == C.ROUTE_FACILITY_REPAIR:
        return C.DEPT_ENGINEERING
    if route == C.ROUTE_DEPARTMENT_WORK:
        return CATEGORY_DEPARTMENTS.get(category, C.DEPT_CUSTOMER_SERVICE)
    # Residents'-convention cases are customer service's own work.
    return C.DEPT_CUSTOMER_SERVICE


def department_by_code(site_id: int, code: str) -> Department | None:
    return db.session.execute(select(Department).where(Department.site_id == site_id, Department.code == code)).scalar_one_or_none()


TASK_COLUMNS = ("id", "site_id", "finding_id", "checkpoint_id", "route", "route_confirmed", "severity", "department_id", "state",
                "due_at", "original_due_at", "repeat_flag", "cancel_reason", "case", "created_at", "updated_at")


def open_tasks_for(findings: list[dict], sites: dict[int, Site], repeats: set[str] = frozenset()) -> dict[str, int]:
    """Open exactly one task per finding (tasks.finding_id is unique), routed by its cause.

    `findings` are finding rows as stored (dicts); returns finding id → task id. One
    INSERT for the whole list, so a sync push of a hundred visits stays a few statements.
    The task of a finding in `repeats` (its repeat group, tasks.repeats) opens flagged.
    """
    if not findings:
        return {}
    departments = {
        (site_id, code): dept_id
        for site_id, code, dept_id in db.session.execute(
            select(Department.site_id, Department.code, Department.id).where(Department.site_id.in_(sites))
        )
    }
    now = utcnow()
    rows = []
    for f in findings:
        due = due_date(f["observed_at"], sites[f["site_id"]])
        rows.append({
            "site_id": f["site_id"], "finding_id": f["id"], "checkpoint_id": f["checkpoint_id"], "route": f["route"],
            "route_confirmed": False, "severity": f["severity"],
            "department_id": departments.get((f["site_id"], route_for(f["route"], f["category"]))),
            "state": C.TASK_OPEN, "due_at": due, "original_due_at": due, "repeat_flag": f["id"] in repeats, "cancel_reason": "", "case": {},
            "created_at": now, "updated_at": now,
        })
    for row, task_id in zip(rows, _new_task_ids(len(rows))):
        row["id"] = task_id
    insert_tuples(Task.__table__, TASK_COLUMNS, [tuple(json.dumps(row[c]) if c == "case" else row[c] for c in TASK_COLUMNS) for row in rows],
                  json_text=("case",))
    task_of = {row["finding_id"]: row["id"] for row in rows}
    audit.record_many(
        ("task", task_of[f["id"]], "opened", f["reported_by"], row["site_id"],
         {"finding_id": f["id"], "due_at": row["due_at"].isoformat(), "route": row["route"], "department_id": row["department_id"]})
        for f, row in zip(findings, rows)
    )
    tell_phones_all((task_of[f["id"]], row["site_id"], C.TASK_OPEN) for f, row in zip(findings, rows))
    return task_of


def _new_task_ids(n: int) -> list[int]:
    """Ids for `n` new tasks, so that they go in as one executemany / COPY of plain tuples.

    A multi-row INSERT … RETURNING of a push's tasks is a statement of tens of kilobytes,
    compiled by SQLAlchemy (and on PostgreSQL parsed by psycopg) anew for each row count.
    PostgreSQL: taken from the tasks' sequence in one short query. SQLite: the ids it would
    give itself (tasks.id is a rowid without AUTOINCREMENT: the largest + 1), read inside the
    writing transaction; a concurrent writer cannot take them first, since SQLite has one
    writer and a read transaction that is out of date cannot start writing (SQLITE_BUSY),
    and a taken id would fail the primary key, never share a row.
    """
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":
        return list(conn.exec_driver_sql(
            "SELECT nextval(pg_get_serial_sequence('tasks', 'id')) FROM generate_series(1, %(n)s)", {"n": n}).scalars())
    last = conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM tasks").scalar()
    return list(range(last + 1, last + 1 + n))
