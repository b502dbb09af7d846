"""Opening a second site: `POST /api/sites/` for an admin of any site (who becomes the new
site's admin) and `flask sites create`, each with the default departments, all or nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from server import choices
from server.extensions import db
from server.models import AuditEvent, Department, Membership, Site, User

from .support.api import error_of


def departments(site_id: int) -> list[tuple[str, str, str]]:
    rows = db.session.execute(select(Department).where(Department.site_id == site_id).order_by(Department.id)).scalars()
    return [(d.code, d.name_zh, d.name_en) for d in rows]


def site_count() -> int:
    return db.session.execute(select(func.count()).select_from(Site)).scalar()


def test_an_admin_opens_a_site_with_the_default_departments_and_becomes_its_admin(as_role, demo):
    admin = as_role("admin")
    resp = admin.post("/api/sites/", json={"code": "riverside-2", "name_zh": "滨江花园二期", "name_en": "Riverside Garden II", "timezone": "Asia/Urumqi"})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["code"] == "RIVERSIDE-2"
    assert (body["name_zh"], body["name_en"], body["timezone"], body["task_due_days"]) == ("滨江花园二期", "Riverside Garden II", "Asia/Urumqi", 7)
    # The same departments as the demo site, in the same order.
    assert departments(body["id"]) == list(choices.DEFAULT_DEPARTMENTS) == departments(demo.id)
    # The creator is the new site's admin: it is among their sites and they manage it.
    assert body["id"] in [s["id"] for s in admin.get("/api/sites/").get_json()]
    assert admin.patch(f"/api/sites/{body['id']}", json={"task_due_days": 5}).status_code == 200
    assert admin.post(f"/api/sites/{body['id']}/departments", json={"code": "parking", "name_zh": "停车场管理"}).status_code == 201
    created = db.session.execute(select(AuditEvent).where(AuditEvent.entity == "site", AuditEvent.action == "create")).scalar_one()
    admin_id = db.session.execute(select(User.id).where(User.username == "admin")).scalar_one()
    assert (created.site_id, created.actor_id, created.data["code"]) == (body["id"], admin_id, "RIVERSIDE-2")


def test_the_new_site_is_the_creators_alone(as_role, demo):
    """Nobody else gains a role there: the demo manager neither sees nor edits it."""
    new = as_role("admin").post("/api/sites/", json={"code": "HQ2", "name_zh": "总部二号楼"}).get_json()
    manager = as_role("manager")
    assert new["id"] not in [s["id"] for s in manager.get("/api/sites/").get_json()]
    assert manager.get(f"/api/sites/{new['id']}").status_code == 404
    members = db.session.execute(select(User.username, Membership.role).join(Membership).where(Membership.site_id == new["id"])).all()
    assert [tuple(m) for m in members] == [("admin", "admin")]
    assert new["timezone"] == "Asia/Shanghai"  # DEFAULT_TIMEZONE


def test_roles_other_than_admin_may_not_open_a_site(as_role, demo):
    for role in ("patroller", "supervisor", "manager", "archivist"):
        resp = as_role(role).post("/api/sites/", json={"code": f"X{role[:5].upper()}", "name_zh": "新项目"})
        assert resp.status_code == 403, role
        assert error_of(resp)["code"] == "forbidden"
    assert site_count() == 1


def test_a_site_code_in_use_is_a_conflict_and_nothing_changes(as_role, demo):
    before = site_count()
    resp = as_role("admin").post("/api/sites/", json={"code": "demo", "name_zh": "另一个演示"})
    assert resp.status_code == 409
    assert error_of(resp)["code"] == "site_exists"
    assert site_count() == before
    assert db.session.get(Site, demo.id).name_zh == "演示大厦"


def test_bad_site_input_is_refused_and_nothing_is_stored(as_role, demo):
    admin = as_role("admin")
    departments_before = db.session.execute(select(func.count()).select_from(Department)).scalar()
    cases = [
        ({"code": "A", "name_zh": "太短"}, "code"),
        ({"code": "has space", "name_zh": "空格"}, "code"),
        ({"code": "X" * 33, "name_zh": "太长"}, "code"),
        ({"code": "NEWSITE", "name_zh": ""}, "name_zh"),
        ({"code": "NEWSITE"}, "name_zh"),
        ({"code": "NEWSITE", "name_zh": "时区", "timezone": "Mars/Olympus"}, "timezone"),
        ({"code": "NEWSITE", "name_zh": "多余", "owner": "me"}, "owner"),
    ]
    for body, field in cases:
        resp = admin.post("/api/sites/", json=body)
        assert resp.status_code == 422, (body, resp.get_json())
        assert field in error_of(resp)["details"]["fields"], (body, resp.get_json())
    assert site_count() == 1
    assert db.session.execute(select(func.count()).select_from(Department)).scalar() == departments_before


def test_flask_sites_create_opens_a_site_with_its_admin(runner, demo):
    result = runner.invoke(args=["sites", "create", "hq2", "--name-zh", "滨江花园", "--name-en", "Riverside Garden",
                                 "--timezone", "Asia/Hong_Kong", "--admin", "admin"])
    assert result.exit_code == 0, result.output
    assert "created site HQ2" in result.output
    site = db.session.execute(select(Site).where(Site.code == "HQ2")).scalar_one()
    assert (site.name_zh, site.name_en, site.timezone) == ("滨江花园", "Riverside Garden", "Asia/Hong_Kong")
    assert departments(site.id) == list(choices.DEFAULT_DEPARTMENTS)
    roles = db.session.execute(select(Membership.role).join(User).where(Membership.site_id == site.id, User.username == "admin")).scalars().all()
    assert roles == ["admin"]


def test_flask_sites_create_refuses_clearly_and_stores_nothing(runner, demo):
    cases = [
        (["DEMO", "--name-zh", "重复"], "A site with the code DEMO exists"),
        (["NEWSITE", "--name-zh", "时区", "--timezone", "Mars/Olympus"], "Unknown timezone"),
        (["NEWSITE", "--name-zh", "无人", "--admin", "nobody"], "no user 'nobody'"),
        (["N E W", "--name-zh", "空格"], "is not allowed"),
    ]
    for args, message in cases:
        result = runner.invoke(args=["sites", "create", *args])
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output, (args, result.output)
    assert site_count() == 1
