"""Two months of 2024 with every kind of record, sealed: what the retention tests purge."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from server import archive, tasks
from server.extensions import db
from server.models import Photo, Task

from .records import add_finding, add_photo, add_visit, verify_task
from .tasks import user


# 2024-10 ends at 2024-10-31 16:00 UTC (midnight in Shanghai); 24 months later is
# 2026-10-31 16:00 UTC. One minute before, September 2024 is due and October is not.
NOW = datetime(2026, 10, 31, 15, 59)
SEPT_2024 = datetime(2024, 9, 12, 2, 0)
OCT_2024 = datetime(2024, 10, 31, 15, 30)  # 23:30 on the last day of October, in Shanghai


def build_month(site, when: datetime) -> dict:
    """Visits with photos, a finding with a task, its extension, comment and verification; and one dealt on the spot."""
    v1 = add_visit(site, "F01", when, results=("ok", "fail"))
    v2 = add_visit(site, "F02", when + timedelta(minutes=10))
    f1 = add_finding(site, v1)
    f2 = add_finding(site, v2, category="cleanliness", route="department_work", dealt_on_spot=True)
    p_visit = add_photo(site, user("patroller"), purpose="visit", visit_id=v2.id)
    p_finding = add_photo(site, user("patroller"), purpose="finding", visit_id=v1.id, finding_id=f1.id)
    task = db.session.execute(select(Task).where(Task.finding_id == f1.id)).scalar_one()
    tasks.add_comment(task, actor=user("supervisor"), body="已通知工程部")
    tasks.request_extension(task, actor=user("supervisor"), requested_due_at=task.due_at + timedelta(days=7), reason="等配件")
    db.session.commit()
    verify_task(site, task)
    photo_ids = list(db.session.execute(
        select(Photo.id).where((Photo.visit_id.in_([v1.id, v2.id])) | (Photo.finding_id.in_([f1.id, f2.id])) | (Photo.task_id == task.id))
    ).scalars())
    return {"visits": [v1.id, v2.id], "findings": [f1.id, f2.id], "task": task.id, "photos": photo_ids,
            "photo_visit": p_visit, "photo_finding": p_finding}


def seal_both(site) -> None:
    for month in ("2024-09", "2024-10"):
        archive.seal(site, month, actor_id=user("archivist").id, now=NOW)
    db.session.commit()
