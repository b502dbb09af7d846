"""The desk in a real browser: API sessions to set things up as people would, and pages logged in per person."""

from __future__ import annotations

import requests

from .app_driver import login
from .conftest import guard_origin, new_context

PASSWORD = "patrol-demo"


class Api:
    """A logged-in API session for one demo user (sends the CSRF header on writes)."""

    def __init__(self, server, username: str):
        self.base = server.url
        self.s = requests.Session()
        resp = self.s.post(f"{self.base}/api/auth/login", json={"username": username, "password": PASSWORD}, timeout=10)
        assert resp.status_code == 200, resp.text
        self.me = resp.json()
        self.s.headers["X-CSRF-Token"] = self.me["csrf_token"]

    def get(self, path: str):
        resp = self.s.get(self.base + path, timeout=10)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def post(self, path: str, body: dict, status: int = 201):
        resp = self.s.post(self.base + path, json=body, timeout=10)
        assert resp.status_code == status, resp.text
        return resp.json()


def open_as(browser, server, username: str, *, bypass_csp: bool = False, lang: str = "zh"):
    """A phone-sized page logged in as `username`; CSP violations and off-origin requests are collected."""
    context = new_context(browser, server, bypass_csp=bypass_csp)
    page = context.new_page()
    page.csp_errors = []
    page.leaks = []
    page.on("console", lambda m: page.csp_errors.append(m.text) if "Content Security Policy" in m.text else None)
    guard_origin(page, server, page.leaks)
    page.goto("/")
    if lang != "zh":
        page.evaluate("(l) => localStorage.setItem('patrol.lang', l)", lang)
        page.reload()
    page.wait_for_selector("#username")
    login(page, username, PASSWORD)
    return page


def clean(page) -> None:
    assert page.csp_errors == [], page.csp_errors
    assert page.leaks == [], page.leaks
