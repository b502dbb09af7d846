"""Test helpers: an API client that logs in and sends the CSRF header, and site builders."""

from __future__ import annotations

from server import choices
from server.accounts import create_user, grant
from server.extensions import db
from server.sites import create_checkpoint, create_site

PASSWORD = "patrol-demo"


class ApiClient:
    """A Flask test client that remembers its CSRF token and sends it on writes."""

    def __init__(self, client):
        self.client = client
        self.csrf = ""
        self.me = None

    def login(self, username: str, password: str = PASSWORD):
        r = self.client.post("/api/auth/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.get_json()
        self.me = r.get_json()
        self.csrf = self.me["csrf_token"]
        return r

    def open(self, method: str, url: str, **kw):
        headers = dict(kw.pop("headers", {}) or {})
        if self.csrf and method not in ("GET", "HEAD"):
            headers.setdefault("X-CSRF-Token", self.csrf)
        return self.client.open(url, method=method, headers=headers, **kw)

    def get(self, url, **kw):
        return self.open("GET", url, **kw)

    def post(self, url, **kw):
        return self.open("POST", url, **kw)

    def put(self, url, **kw):
        return self.open("PUT", url, **kw)

    def patch(self, url, **kw):
        return self.open("PATCH", url, **kw)

    def delete(self, url, **kw):
        return self.open("DELETE", url, **kw)


def make_site(code: str, name_zh: str, prefix: str, timezone: str = "Asia/Shanghai"):
    """A site with a floor and an elevator checkpoint and one user per role (`prefix + role`)."""
    site = create_site(code, name_zh, code.title(), timezone)
    create_checkpoint(site.id, kind="floor", name_zh="1楼", name_en="Floor 1", short_code=f"{code[:2]}F1")
    create_checkpoint(site.id, kind="elevator_car", name_zh="1号电梯", name_en="Elevator 1", short_code=f"{code[:2]}E1")
    for role in choices.ROLES:
        user = create_user(prefix + role, PASSWORD)
        grant(user, site.id, role)
    db.session.commit()
    return site


def error_of(resp) -> dict:
    """The error body of a response, asserting the one error shape."""
    body = resp.get_json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert {"status", "code", "message"} <= set(err), err
    assert err["status"] == resp.status_code
    return err
