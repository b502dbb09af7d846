"""Fault injection for tests: a WSGI middleware that loses, breaks or slows requests.

A test harness, kept out of server/: a test wraps its app with `install(app)`, which
refuses unless the app's config has FAULT_INJECTION set, and always under
PATROL_ENV=production.

Each request is matched against a list of rules, first match wins; a rule fires
`times` times (None: for ever) after letting `skip` matching requests through. Modes:

- ``drop``: the app never sees the request; the connection is closed without an answer.
- ``error``: the app never sees the request; answer 500 in the API's error shape.
- ``delay``: sleep `delay` seconds, then let the app answer normally.
- ``commit_then_drop``: the app runs to the end (so its transaction commits), then the
  answer is thrown away and the connection closed: the phone never hears of the commit.
- ``commit_then_502``: the same, but answer 502 as a reverse proxy does when its upstream
  died after doing the work.

"Closing the connection" means shutting down the socket when the server exposes it
(gunicorn, the Werkzeug server); under the in-process test client, where there is no
socket, it raises `ConnectionDropped` to the caller instead, which is what a phone's
`fetch` sees: a network error, no status.

Rules come from code (`injector.add(Rule(...))`) or, when a server runs in another
process, from the control endpoint CONTROL_PATH (loopback only, no headers needed):
POST a rule as JSON to add it, DELETE to clear, GET to read the rules and the log.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from dataclasses import asdict, dataclass, field

MODES = ("drop", "error", "delay", "commit_then_drop", "commit_then_502")
CONTROL_PATH = "/__faults__"
LOOPBACK = ("127.0.0.1", "::1", "localhost")


class ConnectionDropped(ConnectionError):
    """The server closed the connection without an answer (in-process stand-in for a reset)."""


class FaultInjectionRefused(RuntimeError):
    """Fault injection asked for where it must never run."""


@dataclass
class Rule:
    mode: str
    path: str = ".*"  # a regular expression matched against the start of PATH_INFO
    method: str = "*"
    times: int | None = 1
    skip: int = 0
    delay: float = 0.0
    fired: int = field(default=0)
    seen: int = field(default=0)

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        self._re = re.compile(self.path)

    def matches(self, method: str, path: str) -> bool:
        return (self.method == "*" or self.method.upper() == method) and self._re.match(path) is not None

    def public(self) -> dict:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}


def _json(start_response, status: str, body: dict):
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data))), ("Cache-Control", "no-store")])
    return [data]


def _error_body(status: int, code: str, message: str) -> dict:
    return {"error": {"status": status, "code": code, "message": message}}


class FaultInjector:
    """WSGI middleware applying the first matching rule to each request."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app
        self.rules: list[Rule] = []
        self.log: list[dict] = []
        self._lock = threading.Lock()

    # --- rules ----------------------------------------------------------------------

    def add(self, rule: Rule | None = None, **kw) -> Rule:
        rule = rule or Rule(**kw)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
            self.log.clear()

    def _pick(self, method: str, path: str) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if not rule.matches(method, path):
                    continue
                if rule.times is not None and rule.fired >= rule.times:
                    continue
                rule.seen += 1
                if rule.seen <= rule.skip:
                    return None
                rule.fired += 1
                self.log.append({"method": method, "path": path, "mode": rule.mode})
                return rule
        return None

    # --- WSGI -----------------------------------------------------------------------

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if path == CONTROL_PATH:
            return self._control(environ, start_response, method)
        rule = self._pick(method, path)
        if rule is None:
            return self.wsgi_app(environ, start_response)
        if rule.mode == "drop":
            return self._drop(environ)
        if rule.mode == "error":
            return _json(start_response, "500 INTERNAL SERVER ERROR", _error_body(500, "server_error", "Injected fault: the server failed."))
        if rule.mode == "delay":
            time.sleep(rule.delay)
            return self.wsgi_app(environ, start_response)
        # commit_then_*: run the app to completion so that it commits, then lose the answer.
        self._run_and_discard(environ)
        if rule.mode == "commit_then_502":
            return _json(start_response, "502 BAD GATEWAY", _error_body(502, "bad_gateway", "Injected fault: the upstream answer was lost."))
        return self._drop(environ)

    def _run_and_discard(self, environ) -> None:
        def swallow(status, headers, exc_info=None):
            return lambda data: None

        result = self.wsgi_app(environ, swallow)
        try:
            for _ in result:
                pass
        finally:
            if hasattr(result, "close"):
                result.close()

    @staticmethod
    def _drop(environ):
        sock = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
        if sock is None:
            raise ConnectionDropped("the server closed the connection without answering (injected fault)")
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        # Nothing can be sent any more; the server's write of this empty answer fails quietly.
        return []

    def _control(self, environ, start_response, method: str):
        if environ.get("REMOTE_ADDR", "") not in LOOPBACK:
            return _json(start_response, "404 NOT FOUND", _error_body(404, "not_found", "Not found."))
        if method == "DELETE":
            self.clear()
            return _json(start_response, "200 OK", {"rules": []})
        if method == "POST":
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                spec = json.loads(environ["wsgi.input"].read(length) or b"{}")
                fields = {k: spec[k] for k in ("mode", "path", "method", "times", "skip", "delay") if k in spec}
                self.add(Rule(**fields))
            except (ValueError, TypeError, KeyError, re.error) as exc:
                return _json(start_response, "400 BAD REQUEST", _error_body(400, "bad_rule", f"Not a valid fault rule: {exc}"))
        with self._lock:
            body = {"rules": [r.public() for r in self.rules], "log": list(self.log)}
        return _json(start_response, "200 OK", body)


def _refuse_in_production(config) -> None:
    if os.environ.get("PATROL_ENV") == "production" or config.get("PATROL_ENV") == "production":
        raise FaultInjectionRefused("fault injection is never enabled when PATROL_ENV=production")
    if not config.get("FAULT_INJECTION"):
        raise FaultInjectionRefused("fault injection needs the config flag FAULT_INJECTION=True")


def install(app) -> FaultInjector:
    """Wrap `app` in a FaultInjector (only with FAULT_INJECTION, never in production)."""
    _refuse_in_production(app.config)
    injector = FaultInjector(app.wsgi_app)
    app.wsgi_app = injector
    app.extensions["faults"] = injector
    return injector
