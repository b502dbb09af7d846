"""Residents' complaints and return visits (docs/complaints.md): each rule of the source, as a test."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from server import archive, choices, complaints
from server.extensions import db
from server.models import AuditEvent, Change, Complaint, Department, ItemResult, Notification, Visit, WebhookDelivery, Webhook, utcnow

from .support.api import ApiClient, error_of
from .support.complaints import take
from .support.ids import iso
from .support.tasks import checkpoint, finding, user

# 2026-03-10 02:00 UTC is 10:00 in Shanghai (UTC+8).
MORNING = datetime(2026, 3, 10, 2, 0)


def dept(site, code: str) -> int:
    return db.session.execute(select(Department.id).where(Department.site_id == site.id, Department.code == code)).scalar_one()


def handled(site, **kw) -> Complaint:
    """A valid complaint taken through to the resident's acceptance."""
    c = take(site, **kw)
    complaints.judge(c, actor=user("receptionist"), valid=True)
    complaints.assign(c, actor=user("supervisor"), handler_id=user("patroller").id)
    complaints.start(c, actor=user("patroller"))
    complaints.propose(c, actor=user("patroller"), cause="灯管老化 old tube", solution="更换灯管 replace the tube")
    complaints.approve(c, actor=user("supervisor"), approve=True)
    complaints.accept(c, actor=user("receptionist"), signed_by="王女士")
    db.session.commit()
    return c


def replied(site, **kw) -> Complaint:
    c = handled(site, **kw)
    complaints.reply(c, actor=user("receptionist"), text="已更换灯管，感谢您的反映。")
    db.session.commit()
    return c


# --- deadlines ------------------------------------------------------------------------------


def test_an_ordinary_complaint_is_due_the_same_site_local_day(demo):
    c = take(demo, received_at=MORNING)
    # The end of 2026-03-10 in Shanghai is 2026-03-10 16:00 UTC.
    assert c.due_at == datetime(2026, 3, 10, 16, 0)
    assert complaints.complaint_summary(c)["due_local"] == "2026-03-11 00:00"
    # Screens show it as the end of the 10th, not the 11th's 00:00.
    assert complaints.complaint_summary(c)["due_day"] == "2026-03-10"


def test_the_same_day_is_the_sites_day_not_the_servers(demo):
    # 23:30 UTC on the 9th is 07:30 on the 10th in Shanghai: due at the end of the 10th.
    c = take(demo, received_at=datetime(2026, 3, 9, 23, 30))
    assert c.due_at == datetime(2026, 3, 10, 16, 0)


def test_a_complaint_transferred_to_another_department_is_due_in_three_days(demo):
    c = take(demo, received_at=MORNING)
    complaints.judge(c, actor=user("receptionist"), valid=True, department_id=dept(demo, choices.DEPT_ENGINEERING))
    db.session.commit()
    assert c.kind == choices.COMPLAINT_TRANSFERRED
    assert c.due_at == datetime(2026, 3, 13, 16, 0)


def test_an_ordinary_complaint_kept_in_customer_service_stays_due_the_same_day(demo):
    c = take(demo, received_at=MORNING)
    complaints.judge(c, actor=user("receptionist"), valid=True, department_id=dept(demo, choices.DEPT_CUSTOMER_SERVICE))
    assert (c.kind, c.due_at) == (choices.COMPLAINT_ORDINARY, datetime(2026, 3, 10, 16, 0))


def test_a_special_complaint_is_due_in_three_days_and_goes_to_the_manager_at_once(demo):
    c = take(demo, received_at=MORNING, kind=choices.COMPLAINT_SPECIAL)
    assert c.due_at == datetime(2026, 3, 13, 16, 0)
    assert c.level == choices.LEVEL_MANAGER
    told = db.session.execute(select(Notification.user_id).where(Notification.kind == choices.NOTIFY_COMPLAINT_ESCALATED)).scalars().all()
    assert told == [user("manager").id]


def test_judging_a_complaint_special_tells_the_manager_once(demo):
    c = take(demo)
    complaints.judge(c, actor=user("supervisor"), valid=True, kind=choices.COMPLAINT_SPECIAL)
    db.session.commit()
    assert c.level == choices.LEVEL_MANAGER
    assert db.session.execute(select(func.count()).select_from(Notification).where(Notification.user_id == user("manager").id)).scalar() == 1


# --- escalation -----------------------------------------------------------------------------


def _levels_told() -> list[tuple[str, int]]:
    rows = db.session.execute(select(Notification.dedupe_key, Notification.user_id).order_by(Notification.id)).all()
    return [(key.rsplit(":", 1)[1], uid) for key, uid in rows]


def test_escalation_rises_level_by_level_exactly_once_per_level(demo):
    c = take(demo, received_at=MORNING)
    due = c.due_at
    assert complaints.escalate_due(due - timedelta(minutes=1)) == 0
    assert complaints.escalate_due(due + timedelta(minutes=1)) == 1
    assert complaints.escalate_due(due + timedelta(hours=2)) == 0  # the same level again: nothing
    db.session.commit()
    assert db.session.get(Complaint, c.id).level == choices.LEVEL_SUPERVISOR
    assert complaints.escalate_due(due + timedelta(days=1, minutes=1)) == 1
    assert complaints.escalate_due(due + timedelta(days=2, minutes=1)) == 1
    assert complaints.escalate_due(due + timedelta(days=9)) == 0  # the top of the ladder
    db.session.commit()
    assert db.session.get(Complaint, c.id).level == choices.LEVEL_GENERAL_MANAGER
    assert _levels_told() == [
        ("supervisor", user("supervisor").id), ("manager", user("manager").id), ("general_manager", user("admin").id),
    ]
    actions = db.session.execute(select(AuditEvent.data).where(AuditEvent.entity == "complaint", AuditEvent.action == "escalated").order_by(AuditEvent.id)).scalars().all()
    assert [a["to"] for a in actions] == ["supervisor", "manager", "general_manager"]


def test_a_run_after_days_of_silence_tells_each_level_in_turn(demo):
    c = take(demo, received_at=MORNING)
    assert complaints.escalate_due(c.due_at + timedelta(days=5)) == 3
    db.session.commit()
    assert [lvl for lvl, _ in _levels_told()] == ["supervisor", "manager", "general_manager"]


def test_the_escalate_command_is_safe_to_run_twice(demo, runner):
    c = take(demo, received_at=utcnow() - timedelta(days=3))
    hook = Webhook(site_id=demo.id, url="https://example.com/hook")
    db.session.add(hook)
    db.session.commit()
    first = runner.invoke(args=["complaints", "escalate"])
    second = runner.invoke(args=["complaints", "escalate"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output
    assert "raised 3 complaint level(s)" in first.output
    assert "raised 0 complaint level(s)" in second.output
    assert db.session.execute(select(func.count()).select_from(Notification)).scalar() == 3
    assert db.session.execute(select(func.count()).select_from(WebhookDelivery)).scalar() == 3
    assert db.session.get(Complaint, c.id).level == choices.LEVEL_GENERAL_MANAGER


def test_a_replied_complaint_does_not_escalate(demo):
    c = replied(demo)
    assert complaints.escalate_due(c.due_at + timedelta(days=5)) == 0


# --- judging, handling, replying --------------------------------------------------------------


def test_an_invalid_complaint_is_closed_with_its_reason(demo, as_role):
    c = take(demo)
    api = as_role("receptionist")
    r = api.post(f"/api/complaints/{c.id}/judge", json={"valid": False})
    assert r.status_code == 422 and error_of(r)["code"] == "invalid_reason_required"
    r = api.post(f"/api/complaints/{c.id}/judge", json={"valid": False, "reason": "属业主户内私有设施，不在服务合同范围内"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["state"], body["valid"], body["validity_reason"]) == ("invalid", False, "属业主户内私有设施，不在服务合同范围内")
    assert body["closed_at"] is not None
    # Closed: no further step.
    r = as_role("supervisor").post(f"/api/complaints/{c.id}/assign", json={"handler_id": user("patroller").id})
    assert r.status_code == 409 and error_of(r)["code"] == "transition_not_allowed"


def test_the_residents_acceptance_is_required_before_replying(demo, as_role):
    c = take(demo)
    complaints.judge(c, actor=user("receptionist"), valid=True)
    complaints.assign(c, actor=user("supervisor"), handler_id=user("patroller").id)
    complaints.start(c, actor=user("patroller"))
    complaints.propose(c, actor=user("patroller"), cause="c", solution="s")
    complaints.approve(c, actor=user("supervisor"), approve=True)
    db.session.commit()
    api = as_role("receptionist")
    r = api.post(f"/api/complaints/{c.id}/reply", json={"text": "已处理"})
    assert r.status_code == 409 and error_of(r)["code"] == "acceptance_required"
    assert api.post(f"/api/complaints/{c.id}/accept", json={"signed_by": "王女士"}).status_code == 200
    r = api.post(f"/api/complaints/{c.id}/reply", json={"text": "已处理"})
    assert r.status_code == 200 and r.get_json()["state"] == "replied"


def test_the_reply_goes_by_the_residents_channel(demo, as_role):
    c = handled(demo, channel=choices.CHANNEL_LETTER)
    api = as_role("receptionist")
    r = api.post(f"/api/complaints/{c.id}/reply", json={"text": "回函", "channel": "phone"})
    assert r.status_code == 422 and error_of(r)["code"] == "wrong_channel"
    r = api.post(f"/api/complaints/{c.id}/reply", json={"text": "您好：\n已更换灯管。<b>谢谢</b>", "channel": "letter"})
    assert r.status_code == 200
    pdf = api.get(f"/api/complaints/{c.id}/letter.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    events = [e["action"] for e in api.get(f"/api/complaints/{c.id}").get_json()["events"]]
    assert events == ["received", "judged", "assigned", "started", "proposed", "approved", "accepted", "replied"]


def test_a_reply_channel_other_than_the_complaints_is_kept(demo):
    c = take(demo, channel=choices.CHANNEL_VISIT, reply_channel=choices.CHANNEL_PHONE)
    assert (c.channel, c.reply_channel) == ("visit", "phone")


def test_the_supervisor_may_send_a_solution_back_with_a_note(demo):
    c = take(demo)
    complaints.judge(c, actor=user("receptionist"), valid=True)
    complaints.assign(c, actor=user("supervisor"), handler_id=user("patroller").id)
    complaints.start(c, actor=user("patroller"))
    complaints.propose(c, actor=user("patroller"), cause="c", solution="s")
    with pytest.raises(Exception) as exc:
        complaints.approve(c, actor=user("supervisor"), approve=False)
    assert getattr(exc.value, "code", "") == "return_reason_required"
    complaints.approve(c, actor=user("supervisor"), approve=False, note="方案不完整")
    assert c.state == choices.COMPLAINT_IN_PROGRESS


def test_contact_details_need_the_residents_consent(demo, as_role):
    api = as_role("receptionist")
    body = {"site_id": demo.id, "channel": "phone", "complainant": "李先生", "content": "噪音", "contact": "13800000000"}
    r = api.post("/api/complaints/", json=body)
    assert r.status_code == 422 and error_of(r)["code"] == "consent_required"
    r = api.post("/api/complaints/", json=body | {"contact_consent": True})
    assert r.status_code == 201 and r.get_json()["contact"] == "13800000000"


def test_a_resent_complaint_from_a_phone_is_taken_once(demo, as_role):
    api = as_role("patroller")
    body = {"site_id": demo.id, "client_id": str(uuid.uuid4()), "channel": "visit", "complainant": "住户", "content": "电梯异响", "checkpoint_id": checkpoint(demo, "EL1").id}
    first = api.post("/api/complaints/", json=body)
    second = api.post("/api/complaints/", json=body)
    assert first.status_code == 201 and second.status_code == 201
    assert first.get_json()["id"] == second.get_json()["id"]
    assert db.session.execute(select(func.count()).select_from(Complaint)).scalar() == 1


def test_the_duplicate_check_finds_open_complaints_for_the_same_unit(demo, as_role):
    take(demo, unit="8-01")
    closed = take(demo, unit="8-01")
    complaints.judge(closed, actor=user("receptionist"), valid=False, reason="无效")
    db.session.commit()
    r = as_role("receptionist").get(f"/api/complaints/duplicates?site_id={demo.id}&unit=8-01")
    assert r.status_code == 200
    assert [d["state"] for d in r.get_json()] == ["received"]


def test_every_step_is_in_the_pull_log(demo):
    c = take(demo)
    assert db.session.execute(select(func.count()).select_from(Change).where(Change.entity == "complaint", Change.entity_id == str(c.id))).scalar() == 1


# --- the return visit -------------------------------------------------------------------------


def test_the_return_visit_is_due_within_three_days_of_the_reply(demo, as_role):
    c = replied(demo)
    tz_days = complaints.end_of_local_day(c.replied_at, demo.timezone, 3)
    assert c.return_due_at == tz_days
    assert timedelta(days=3) < c.return_due_at - c.replied_at <= timedelta(days=4)
    queue = as_role("receptionist").get(f"/api/return-visits/?site_id={demo.id}&mine=true").get_json()
    assert [q["id"] for q in queue] == [c.id]
    assert as_role("supervisor").get(f"/api/return-visits/?site_id={demo.id}&mine=true").get_json() == []


def test_a_satisfied_return_visit_closes_the_complaint(demo, as_role):
    c = replied(demo)
    r = as_role("receptionist").post(f"/api/complaints/{c.id}/return-visits", json={"result": "satisfied", "notes": "住户表示满意"})
    assert r.status_code == 201 and r.get_json()["on_time"] is True
    assert db.session.get(Complaint, c.id).state == choices.COMPLAINT_CLOSED


def test_a_late_return_visit_is_recorded_as_late(demo):
    c = replied(demo)
    c.return_due_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    v = complaints.record_return_visit(c, actor=user("receptionist"), result=choices.AVERAGE)
    assert v.on_time is False


def test_not_satisfied_reopens_the_complaint_with_a_fresh_deadline(demo, as_role):
    c = replied(demo, received_at=utcnow() - timedelta(days=2))
    old_due = c.due_at
    r = as_role("receptionist").post(f"/api/complaints/{c.id}/return-visits", json={"result": "not_satisfied", "improve": "灯还是闪", "notes": "要求再修"})
    assert r.status_code == 201
    c = db.session.get(Complaint, c.id)
    assert (c.state, c.reopen_count, c.accepted_at, c.return_due_at) == (choices.COMPLAINT_IN_PROGRESS, 1, None, None)
    assert c.due_at > old_due and c.due_at > utcnow()
    # Back through the loop: a second proposal, approval, acceptance and reply.
    complaints.propose(c, actor=user("patroller"), cause="镇流器坏", solution="换镇流器")
    complaints.approve(c, actor=user("supervisor"), approve=True)
    complaints.accept(c, actor=user("receptionist"), signed_by="王女士")
    complaints.reply(c, actor=user("receptionist"), text="已更换镇流器")
    db.session.commit()
    assert c.state == choices.COMPLAINT_REPLIED


def test_a_reopened_complaint_escalates_again(demo):
    c = replied(demo, received_at=utcnow() - timedelta(days=5))
    assert complaints.escalate_due() == 0
    complaints.record_return_visit(c, actor=user("receptionist"), result=choices.NOT_SATISFIED, notes="x")
    db.session.commit()
    assert complaints.escalate_due(c.due_at + timedelta(minutes=1)) == 1


def test_a_return_visit_time_can_be_agreed(demo, as_role):
    c = replied(demo)
    at = utcnow() + timedelta(days=1)
    r = as_role("receptionist").post(f"/api/complaints/{c.id}/return-visits/schedule", json={"at": iso(at)})
    assert r.status_code == 200 and r.get_json()["return_scheduled_at"]
    r = as_role("receptionist").post(f"/api/complaints/{c.id}/return-visits/schedule", json={"at": iso(utcnow() - timedelta(hours=1))})
    assert r.status_code == 422


# --- complaints and patrols --------------------------------------------------------------------


def patrol(site, cp, item_id: str, result: str, at: datetime) -> Visit:
    v = Visit(id=str(uuid.uuid4()), site_id=site.id, checkpoint_id=cp.id, user_id=user("patroller").id, device_id="d1",
              scanned_at=at, scanned_at_device=at, month=at.strftime("%Y-%m"))
    db.session.add(v)
    db.session.flush()
    db.session.add(ItemResult(visit_id=v.id, item_id=item_id, result=result))
    db.session.commit()
    return v


ITEM = "floor.lights_doors_windows"


def valid_about(site, cp, received_at: datetime) -> Complaint:
    c = take(site, checkpoint_id=cp.id, item_id=ITEM, received_at=received_at)
    complaints.judge(c, actor=user("receptionist"), valid=True)
    db.session.commit()
    return c


def test_a_complaint_about_an_item_patrolled_as_fine_is_flagged(demo, as_role):
    cp = checkpoint(demo, "F01")
    v = patrol(demo, cp, ITEM, choices.RESULT_OK, MORNING - timedelta(days=2))
    c = valid_about(demo, cp, MORNING)
    signal = complaints.patrolled_as_fine(c)
    assert signal["visit_id"] == v.id and signal["days_before"] == 2.0
    stats = as_role("supervisor").get(f"/api/sites/{demo.id}/complaints/stats?month=2026-03").get_json()
    assert [s["complaint_id"] for s in stats["patrolled_as_fine"]] == [c.id]


def test_no_signal_when_the_last_patrol_found_the_problem(demo):
    cp = checkpoint(demo, "F01")
    patrol(demo, cp, ITEM, choices.RESULT_OK, MORNING - timedelta(days=3))
    patrol(demo, cp, ITEM, choices.RESULT_FAIL, MORNING - timedelta(days=1))
    assert complaints.patrolled_as_fine(valid_about(demo, cp, MORNING)) is None


def test_no_signal_when_the_item_was_marked_ok_too_long_ago(demo, app):
    cp = checkpoint(demo, "F01")
    patrol(demo, cp, ITEM, choices.RESULT_OK, MORNING - timedelta(days=8))
    c = valid_about(demo, cp, MORNING)
    assert app.config["COMPLAINT_FINE_DAYS"] == 7
    assert complaints.patrolled_as_fine(c) is None
    assert complaints.patrolled_as_fine(c, days=10) is not None


def test_no_signal_for_a_complaint_not_valid(demo):
    cp = checkpoint(demo, "F01")
    patrol(demo, cp, ITEM, choices.RESULT_OK, MORNING - timedelta(days=1))
    c = take(demo, checkpoint_id=cp.id, item_id=ITEM, received_at=MORNING)
    assert complaints.patrolled_as_fine(c) is None


def test_a_complaint_names_a_finding_and_gets_its_place_and_task(demo, as_role):
    f, task = finding(demo)
    r = as_role("receptionist").post("/api/complaints/", json={"site_id": demo.id, "channel": "phone", "complainant": "住户", "content": "同一问题", "finding_id": f.id})
    assert r.status_code == 201
    body = r.get_json()
    assert (body["checkpoint_id"], body["task_id"]) == (f.checkpoint_id, task.id)
    detail = as_role("receptionist").get(f"/api/complaints/{body['id']}").get_json()
    assert [x["id"] for x in detail["patrols"]["findings"]] == [f.id]


def test_a_unit_maps_to_its_checkpoint(demo):
    c = take(demo, unit="0801")
    assert c.checkpoint_id == checkpoint(demo, "U0801").id


def test_month_stats_classify_and_relate_complaints_to_findings(demo, as_role):
    cp = checkpoint(demo, "F01")
    take(demo, received_at=MORNING, checkpoint_id=cp.id)
    other = take(demo, received_at=MORNING, channel=choices.CHANNEL_LETTER)
    complaints.judge(other, actor=user("receptionist"), valid=False, reason="无效")
    db.session.commit()
    finding(demo, "F01", observed_at=MORNING)
    s = as_role("manager").get(f"/api/sites/{demo.id}/complaints/stats?month=2026-03").get_json()
    assert s["total"] == 2
    assert s["by_channel"] == {"phone": 1, "letter": 1}
    assert s["by_validity"] == {"unjudged": 1, "invalid": 1}
    # Both were received on 10 March and neither was handled by the end of that day.
    assert s["by_deadline"] == {"missed": 2}
    assert s["by_checkpoint"][0] == {"checkpoint_id": cp.id, "name_zh": cp.name_zh, "name_en": cp.name_en, "complaints": 1, "findings": 1}


def test_a_complaint_handled_by_its_deadline_counts_as_met(demo):
    c = take(demo)
    assert complaints.deadline_met(c) is None  # still within its day
    complaints.judge(c, actor=user("receptionist"), valid=False, reason="无效")
    assert complaints.deadline_met(c) is True


# --- sealing and the month -----------------------------------------------------------------------


def test_a_sealed_month_keeps_closed_complaints_read_only_and_a_late_one_is_an_addendum(demo, as_role):
    closed = take(demo, received_at=datetime(2026, 2, 10, 2, 0))
    complaints.judge(closed, actor=user("receptionist"), valid=False, reason="无效")
    still_open = take(demo, received_at=datetime(2026, 2, 12, 2, 0))
    db.session.commit()
    archive.seal(demo, "2026-02", actor_id=None)
    db.session.commit()
    # An open complaint carries on after month end.
    complaints.judge(still_open, actor=user("receptionist"), valid=True)
    db.session.commit()
    late = take(demo, received_at=datetime(2026, 2, 20, 2, 0))
    assert (late.month, late.addendum) == ("2026-02", True)
    assert closed.addendum is False
    # The closed one is part of February's sealed record.
    with pytest.raises(Exception) as exc:
        complaints.link_task(closed, actor=user("supervisor"), task_id=finding(demo)[1].id)
    assert getattr(exc.value, "code", "") == "month_sealed"


# --- scoping and roles ------------------------------------------------------------------------------


def test_another_sites_complaint_is_not_found_and_a_role_without_the_action_is_refused(app, demo, other_site, as_role):
    c = take(demo)
    other = ApiClient(app.test_client())
    other.login("other-supervisor")
    assert other.get(f"/api/complaints/{c.id}").status_code == 404
    assert other.post(f"/api/complaints/{c.id}/judge", json={"valid": True}).status_code == 404
    r = as_role("patroller").get(f"/api/complaints/{c.id}")
    assert r.status_code == 403 and error_of(r)["details"]["action"] == "complaint.read"
    r = as_role("archivist").post(f"/api/complaints/{c.id}/judge", json={"valid": True})
    assert r.status_code == 403
    lst = other.get("/api/complaints/").get_json()
    assert lst["items"] == []


def test_the_handler_may_work_on_the_complaint_whatever_their_role(demo, as_role):
    c = take(demo)
    complaints.judge(c, actor=user("receptionist"), valid=True)
    complaints.assign(c, actor=user("supervisor"), handler_id=user("patroller").id)
    db.session.commit()
    api = as_role("patroller")
    assert api.get(f"/api/complaints/{c.id}").status_code == 200
    assert api.post(f"/api/complaints/{c.id}/start").status_code == 200
    assert as_role("archivist").post(f"/api/complaints/{c.id}/propose", json={"cause": "c", "solution": "s"}).status_code == 403


def test_the_sealed_months_record_shows_the_complaint_statistics_with_charts(demo, tmp_path):
    import shutil
    import subprocess
    import zipfile

    cp = checkpoint(demo, "F01")
    take(demo, received_at=MORNING, checkpoint_id=cp.id)
    bad = take(demo, received_at=MORNING, channel=choices.CHANNEL_LETTER)
    complaints.judge(bad, actor=user("receptionist"), valid=False, reason="无效")
    db.session.commit()
    row = archive.seal(demo, "2026-03", actor_id=None)
    db.session.commit()
    figures = archive.summary(demo, "2026-03")["complaints"]
    assert figures["total"] == 2 and figures["by_channel"] == {"phone": 1, "letter": 1}
    with zipfile.ZipFile(row.bundle_path) as zf:
        pdf = zf.read(next(n for n in zf.namelist() if n.endswith("record.pdf")))
    assert pdf.startswith(b"%PDF")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler) is not installed")
    (tmp_path / "record.pdf").write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(tmp_path / "record.pdf"), "-"], capture_output=True, text=True, check=True).stdout
    assert "业主投诉分类统计" in text and "本月受理投诉 2 件" in text and "按投诉方式" in text
    # The per-place table has its own heading (it may start on a new page).
    assert "按点位：投诉与巡查发现问题" in text

    # A month without complaints says so in one line: no empty charts, no table of zeros.
    row = archive.seal(demo, "2026-04", actor_id=None)
    db.session.commit()
    with zipfile.ZipFile(row.bundle_path) as zf:
        (tmp_path / "april.pdf").write_bytes(zf.read(next(n for n in zf.namelist() if n.endswith("record.pdf"))))
    text = subprocess.run(["pdftotext", str(tmp_path / "april.pdf"), "-"], capture_output=True, text=True, check=True).stdout
    assert "本月受理投诉 0 件" in text and "按投诉方式" not in text and "按点位" not in text


def test_the_sealed_months_bundle_has_the_complaint_statistics_as_a_csv_file_and_an_xlsx_sheet(demo):
    import csv
    import io
    import zipfile

    from openpyxl import load_workbook

    take(demo, received_at=MORNING, category="facility")
    bad = take(demo, received_at=MORNING, channel=choices.CHANNEL_LETTER)
    complaints.judge(bad, actor=user("receptionist"), valid=False, reason="无效")
    done = replied(demo, received_at=MORNING + timedelta(hours=1))
    complaints.record_return_visit(done, actor=user("receptionist"), result=choices.SATISFIED)
    db.session.commit()
    row = archive.seal(demo, "2026-03", actor_id=None)
    db.session.commit()
    with zipfile.ZipFile(row.bundle_path) as zf:
        name = lambda end: next(n for n in zf.namelist() if n.endswith(end))  # noqa: E731
        rows = list(csv.reader(io.StringIO(zf.read(name("complaint_stats.csv")).decode("utf-8-sig"))))
        book = load_workbook(io.BytesIO(zf.read(name("record.xlsx"))), read_only=True)
        sheet = [list(r) for r in book["投诉分类统计"].iter_rows(values_only=True)]
    assert rows[0] == ["统计项 dimension", "统计项代码 dimension_code", "分类 item", "分类代码 item_code", "件数 count", "占比 share"]
    table = {(r[1], r[3]): (r[2], int(r[4])) for r in rows[1:]}
    assert table[("total", "")] == ("", 3)
    assert table[("by_channel", "phone")] == ("来电", 2) and table[("by_channel", "letter")] == ("来函", 1)
    assert [table[("by_validity", v)] for v in ("valid", "invalid", "unjudged")] == [("有效", 1), ("无效", 1), ("未判定", 1)]
    assert table[("by_satisfaction", "satisfied")] == ("满意", 1)
    assert table[("by_category", "facility")][1] == 1 and table[("by_category", "none")] == ("未填", 2)
    assert {k for k, _ in table} >= {"by_kind", "by_department", "by_deadline"}
    # The sheet holds the same rows (through the same writer and export cell function).
    assert [str(c) for c in sheet[0]] == rows[0]
    assert {(r[1], r[3] or ""): (r[2] or "", r[4]) for r in sheet[1:]} == table


def test_the_demo_site_gets_a_receptionist_and_complaints_in_each_state(demo, runner):
    assert "receptionist" in choices.ROLES and user("receptionist") is not None
    first = runner.invoke(args=["seed-demo"])
    second = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0 and "demo complaints: 7" in first.output, first.output
    assert "demo complaints" not in second.output
    states = set(db.session.execute(select(Complaint.state).where(Complaint.site_id == demo.id)).scalars())
    assert states == {"received", "invalid", "assigned", "proposed", "replied", "closed"}


# --- taken on the phone during a patrol (sync) -------------------------------------------------------


def test_a_complaint_taken_on_the_phone_during_a_patrol_syncs_exactly_once(demo, as_role):
    from .support.phone import Phone

    phone = Phone(as_role("patroller"), demo.id)
    visit = phone.visit("F08", fail=(0,), scanned_at=phone.now() - timedelta(minutes=20))
    complaint = phone.mutation("complaint.receive", {
        "complaint_id": str(uuid.uuid4()), "site_id": demo.id, "visit_id": visit["payload"]["visit_id"], "channel": "visit",
        "complainant": "8楼住户", "unit": "8-01", "content": "楼道灯晚上经常不亮",
    }, phone.now() - timedelta(minutes=19))
    first = phone.push_ok([visit, complaint])
    assert [r["status"] for r in first] == ["applied", "applied"], first
    again = phone.push_ok([visit, complaint])
    assert [r["status"] for r in again] == ["duplicate", "duplicate"]
    rows = db.session.execute(select(Complaint)).scalars().all()
    assert len(rows) == 1
    c = rows[0]
    assert (c.visit_id, c.checkpoint_id, c.received_by) == (visit["payload"]["visit_id"], checkpoint(demo, "F08").id, user("patroller").id)
    assert first[1]["result"] == {"complaint_id": c.id, "state": "received"}
    # Received when the resident spoke, not when the phone synced.
    assert abs((c.received_at - (utcnow() - timedelta(minutes=19))).total_seconds()) < 60


def test_a_role_that_may_not_take_complaints_is_refused_through_sync(demo, as_role):
    from .support.phone import Phone

    phone = Phone(as_role("archivist"), demo.id)
    m = phone.mutation("complaint.receive", {"complaint_id": str(uuid.uuid4()), "site_id": demo.id, "complainant": "x", "content": "y"}, phone.now())
    [r] = phone.push_ok([m])
    assert (r["status"], r["code"]) == ("rejected", "forbidden_site")
    assert db.session.execute(select(func.count()).select_from(Complaint)).scalar() == 0


# --- retention and legal holds ---------------------------------------------------------------------


def test_retention_purges_a_filed_months_closed_complaints_and_a_legal_hold_keeps_them(demo, app, as_role):
    from server import retention
    from server.models import Photo
    from server.photos import photo_path

    pid = _upload(as_role("receptionist"))
    old = take(demo, received_at=datetime(2024, 1, 10, 2, 0), photo_ids=[pid])
    complaints.judge(old, actor=user("receptionist"), valid=False, reason="无效")
    still_open = take(demo, received_at=datetime(2024, 1, 11, 2, 0))
    db.session.commit()
    archive.seal(demo, "2024-01", actor_id=None)
    db.session.commit()
    hold = retention.add_hold(demo, reason="诉讼 court", actor_id=None, month="2024-01")
    db.session.commit()
    [held] = [p for p in retention.due_months() if p.month == "2024-01"]
    assert held.action == "skip" and held.reason == "legal hold on this month"
    retention.release_hold(hold, actor_id=None)
    db.session.commit()
    [plan] = [p for p in retention.due_months() if p.month == "2024-01"]
    assert plan.action == "purge" and plan.counts["complaints"] == 1 and plan.counts["photos"] == 1
    old_id, open_id = old.id, still_open.id
    # The photo's files: its copies, or its original while the photo worker has not made them.
    def files():
        return sorted(photo_path(pid, "thumb").parent.glob(f"{pid}.*"))

    assert files()
    retention.apply_plan(plan, actor=None, by_name="test")
    db.session.commit()
    retention.remove_files(plan)
    db.session.expunge_all()
    assert db.session.get(Complaint, old_id) is None
    # The complaint's photo goes with it, row and files.
    assert db.session.get(Photo, pid) is None and files() == []
    assert db.session.get(Complaint, open_id) is not None  # not closed: not filed away yet


# --- photos (the one photo rule, photos.may_link) ------------------------------------------------


def _upload(api: ApiClient) -> str:
    from .support.photos import jpeg, put

    pid = str(uuid.uuid4())
    assert put(api, pid, jpeg(640, 480)).status_code == 201
    return pid


def test_a_complaints_photo_is_claimed_by_the_photo_rule_and_shown_on_its_detail(demo, as_role):
    from server.models import Photo

    api = as_role("receptionist")
    pid, expected = _upload(api), str(uuid.uuid4())
    body = {"site_id": demo.id, "channel": "visit", "complainant": "王女士", "content": "墙面渗水 damp wall", "photo_ids": [pid, expected]}
    r = api.post("/api/complaints/", json=body)
    assert r.status_code == 201, r.get_json()
    cid = r.get_json()["id"]
    photo = db.session.get(Photo, pid)
    db.session.refresh(photo)
    assert (photo.site_id, photo.complaint_id, photo.purpose) == (demo.id, cid, choices.PHOTO_COMPLAINT)
    detail = api.get(f"/api/complaints/{cid}").get_json()
    assert detail["photo_ids"] == [pid, expected]
    # The one named before its bytes arrived is expected from the receptionist, and shown as missing.
    assert detail["photos_missing"] == [expected]
    assert api.get(f"/api/photos/{pid}?size=thumb").headers["Content-Type"] == "image/jpeg"
    # The site's staff see it; the other site's do not.
    assert as_role("supervisor").get(f"/api/photos/{pid}?size=display").status_code == 200


def test_a_photo_of_another_site_or_another_record_is_refused(demo, other_site, as_role):
    other = as_role("other-receptionist")
    theirs = _upload(other)
    r = other.post("/api/complaints/", json={"site_id": other_site.id, "channel": "phone", "complainant": "张", "content": "噪音", "photo_ids": [theirs]})
    assert r.status_code == 201
    assert as_role("receptionist").get(f"/api/photos/{theirs}?size=thumb").status_code == 404
    api = as_role("receptionist")
    body = {"site_id": demo.id, "channel": "phone", "complainant": "王女士", "content": "噪音 noise"}
    r = api.post("/api/complaints/", json=body | {"photo_ids": [theirs]})
    assert r.status_code == 409 and error_of(r)["code"] == "photo_conflict"
    mine = _upload(api)
    assert api.post("/api/complaints/", json=body | {"photo_ids": [mine]}).status_code == 201
    # Already a complaint's photo: a second complaint may not name it.
    r = api.post("/api/complaints/", json=body | {"photo_ids": [mine]})
    assert r.status_code == 409 and error_of(r)["code"] == "photo_conflict"
    assert db.session.execute(select(func.count()).select_from(Complaint).where(Complaint.site_id == demo.id)).scalar() == 1


# --- business days (Site.complaint_business_days) --------------------------------------------------

# 2026-03-13 is a Friday; 07:00 UTC is 15:00 in Shanghai, Friday afternoon.
FRIDAY_AFTERNOON = datetime(2026, 3, 13, 7, 0)


def end_of_shanghai_day(day: int) -> datetime:
    """The end of 2026-03-<day> in Shanghai, as naive UTC (16:00 UTC that day)."""
    return datetime(2026, 3, day, 16, 0)


def test_a_complaint_received_friday_afternoon_at_a_calendar_day_site_counts_the_weekend(demo):
    ordinary = take(demo, received_at=FRIDAY_AFTERNOON)
    special = take(demo, received_at=FRIDAY_AFTERNOON, kind=choices.COMPLAINT_SPECIAL)
    assert ordinary.due_at == end_of_shanghai_day(13)  # Friday
    assert special.due_at == end_of_shanghai_day(16)  # Monday: Saturday and Sunday count


def test_a_complaint_received_friday_afternoon_at_a_business_day_site_skips_the_weekend(demo, as_role):
    r = as_role("admin").patch(f"/api/sites/{demo.id}", json={"complaint_business_days": True})
    assert r.status_code == 200 and r.get_json()["complaint_business_days"] is True
    assert r.get_json()["complaint_weekend"] == choices.WEEKEND_SAT_SUN
    db.session.refresh(demo)
    ordinary = take(demo, received_at=FRIDAY_AFTERNOON)
    special = take(demo, received_at=FRIDAY_AFTERNOON, kind=choices.COMPLAINT_SPECIAL)
    assert ordinary.due_at == end_of_shanghai_day(13)  # the same day is still Friday
    assert special.due_at == end_of_shanghai_day(18)  # Monday, Tuesday, Wednesday
    # Received on a Saturday, "the same day" is the next business day; transferring counts from it too.
    saturday = take(demo, received_at=datetime(2026, 3, 14, 2, 0))
    assert saturday.due_at == end_of_shanghai_day(16)
    complaints.judge(saturday, actor=user("receptionist"), valid=True, department_id=dept(demo, choices.DEPT_ENGINEERING))
    assert saturday.due_at == end_of_shanghai_day(19)  # Monday + 3 business days = Thursday


def test_a_site_resting_only_on_sunday_counts_saturday(demo, as_role):
    r = as_role("admin").patch(f"/api/sites/{demo.id}", json={"complaint_business_days": True, "complaint_weekend": choices.WEEKEND_SUN})
    assert r.status_code == 200
    assert as_role("admin").patch(f"/api/sites/{demo.id}", json={"complaint_weekend": "fri"}).status_code == 422
    db.session.refresh(demo)
    special = take(demo, received_at=FRIDAY_AFTERNOON, kind=choices.COMPLAINT_SPECIAL)
    assert special.due_at == end_of_shanghai_day(17)  # Saturday, Monday, Tuesday
