"""What the complaint screens read: the handler's own list, the named item's words, a notice's deadline day."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from server import complaints
from server.extensions import db
from server.models import Complaint, Notification, SiteChecklistItem

from .support.complaints import take
from .support.tasks import checkpoint, finding, user

# 2026-03-10 02:00 UTC is 10:00 in Shanghai (UTC+8).
MORNING = datetime(2026, 3, 10, 2, 0)
ITEM = "floor.lights_doors_windows"


def assigned_to(site, username: str, **kw):
    c = take(site, **kw)
    complaints.judge(c, actor=user("receptionist"), valid=True)
    complaints.assign(c, actor=user("supervisor"), handler_id=user(username).id)
    db.session.commit()
    return c


def test_the_handler_lists_the_complaints_they_handle_and_no_other(demo, other_site, as_role):
    mine = assigned_to(demo, "patroller")
    theirs = assigned_to(demo, "supervisor")
    unassigned = take(demo)
    patroller = as_role("patroller")
    for url in (f"/api/complaints/?site_id={demo.id}", "/api/complaints/"):
        r = patroller.get(url)
        assert r.status_code == 200, r.get_json()
        assert [c["id"] for c in r.get_json()["items"]] == [mine.id], url
        assert r.get_json()["meta"]["total"] == 1
    # The filters narrow within what one may read; they never widen it.
    r = patroller.get(f"/api/complaints/?site_id={demo.id}&handler_id={user('supervisor').id}")
    assert r.get_json()["items"] == []
    # A role that reads the site's complaints sees them all; the handler filter gives "mine".
    ids = {c["id"] for c in as_role("supervisor").get(f"/api/complaints/?site_id={demo.id}").get_json()["items"]}
    assert {mine.id, theirs.id, unassigned.id} <= ids
    r = as_role("supervisor").get(f"/api/complaints/?site_id={demo.id}&handler_id={user('supervisor').id}")
    assert [c["id"] for c in r.get_json()["items"]] == [theirs.id]
    # A site where one does not work is not found, handler or not.
    assert patroller.get(f"/api/complaints/?site_id={other_site.id}").status_code == 404


def test_a_complaint_names_its_item_in_words(demo, as_role):
    cp = checkpoint(demo, "F01")
    c = take(demo, checkpoint_id=cp.id, item_id=ITEM, received_at=MORNING)
    api = as_role("supervisor")
    detail = api.get(f"/api/complaints/{c.id}").get_json()
    assert detail["item_id"] == ITEM
    assert detail["item_text_zh"] == "走廊、楼梯及楼层灯具、开关完好，门窗完好"
    assert detail["item_text_en"].startswith("Corridor, stair and floor lights")
    listed = next(x for x in api.get(f"/api/complaints/?site_id={demo.id}").get_json()["items"] if x["id"] == c.id)
    assert listed["item_text_zh"] == detail["item_text_zh"]
    # One without an item has no words for it.
    plain = take(demo)
    assert api.get(f"/api/complaints/{plain.id}").get_json()["item_text_zh"] == ""


def test_a_sites_own_item_is_named_in_words_too(demo, as_role):
    cp = checkpoint(demo, "F01")
    db.session.add(SiteChecklistItem(site_id=demo.id, kind=cp.kind, item_id="floor.site_fire_door_sign", text_zh="防火门标识清晰",
                                     text_en="", methods=["look"], category="facilities", route="facility_repair", active=False))
    db.session.commit()
    c = take(demo, checkpoint_id=cp.id, item_id="floor.site_fire_door_sign")
    detail = as_role("supervisor").get(f"/api/complaints/{c.id}").get_json()
    assert (detail["item_text_zh"], detail["item_text_en"]) == ("防火门标识清晰", "防火门标识清晰")


def test_the_months_patrolled_as_fine_signals_name_the_item_in_words(demo, as_role):
    from server.models import ItemResult, Visit
    import uuid

    cp = checkpoint(demo, "F01")
    at = MORNING - timedelta(days=2)
    v = Visit(id=str(uuid.uuid4()), site_id=demo.id, checkpoint_id=cp.id, user_id=user("patroller").id, device_id="d1",
              scanned_at=at, scanned_at_device=at, month=at.strftime("%Y-%m"))
    db.session.add(v)
    db.session.flush()
    db.session.add(ItemResult(visit_id=v.id, item_id=ITEM, result="ok"))
    c = take(demo, checkpoint_id=cp.id, item_id=ITEM, received_at=MORNING)
    complaints.judge(c, actor=user("receptionist"), valid=True)
    db.session.commit()
    stats = as_role("supervisor").get(f"/api/sites/{demo.id}/complaints/stats?month=2026-03").get_json()
    [signal] = stats["patrolled_as_fine"]
    assert signal["item_id"] == ITEM and signal["item_text_en"].startswith("Corridor, stair and floor lights")


def test_an_escalation_notice_says_which_day_the_deadline_ends(demo):
    c = take(demo, received_at=MORNING)
    complaints.escalate_due(c.due_at + timedelta(minutes=1))
    db.session.commit()
    data = db.session.execute(select(Notification.data).where(Notification.kind == "complaint_escalated")).scalars().first()
    # Due by the end of 10 March (site-local): stored as the 11th's 00:00, said as the 10th.
    assert data["due_at_local"] == "2026-03-11 00:00" and data["due_day"] == "2026-03-10"


# --- what a complaint is linked to (the desk's item picker and task link) ----------------------


def test_a_complaint_names_only_an_item_of_its_places_checklist(demo, as_role):
    api = as_role("receptionist")
    floor, lift = checkpoint(demo, "F01"), checkpoint(demo, "EL1")
    base = {"site_id": demo.id, "channel": "phone", "complainant": "王女士", "content": "楼道灯不亮"}
    ok = api.post("/api/complaints/", json={**base, "checkpoint_id": floor.id, "item_id": ITEM})
    assert ok.status_code == 201 and ok.get_json()["item_id"] == ITEM
    # A floor item at an elevator car, an item with no place, an item of no checklist: refused, nothing taken.
    for extra in ({"checkpoint_id": lift.id, "item_id": ITEM}, {"item_id": ITEM}, {"checkpoint_id": floor.id, "item_id": "floor.no_such_item"}):
        r = api.post("/api/complaints/", json={**base, **extra})
        assert r.status_code == 422 and r.get_json()["error"]["code"] == "validation_error", r.get_json()
        assert "item_id" in r.get_json()["error"]["details"]["fields"]
    assert db.session.execute(select(func.count(Complaint.id))).scalar() == 1


def test_a_linked_task_and_its_finding_show_on_the_complaint(demo, as_role):
    f, task = finding(demo, "F01", item_id=ITEM)
    c = take(demo, checkpoint_id=checkpoint(demo, "F01").id)
    detail = as_role("receptionist").get(f"/api/complaints/{c.id}").get_json()
    assert (detail["task"], detail["finding"]) == (None, None)
    r = as_role("supervisor").post(f"/api/complaints/{c.id}/task", json={"task_id": task.id})
    assert r.status_code == 200
    detail = as_role("receptionist").get(f"/api/complaints/{c.id}").get_json()
    assert detail["task"]["id"] == task.id and detail["task"]["state"] == "open" and detail["task"]["overdue"] is False
    assert detail["finding"]["id"] == f.id and detail["finding"]["description"] == "灯不亮 light out"
    assert detail["finding"]["item_text_en"].startswith("Corridor, stair and floor lights")
    # The receptionist takes complaints but does not link tasks (complaint.assign).
    assert as_role("receptionist").post(f"/api/complaints/{c.id}/task", json={"task_id": task.id}).status_code == 403
