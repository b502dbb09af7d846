"""Who may call each endpoint of issue 4: the role rule on its own site, 404 from another site, 401 anonymous."""

from __future__ import annotations

from types import SimpleNamespace

from server import choices

from .helpers import ApiClient
from .test_tasks_support import AUTHZ_SAMPLES, authz_context


def _endpoints(app) -> dict:
    out = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/api/tasks", "/api/findings", "/api/notifications", "/api/webhooks")):
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            fn = getattr(view.view_class, method.lower()) if hasattr(view, "view_class") else view
            out[(method, rule.rule)] = getattr(fn, "_patrol_policy", None)
    return out


def test_every_task_endpoint_declares_roles_and_has_a_sample(app):
    endpoints = _endpoints(app)
    assert all(p is not None and not p.get("public") for p in endpoints.values())
    assert set(endpoints) == set(AUTHZ_SAMPLES)


def test_task_endpoints_authorisation_matrix(app, demo, other_site):
    ctx = SimpleNamespace(t=authz_context(demo))
    clients = {}
    for prefix, where in (("", "own"), ("other-", "other")):
        for role in choices.ROLES:
            c = ApiClient(app.test_client())
            c.login(prefix + role)
            clients[(where, role)] = c
    failures = []
    specs = sorted(((k, AUTHZ_SAMPLES[k](ctx)) for k in _endpoints(app)), key=lambda x: bool(x[1].get("last")))
    for (method, rule), spec in specs:
        allowed = set(_endpoints(app)[(method, rule)]["roles"])
        kw = {"json": spec["json"]} if "json" in spec else {}
        anon = ApiClient(app.test_client()).open(method, spec["url"], **kw)
        if anon.status_code != 401:
            failures.append(f"{method} {rule}: anonymous got {anon.status_code}")
        for role in choices.ROLES:
            r = clients[("other", role)].open(method, spec["url"], **kw)
            if role not in allowed:
                ok = r.status_code == 403
            elif spec.get("unscoped"):
                ok = r.status_code < 400
            else:
                ok = r.status_code == 404
            if not ok:
                failures.append(f"{method} {rule}: other-site {role} got {r.status_code}")
        for role in sorted(choices.ROLES, key=lambda x: x in allowed):
            r = clients[("own", role)].open(method, spec["url"], **kw)
            if role in allowed and (r.status_code in (401, 403, 404) or r.status_code >= 500):
                failures.append(f"{method} {rule}: {role} is allowed but got {r.status_code} {r.get_json()}")
            if role not in allowed and r.status_code != 403:
                failures.append(f"{method} {rule}: {role} is not allowed but got {r.status_code}")
    assert not failures, "\n".join(failures)
