"""The API client tests log in with (it sends the CSRF header on writes) and the one error shape."""

from __future__ import annotations

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


def error_of(resp) -> dict:
    """The error body of a response, asserting the one error shape."""
    body = resp.get_json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert {"status", "code", "message"} <= set(err), err
    assert err["status"] == resp.status_code
    return err
