"""From finding to verified fix: due dates, routing, states, extensions, verification, repeats."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from server import choices, tasks
from server.errors import problem_status
from server.extensions import db
from server.models import AuditEvent, Change, Checkpoint, Finding, Photo, Site, Task, Verification, Visit, utcnow
from server.problems import Conflict, Invalid

from .support.api import error_of
from .support.ids import iso, new_id
from .support.phone import Phone
from .support.tasks import checkpoint, finding, user, work_done

DAY = timedelta(days=1)


def verify_visit(task, who="supervisor", code=None, at=None):
    """A verify scan of the task's checkpoint (or of checkpoint `code`), stored as the sync layer would."""
    cp = checkpoint(db.session.get(Site, task.site_id), code) if code else db.session.get(Checkpoint, task.checkpoint_id)
    return tasks.record_verify_visit(visit_id=new_id(), task=task, checkpoint=cp, user=user(who), scanned_at=at or utcnow(), scan_method="qr")


def verify(task, visit, who="supervisor", result="pass", **kw):
    kw.setdefault("after_photo_ids", [new_id()])
    kw.setdefault("signatures", {"verifier": new_id(), "fixer": new_id()})
    return tasks.verify_on_site(task, verification_id=kw.pop("verification_id", new_id()), actor=user(who), visit=visit, result=result, **kw)


# --- findings and due dates ------------------------------------------------------------


def test_unresolved_finding_opens_one_task_due_in_seven_days(demo):
    seen = utcnow() - timedelta(hours=5)
    f, task = finding(demo, observed_at=seen)
    assert task is not None and task.state == choices.TASK_OPEN
    assert task.due_at == seen + 7 * DAY == task.original_due_at
    assert db.session.execute(select(func.count()).select_from(Task).where(Task.finding_id == f.id)).scalar() == 1


def test_finding_dealt_with_on_the_spot_is_resolved_with_its_note_and_opens_no_task(demo):
    f, task = finding(demo, dealt_on_spot=True, spot_note="劝阻了住户 talked the resident round")
    assert task is None
    assert f.dealt_on_spot and f.spot_note.startswith("劝阻")
    ev = db.session.execute(select(AuditEvent).where(AuditEvent.entity == "finding", AuditEvent.entity_id == f.id)).scalar_one()
    assert ev.action == "dealt_on_spot" and ev.data["spot_note"].startswith("劝阻")


def test_due_days_are_a_per_site_setting(demo):
    demo.task_due_days = 3
    seen = utcnow()
    _, task = finding(demo, observed_at=seen)
    assert task.due_at == seen + 3 * DAY


def test_due_date_is_observation_plus_seven_days_when_the_finding_syncs_three_days_late(demo, as_role):
    phone = Phone(as_role("patroller"), demo.id)
    seen = phone.now() - 3 * DAY
    results = phone.push_ok([phone.visit(fail=(0,), scanned_at=seen)])
    assert results[0]["status"] == "applied", results
    task = db.session.get(Task, results[0]["result"]["task_ids"][0])
    assert abs(task.due_at - (seen.replace(tzinfo=None) + 7 * DAY)) < timedelta(seconds=2)


def test_due_date_is_observation_plus_seven_days_when_the_phone_clock_is_a_day_off(demo, as_role):
    phone = Phone(as_role("patroller"), demo.id, clock_off=DAY)  # the phone thinks it is tomorrow
    seen_by_phone = phone.now() - timedelta(hours=2)
    results = phone.push_ok([phone.visit(fail=(0,), scanned_at=seen_by_phone)])
    task = db.session.get(Task, results[0]["result"]["task_ids"][0])
    really_seen = (seen_by_phone - DAY).replace(tzinfo=None)
    assert abs(task.due_at - (really_seen + 7 * DAY)) < timedelta(seconds=2)
    detail = as_role("supervisor").get(f"/api/tasks/{task.id}").get_json()
    # Shown in the site's timezone (Asia/Shanghai, UTC+8) as well as in UTC.
    local = task.due_at + timedelta(hours=8)
    assert detail["due_local"] == local.strftime("%Y-%m-%d %H:%M") and detail["timezone"] == "Asia/Shanghai"


def _task_shape(task_json: dict) -> dict:
    keep = ("state", "route", "route_confirmed", "severity", "department_id", "assignee_id", "checkpoint_id", "repeat_flag", "case")
    out = {k: task_json[k] for k in keep}
    out["finding"] = {k: task_json["finding"][k] for k in ("item_id", "category", "severity")}
    out["due_after_observation"] = task_json["due_at"] > task_json["finding"]["observed_at"]
    return out


def test_finding_by_sync_and_by_api_end_in_the_same_task(demo, as_role):
    """The same domain function serves both: a finding synced from a phone and one posted from the web."""
    patroller = as_role("patroller")
    phone = Phone(patroller, demo.id)
    results = phone.push_ok([phone.visit("F02", fail=(0,), scanned_at=phone.now(), severity="major")])
    synced_id = results[0]["result"]["task_ids"][0]
    r = patroller.post("/api/findings/", json={"checkpoint_id": checkpoint(demo, "F03").id, "item_id": "floor.lights_doors_windows",
                                               "description": "灯不亮 light out", "severity": "major"})
    assert r.status_code == 201, r.get_json()
    web_id = r.get_json()["task_id"]
    sup = as_role("supervisor")
    synced, web = sup.get(f"/api/tasks/{synced_id}").get_json(), sup.get(f"/api/tasks/{web_id}").get_json()
    a, b = _task_shape(synced), _task_shape(web)
    assert a.pop("checkpoint_id") != b.pop("checkpoint_id")
    assert a == b
    assert a["department_id"] is not None and a["state"] == "open"
    # Due seven days after the observation, whichever way it came in.
    for t in (synced, web):
        obs = db.session.get(Finding, t["finding_id"]).observed_at
        assert db.session.get(Task, t["id"]).due_at == obs + 7 * DAY


def test_web_finding_outside_the_checklist_needs_a_category_and_is_routed_by_it(demo, as_role):
    c = as_role("patroller")
    cp = checkpoint(demo).id
    r = c.post("/api/findings/", json={"checkpoint_id": cp, "description": "no category"})
    assert r.status_code == 422 and error_of(r)["details"]["fields"]["category"]
    r = c.post("/api/findings/", json={"checkpoint_id": cp, "category": "cleanliness", "description": "垃圾 rubbish"})
    body = r.get_json()
    assert r.status_code == 201 and body["route"] == "department_work"
    task = db.session.get(Task, body["task_id"])
    assert tasks.department_by_code(demo.id, "cleaning").id == task.department_id
    r = c.post("/api/findings/", json={"checkpoint_id": cp, "item_id": "no.such.item", "description": "x"})
    assert r.status_code == 422
    r = c.post("/api/findings/", json={"checkpoint_id": cp, "category": "cleanliness", "description": "x", "observed_at": iso(utcnow() + DAY)})
    assert r.status_code == 422
    fid = new_id()
    ok = c.post("/api/findings/", json={"finding_id": fid, "checkpoint_id": cp, "category": "cleanliness", "description": "x"})
    again = c.post("/api/findings/", json={"finding_id": fid, "checkpoint_id": cp, "category": "cleanliness", "description": "x"})
    assert ok.status_code == 201 and again.status_code == 409
    assert db.session.execute(select(func.count()).select_from(Task).where(Task.finding_id == fid)).scalar() == 1


def test_web_finding_dealt_on_the_spot_opens_no_task(demo, as_role):
    r = as_role("patroller").post("/api/findings/", json={"checkpoint_id": checkpoint(demo).id, "category": "security_hazard",
                                                          "description": "门没关 door open", "dealt_on_spot": True, "spot_note": "关上了 closed it"})
    assert r.status_code == 201 and r.get_json()["task_id"] is None and r.get_json()["spot_note"] == "关上了 closed it"


# --- routing and assignment -------------------------------------------------------------


@pytest.mark.parametrize(
    "route, category, department",
    [
        ("facility_repair", "facilities", "engineering"),
        ("department_work", "cleanliness", "cleaning"),
        ("department_work", "landscaping", "landscaping"),
        ("department_work", "security_hazard", "security"),
        ("department_work", "facilities", "customer_service"),
        ("resident_violation", "renovation_violation", "customer_service"),
    ],
)
def test_task_is_routed_to_a_department_by_its_cause(demo, route, category, department):
    _, task = finding(demo, route=route, category=category, item_id=None)
    assert task.department_id == tasks.department_by_code(demo.id, department).id
    assert task.route == route and not task.route_confirmed


def test_supervisor_confirms_or_changes_the_route(demo, as_role):
    _, task = finding(demo)
    r = as_role("patroller").post(f"/api/tasks/{task.id}/route", json={"route": "department_work"})
    assert r.status_code == 403
    r = as_role("supervisor").post(f"/api/tasks/{task.id}/route", json={"route": "resident_violation", "note": "住户损坏 resident damage"})
    assert r.status_code == 200 and r.get_json()["route"] == "resident_violation" and r.get_json()["route_confirmed"]
    assert r.get_json()["department_id"] == tasks.department_by_code(demo.id, "customer_service").id
    ev = db.session.execute(select(AuditEvent).where(AuditEvent.entity == "task", AuditEvent.action == "routed")).scalar_one()
    assert ev.data["from"]["route"] == "facility_repair" and ev.actor_id == user("supervisor").id


def test_assign_and_reassign_to_a_department_and_person(demo, as_role, other_site):
    _, task = finding(demo)
    sup = as_role("supervisor")
    cleaning = tasks.department_by_code(demo.id, "cleaning").id
    r = sup.post(f"/api/tasks/{task.id}/assign", json={"assignee_id": user("patroller").id, "department_id": cleaning})
    assert r.status_code == 200 and r.get_json()["state"] == "assigned" and r.get_json()["assignee_id"] == user("patroller").id
    assert r.get_json()["department_id"] == cleaning
    r = sup.post(f"/api/tasks/{task.id}/assign", json={"assignee_id": user("supervisor").id})
    assert r.status_code == 200 and r.get_json()["state"] == "assigned" and r.get_json()["assignee_name"] == user("supervisor").display_name
    # Someone from another site, or another site's department, cannot be given the work.
    r = sup.post(f"/api/tasks/{task.id}/assign", json={"assignee_id": user("other-patroller").id})
    assert r.status_code == 422
    other_dept = tasks.department_by_code(other_site.id, "cleaning").id
    assert sup.post(f"/api/tasks/{task.id}/assign", json={"assignee_id": user("patroller").id, "department_id": other_dept}).status_code == 422
    actions = db.session.execute(select(AuditEvent.action).where(AuditEvent.entity == "task", AuditEvent.entity_id == str(task.id)).order_by(AuditEvent.id)).scalars().all()
    assert actions == ["opened", "transition", "assigned", "reassigned"]


def test_comments_carry_photo_ids(demo, as_role):
    _, task = finding(demo)
    photo = new_id()
    r = as_role("patroller").post(f"/api/tasks/{task.id}/comments", json={"body": "零件已订 parts ordered", "photo_ids": [photo]})
    assert r.status_code == 201 and r.get_json()["photo_ids"] == [photo]
    assert db.session.get(Photo, photo).task_id == task.id
    assert [c["body"] for c in as_role("manager").get(f"/api/tasks/{task.id}/comments").get_json()] == ["零件已订 parts ordered"]


def test_residents_convention_case_records_notice_deadline_and_outcome(demo, as_role):
    _, task = finding(demo, route="resident_violation", category="renovation_violation", item_id=None)
    sup = as_role("supervisor")
    notice, rectify = utcnow(), utcnow() + 3 * DAY
    r = sup.patch(f"/api/tasks/{task.id}/case", json={"notice_given_at": iso(notice), "rectify_by": iso(rectify)})
    assert r.status_code == 200
    r = sup.patch(f"/api/tasks/{task.id}/case", json={"outcome": "escalated"})
    case = r.get_json()["case"]
    assert case["outcome"] == "escalated" and case["rectify_by"].startswith(rectify.date().isoformat())
    assert sup.patch(f"/api/tasks/{task.id}/case", json={"outcome": "forgotten"}).status_code == 422
    _, repair = finding(demo, "F02")
    assert error_of(sup.patch(f"/api/tasks/{repair.id}/case", json={"outcome": "rectified"}))["code"] == "not_a_case"


# --- the state machine ------------------------------------------------------------------


def test_task_moves_through_its_states_and_every_move_is_an_event(demo, as_role):
    _, task = finding(demo)
    work_done(task)
    visit = verify_visit(task)
    verify(task, visit)
    db.session.commit()
    assert task.state == choices.TASK_VERIFIED and task.closed_at is not None
    moves = db.session.execute(
        select(AuditEvent).where(AuditEvent.entity == "task", AuditEvent.entity_id == str(task.id), AuditEvent.action == "transition").order_by(AuditEvent.id)
    ).scalars().all()
    assert [(e.data["from"], e.data["to"]) for e in moves] == [("open", "assigned"), ("assigned", "in_progress"), ("in_progress", "done"), ("done", "verified")]
    assert all(e.actor_id and e.at for e in moves)
    # A closed task leaves the phones' task lists.
    change = db.session.execute(select(Change).where(Change.entity == "task", Change.entity_id == str(task.id))).scalar_one()
    assert change.op == "delete"


@pytest.mark.parametrize(
    "state, to, code",
    [("open", "done", "transition_not_allowed"), ("open", "verified", "transition_not_allowed"), ("done", "verified", "verification_required"), ("open", "assigned", "no_assignee")],
)
def test_moves_the_state_forbids_are_refused_with_409(demo, state, to, code):
    _, task = finding(demo)
    if state == "done":
        work_done(task)
    with pytest.raises(Conflict) as exc:
        tasks.transition(task, actor=user("supervisor"), to_state=to)
    assert problem_status(exc.value) == 409 and exc.value.code == code


def test_only_the_assignee_or_a_director_may_start_and_finish_work(demo, as_role):
    _, task = finding(demo)
    tasks.assign(task, actor=user("supervisor"), assignee_id=user("patroller").id)
    db.session.commit()
    for role in ("archivist", "admin"):
        assert as_role(role).post(f"/api/tasks/{task.id}/transition", json={"to": "in_progress"}).status_code == 403
    tasks.assign(task, actor=user("supervisor"), assignee_id=user("manager").id)
    db.session.commit()
    # No longer the assignee: the patroller may not move it.
    assert error_of(as_role("patroller").post(f"/api/tasks/{task.id}/transition", json={"to": "in_progress"}))["status"] == 403
    r = as_role("manager").post(f"/api/tasks/{task.id}/transition", json={"to": "in_progress", "note": "开始 started"})
    assert r.status_code == 200 and r.get_json()["state"] == "in_progress"
    # Repeating a move already made changes nothing.
    again = as_role("supervisor").post(f"/api/tasks/{task.id}/transition", json={"to": "in_progress"})
    assert again.status_code == 200
    assert db.session.execute(select(func.count()).select_from(AuditEvent).where(AuditEvent.entity == "task", AuditEvent.action == "transition", AuditEvent.entity_id == str(task.id))).scalar() == 2


def test_supervisor_cancels_with_a_reason(demo, as_role):
    _, task = finding(demo)
    assert as_role("patroller").post(f"/api/tasks/{task.id}/cancel", json={"reason": "x"}).status_code == 403
    assert as_role("supervisor").post(f"/api/tasks/{task.id}/cancel", json={"reason": ""}).status_code == 422
    with pytest.raises(Invalid) as exc:
        tasks.transition(task, actor=user("supervisor"), to_state="cancelled", note="  ")
    assert exc.value.code == "cancel_reason_required"
    r = as_role("supervisor").post(f"/api/tasks/{task.id}/cancel", json={"reason": "重复上报 duplicate"})
    assert r.status_code == 200 and r.get_json()["state"] == "cancelled" and r.get_json()["cancel_reason"] == "重复上报 duplicate"
    assert error_of(as_role("supervisor").post(f"/api/tasks/{task.id}/transition", json={"to": "in_progress"}))["status"] == 409


# --- verification on site -----------------------------------------------------------------


def test_verification_without_a_fresh_scan_is_rejected(demo):
    _, task = finding(demo)
    early = verify_visit(task, at=utcnow() - timedelta(minutes=1))  # scanned before the work was done
    work_done(task)
    other_cp = verify_visit(task, code="F09")  # a scan of another checkpoint
    someone_else = verify_visit(task, who="patroller")  # made by someone else than the verifier
    patrol = verify_visit(task)
    patrol.purpose = "patrol"  # a patrol scan, not a verify scan
    for visit in (early, other_cp, someone_else, patrol):
        with pytest.raises(Conflict) as exc:
            verify(task, visit)
        assert problem_status(exc.value) == 409 and exc.value.code == "no_fresh_scan", visit
    assert task.state == choices.TASK_DONE
    assert db.session.execute(select(func.count()).select_from(Verification)).scalar() == 0


def test_verification_over_the_web_rejects_a_scan_of_another_checkpoint(demo, as_role):
    _, task = finding(demo)
    work_done(task)
    sup = as_role("supervisor")
    body = {"verification_id": new_id(), "result": "pass", "after_photo_ids": [new_id()], "signatures": {"verifier": new_id()}}
    for scan in ({}, {"token": checkpoint(demo, "F02").token}, {"code": "F02"}, {"token": "no-such-label"}):
        r = sup.post(f"/api/tasks/{task.id}/verify", json=body | scan)
        assert r.status_code == 409 and error_of(r)["code"] == "no_fresh_scan", scan
    assert db.session.execute(select(func.count()).select_from(Visit)).scalar() == 0
    r = sup.post(f"/api/tasks/{task.id}/verify", json=body | {"code": "f01"})
    assert r.status_code == 201, r.get_json()
    assert db.session.get(Task, task.id).state == "verified"
    # The same verification sent again applies nothing twice.
    again = sup.post(f"/api/tasks/{task.id}/verify", json=body | {"code": "F01"})
    assert again.get_json()["id"] == r.get_json()["id"]
    assert db.session.execute(select(func.count()).select_from(Verification)).scalar() == 1


def test_failed_verification_reopens_the_task(demo, as_role):
    _, task = finding(demo)
    work_done(task)
    ver = verify(task, verify_visit(task), result="fail", note="仍然不亮 still out", after_photo_ids=[])
    db.session.commit()
    assert ver.result == "fail" and task.state == choices.TASK_IN_PROGRESS and task.closed_at is None
    # The old scan cannot be reused: the work must be done again and scanned afresh.
    tasks.transition(task, actor=user("patroller"), to_state="done")
    with pytest.raises(Conflict) as exc:
        verify(task, db.session.get(Visit, ver.visit_id))
    assert exc.value.code == "no_fresh_scan"
    verify(task, verify_visit(task))
    assert task.state == choices.TASK_VERIFIED


def test_verification_replay_applies_once(demo):
    _, task = finding(demo)
    work_done(task)
    vid = new_id()
    first = verify(task, verify_visit(task), verification_id=vid)
    db.session.commit()
    second = verify(task, verify_visit(task), verification_id=vid)
    assert second is first
    assert db.session.execute(select(func.count()).select_from(AuditEvent).where(AuditEvent.entity == "verification")).scalar() == 1
    _, other = finding(demo, "F02")
    work_done(other)
    with pytest.raises(Conflict) as exc:
        verify(other, verify_visit(other), verification_id=vid)
    assert exc.value.code == "verification_id_reused"


def test_sign_off_records_fixer_verifier_and_supervisor_with_signatures_and_photo_pairs(demo, as_role):
    _, task = finding(demo)
    before = [new_id(), new_id()]
    tasks.claim_photos(before, purpose="finding", site_id=demo.id, user_id=user("patroller").id, finding_id=task.finding_id)
    work_done(task)
    after = [new_id(), new_id()]
    sigs = {"fixer": new_id(), "verifier": new_id(), "supervisor": new_id()}
    with pytest.raises(Invalid) as exc:
        verify(task, verify_visit(task, who="patroller"), who="patroller", signatures={"fixer": new_id()})
    assert exc.value.code == "signature_required"
    with pytest.raises(Invalid) as exc:
        verify(task, verify_visit(task, who="patroller"), who="patroller", after_photo_ids=[])
    assert exc.value.code == "after_photo_required"
    verify(task, verify_visit(task, who="patroller"), who="patroller", after_photo_ids=after, signatures=sigs,
           fixed_by_name="王师傅 Master Wang", supervisor_id=user("supervisor").id)
    db.session.commit()
    detail = as_role("manager").get(f"/api/tasks/{task.id}").get_json()
    v = detail["verifications"][0]
    assert v["fixed_by_name"] == "王师傅 Master Wang" and v["verifier_id"] == user("patroller").id and v["supervisor_id"] == user("supervisor").id
    assert v["signatures"] == sigs
    assert detail["photos"]["pairs"] == [{"before": before[0], "after": after[0]}, {"before": before[1], "after": after[1]}]
    assert set(detail["photos"]["missing"]) == set(before + after + list(sigs.values()))  # named, bytes not uploaded yet
    assert (v["verifier_name"], v["supervisor_name"]) == (user("patroller").display_name, user("supervisor").display_name)
    assert {db.session.get(Photo, p).purpose for p in sigs.values()} == {"signature"}
    assert detail["events"][-1]["data"]["to"] == "verified"


def test_a_supervisor_who_verifies_signs_as_the_supervisor_and_a_manager_does_not(demo):
    # The policy table's task.sign_as_supervisor decides, not a role check in the code.
    _, by_supervisor = finding(demo, "F01")
    _, by_manager = finding(demo, "F02")
    work_done(by_supervisor)
    work_done(by_manager)
    assert verify(by_supervisor, verify_visit(by_supervisor, who="supervisor"), who="supervisor").supervisor_id == user("supervisor").id
    assert verify(by_manager, verify_visit(by_manager, who="manager"), who="manager").supervisor_id is None


def test_verification_by_sync_closes_the_task(demo, as_role):
    _, task = finding(demo)
    work_done(task)
    phone = Phone(as_role("supervisor"), demo.id)
    cp = checkpoint(demo)
    payload = {"verification_id": new_id(), "task_id": task.id, "result": "pass",
               "visit": {"visit_id": new_id(), "checkpoint_id": cp.id, "scanned_at": iso(phone.now()), "scan_method": "qr"},
               "after_photo_ids": [new_id()], "signatures": {"verifier": new_id()}}
    m = phone.mutation("task.verify", payload, phone.now())
    assert phone.push_ok([m])[0]["status"] == "applied"
    assert phone.push_ok([m])[0]["status"] == "duplicate"
    db.session.expire_all()
    assert db.session.get(Task, task.id).state == "verified"
    assert db.session.execute(select(func.count()).select_from(Verification)).scalar() == 1


def test_verification_by_sync_of_a_scan_before_the_work_was_done_is_rejected(demo, as_role):
    _, task = finding(demo)
    phone = Phone(as_role("supervisor"), demo.id)
    scanned = phone.now() - timedelta(minutes=5)
    work_done(task)
    payload = {"verification_id": new_id(), "task_id": task.id, "result": "pass",
               "visit": {"visit_id": new_id(), "checkpoint_id": checkpoint(demo).id, "scanned_at": iso(scanned), "scan_method": "qr"},
               "after_photo_ids": [new_id()], "signatures": {"verifier": new_id()}}
    result = phone.push_ok([phone.mutation("task.verify", payload, scanned)])[0]
    assert result["status"] == "rejected" and result["code"] == "no_fresh_scan"
    db.session.expire_all()
    assert db.session.get(Task, task.id).state == "done"


# --- extensions -----------------------------------------------------------------------------


def test_only_a_manager_approves_an_extension_and_the_due_date_moves_only_then(demo, as_role):
    _, task = finding(demo)
    tasks.assign(task, actor=user("supervisor"), assignee_id=user("patroller").id)
    db.session.commit()
    due = task.due_at
    new_due = due + 10 * DAY
    r = as_role("patroller").post(f"/api/tasks/{task.id}/extensions", json={"requested_due_at": iso(new_due), "reason": "等零件 waiting for parts"})
    assert r.status_code == 201, r.get_json()
    ext_id = r.get_json()["id"]
    db.session.expire_all()
    assert db.session.get(Task, task.id).due_at == due
    for role in ("patroller", "supervisor", "archivist", "admin"):
        r = as_role(role).post(f"/api/tasks/extensions/{ext_id}/decision", json={"approve": True})
        assert r.status_code == 403, role
        db.session.expire_all()
        assert db.session.get(Task, task.id).due_at == due
    r = as_role("manager").post(f"/api/tasks/extensions/{ext_id}/decision", json={"approve": True, "note": "同意 ok"})
    assert r.status_code == 200 and r.get_json()["state"] == "approved"
    db.session.expire_all()
    assert db.session.get(Task, task.id).due_at == new_due and db.session.get(Task, task.id).original_due_at == due
    assert as_role("manager").post(f"/api/tasks/extensions/{ext_id}/decision", json={"approve": False}).status_code == 409
    history = as_role("supervisor").get(f"/api/tasks/{task.id}/extensions").get_json()
    assert [(h["state"], h["previous_due_at"]) for h in history] == [("approved", iso(due))]


def test_a_rejected_extension_leaves_the_due_date_and_stays_in_the_history(demo, as_role):
    _, task = finding(demo)
    due = task.due_at
    sup = as_role("supervisor")
    r = sup.post(f"/api/tasks/{task.id}/extensions", json={"requested_due_at": iso(due - DAY), "reason": "x"})
    assert r.status_code == 422 and error_of(r)["code"] == "due_not_later"
    ext = sup.post(f"/api/tasks/{task.id}/extensions", json={"requested_due_at": iso(due + DAY), "reason": "雨天 rain"}).get_json()
    assert error_of(sup.post(f"/api/tasks/{task.id}/extensions", json={"requested_due_at": iso(due + 2 * DAY), "reason": "y"}))["code"] == "extension_pending"
    # Not the assignee: a patroller cannot ask.
    assert as_role("patroller").post(f"/api/tasks/{task.id}/extensions", json={"requested_due_at": iso(due + DAY), "reason": "z"}).status_code == 403
    r = as_role("manager").post(f"/api/tasks/extensions/{ext['id']}/decision", json={"approve": False, "note": "一周内完成 do it this week"})
    assert r.get_json()["state"] == "rejected"
    db.session.expire_all()
    assert db.session.get(Task, task.id).due_at == due
    actions = db.session.execute(select(AuditEvent.action).where(AuditEvent.entity == "extension")).scalars().all()
    assert actions == ["requested", "rejected"]


# --- repeat problems -------------------------------------------------------------------------


def test_same_item_failing_three_times_in_thirty_days_is_flagged_and_listed(demo, as_role):
    now = utcnow()
    _, t1 = finding(demo, observed_at=now - 25 * DAY)
    _, t2 = finding(demo, observed_at=now - 10 * DAY)
    _, other_item = finding(demo, observed_at=now - 9 * DAY, item_id="floor.clean", category="cleanliness", route="department_work")
    assert not t1.repeat_flag and not t2.repeat_flag
    _, t3 = finding(demo, observed_at=now)
    db.session.expire_all()
    assert [db.session.get(Task, t.id).repeat_flag for t in (t1, t2, t3, other_item)] == [True, True, True, False]
    listed = as_role("supervisor").get(f"/api/tasks/repeats?site_id={demo.id}").get_json()
    assert len(listed) == 1 and listed[0]["item_id"] == "floor.lights_doors_windows" and listed[0]["failures"] == 3
    assert listed[0]["task_ids"] == sorted([t1.id, t2.id, t3.id])
    assert as_role("supervisor").get(f"/api/tasks/?site_id={demo.id}&repeat=true").get_json()["meta"]["total"] == 3


def test_three_failures_spread_over_more_than_thirty_days_are_not_a_repeat(demo):
    now = utcnow()
    _, t1 = finding(demo, observed_at=now - 40 * DAY)
    _, t2 = finding(demo, observed_at=now - 20 * DAY)
    _, t3 = finding(demo, observed_at=now)
    db.session.expire_all()
    assert not any(db.session.get(Task, t.id).repeat_flag for t in (t1, t2, t3))


def _flags(results) -> list[bool]:
    db.session.expire_all()
    return [db.session.get(Task, r["result"]["task_ids"][0]).repeat_flag for r in results]


def test_three_failures_of_the_same_item_in_one_push_are_flagged(demo, as_role):
    """A phone offline for a week syncs three failures of the same item at once."""
    phone = Phone(as_role("patroller"), demo.id)
    now = phone.now()
    results = phone.push_ok([phone.visit("F01", fail=(0,), scanned_at=now - n * DAY) for n in (6, 4, 2)])
    assert [r["status"] for r in results] == ["applied"] * 3
    assert _flags(results) == [True, True, True]


def test_a_late_sync_of_an_older_failure_flags_the_newer_ones_too(demo, as_role):
    """Two failures already on the server; a phone that was offline brings an older third."""
    now = utcnow()
    _, t2 = finding(demo, observed_at=now - 5 * DAY)
    _, t3 = finding(demo, observed_at=now - 2 * DAY)
    phone = Phone(as_role("patroller"), demo.id)
    late = phone.push_ok([phone.visit("F01", fail=(0,), scanned_at=phone.now() - 20 * DAY)])
    assert _flags(late) == [True]
    db.session.expire_all()
    assert db.session.get(Task, t2.id).repeat_flag and db.session.get(Task, t3.id).repeat_flag


def test_failures_at_two_checkpoints_or_of_two_items_in_one_push_are_counted_apart(demo, as_role):
    phone = Phone(as_role("patroller"), demo.id)
    now = phone.now()
    results = phone.push_ok([
        phone.visit("F01", fail=(0,), scanned_at=now - 3 * DAY),
        phone.visit("F02", fail=(0,), scanned_at=now - 2 * DAY),
        phone.visit("F01", fail=(1,), scanned_at=now - 1 * DAY),
        phone.visit("F01", fail=(0,), scanned_at=now),
    ])
    assert _flags(results) == [False, False, False, False]


def test_a_repeat_flag_names_the_failures_of_its_own_thirty_days_only(demo, as_role):
    """A phone offline for two months brings two separate runs of failures in one push.

    Each task's history says which failures made it a repeat: those of its own run, not
    the other run six weeks away (which is not "3 times within 30 days" with it).
    """
    phone = Phone(as_role("patroller"), demo.id)
    now = phone.now()
    days = (50, 49, 48, 5, 4, 3)
    results = phone.push_ok([phone.visit("F01", fail=(0,), scanned_at=now - n * DAY) for n in days])
    assert _flags(results) == [True] * 6
    finding_of = {r["result"]["task_ids"][0]: r["result"]["finding_ids"][0] for r in results}
    task_ids = list(finding_of)
    runs = [task_ids[:3], task_ids[3:]]
    sup = as_role("supervisor")
    for run in runs:
        for task_id in run:
            events = sup.get(f"/api/tasks/{task_id}").get_json()["events"]
            flagged = [ev for ev in events if ev["action"] == "repeat_flagged"]
            assert len(flagged) == 1
            assert flagged[0]["data"]["finding_ids"] == sorted(finding_of[t] for t in run)


def test_a_long_repeat_group_keeps_each_flags_evidence_bounded(demo, as_role):
    """A checkpoint failing every 12 hours for 20 days: 40 failures in one repeat group.

    Each flag's audit event names the group's size, its first and last failure and at most
    MAX_EVIDENCE failures nearest its own, not all 40.
    """
    from server.tasks.repeats import MAX_EVIDENCE

    phone = Phone(as_role("patroller"), demo.id)
    now = phone.now()
    results = phone.push_ok([phone.visit("F01", fail=(0,), scanned_at=now - n * DAY / 2) for n in range(40, 0, -1)])
    assert all(_flags(results))
    ids = [r["result"]["finding_ids"][0] for r in results]  # oldest first
    events = db.session.execute(select(AuditEvent).where(AuditEvent.action == "repeat_flagged")).scalars().all()
    assert len(events) == 40
    for ev in events:
        data = ev.data
        assert data["group_size"] == 40 and len(data["finding_ids"]) == MAX_EVIDENCE
        assert data["first"]["finding_id"] == ids[0] and data["last"]["finding_id"] == ids[-1]
        assert data["first"]["observed_at"].endswith("Z")
        own = db.session.get(Task, int(ev.entity_id)).finding_id
        assert own in data["finding_ids"] and set(data["finding_ids"]) <= set(ids)


# --- lists, detail, dashboard --------------------------------------------------------------


def test_task_list_filters_and_paginates(demo, as_role):
    now = utcnow()
    _, old = finding(demo, observed_at=now - 10 * DAY)  # overdue
    _, major = finding(demo, "F02", severity="major")
    _, lift = finding(demo, "EL1", item_id=None, category="cleanliness", route="department_work")
    tasks.assign(lift, actor=user("supervisor"), assignee_id=user("patroller").id)
    db.session.commit()
    sup = as_role("supervisor")

    def ids(query):
        r = sup.get(f"/api/tasks/?site_id={demo.id}&{query}")
        assert r.status_code == 200, r.get_json()
        return {t["id"] for t in r.get_json()["items"]}

    assert ids("overdue=true") == {old.id}
    assert ids("overdue=false") == {major.id, lift.id}
    assert ids("major=true") == {major.id}
    assert ids("state=assigned") == {lift.id}
    assert ids("state=open&state=assigned") == {old.id, major.id, lift.id}
    assert ids(f"assignee_id={user('patroller').id}") == {lift.id}
    assert ids(f"department_id={tasks.department_by_code(demo.id, 'cleaning').id}") == {lift.id}
    assert ids("checkpoint_kind=elevator_car") == {lift.id}
    assert ids(f"from={iso(now - 11 * DAY)}&to={iso(now - 9 * DAY)}") == {old.id}
    page = sup.get(f"/api/tasks/?site_id={demo.id}&per_page=2&page=2").get_json()
    assert page["meta"] == {"page": 2, "per_page": 2, "total": 3} and len(page["items"]) == 1
    assert sup.get("/api/tasks/?state=nonsense").status_code == 422


def test_supervisors_list_puts_overdue_work_first_then_major_problems_then_the_next_due(demo, as_role):
    now = utcnow()
    _, soon = finding(demo, "F01", observed_at=now - 5 * DAY)  # due in 2 days
    _, latest = finding(demo, "F02", observed_at=now - DAY)  # due in 6 days
    _, major = finding(demo, "F03", severity="major")  # due in 7 days, but major
    _, late = finding(demo, "F04", observed_at=now - 10 * DAY)  # overdue by 3 days
    _, late_major = finding(demo, "F05", observed_at=now - 8 * DAY, severity="major")  # overdue by 1 day
    r = as_role("supervisor").get(f"/api/tasks/?site_id={demo.id}")
    assert [t["id"] for t in r.get_json()["items"]] == [late_major.id, late.id, major.id, soon.id, latest.id]
    page = as_role("supervisor").get(f"/api/tasks/?site_id={demo.id}&per_page=2&page=2").get_json()["items"]
    assert [t["id"] for t in page] == [major.id, soon.id]


def test_managers_to_do_list_is_the_tasks_with_an_extension_waiting_for_a_decision(demo, as_role):
    _, waiting = finding(demo, "F01")
    _, decided = finding(demo, "F02")
    _, plain = finding(demo, "F03")
    sup, manager = as_role("supervisor"), as_role("manager")
    for task in (waiting, decided):
        r = sup.post(f"/api/tasks/{task.id}/extensions", json={"requested_due_at": iso(task.due_at + 3 * DAY), "reason": "等零件 waiting for parts"})
        assert r.status_code == 201, r.get_json()
    ext = manager.get(f"/api/tasks/{decided.id}/extensions").get_json()[0]
    assert manager.post(f"/api/tasks/extensions/{ext['id']}/decision", json={"approve": False}).status_code == 200

    def ids(query):
        r = manager.get(f"/api/tasks/?site_id={demo.id}&{query}")
        assert r.status_code == 200, r.get_json()
        return [t["id"] for t in r.get_json()["items"]]

    assert ids("extension=pending") == [waiting.id]
    assert ids("extension=rejected") == [decided.id]
    assert set(ids("")) == {waiting.id, decided.id, plain.id}
    # The list says which rows wait for a decision, and the dashboard count agrees with the filter.
    flags = {t["id"]: t["extension_pending"] for t in manager.get(f"/api/tasks/?site_id={demo.id}").get_json()["items"]}
    assert flags == {waiting.id: True, decided.id: False, plain.id: False}
    assert manager.get(f"/api/tasks/summary?site_id={demo.id}").get_json()["pending_extensions"] == 1
    bad = manager.get(f"/api/tasks/?site_id={demo.id}&extension=someday")
    assert bad.status_code == 422 and "extension" in error_of(bad)["details"]["fields"]


def test_task_list_items_name_their_checkpoint_in_both_languages(demo, as_role):
    _, lift = finding(demo, "EL1", item_id=None, category="cleanliness", route="department_work")
    (item,) = as_role("supervisor").get(f"/api/tasks/?site_id={demo.id}").get_json()["items"]
    assert item["checkpoint_id"] == lift.checkpoint_id
    assert (item["checkpoint_name_zh"], item["checkpoint_name_en"], item["checkpoint_short_code"], item["checkpoint_kind"]) == (
        "1号电梯轿厢",
        "Elevator car 1",
        "EL1",
        "elevator_car",
    )


def test_dashboard_summary_counts(demo, as_role):
    now = utcnow()
    finding(demo, observed_at=now - 10 * DAY)
    finding(demo, "F02", severity="major")
    _, done = finding(demo, "F03", item_id=None, category="cleanliness", route="department_work")
    work_done(done)
    s = as_role("manager").get(f"/api/tasks/summary?site_id={demo.id}").get_json()
    assert s["open_total"] == 3 and s["open_by_state"]["open"] == 2 and s["open_by_state"]["done"] == 1
    assert s["overdue"] == 1 and s["major_open"] == 1
    assert s["findings_by_category"]["facilities"] == 2 and s["findings_by_category"]["cleanliness"] == 1
    assert sum(d["open"] for d in s["by_department"]) == 3
    assert sum(s["by_age"].values()) == 3
    # Ages count from when the problem was seen (as due dates do), not from its arrival.
    assert s["by_age"]["7-14d"] == 1 and s["by_age"]["0-3d"] == 2


def test_task_detail_has_finding_history_and_photos(demo, as_role):
    photo = new_id()
    tasks.claim_photos([photo], purpose="finding", site_id=demo.id, user_id=user("patroller").id)
    f, task = finding(demo, commit=False)
    tasks.claim_photos([photo], purpose="finding", site_id=demo.id, user_id=user("patroller").id, finding_id=f.id)
    db.session.commit()
    d = as_role("archivist").get(f"/api/tasks/{task.id}").get_json()
    assert d["finding"]["checkpoint_name"] == "1楼" and d["finding"]["checkpoint_kind"] == "floor"
    assert d["photos"]["before"] == [photo] and d["photos"]["pairs"] == [{"before": photo, "after": None}]
    assert [e["action"] for e in d["events"]] == ["reported", "opened"]
    assert d["events"][0]["actor_name"] == user("patroller").display_name


def test_user_of_another_site_gets_404_for_this_sites_tasks_and_findings(demo, as_role, other_site):
    f, task = finding(demo)
    other = as_role("other-supervisor")
    for url in (f"/api/tasks/{task.id}", f"/api/findings/{f.id}", f"/api/tasks/{task.id}/comments", f"/api/tasks/?site_id={demo.id}", f"/api/tasks/summary?site_id={demo.id}"):
        assert other.get(url).status_code == 404, url
    assert other.post(f"/api/tasks/{task.id}/assign", json={"assignee_id": user("other-patroller").id}).status_code == 404
    assert other.get("/api/tasks/").get_json()["meta"]["total"] == 0
    assert as_role("supervisor").get("/api/tasks/").get_json()["meta"]["total"] == 1


def test_a_photo_of_another_person_or_record_cannot_be_claimed(demo, as_role):
    _, task = finding(demo)
    theirs = new_id()
    tasks.claim_photos([theirs], purpose="finding", site_id=demo.id, user_id=user("patroller").id, finding_id=task.finding_id)
    db.session.commit()
    r = as_role("supervisor").post(f"/api/tasks/{task.id}/comments", json={"body": "see photo", "photo_ids": [theirs]})
    assert r.status_code == 409 and error_of(r)["code"] == "photo_conflict"
    r = as_role("patroller").post("/api/findings/", json={"checkpoint_id": checkpoint(demo, "F02").id, "category": "cleanliness", "description": "x", "photo_ids": [theirs]})
    assert r.status_code == 409
    assert db.session.execute(select(func.count()).select_from(Finding)).scalar() == 1
