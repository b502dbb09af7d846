"""Sync of task work made offline: moving a task and verifying it on site (task.transition, task.verify)."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from server import choices, tasks
from server.extensions import db
from server.models import Photo, Task, User, Verification, Visit

from .support.ids import iso, new_id

from .support.phone import Phone, statuses



@pytest.fixture
def open_task(as_role, demo):
    """A task opened by a patroller's failed item at F05, assigned by the supervisor to the patroller."""
    phone = Phone(as_role("patroller"), demo.id)
    result = phone.push_ok([phone.visit("F05", fail=(0,))])[0]["result"]
    task = db.session.get(Task, result["task_ids"][0])
    supervisor = db.session.execute(select(User).where(User.username == "supervisor")).scalar_one()
    patroller = db.session.execute(select(User).where(User.username == "patroller")).scalar_one()
    tasks.assign(task, actor=supervisor, assignee_id=patroller.id)
    db.session.commit()
    return phone, task


def verify_mutation(phone: Phone, task: Task, result: str = "pass", code: str = "F05", offset=timedelta(0)) -> dict:
    when = phone.now() + offset
    return phone.mutation(
        "task.verify",
        {
            "verification_id": new_id(), "task_id": task.id,
            "visit": {"visit_id": new_id(), "checkpoint_id": phone.checkpoint(code).id, "scanned_at": iso(when), "scan_method": "qr"},
            "result": result, "note": "fixed and checked", "after_photo_ids": [new_id()],
            "signatures": {"verifier": new_id(), "fixer": new_id()}, "fixed_by_name": "Li Wei",
        },
        when,
    )


def test_task_moved_and_verified_offline_in_one_push_closes_it_once(open_task):
    """G1, G6: in progress → done → verified, all made offline; a replay changes nothing; photos are expected."""
    phone, task = open_task
    batch = [
        phone.mutation("task.transition", {"task_id": task.id, "to": "in_progress"}, phone.now() - timedelta(minutes=30)),
        phone.mutation("task.transition", {"task_id": task.id, "to": "done", "note": "bulb replaced"}, phone.now() - timedelta(minutes=10)),
        verify_mutation(phone, task),
    ]
    results = phone.push_ok(batch)
    assert statuses(results) == ["applied"] * 3, results
    assert results[2]["result"]["state"] == choices.TASK_VERIFIED
    db.session.expire_all()
    assert db.session.get(Task, task.id).state == choices.TASK_VERIFIED
    verify_visit = db.session.get(Visit, batch[2]["payload"]["visit"]["visit_id"])
    assert verify_visit.purpose == "verify"
    expected = set(phone.api.get("/api/sync/expected").get_json()["photo_ids"])
    assert set(batch[2]["payload"]["after_photo_ids"]) <= expected
    assert batch[2]["payload"]["signatures"]["verifier"] in expected
    again = phone.push_ok(copy.deepcopy(batch))
    assert statuses(again) == ["duplicate"] * 3
    assert db.session.execute(select(func.count()).select_from(Verification)).scalar() == 1


def test_verification_scanned_at_another_checkpoint_is_rejected(open_task):
    phone, task = open_task
    results = phone.push_ok([
        phone.mutation("task.transition", {"task_id": task.id, "to": "in_progress"}),
        phone.mutation("task.transition", {"task_id": task.id, "to": "done"}),
        verify_mutation(phone, task, code="F06", offset=timedelta(seconds=1)),
    ])
    assert statuses(results) == ["applied", "applied", "rejected"]
    assert results[2]["code"] == "no_fresh_scan"
    assert db.session.execute(select(func.count()).select_from(Visit).where(Visit.purpose == "verify")).scalar() == 0
    assert db.session.get(Task, task.id).state == choices.TASK_DONE


def test_a_task_rule_on_a_field_broken_offline_names_the_field_with_its_code(open_task):
    """A domain rule on a field refusing a mutation (no after photo) says so as the API would:
    details.field_errors beside details.fields, with the rule's code."""
    phone, task = open_task
    verify = verify_mutation(phone, task, offset=timedelta(seconds=1))
    verify["payload"]["after_photo_ids"] = []
    results = phone.push_ok([
        phone.mutation("task.transition", {"task_id": task.id, "to": "in_progress"}),
        phone.mutation("task.transition", {"task_id": task.id, "to": "done"}),
        verify,
    ])
    assert statuses(results) == ["applied", "applied", "rejected"]
    rejected = results[2]
    assert rejected["code"] == "after_photo_required"
    assert rejected["details"]["fields"] == {"after_photo_ids": ["at least one"]}
    assert rejected["details"]["field_errors"] == {"after_photo_ids": [{"code": "after_photo_required", "message": "at least one", "params": {}}]}


def test_task_rule_broken_offline_is_rejected_with_the_task_rules_code(open_task):
    """G8: a move the task rules forbid comes back rejected with their code; the next record still applies."""
    phone, task = open_task
    results = phone.push_ok([
        phone.mutation("task.transition", {"task_id": task.id, "to": "done"}),  # assigned → done skips a step
        phone.visit("F01"),
    ])
    assert statuses(results) == ["rejected", "applied"]
    assert results[0]["code"] == "transition_not_allowed"
    assert db.session.get(Task, task.id).state == choices.TASK_ASSIGNED


def test_task_of_a_site_without_my_role_is_unknown(open_task, as_role, other_site):
    _, task = open_task
    outsider = Phone(as_role("patroller"), other_site.id)
    outsider.api.login("other-patroller")
    result = outsider.push_ok([outsider.mutation("task.transition", {"task_id": task.id, "to": "in_progress"})])[0]
    assert result["code"] == "unknown_task"


def test_failed_verification_reopens_the_task(open_task):
    phone, task = open_task
    phone.push_ok([
        phone.mutation("task.transition", {"task_id": task.id, "to": "in_progress"}),
        phone.mutation("task.transition", {"task_id": task.id, "to": "done"}),
    ])
    result = phone.push_ok([verify_mutation(phone, task, result="fail", offset=timedelta(seconds=1))])[0]
    assert result["status"] == "applied", result
    assert db.session.get(Task, task.id).state == choices.TASK_IN_PROGRESS
    assert db.session.execute(select(func.count()).select_from(Photo).where(Photo.task_id == task.id)).scalar() == 3


# --- asking for more time from the phone (task.extend) ---------------------------------------


def extend_mutation(phone: Phone, task: Task, days: int = 3, reason: str = "等配件 waiting for parts") -> dict:
    return phone.mutation("task.extend", {"task_id": task.id, "requested_due_at": iso(task.due_at + timedelta(days=days)), "reason": reason})


def test_the_assignee_asks_for_more_time_offline_once_and_the_phone_learns_the_decision(open_task, as_role):
    """A patroller assigned the task asks from the phone (queued offline, resent after a lost
    answer): one request, waiting for a manager; the phone's pull carries it on the task, then
    the manager's refusal with its reason, and the due date stays."""
    phone, task = open_task
    due = task.due_at
    ask = extend_mutation(phone, task)
    (first,) = phone.push_ok([ask])
    assert first["status"] == "applied", first
    assert first["result"]["extension_state"] == "pending"
    (again,) = phone.push_ok([copy.deepcopy(ask)])  # the answer was lost: sent again
    assert again["status"] == "duplicate" and again["result"] == first["result"]
    history = as_role("manager").get(f"/api/tasks/{task.id}/extensions").get_json()
    assert [(e["state"], e["reason"]) for e in history] == [("pending", "等配件 waiting for parts")]
    assert history[0]["requested_by"] == user_id("patroller")

    pulled = phone.pull_all(limit=500)[("task", str(task.id))]
    assert pulled["extension"]["state"] == "pending"
    assert pulled["extension"]["requested_due_at"] == iso(due + timedelta(days=3))
    assert pulled["due_at"] == iso(due)

    r = as_role("manager").post(f"/api/tasks/extensions/{first['result']['extension_id']}/decision",
                                json={"approve": False, "note": "本周内修好 fix it this week"})
    assert r.status_code == 200, r.get_json()
    pulled = phone.pull_all(limit=500)[("task", str(task.id))]
    assert (pulled["extension"]["state"], pulled["extension"]["decision_note"]) == ("rejected", "本周内修好 fix it this week")
    assert pulled["due_at"] == iso(due)


def test_an_approved_extension_reaches_the_phone_with_its_new_due_date(open_task, as_role):
    phone, task = open_task
    due = task.due_at
    (res,) = phone.push_ok([extend_mutation(phone, task, days=10)])
    as_role("manager").post(f"/api/tasks/extensions/{res['result']['extension_id']}/decision", json={"approve": True})
    pulled = phone.pull_all(limit=500)[("task", str(task.id))]
    assert pulled["extension"]["state"] == "approved"
    assert pulled["due_at"] == pulled["extension"]["requested_due_at"] == iso(due + timedelta(days=10))


def test_a_bad_extension_request_is_rejected_alone_and_the_rest_of_the_push_applies(open_task, as_role):
    """No reason, a date not later, a second request while one waits, someone who is not the
    assignee: each refused with its own code, the task moves the patroller made still apply."""
    phone, task = open_task
    results = phone.push_ok([
        extend_mutation(phone, task, reason="  "),
        extend_mutation(phone, task, days=-1),
        phone.mutation("task.transition", {"task_id": task.id, "to": "in_progress"}),
        extend_mutation(phone, task),
        extend_mutation(phone, task, days=5),
        phone.mutation("task.extend", {"task_id": task.id, "requested_due_at": "next week", "reason": "x"}),
    ])
    assert statuses(results) == ["rejected", "rejected", "applied", "applied", "rejected", "rejected"], results
    assert [results[i]["code"] for i in (0, 1, 4, 5)] == ["extension_reason_required", "due_not_later", "extension_pending", "invalid_payload"]
    assert "requested_due_at" in results[5]["details"]["fields"]
    db.session.expire_all()
    assert db.session.get(Task, task.id).state == choices.TASK_IN_PROGRESS
    assert len(as_role("manager").get(f"/api/tasks/{task.id}/extensions").get_json()) == 1

    # Another patroller (not the assignee) may not ask for it.
    from server.accounts import create_user, grant

    from .support.api import PASSWORD

    other = create_user("patroller2", PASSWORD)
    grant(other, task.site_id, choices.PATROLLER)
    db.session.commit()
    stranger = Phone(as_role("patroller2"), task.site_id)
    (refused,) = stranger.push_ok([extend_mutation(stranger, task, days=20)])
    assert (refused["status"], refused["code"]) == ("rejected", "forbidden")


def user_id(username: str) -> int:
    return db.session.execute(select(User.id).where(User.username == username)).scalar_one()
