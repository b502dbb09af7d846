"""The one policy table (server/policy.py): each settled disagreement, and that every reader of it agrees."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from server import choices, policy, tasks
from server.extensions import db
from server.models import Task

from .helpers import error_of
from .test_tasks_support import Phone, checkpoint, finding, iso, user


def test_a_manager_who_is_the_assignee_may_ask_for_an_extension(demo, as_role):
    # Before the policy table, the desk showed this manager the button and the API said 403.
    _, task = finding(demo)
    tasks.assign(task, actor=user("supervisor"), assignee_id=user("manager").id)
    db.session.commit()
    r = as_role("manager").post(f"/api/tasks/{task.id}/extensions", json={"requested_due_at": iso(task.due_at + timedelta(days=7)), "reason": "零件 parts"})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["state"] == "pending"


def test_a_patroller_who_is_not_the_assignee_may_not_ask_for_an_extension(demo, as_role):
    _, task = finding(demo)
    tasks.assign(task, actor=user("supervisor"), assignee_id=user("manager").id)
    db.session.commit()
    r = as_role("patroller").post(f"/api/tasks/{task.id}/extensions", json={"requested_due_at": iso(task.due_at + timedelta(days=7)), "reason": "x"})
    assert r.status_code == 403 and error_of(r)["details"]["action"] == "extension.request"


def test_an_admin_records_findings_neither_on_the_web_nor_through_sync(demo, as_role):
    admin = as_role("admin")
    r = admin.post("/api/findings/", json={"checkpoint_id": checkpoint(demo).id, "category": "cleanliness", "description": "x"})
    assert r.status_code == 403
    phone = Phone(admin, demo)
    results = phone.push([phone.failed_visit(scanned_at=phone.now())])
    assert [(r["status"], r.get("code")) for r in results] == [("rejected", "forbidden_site")]
    assert db.session.execute(select(func.count()).select_from(Task)).scalar() == 0


def test_a_checklist_items_category_and_route_come_from_the_item_on_the_web_as_through_sync(demo, as_role):
    c = as_role("patroller")
    cp = checkpoint(demo).id
    r = c.post("/api/findings/", json={"checkpoint_id": cp, "item_id": "floor.clean", "description": "x", "route": "resident_violation"})
    assert r.status_code == 422 and error_of(r)["details"]["fields"]["route"]
    r = c.post("/api/findings/", json={"checkpoint_id": cp, "item_id": "floor.clean", "description": "x"})
    assert r.status_code == 201 and (r.get_json()["category"], r.get_json()["route"]) == ("cleanliness", "department_work")


def test_meta_serves_the_policy_table_the_api_enforces(app):
    meta = app.test_client().get("/api/meta").get_json()
    assert meta["policy"]["actions"]["extension.request"] == {
        "roles": ["supervisor"], "relations": ["assignee"], "description": policy.rule("extension.request").description,
    }
    assert meta["lists"]["task_states"] == list(choices.TASK_STATES)
    assert {(m["from"], m["to"]): m["action"] for m in meta["moves"]} == tasks.MOVES
    for name, rule in policy.ACTIONS.items():
        assert set(meta["policy"]["actions"][name]["roles"]) == rule.roles
