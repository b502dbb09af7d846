"""The one policy table (server/policy.py): each settled disagreement, and that every reader of it agrees."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from server import choices, policy, tasks
from server.accounts import grant
from server.extensions import db
from server.models import Task

from .support.api import error_of
from .support.ids import iso
from .support.phone import Phone
from .support.tasks import checkpoint, finding, user


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
    phone = Phone(admin, demo.id)
    results = phone.push_ok([phone.visit(fail=(0,), scanned_at=phone.now())])
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


# --- the table is the only source -------------------------------------------------------------

SERVER = Path(__file__).resolve().parent.parent / "server"
ROLE_NAMES = {"PATROLLER", "SUPERVISOR", "MANAGER", "ARCHIVIST", "ADMIN", "RECEPTIONIST"}
# Views that need no action of the table, each for its reason.
BARE = {
    ("POST", "/api/auth/logout"),  # one's own session
    ("GET", "/api/auth/me"),  # one's own account
    ("POST", "/api/tasks/<int:task_id>/transition"),  # the move's action comes from tasks.MOVES, checked by the domain
    ("PUT", "/api/photos/<photo_id>"),  # the person whose record names the photo, checked by photos.upload
    ("POST", "/api/sync/push"),  # each record's own action is checked as it is applied
    ("GET", "/api/sync/pull"),  # what one's sites hold, per site
    ("GET", "/api/sync/expected"),  # the photos one's own records name
    ("POST", "/api/sync/held"),  # one's own device's records and one's own photos, read only
    ("GET", "/api/devices/mine"),  # one's own phones
    ("POST", "/api/client-errors/"),  # what one's own page met, to the server's log
}


def _view_policies(app) -> list[tuple[str, str, dict]]:
    from .support.authz import api_endpoints

    return [(m, r, p) for m, r, p in api_endpoints(app) if p is not None]


def _strings(path: Path) -> set[str]:
    return {n.value for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


# Actions that only decide which screens the apps open (they read them from /api/meta);
# every endpoint behind those screens checks an action of its own.
SCREENS = {"desk.open"}


def test_every_action_of_the_table_is_used_by_a_view_or_a_domain_check(app):
    used = {p["action"] for _, _, p in _view_policies(app) if p.get("action")}
    for path in SERVER.rglob("*.py"):
        if path.name != "policy.py":
            used |= _strings(path) & set(policy.ACTIONS)
    assert set(policy.ACTIONS) - SCREENS - used == set()
    assert SCREENS <= set(policy.ACTIONS) and not SCREENS & used, "a screen action an endpoint checks is no longer screen-only"


def test_every_view_declares_the_roles_of_its_action_in_the_table(app):
    for method, rule, p in _view_policies(app):
        if p.get("public"):
            continue
        action = p.get("action")
        if action is None:
            assert (method, rule) in BARE, f"{method} {rule}: name the policy action it needs (@requires(action))"
            assert set(p["roles"]) == set(choices.ROLES)
            continue
        assert (set(p["roles"]), set(p["relations"])) == (policy.ACTIONS[action].roles, policy.ACTIONS[action].relations), f"{method} {rule}"


def _role_sets(tree: ast.AST) -> list[int]:
    """Lines where code builds a set of roles or tests one: a tuple, list or set naming a role, or a comparison with one."""
    def role_name(node) -> bool:  # choices.ADMIN, C.SUPERVISOR...
        return isinstance(node, ast.Attribute) and node.attr in ROLE_NAMES

    def role_text(node) -> bool:  # "admin"
        return isinstance(node, ast.Constant) and node.value in choices.ROLES

    lines = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and node.elts:
            if any(role_name(e) for e in node.elts) or all(role_text(e) for e in node.elts):
                lines.append(node.lineno)
        elif isinstance(node, ast.Compare) and any(role_name(e) or role_text(e) for e in [node.left, *node.comparators]):
            lines.append(node.lineno)
    return lines


def test_no_module_keeps_a_role_set_of_its_own(app):
    # archive.py's two unused tuples go with its split into server/archive/ (r-archive).
    pending = {("archive.py", "ARCHIVISTS ="), ("archive.py", "READERS =")}
    found = []
    for path in SERVER.rglob("*.py"):
        if path.name in ("policy.py", "choices.py"):
            continue
        source = path.read_text(encoding="utf-8")
        for line in _role_sets(ast.parse(source)):
            text = source.splitlines()[line - 1].strip()
            if not any(path.relative_to(SERVER).as_posix() == f and text.startswith(start) for f, start in pending):
                found.append(f"{path.relative_to(SERVER)}:{line}: {text}")
    assert found == []


def test_a_403_names_the_action_the_role_lacks(demo, as_role, other_site):
    # Refused before the view runs: no site of theirs lets a patroller manage webhooks.
    r = as_role("patroller").post("/api/webhooks/", json={"site_id": demo.id, "url": "https://example.com/hook"})
    assert r.status_code == 403 and error_of(r)["details"]["action"] == "webhook.manage"
    # Refused at the object's site: a manager elsewhere is only a patroller here.
    grant(user("patroller"), other_site.id, choices.MANAGER)
    db.session.commit()
    r = as_role("patroller").patch(f"/api/checkpoints/{checkpoint(demo).id}", json={"name_en": "Floor one"})
    assert r.status_code == 403 and error_of(r)["details"]["action"] == "checkpoint.edit"
