"""Accounts: hashed passwords, hardened sessions, throttled logins, CSRF on writes."""

from sqlalchemy import select

from server.extensions import db
from server.models import AuthSession, User

from .support.api import ApiClient, error_of


def test_passwords_are_stored_as_scrypt_hashes(demo):
    user = db.session.execute(select(User).where(User.username == "patroller")).scalar_one()
    assert user.password_hash.startswith("scrypt:")
    assert "patrol-demo" not in user.password_hash


def test_every_demo_user_logs_in_and_sees_their_role(client, demo):
    for role in ("patroller", "supervisor", "manager", "archivist", "admin"):
        r = client.post("/api/auth/login", json={"username": role, "password": "patrol-demo"})
        assert r.status_code == 200
        assert r.get_json()["sites"] == [
            {"site_id": demo.id, "site_code": "DEMO", "site_name_zh": "演示大厦", "site_name_en": "Demo Tower", "timezone": "Asia/Shanghai", "roles": [role]}
        ]


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(client, demo):
    bad_user = client.post("/api/auth/login", json={"username": "nobody", "password": "patrol-demo"})
    bad_pass = client.post("/api/auth/login", json={"username": "patroller", "password": "wrong"})
    assert bad_user.status_code == bad_pass.status_code == 401
    assert error_of(bad_user)["message"] == error_of(bad_pass)["message"]


def test_login_is_locked_after_five_failures_even_with_the_right_password(client, demo):
    for _ in range(5):
        assert client.post("/api/auth/login", json={"username": "patroller", "password": "nope"}).status_code == 401
    locked = client.post("/api/auth/login", json={"username": "patroller", "password": "patrol-demo"})
    assert locked.status_code == 429
    assert error_of(locked)["code"] == "login_locked"
    assert int(locked.headers["Retry-After"]) > 0
    # Another user is not locked by someone else's failures.
    assert client.post("/api/auth/login", json={"username": "supervisor", "password": "patrol-demo"}).status_code == 200


def test_session_cookie_is_httponly_and_samesite_lax(client, demo):
    r = client.post("/api/auth/login", json={"username": "patroller", "password": "patrol-demo"})
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # development; production sets it (test_config)


def test_login_issues_a_new_session_so_a_planted_cookie_is_useless(app, demo):
    attacker = ApiClient(app.test_client())
    attacker.login("patroller")
    planted = attacker.client.get_cookie("patrol_session").value
    victim = app.test_client()
    victim.set_cookie("patrol_session", planted)
    r = victim.post("/api/auth/login", json={"username": "supervisor", "password": "patrol-demo"})
    assert r.status_code == 200
    assert victim.get_cookie("patrol_session").value != planted
    # The attacker's session was the victim's old one: it was ended, and never became the supervisor's.
    me = attacker.get("/api/auth/me")
    assert me.status_code == 401


def test_logout_ends_the_session_on_the_server(app, demo):
    c = ApiClient(app.test_client())
    c.login("patroller")
    cookie = c.client.get_cookie("patrol_session").value
    assert c.post("/api/auth/logout").status_code == 204
    replay = app.test_client()
    replay.set_cookie("patrol_session", cookie)
    assert replay.get("/api/auth/me").status_code == 401
    assert db.session.execute(select(AuthSession)).first() is None


def test_writes_without_the_csrf_header_are_refused(as_role, demo):
    admin = as_role("admin")
    body = {"site_id": demo.id, "kind": "floor", "name_zh": "11楼"}
    r = admin.client.post("/api/checkpoints/", json=body)
    assert r.status_code == 403 and error_of(r)["code"] == "csrf_failed"
    r = admin.client.post("/api/checkpoints/", json=body, headers={"X-CSRF-Token": "guess"})
    assert r.status_code == 403
    assert admin.post("/api/checkpoints/", json=body).status_code == 201


def test_login_must_be_json_so_a_cross_site_form_cannot_log_someone_in(client, demo):
    r = client.post("/api/auth/login", data={"username": "patroller", "password": "patrol-demo"})
    assert r.status_code == 422 and error_of(r)["code"] == "validation_error"
    assert client.get("/api/auth/me").status_code == 401


def test_deactivated_user_cannot_log_in_and_loses_their_session(as_role, demo, app):
    patroller = as_role("patroller")
    admin = as_role("admin")
    uid = patroller.me["id"]
    assert admin.patch(f"/api/users/{uid}", json={"active": False}).status_code == 200
    assert patroller.get("/api/auth/me").status_code == 401
    r = app.test_client().post("/api/auth/login", json={"username": "patroller", "password": "patrol-demo"})
    assert r.status_code == 401


def test_admin_creates_a_user_who_can_then_log_in(as_role, demo, app):
    admin = as_role("admin")
    r = admin.post("/api/users/", json={"username": "li.wei", "password": "long-enough-pw", "display_name": "李伟", "roles": [{"site_id": demo.id, "role": "patroller"}]})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["roles"] == [{"site_id": demo.id, "role": "patroller"}]
    assert "password" not in r.get_json()
    assert app.test_client().post("/api/auth/login", json={"username": "li.wei", "password": "long-enough-pw"}).status_code == 200
    dup = admin.post("/api/users/", json={"username": "LI.WEI", "password": "long-enough-pw", "roles": [{"site_id": demo.id, "role": "patroller"}]})
    assert dup.status_code == 409


def test_admin_cannot_give_roles_at_a_site_they_do_not_administer(as_role, demo, other_site):
    admin = as_role("admin")
    r = admin.post("/api/users/", json={"username": "sneaky", "password": "long-enough-pw", "roles": [{"site_id": other_site.id, "role": "manager"}]})
    assert r.status_code == 404
    assert db.session.execute(select(User).where(User.username == "sneaky")).first() is None


def test_users_create_command_makes_a_working_account(runner, demo, app):
    r = runner.invoke(args=["users", "create", "wang", "--site", "DEMO", "--role", "supervisor", "--password", "secret-pass-1"])
    assert r.exit_code == 0, r.output
    login = app.test_client().post("/api/auth/login", json={"username": "wang", "password": "secret-pass-1"})
    assert login.get_json()["sites"][0]["roles"] == ["supervisor"]
    bad = runner.invoke(args=["users", "create", "zhao", "--site", "NOPE", "--role", "supervisor", "--password", "secret-pass-1"])
    assert bad.exit_code != 0 and "no site" in bad.output
