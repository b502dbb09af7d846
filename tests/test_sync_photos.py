"""Photo claims, one rule for sync and the web (photos.may_link): a photo is linked only by the
person who took it, and to one record; a photo with no uploader is linked by no one."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image
from sqlalchemy import select

from server.extensions import db
from server.models import Checkpoint, Photo, User

from .support.api import error_of
from .support.ids import new_id
from .support.phone import Phone


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 30, 30)).save(buf, "JPEG")
    return buf.getvalue()


def links(pid: str) -> tuple:
    photo = db.session.get(Photo, pid)
    db.session.refresh(photo)
    return photo.uploaded_by, photo.visit_id, photo.finding_id, photo.task_id


@pytest.fixture
def patroller(as_role):
    return as_role("patroller")


@pytest.fixture
def task_id(patroller, demo) -> int:
    """An open task from the patroller's failed item at F05."""
    phone = Phone(patroller, demo.id)
    return phone.push_ok([phone.visit("F05", fail=(0,))])[0]["result"]["task_ids"][0]


def test_photo_with_no_uploader_is_linked_by_no_one(patroller, demo, task_id):
    """Its taker is not known: no record links it, by sync or on the web, and nobody uploads its bytes."""
    pid = new_id()
    db.session.add(Photo(id=pid, site_id=demo.id, uploaded_by=None, purpose="finding", status="expected"))
    db.session.commit()
    phone = Phone(patroller, demo.id)

    by_sync = phone.push_ok([phone.visit("F01", photo_ids=[pid])])[0]
    assert by_sync["status"] == "rejected" and by_sync["code"] == "photo_conflict"
    comment = patroller.post(f"/api/tasks/{task_id}/comments", json={"body": "see photo", "photo_ids": [pid]})
    assert comment.status_code == 409 and error_of(comment)["code"] == "photo_conflict"
    f02 = db.session.execute(select(Checkpoint.id).where(Checkpoint.site_id == demo.id, Checkpoint.short_code == "F02")).scalar()
    report = patroller.post("/api/findings/", json={"checkpoint_id": f02, "category": "cleanliness", "description": "litter", "photo_ids": [pid]})
    assert report.status_code == 409 and error_of(report)["code"] == "photo_conflict"
    data = jpeg()
    upload = patroller.put(f"/api/photos/{pid}", data=data, headers={"Content-Type": "image/jpeg", "X-Content-SHA256": hashlib.sha256(data).hexdigest()})
    assert upload.status_code == 403 and error_of(upload)["code"] == "not_your_photo"
    assert links(pid) == (None, None, None, None)


def test_photo_of_one_record_is_not_linked_to_another_even_by_its_taker(patroller, demo):
    """A finding's photo stays that finding's: its taker cannot name it in a comment on the task or in another visit."""
    phone = Phone(patroller, demo.id)
    pid = new_id()
    m = phone.visit("F03", fail=(0,))
    m["payload"]["results"][0]["finding"]["photo_ids"] = [pid]
    result = phone.push_ok([m])[0]["result"]
    finding_id, task_id = result["finding_ids"][0], result["task_ids"][0]
    patroller_id = db.session.execute(select(User.id).where(User.username == "patroller")).scalar()

    comment = patroller.post(f"/api/tasks/{task_id}/comments", json={"body": "same photo again", "photo_ids": [pid]})
    assert comment.status_code == 409 and error_of(comment)["code"] == "photo_conflict"
    again = phone.push_ok([phone.visit("F04", photo_ids=[pid])])[0]
    assert again["status"] == "rejected" and again["code"] == "photo_conflict"
    assert links(pid) == (patroller_id, m["payload"]["visit_id"], finding_id, None)


def test_photo_uploaded_before_its_record_is_linked_by_its_taker_only(patroller, as_role, demo, task_id):
    """Uploaded first, a photo belongs to no record: another person's comment cannot take it, its taker's can."""
    pid = new_id()
    data = jpeg()
    headers = {"Content-Type": "image/jpeg", "X-Content-SHA256": hashlib.sha256(data).hexdigest()}
    assert patroller.put(f"/api/photos/{pid}", data=data, headers=headers).status_code == 201
    theirs = as_role("supervisor").post(f"/api/tasks/{task_id}/comments", json={"body": "mine now", "photo_ids": [pid]})
    assert theirs.status_code == 409 and error_of(theirs)["code"] == "photo_conflict"
    mine = patroller.post(f"/api/tasks/{task_id}/comments", json={"body": "the leak", "photo_ids": [pid]})
    assert mine.status_code == 201, mine.get_json()
    photo = db.session.get(Photo, pid)
    db.session.refresh(photo)
    assert (photo.site_id, photo.task_id, photo.purpose, photo.status) == (demo.id, task_id, "comment", "received")
