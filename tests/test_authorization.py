"""Every API endpoint, for every role, on the user's own site and on another site.

The table SAMPLES names a real request for each endpoint. An endpoint added without an
entry here (or without a `@requires`/`@public` rule on its view) fails this test, so no
endpoint ships without its authorisation being checked.
"""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from server import choices
from server.extensions import db
from server.models import Checkpoint, Department, SiteChecklistItem, User

from .support.api import ApiClient
from .support.authz import api_endpoints

# Served by flask-smorest / the web blueprint: documentation, public by design.


class Ctx:
    """Ids of objects on the demo site, which every request below targets."""

    def __init__(self, site):
        self.site_id = site.id
        q = lambda stmt: db.session.execute(stmt).scalars().first()
        self.checkpoint = q(select(Checkpoint).where(Checkpoint.site_id == site.id))
        self.checkpoint_id = self.checkpoint.id
        self.department_id = q(select(Department.id).where(Department.site_id == site.id))
        self.user_id = q(select(User.id).where(User.username == "patroller"))
        item = SiteChecklistItem(site_id=site.id, kind="lobby", item_id=f"site{site.id}_lobby.mat", text_zh="地垫平整", methods=["look"], category="facilities", route="facility_repair")
        db.session.add(item)
        db.session.commit()
        self.item_pk = item.id
        from server.checklists import current_version

        self.version_id = current_version(site.id, "floor").id
        db.session.commit()
        self.site = site
        self.plan_id = self.spare_plan()
        # Each area's own objects: tasks in every state (support/authz.py), a photo.
        from .support.authz import add_photo
        from .support.authz import authz_context

        self.t = authz_context(site)
        add_photo(self)
        # A filed month, for the archive endpoints.
        from server import archive

        archive.seal(site, "2026-08", actor_id=None)
        db.session.commit()

    def spare_hold(self) -> int:
        """A new legal hold each call: releasing one twice is a no-op, not a fresh sample."""
        from server.retention import add_hold

        hold = add_hold(self.site, reason="诉讼保全 court order", actor_id=None, month="2026-08")
        db.session.commit()
        return hold.id

    def spare_plan(self) -> int:
        """A new plan each call: a DELETE sample removes the one it is given."""
        from server.plans import create_plan

        plan = create_plan(self.site_id, actor_id=None, name_zh="日常巡查", schedule={"days": [0], "windows": [["09:00", "11:00"]]}, checkpoint_ids=[self.checkpoint_id])
        db.session.commit()
        return plan.id


NEW_SITE_CODES = itertools.count(1)

# (method, rule) → function(ctx) returning the request; the rule strings are Flask's.
# The matrix calls the function afresh for every request it sends.
CORE_SAMPLES = {
    ("GET", "/api/health"): lambda c: {"url": "/api/health"},
    ("GET", "/api/meta"): lambda c: {"url": "/api/meta"},
    ("POST", "/api/auth/login"): lambda c: {"url": "/api/auth/login", "json": {"username": "patroller", "password": "patrol-demo"}},
    # Ends each client's session, so the matrix runs it last.
    ("POST", "/api/auth/logout"): lambda c: {"url": "/api/auth/logout", "unscoped": True, "last": True},
    ("GET", "/api/auth/me"): lambda c: {"url": "/api/auth/me", "unscoped": True},
    ("POST", "/api/client-errors/"): lambda c: {"url": "/api/client-errors/", "unscoped": True, "json": {"errors": [{"message": "TypeError"}]}},
    ("GET", "/api/users/"): lambda c: {"url": f"/api/users/?site_id={c.site_id}"},
    ("POST", "/api/users/"): lambda c: {"url": "/api/users/", "json": {"username": "newbie", "password": "long-password", "roles": [{"site_id": c.site_id, "role": "patroller"}]}},
    ("GET", "/api/users/<int:user_id>"): lambda c: {"url": f"/api/users/{c.user_id}"},
    ("PATCH", "/api/users/<int:user_id>"): lambda c: {"url": f"/api/users/{c.user_id}", "json": {"display_name": "巡查员甲"}},
    ("GET", "/api/sites/"): lambda c: {"url": "/api/sites/", "unscoped": True},
    # A new code each call: every allowed admin opens a site of their own.
    ("POST", "/api/sites/"): lambda c: {"url": "/api/sites/", "unscoped": True, "json": {"code": f"NEW{next(NEW_SITE_CODES)}", "name_zh": "新项目"}},
    ("GET", "/api/sites/<int:site_id>"): lambda c: {"url": f"/api/sites/{c.site_id}"},
    ("PATCH", "/api/sites/<int:site_id>"): lambda c: {"url": f"/api/sites/{c.site_id}", "json": {"name_en": "Demo Tower A"}},
    ("GET", "/api/sites/<int:site_id>/departments"): lambda c: {"url": f"/api/sites/{c.site_id}/departments"},
    ("POST", "/api/sites/<int:site_id>/departments"): lambda c: {"url": f"/api/sites/{c.site_id}/departments", "json": {"code": "parking", "name_zh": "停车场管理"}},
    ("PATCH", "/api/sites/<int:site_id>/departments/<int:department_id>"): lambda c: {"url": f"/api/sites/{c.site_id}/departments/{c.department_id}", "json": {"name_en": "Repairs"}},
    ("GET", "/api/checkpoints/"): lambda c: {"url": f"/api/checkpoints/?site_id={c.site_id}"},
    ("POST", "/api/checkpoints/"): lambda c: {"url": "/api/checkpoints/", "json": {"site_id": c.site_id, "kind": "floor", "name_zh": "11楼"}},
    ("GET", "/api/checkpoints/<int:checkpoint_id>"): lambda c: {"url": f"/api/checkpoints/{c.checkpoint_id}"},
    ("PATCH", "/api/checkpoints/<int:checkpoint_id>"): lambda c: {"url": f"/api/checkpoints/{c.checkpoint_id}", "json": {"name_en": "Lobby"}},
    ("POST", "/api/checkpoints/<int:checkpoint_id>/reissue"): lambda c: {"url": f"/api/checkpoints/{c.checkpoint_id}/reissue"},
    ("GET", "/api/checkpoints/resolve"): lambda c: {"url": f"/api/checkpoints/resolve?token={c.checkpoint.token}"},
    ("GET", "/api/sites/<int:site_id>/checklists/"): lambda c: {"url": f"/api/sites/{c.site_id}/checklists/"},
    ("GET", "/api/sites/<int:site_id>/checklists/versions/<int:version_id>"): lambda c: {"url": f"/api/sites/{c.site_id}/checklists/versions/{c.version_id}"},
    ("GET", "/api/sites/<int:site_id>/checklists/items"): lambda c: {"url": f"/api/sites/{c.site_id}/checklists/items"},
    ("POST", "/api/sites/<int:site_id>/checklists/items"): lambda c: {"url": f"/api/sites/{c.site_id}/checklists/items", "json": {"kind": "floor", "key": "exit_sign", "text_zh": "安全出口指示灯亮", "methods": ["look"], "category": "security_hazard", "route": "facility_repair"}},
    ("PATCH", "/api/sites/<int:site_id>/checklists/items/<int:item_pk>"): lambda c: {"url": f"/api/sites/{c.site_id}/checklists/items/{c.item_pk}", "json": {"text_en": "Mat lies flat"}},
}

# Checkpoints, labels, plans and coverage (issue 6).
PLACES_SAMPLES = {
    ("GET", "/api/checkpoints/<int:checkpoint_id>/qr.png"): lambda c: {"url": f"/api/checkpoints/{c.checkpoint_id}/qr.png"},
    ("GET", "/api/checkpoints/<int:checkpoint_id>/qr.svg"): lambda c: {"url": f"/api/checkpoints/{c.checkpoint_id}/qr.svg"},
    ("GET", "/api/sites/<int:site_id>/labels.pdf"): lambda c: {"url": f"/api/sites/{c.site_id}/labels.pdf?checkpoint_ids={c.checkpoint_id}"},
    ("GET", "/api/sites/<int:site_id>/checkpoints.csv"): lambda c: {"url": f"/api/sites/{c.site_id}/checkpoints.csv"},
    ("POST", "/api/sites/<int:site_id>/checkpoints.csv"): lambda c: {"url": f"/api/sites/{c.site_id}/checkpoints.csv", "data": "kind,name_zh,short_code\nfloor,11楼,F11\n".encode(), "content_type": "text/csv"},
    ("POST", "/api/sites/<int:site_id>/checkpoints/order"): lambda c: {"url": f"/api/sites/{c.site_id}/checkpoints/order", "json": {"checkpoint_ids": [c.checkpoint_id]}},
    ("GET", "/api/sites/<int:site_id>/plans"): lambda c: {"url": f"/api/sites/{c.site_id}/plans"},
    ("POST", "/api/sites/<int:site_id>/plans"): lambda c: {"url": f"/api/sites/{c.site_id}/plans", "json": {"name_zh": "夜间巡查", "schedule": {"days": [0, 1, 2, 3, 4, 5, 6], "windows": [["22:00", "02:00"]]}, "checkpoint_ids": [c.checkpoint_id]}},
    ("GET", "/api/plans/<int:plan_id>"): lambda c: {"url": f"/api/plans/{c.plan_id}"},
    ("PATCH", "/api/plans/<int:plan_id>"): lambda c: {"url": f"/api/plans/{c.plan_id}", "json": {"focus_zh": "重点检查消防通道"}},
    ("DELETE", "/api/plans/<int:plan_id>"): lambda c: {"url": f"/api/plans/{c.spare_plan()}"},
    ("GET", "/api/sites/<int:site_id>/coverage"): lambda c: {"url": f"/api/sites/{c.site_id}/coverage?from=2026-03-01&to=2026-03-07"},
    ("GET", "/api/sites/<int:site_id>/coverage/month"): lambda c: {"url": f"/api/sites/{c.site_id}/coverage/month?month=2026-03"},
}


# Month-end filing and retention (issue 7).
A = "/api/archive"
ARCHIVE_SAMPLES = {
    ("GET", f"{A}/sites/<int:site_id>/months"): lambda c: {"url": f"{A}/sites/{c.site_id}/months"},
    ("GET", f"{A}/sites/<int:site_id>/months/<month>"): lambda c: {"url": f"{A}/sites/{c.site_id}/months/2026-08"},
    ("POST", f"{A}/sites/<int:site_id>/months/<month>/seal"): lambda c: {"url": f"{A}/sites/{c.site_id}/months/2026-07/seal"},
    ("POST", f"{A}/sites/<int:site_id>/months/<month>/build"): lambda c: {"url": f"{A}/sites/{c.site_id}/months/2026-08/build"},
    ("GET", f"{A}/sites/<int:site_id>/months/<month>/bundle"): lambda c: {"url": f"{A}/sites/{c.site_id}/months/2026-08/bundle"},
    ("GET", f"{A}/sites/<int:site_id>/months/<month>/record.pdf"): lambda c: {"url": f"{A}/sites/{c.site_id}/months/2026-08/record.pdf"},
    ("GET", f"{A}/sites/<int:site_id>/exports"): lambda c: {"url": f"{A}/sites/{c.site_id}/exports?kind=findings&from=2026-08-01&to=2026-08-31"},
    ("GET", f"{A}/sites/<int:site_id>/holds"): lambda c: {"url": f"{A}/sites/{c.site_id}/holds"},
    ("POST", f"{A}/sites/<int:site_id>/holds"): lambda c: {"url": f"{A}/sites/{c.site_id}/holds", "json": {"month": "2026-08", "reason": "保险理赔 insurance claim"}},
    ("POST", f"{A}/holds/<int:hold_id>/release"): lambda c: {"url": f"{A}/holds/{c.spare_hold()}/release"},
    ("GET", f"{A}/sites/<int:site_id>/retention"): lambda c: {"url": f"{A}/sites/{c.site_id}/retention"},
    ("GET", f"{A}/sites/<int:site_id>/purges"): lambda c: {"url": f"{A}/sites/{c.site_id}/purges"},
}


def _all_samples() -> dict:
    from .support.authz import AUTHZ_SAMPLES as TASK_SAMPLES
    from .support.authz import SYNC_SAMPLES
    from .support.complaints import COMPLAINT_SAMPLES
    from .support.residents import RESIDENT_SAMPLES

    return {**CORE_SAMPLES, **PLACES_SAMPLES, **SYNC_SAMPLES, **TASK_SAMPLES, **ARCHIVE_SAMPLES, **COMPLAINT_SAMPLES, **RESIDENT_SAMPLES}


SAMPLES = _all_samples()


def test_every_endpoint_declares_a_rule_and_has_a_sample(app):
    missing_policy = [(m, r) for m, r, p in api_endpoints(app) if p is None]
    assert not missing_policy, f"views without @requires/@public: {missing_policy}"
    missing_sample = [(m, r) for m, r, _ in api_endpoints(app) if (m, r) not in SAMPLES]
    assert not missing_sample, f"add these endpoints to SAMPLES in {__file__}: {missing_sample}"
    stale = set(SAMPLES) - {(m, r) for m, r, _ in api_endpoints(app)}
    assert not stale, f"SAMPLES names endpoints that no longer exist: {stale}"


def _call(client, method, spec):
    kw = {k: spec[k] for k in ("json", "data", "headers", "content_type") if k in spec}
    resp = client.open(method, spec["url"], **kw)
    resp.get_data()  # read streamed answers (exports) to the end, as a client would
    resp.close()
    return resp


def _endpoint_ids(app):
    return [f"{m} {r}" for m, r, _ in api_endpoints(app)]


@pytest.fixture
def world(app, demo, other_site):
    ctx = Ctx(demo)
    clients = {}
    for prefix, site in (("", "own"), ("other-", "other")):
        for role in choices.ROLES:
            c = ApiClient(app.test_client())
            c.login(prefix + role)
            clients[(site, role)] = c
    return ctx, clients


def test_authorisation_matrix(app, world):
    """Own site: roles in the rule pass, others get 403. Other site: 404 (403 for roles
    the rule never allows, unless a relation to the object could allow it: then only the
    object's site decides, and that is a 404). Anonymous: 401 unless public."""
    ctx, clients = world
    failures = []
    known = [(m, r, p, SAMPLES[(m, r)]) for m, r, p in api_endpoints(app) if (m, r) in SAMPLES]
    # (endpoints missing from SAMPLES are reported by the test above)
    for method, rule, policy, sample in sorted(known, key=lambda k: bool(k[3](ctx).get("last"))):
        spec = sample(ctx)
        # Roles the rule allows, plus the roles of the sample's people related to its object
        # (the task's assignee), whom a relation in the rule allows whatever their role.
        allowed = set(policy["roles"]) | (set(spec.get("related", ())) if policy.get("relations") else set())
        public = policy.get("public", False)
        anon = _call(ApiClient(app.test_client()), method, spec)
        if not public and anon.status_code != 401:
            failures.append(f"{method} {rule}: anonymous got {anon.status_code}, expected 401")
        if public:
            continue
        # Other site first (nothing may change), then own-site roles, allowed ones last.
        for role in choices.ROLES:
            r = _call(clients[("other", role)], method, sample(ctx))
            gated = role not in allowed and not policy.get("relations")
            want = {403} if gated else ({404} if not spec.get("unscoped") else None)
            if want is None:
                if r.status_code >= 400:
                    failures.append(f"{method} {rule}: other-site {role} got {r.status_code} on an unscoped endpoint")
                continue
            if r.status_code not in want:
                failures.append(f"{method} {rule}: other-site {role} got {r.status_code}, expected {sorted(want)}")
        for role in sorted(choices.ROLES, key=lambda x: x in allowed):
            r = _call(clients[("own", role)], method, sample(ctx))
            if role in allowed:
                if r.status_code in (401, 403, 404) or r.status_code >= 500:
                    failures.append(f"{method} {rule}: {role} is allowed but got {r.status_code} {r.get_json()}")
            elif r.status_code != 403:
                failures.append(f"{method} {rule}: {role} is not allowed but got {r.status_code}")
    assert not failures, "\n".join(failures)
