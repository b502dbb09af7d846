"""Escalation and the in-app feed: major findings at once, overdue tasks once a day, nothing twice."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from server import choices
from server.accounts import create_user, grant
from server.extensions import db
from server.models import Notification, Task, Webhook, WebhookDelivery, utcnow
from server.notifications import escalate_major
from server.tasks import escalate_overdue

from .support.api import PASSWORD
from .support.phone import Phone
from .support.tasks import checkpoint, finding, user

DAY = timedelta(days=1)


def _second_supervisor_and_manager(site):
    for name, role in (("sup2", choices.SUPERVISOR), ("mgr2", choices.MANAGER)):
        grant(create_user(name, PASSWORD), site.id, role)
    db.session.commit()


def _feed() -> Counter:
    rows = db.session.execute(select(Notification.user_id, Notification.kind)).all()
    return Counter((uid, kind) for uid, kind in rows)


def test_major_finding_notifies_each_supervisor_and_manager_exactly_once_even_when_its_sync_is_replayed(demo, as_role, other_site):
    _second_supervisor_and_manager(demo)
    db.session.add_all([
        Webhook(site_id=demo.id, url="http://127.0.0.1:9/a", preset="generic"),
        Webhook(site_id=demo.id, url="http://127.0.0.1:9/b", preset="wecom"),
        Webhook(site_id=demo.id, url="http://127.0.0.1:9/off", preset="generic", active=False),
    ])
    db.session.commit()
    phone = Phone(as_role("patroller"), demo.id)
    m = phone.visit(fail=(0,), scanned_at=phone.now(), severity="major")
    assert phone.push_ok([m])[0]["status"] == "applied"
    # Replayed: the response was lost, the phone sends the same push again, twice.
    assert phone.push_ok([m])[0]["status"] == "duplicate"
    assert phone.push_ok([m])[0]["status"] == "duplicate"
    # And the domain function itself, called again for the same finding, sends nothing new.
    task = db.session.execute(select(Task)).scalar_one()
    from server.models import Finding, Site

    assert escalate_major(db.session.get(Finding, task.finding_id), task, db.session.get(Site, demo.id)) == 0
    feed = _feed()
    expected = {(user(n).id, choices.NOTIFY_MAJOR_FINDING): 1 for n in ("supervisor", "sup2", "manager", "mgr2")}
    assert dict(feed) == expected
    deliveries = db.session.execute(select(WebhookDelivery.webhook_id)).scalars().all()
    active = db.session.execute(select(Webhook.id).where(Webhook.active.is_(True))).scalars().all()
    assert sorted(deliveries) == sorted(active)
    note = db.session.execute(select(Notification).where(Notification.user_id == user("manager").id)).scalar_one()
    assert note.task_id == task.id and note.data["severity"] == "major" and note.data["site_code"] == demo.code


def test_each_major_finding_of_one_push_is_escalated_once_with_its_own_task(demo, as_role):
    """A push of several visits: every major finding reaches the desk, normal ones do not."""
    db.session.add(Webhook(site_id=demo.id, url="http://127.0.0.1:9/a", preset="generic"))
    db.session.commit()
    phone = Phone(as_role("patroller"), demo.id)
    now = phone.now()
    results = phone.push_ok([
        phone.visit("F01", fail=(0,), scanned_at=now - 2 * DAY, severity="major"),
        phone.visit("F02", fail=(0,), scanned_at=now - DAY),
        phone.visit("F03", fail=(0,), scanned_at=now - DAY, severity="major", dealt_on_spot=True),
        phone.visit("F04", fail=(0,), scanned_at=now, severity="major"),
    ])
    assert [r["status"] for r in results] == ["applied"] * 4
    findings = [r["result"]["finding_ids"][0] for r in results]
    task_of = {f: (r["result"]["task_ids"] or [None])[0] for f, r in zip(findings, results)}
    majors = [findings[0], findings[2], findings[3]]
    rows = db.session.execute(
        select(Notification.user_id, Notification.task_id, Notification.data).where(Notification.kind == choices.NOTIFY_MAJOR_FINDING)
    ).all()
    recipients = sorted({user("supervisor").id, user("manager").id})
    assert sorted((u, d["finding_id"]) for u, _, d in rows) == sorted((u, f) for u in recipients for f in majors)
    assert all(t == task_of[d["finding_id"]] for _, t, d in rows)
    assert task_of[findings[2]] is None  # dealt with on the spot: reported all the same, no task
    hooks = db.session.execute(select(WebhookDelivery.payload)).scalars().all()
    assert sorted(p["finding_id"] for p in hooks) == sorted(majors)
    assert all(p.get("task_id") == task_of[p["finding_id"]] for p in hooks)
    # The normal finding's new task waits to be assigned: its supervisor is told, once.
    opened = db.session.execute(select(Notification.user_id, Notification.task_id).where(Notification.kind == choices.NOTIFY_TASK_OPENED)).all()
    assert opened == [(user("supervisor").id, task_of[findings[1]])]


def test_each_new_task_of_a_normal_finding_tells_the_sites_supervisors_once(demo, as_role, other_site):
    """One notice per new unassigned task, to supervisors only (not managers, not another site's)."""
    _second_supervisor_and_manager(demo)
    phone = Phone(as_role("patroller"), demo.id)
    m = phone.visit("F01", fail=(0,), scanned_at=phone.now())
    [result] = phone.push_ok([m])
    assert phone.push_ok([m])[0]["status"] == "duplicate"  # a replayed push tells nobody again
    task_id = result["result"]["task_ids"][0]
    assert dict(_feed()) == {(user("supervisor").id, choices.NOTIFY_TASK_OPENED): 1, (user("sup2").id, choices.NOTIFY_TASK_OPENED): 1}
    feed = as_role("supervisor").get("/api/notifications/").get_json()
    items = feed["items"] if isinstance(feed, dict) else feed
    [note] = [n for n in items if n["kind"] == "task_opened"]
    assert note["task_id"] == task_id and note["details"]["task_state"] == "open" and note["details"]["description"]


def test_major_finding_dealt_with_on_the_spot_is_still_reported(demo, as_role):
    f, task = finding(demo, severity="major", dealt_on_spot=True, spot_note="断电 cut the power")
    assert task is None
    assert set(uid for uid, _ in _feed()) == {user("supervisor").id, user("manager").id}
    # Its notice has no task, and still says what and where in its details.
    [note] = as_role("manager").get("/api/notifications/").get_json()["items"]
    assert note["task_id"] is None and note["details"]["finding_id"] == f.id
    assert note["details"]["description"] == f.description and note["details"]["checkpoint_name"]


def test_a_notice_that_keeps_its_names_keeps_the_english_ones_too_and_an_older_one_still_reads(demo, as_role):
    # A major problem dealt with on the spot and an escalated complaint say where in both languages
    # (English screens showed the Chinese name); a notice kept before that still names the place.
    from server import complaints
    from server.notifications import notify

    from .support.complaints import take

    db.session.add(Webhook(site_id=demo.id, url="http://127.0.0.1:9/a", preset="generic"))
    db.session.commit()
    finding(demo, "EL1", severity="major", dealt_on_spot=True)
    c = take(demo, checkpoint_id=checkpoint(demo, "F08").id)
    complaints.escalate_due(c.due_at + timedelta(days=1, minutes=1))
    notify([user("manager").id], site_id=demo.id, kind=choices.NOTIFY_MAJOR_FINDING, dedupe_key="before", data={
        "site_id": demo.id, "site_name": "演示大厦", "finding_id": "f0", "checkpoint_id": checkpoint(demo, "F02").id, "checkpoint_name": "2楼",
        "description": "old", "severity": "major"})
    db.session.commit()
    items = as_role("manager").get("/api/notifications/").get_json()["items"]
    major = next(n for n in items if n["kind"] == choices.NOTIFY_MAJOR_FINDING and n["data"]["description"] != "old")
    assert (major["data"]["checkpoint_name"], major["data"]["checkpoint_name_en"]) == ("1号电梯轿厢", "Elevator car 1")
    assert (major["data"]["site_name"], major["data"]["site_name_en"]) == ("演示大厦", "Demo Tower")
    names = {k: major["details"][k] for k in ("checkpoint_name_zh", "checkpoint_name_en", "site_name_zh", "site_name_en")}
    assert names == {"checkpoint_name_zh": "1号电梯轿厢", "checkpoint_name_en": "Elevator car 1", "site_name_zh": "演示大厦", "site_name_en": "Demo Tower"}
    escalated = next(n for n in items if n["kind"] == choices.NOTIFY_COMPLAINT_ESCALATED)
    assert (escalated["data"]["checkpoint_name"], escalated["data"]["checkpoint_name_en"]) == ("8楼", "Floor 8")
    assert escalated["data"]["site_name_en"] == "Demo Tower"
    older = next(n for n in items if n["data"].get("description") == "old")
    assert (older["details"]["checkpoint_name_zh"], older["details"]["checkpoint_name_en"]) == ("2楼", "")
    # The webhooks get the same words.
    hooks = db.session.execute(select(WebhookDelivery.payload)).scalars().all()
    assert {p["checkpoint_name_en"] for p in hooks} == {"Elevator car 1", "Floor 8"}


def test_overdue_task_escalates_once_a_day(demo, runner):
    now = utcnow()
    _, late = finding(demo, observed_at=now - 8 * DAY)
    _, on_time = finding(demo, "F02", observed_at=now - 2 * DAY)
    _, closed = finding(demo, "F03", observed_at=now - 9 * DAY)
    closed.state = choices.TASK_CANCELLED
    db.session.commit()
    first = runner.invoke(args=["tasks", "escalate"])
    assert first.exit_code == 0 and "escalated 1" in first.output, first.output
    second = runner.invoke(args=["tasks", "escalate"])
    assert "escalated 0" in second.output
    db.session.expire_all()
    overdue = db.session.execute(select(Notification).where(Notification.kind == choices.NOTIFY_OVERDUE)).scalars().all()
    assert {n.task_id for n in overdue} == {late.id}
    assert sorted(n.user_id for n in overdue) == sorted([user("supervisor").id, user("manager").id])
    assert db.session.get(Task, late.id).last_escalated_on is not None
    # The next day it escalates again, once.
    assert escalate_overdue(now + DAY) == 1
    assert escalate_overdue(now + DAY) == 0
    db.session.commit()
    assert len(db.session.execute(select(Notification).where(Notification.kind == choices.NOTIFY_OVERDUE)).scalars().all()) == 4


def test_overdue_escalation_reaches_the_assignee_too(demo):
    from server import tasks

    _, late = finding(demo, observed_at=utcnow() - 8 * DAY)
    tasks.assign(late, actor=user("supervisor"), assignee_id=user("patroller").id)
    db.session.commit()
    escalate_overdue()
    db.session.commit()
    got = {uid for uid, kind in _feed() if kind == choices.NOTIFY_OVERDUE}
    assert user("patroller").id in got


def test_feed_shows_unread_counts_and_marks_read(demo, as_role):
    for code in ("F01", "F02", "F03"):
        finding(demo, code, severity="major")
    sup = as_role("supervisor")
    feed = sup.get("/api/notifications/").get_json()
    assert feed["unread"] == 3 and len(feed["items"]) == 3 and feed["items"][0]["kind"] == "major_finding"
    first = feed["items"][0]["id"]
    managers = db.session.execute(select(Notification.id).where(Notification.user_id == user("manager").id)).scalars().all()
    # Someone else's notification ids are ignored.
    r = sup.post("/api/notifications/read", json={"ids": [first] + managers})
    assert r.get_json() == {"marked": 1, "unread": 2}
    assert sup.get("/api/notifications/unread-count").get_json() == {"unread": 2}
    assert len(sup.get("/api/notifications/?unread=true").get_json()["items"]) == 2
    assert as_role("manager").get("/api/notifications/unread-count").get_json() == {"unread": 3}
    assert sup.post("/api/notifications/read", json={}).status_code == 422
    assert sup.post("/api/notifications/read", json={"all": True}).get_json() == {"marked": 2, "unread": 0}
    assert as_role("patroller").get("/api/notifications/").get_json()["items"] == []


def test_extension_requests_and_decisions_reach_the_people_concerned(demo, as_role):
    from .support.ids import iso

    _, task = finding(demo)
    ext = as_role("supervisor").post(f"/api/tasks/{task.id}/extensions", json={"requested_due_at": iso(task.due_at + DAY), "reason": "rain"}).get_json()
    assert [n["kind"] for n in as_role("manager").get("/api/notifications/").get_json()["items"]] == [choices.NOTIFY_EXTENSION_REQUESTED]
    as_role("manager").post(f"/api/tasks/extensions/{ext['id']}/decision", json={"approve": True})
    kinds = [n["kind"] for n in as_role("supervisor").get("/api/notifications/").get_json()["items"]]
    assert kinds == [choices.NOTIFY_EXTENSION_DECIDED, choices.NOTIFY_TASK_OPENED]  # newest first


def test_assignment_and_extension_notices_read_as_words_not_ids(demo, as_role):
    from .support.ids import iso

    _, task = finding(demo, "EL1")
    as_role("supervisor").post(f"/api/tasks/{task.id}/assign", json={"assignee_id": user("patroller").id})
    (assigned,) = as_role("patroller").get("/api/notifications/").get_json()["items"]
    assert assigned["kind"] == choices.NOTIFY_ASSIGNED
    d = assigned["details"]
    assert (d["checkpoint_name_zh"], d["checkpoint_name_en"], d["checkpoint_short_code"]) == ("1号电梯轿厢", "Elevator car 1", "EL1")
    assert d["description"] == "灯不亮 light out" and d["by_name"] == "演示主管 Demo supervisor"
    assert d["due_local"] == task_due_local(task, demo)

    new_due = task.due_at + 3 * DAY
    r = as_role("supervisor").post(f"/api/tasks/{task.id}/extensions", json={"requested_due_at": iso(new_due), "reason": "等零件 waiting for parts"})
    assert r.status_code == 201, r.get_json()
    (asked,) = as_role("manager").get("/api/notifications/").get_json()["items"]
    ext = asked["details"]["extension"]
    assert asked["kind"] == choices.NOTIFY_EXTENSION_REQUESTED and asked["details"]["checkpoint_name_en"] == "Elevator car 1"
    assert (ext["state"], ext["reason"], ext["requested_by_name"]) == ("pending", "等零件 waiting for parts", "演示主管 Demo supervisor")
    assert ext["requested_due_local"] == task_due_local(task, demo, new_due) and ext["previous_due_local"] == d["due_local"]

    as_role("manager").post(f"/api/tasks/extensions/{ext['id']}/decision", json={"approve": False, "note": "本周完成 this week"})
    decided = [n for n in as_role("supervisor").get("/api/notifications/").get_json()["items"] if n["kind"] == choices.NOTIFY_EXTENSION_DECIDED]
    ext = decided[0]["details"]["extension"]
    assert (ext["state"], ext["decided_by_name"], ext["decision_note"]) == ("rejected", "演示经理 Demo manager", "本周完成 this week")


def test_notice_from_a_site_the_reader_left_says_no_more_than_it_stored(demo, as_role, other_site):
    from server.accounts import grant, revoke

    _, task = finding(demo)
    as_role("supervisor").post(f"/api/tasks/{task.id}/assign", json={"assignee_id": user("patroller").id})
    # The patroller moves to the other site: still a login and a feed, but no longer here.
    patroller = user("patroller")
    grant(patroller, other_site.id, choices.PATROLLER)
    revoke(patroller, demo.id)
    db.session.commit()
    (note,) = as_role("patroller").get("/api/notifications/").get_json()["items"]
    assert note["details"] == {} and note["data"] == {"task_id": task.id, "by": user("supervisor").id}


def task_due_local(task, site, at=None) -> str:
    from server.timeutil import to_local

    return to_local(at or task.due_at, site.timezone).strftime("%Y-%m-%d %H:%M")


def test_a_decided_extension_is_no_longer_a_to_do_and_its_decision_reaches_the_asker_and_the_assignee(demo, as_role):
    """One request approved, another rejected, by one of two managers: both requests' notices
    are read in both managers' feeds and say how they were decided; each decision goes to who
    asked (the supervisor) and to the assignee (the patroller), and only once to an assignee
    who asked themselves."""
    from .support.ids import iso

    _second_supervisor_and_manager(demo)
    mgr2 = as_role("mgr2")
    patroller = user("patroller")
    asked = []
    for code in ("F01", "F02"):
        _, task = finding(demo, code)
        as_role("supervisor").post(f"/api/tasks/{task.id}/assign", json={"assignee_id": patroller.id})
        r = as_role("supervisor").post(f"/api/tasks/{task.id}/extensions", json={"requested_due_at": iso(task.due_at + 3 * DAY), "reason": "等零件"})
        assert r.status_code == 201, r.get_json()
        asked.append(r.get_json())
    assert mgr2.get("/api/notifications/unread-count").get_json()["unread"] == 2
    manager = as_role("manager")
    assert manager.post(f"/api/tasks/extensions/{asked[0]['id']}/decision", json={"approve": True}).status_code == 200
    assert manager.post(f"/api/tasks/extensions/{asked[1]['id']}/decision", json={"approve": False, "note": "本周完成"}).status_code == 200

    for feed_of in (manager, mgr2):
        items = [n for n in feed_of.get("/api/notifications/").get_json()["items"] if n["kind"] == choices.NOTIFY_EXTENSION_REQUESTED]
        assert len(items) == 2 and all(n["read_at"] for n in items), items
        assert sorted(n["details"]["extension"]["state"] for n in items) == ["approved", "rejected"]
        assert feed_of.get("/api/notifications/unread-count").get_json()["unread"] == 0

    def decisions(client):
        return sorted(n["details"]["extension"]["state"] for n in client.get("/api/notifications/").get_json()["items"]
                      if n["kind"] == choices.NOTIFY_EXTENSION_DECIDED)

    assert decisions(as_role("supervisor")) == ["approved", "rejected"]
    assert decisions(as_role("patroller")) == ["approved", "rejected"]
    assert decisions(as_role("sup2")) == []

    # The assignee asks for themselves: one decision notice, not two.
    _, task = finding(demo, "F03")
    as_role("supervisor").post(f"/api/tasks/{task.id}/assign", json={"assignee_id": patroller.id})
    mine = as_role("patroller").post(f"/api/tasks/{task.id}/extensions", json={"requested_due_at": iso(task.due_at + DAY), "reason": "下雨"}).get_json()
    manager.post(f"/api/tasks/extensions/{mine['id']}/decision", json={"approve": True})
    about = [n for n in as_role("patroller").get("/api/notifications/").get_json()["items"]
             if n["kind"] == choices.NOTIFY_EXTENSION_DECIDED and n["task_id"] == task.id]
    assert len(about) == 1
