"""Builders of visits, findings, photos and verified tasks written straight through the domain, for archive, export and retention tests."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import datetime, timedelta

from PIL import Image
from sqlalchemy import select

from server import choices, photos, tasks
from server.extensions import db
from server.findings import record_finding
from server.models import Checkpoint, ItemResult, Photo, Site, Task, User, Visit, utcnow
from server.timeutil import month_of

from .ids import new_id
from .tasks import checkpoint, user


def jpeg(colour=(200, 60, 60), size=(64, 48), stroke=False) -> bytes:
    buf = io.BytesIO()
    im = Image.new("RGB", size, (255, 255, 255) if stroke else colour)
    if stroke:  # a drawn signature: a dark scribble on white
        from PIL import ImageDraw

        ImageDraw.Draw(im).line([(10, 60), (40, 20), (70, 65), (110, 25), (150, 60), (190, 30)], fill=colour, width=5)
    im.save(buf, "JPEG")
    return buf.getvalue()


def add_photo(site: Site, by: User, *, purpose="visit", visit_id=None, finding_id=None, task_id=None, colour=(200, 60, 60)) -> str:
    """A photo uploaded through the real upload path (files on disk), then linked to a record."""
    pid = new_id()
    data = jpeg(colour, size=(200, 80), stroke=True) if purpose == "signature" else jpeg(colour)
    photos.upload(by, pid, data, "image/jpeg", hashlib.sha256(data).hexdigest())
    photo = db.session.get(Photo, pid)
    photo.site_id, photo.purpose, photo.visit_id, photo.finding_id, photo.task_id = site.id, purpose, visit_id, finding_id, task_id
    db.session.commit()
    return pid


def add_visit(site: Site, code: str, when: datetime, *, by: str = "patroller", results=("ok", "ok", "na"), received_at=None,
              purpose="patrol", addendum=False) -> Visit:
    cp = checkpoint(site, code)
    visit = Visit(
        id=new_id(), site_id=site.id, checkpoint_id=cp.id, user_id=user(by).id, device_id="test", purpose=purpose,
        scanned_at=when, scanned_at_device=when, received_at=received_at or utcnow(), scan_method="qr",
        month=month_of(when, site.timezone), addendum=addendum, note="",
    )
    db.session.add(visit)
    db.session.flush()
    for n, result in enumerate(results):
        db.session.add(ItemResult(visit_id=visit.id, item_id=f"item-{n}", result=result))
    db.session.commit()
    return visit


def add_finding(site: Site, visit: Visit, *, category="facilities", route="facility_repair", severity="normal",
                dealt_on_spot=False, description="走廊灯不亮", by: str = "patroller"):
    cp = db.session.get(Checkpoint, visit.checkpoint_id)
    f = record_finding(
        finding_id=new_id(), site=site, checkpoint=cp, reported_by=user(by).id, observed_at=visit.scanned_at,
        visit_id=visit.id, category=category, route=route, description=description, severity=severity,
        dealt_on_spot=dealt_on_spot, spot_note="已当场处理" if dealt_on_spot else "",
    )
    db.session.commit()
    return f


def verify_task(site: Site, task: Task, *, signature_colour=(20, 20, 20)) -> None:
    """Assign, work, mark done and verify on site with a drawn signature, as the domain does it."""
    sup, pat = user("supervisor"), user("patroller")
    tasks.assign(task, actor=sup, assignee_id=pat.id)
    tasks.transition(task, actor=pat, to_state=choices.TASK_IN_PROGRESS)
    tasks.transition(task, actor=pat, to_state=choices.TASK_DONE)
    db.session.commit()
    sig = add_photo(site, pat, purpose="signature", task_id=task.id, colour=signature_colour)
    after = add_photo(site, pat, purpose="after", task_id=task.id, colour=(60, 160, 60))
    cp = db.session.get(Checkpoint, task.checkpoint_id)
    visit = tasks.record_verify_visit(visit_id=new_id(), task=task, checkpoint=cp, user=pat, scanned_at=utcnow(), scan_method="qr")
    tasks.verify_on_site(task, verification_id=new_id(), actor=pat, visit=visit, result=choices.VERIFY_PASS, note="已修复",
                         signatures={"verifier": sig}, after_photo_ids=[after], fixed_by_name="王师傅")
    db.session.commit()


# 10:00 on 10 September 2026 in Shanghai (the demo site's timezone).
SEPT = datetime(2026, 9, 10, 2, 0)


def september(site: Site) -> dict:
    """A small September: visits on two floors and a lift, findings of three kinds, a photo, a verified task."""
    v1 = add_visit(site, "F01", SEPT)
    v2 = add_visit(site, "F02", SEPT + timedelta(days=9), results=("ok", "fail", "ok"))
    v3 = add_visit(site, "EL1", SEPT + timedelta(days=16))
    f1 = add_finding(site, v2, severity="major", description="消防通道被杂物堵塞")
    f2 = add_finding(site, v3, category="cleanliness", route="department_work", dealt_on_spot=True, description="轿厢地面有污渍")
    pid = add_photo(site, user("patroller"), purpose="finding", visit_id=v2.id, finding_id=f1.id)
    task = db.session.execute(select(Task).where(Task.finding_id == f1.id)).scalar_one()
    verify_task(site, task)
    return {"visits": [v1, v2, v3], "findings": [f1, f2], "photo": pid, "task": task,
            "visit_ids": [v1.id, v2.id, v3.id], "finding_ids": [f1.id, f2.id], "task_id": task.id}


def zip_manifest(data: bytes) -> tuple[dict, zipfile.ZipFile, str]:
    zf = zipfile.ZipFile(io.BytesIO(data))
    top = [n for n in zf.namelist() if n.endswith("/manifest.json")][0]
    return json.loads(zf.read(top)), zf, top[: -len("manifest.json")]


def columns(header) -> dict[str, int]:
    """Column index by the English key at the end of each heading ("描述 description" → description)."""
    return {h.split(" ")[-1]: n for n, h in enumerate(header)}
