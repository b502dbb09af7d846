"""Checkpoints: managers create, edit, move and deactivate them; short codes stay unique per
site; phones pull every change; nobody reaches another site's checkpoints."""

from __future__ import annotations

from sqlalchemy import select

from server.extensions import db
from server.models import Change, Checkpoint

from .support.api import error_of


def by_code(site_id: int, code: str) -> Checkpoint:
    return db.session.execute(select(Checkpoint).where(Checkpoint.site_id == site_id, Checkpoint.short_code == code)).scalar_one()


def cursor_of(cp_id: int) -> int | None:
    return db.session.execute(select(Change.cursor).where(Change.entity == "checkpoint", Change.entity_id == str(cp_id))).scalar()


def test_manager_creates_a_checkpoint_with_a_typable_short_code(as_role, demo):
    resp = as_role("manager").post("/api/checkpoints/", json={"site_id": demo.id, "kind": "floor", "name_zh": "11楼", "floor": "11"})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert len(body["short_code"]) == 5
    assert not set(body["short_code"]) & set("01OIL")
    assert cursor_of(body["id"]) is not None


def test_short_codes_are_normalised_and_unique_per_site(as_role, demo, other_site):
    manager = as_role("manager")
    resp = manager.post("/api/checkpoints/", json={"site_id": demo.id, "kind": "floor", "name_zh": "11楼", "short_code": "f-11"})
    assert resp.get_json()["short_code"] == "F11"
    again = manager.post("/api/checkpoints/", json={"site_id": demo.id, "kind": "floor", "name_zh": "11楼", "short_code": "F 11"})
    assert again.status_code == 409 and error_of(again)["code"] == "short_code_taken"
    # The same code at another site is fine.
    other = as_role("other-manager").post("/api/checkpoints/", json={"site_id": other_site.id, "kind": "floor", "name_zh": "11楼", "short_code": "F11"})
    assert other.status_code == 201


def test_moving_and_deactivating_a_checkpoint_is_pulled_again(as_role, demo):
    manager = as_role("manager")
    cp = by_code(demo.id, "F03")
    before = cursor_of(cp.id)
    resp = manager.patch(f"/api/checkpoints/{cp.id}", json={"building": "B座", "floor": "4", "position": 5, "active": False})
    assert resp.status_code == 200
    assert (resp.get_json()["building"], resp.get_json()["active"]) == ("B座", False)
    assert cursor_of(cp.id) > before
    listed = manager.get(f"/api/checkpoints/?site_id={demo.id}&active=false").get_json()["items"]
    assert [c["short_code"] for c in listed] == ["F03"]


def test_patrollers_and_supervisors_do_not_edit_checkpoints(as_role, demo):
    cp = by_code(demo.id, "F01")
    for role in ("patroller", "supervisor", "archivist"):
        client = as_role(role)
        assert client.post("/api/checkpoints/", json={"site_id": demo.id, "kind": "floor", "name_zh": "x"}).status_code == 403
        assert client.patch(f"/api/checkpoints/{cp.id}", json={"name_en": "x"}).status_code == 403
        assert client.post(f"/api/checkpoints/{cp.id}/reissue").status_code == 403
        assert client.get(f"/api/checkpoints/{cp.id}").status_code == 200


def test_another_sites_checkpoints_are_not_found(as_role, demo, other_site):
    stranger = as_role("other-manager")
    cp = by_code(demo.id, "F01")
    for resp in (
        stranger.get(f"/api/checkpoints/{cp.id}"),
        stranger.patch(f"/api/checkpoints/{cp.id}", json={"name_en": "mine"}),
        stranger.post(f"/api/checkpoints/{cp.id}/reissue"),
        stranger.get(f"/api/checkpoints/?site_id={demo.id}"),
        stranger.post("/api/checkpoints/", json={"site_id": demo.id, "kind": "floor", "name_zh": "x"}),
        stranger.post(f"/api/sites/{demo.id}/checkpoints/order", json={"checkpoint_ids": [cp.id]}),
        stranger.get(f"/api/checkpoints/resolve?token={cp.token}"),
    ):
        assert resp.status_code == 404, resp.request.path
        assert error_of(resp)["code"] == "not_found"
    db.session.expire_all()
    assert by_code(demo.id, "F01").name_en == "Floor 1"


def test_reissued_label_keeps_its_short_code_and_the_old_token_says_replaced(as_role, demo):
    manager = as_role("manager")
    cp = by_code(demo.id, "F01")
    old = cp.token
    new = manager.post(f"/api/checkpoints/{cp.id}/reissue").get_json()
    assert new["short_code"] == "F01" and new["token"] != old
    resp = as_role("patroller").get(f"/api/checkpoints/resolve?token={old}")
    assert resp.status_code == 410 and error_of(resp)["code"] == "label_replaced"
    assert as_role("patroller").get("/api/checkpoints/resolve?code=f01").get_json()["id"] == cp.id


HUGE = 2**31


def test_numbers_too_big_to_be_ids_are_refused_not_crashed_on(as_role, demo):
    """PostgreSQL ids are 32-bit: a bigger number is a 422 (or 404 in a path), never a 500."""
    manager = as_role("manager")
    f01 = by_code(demo.id, "F01").id
    plan = {"name_zh": "巡查", "schedule": {"days": [0], "windows": [["09:00", "10:00"]]}, "checkpoint_ids": [f01]}
    for resp in (
        manager.get(f"/api/checkpoints/?site_id={HUGE}"),
        manager.post("/api/checkpoints/", json={"site_id": HUGE, "kind": "floor", "name_zh": "x"}),
        manager.get(f"/api/checkpoints/resolve?code=F01&site_id={HUGE}"),
        manager.get(f"/api/sites/{demo.id}/labels.pdf?checkpoint_ids={HUGE}"),
        manager.get(f"/api/sites/{demo.id}/labels.pdf?checkpoint_ids={'9' * 5000}"),
        manager.get(f"/api/sites/{demo.id}/labels.pdf?checkpoint_ids=²"),
        manager.post(f"/api/sites/{demo.id}/checkpoints/order", json={"checkpoint_ids": [HUGE]}),
        manager.post(f"/api/sites/{demo.id}/plans", json={**plan, "checkpoint_ids": [HUGE]}),
        manager.post(f"/api/sites/{demo.id}/plans", json={**plan, "assignee_id": HUGE}),
        manager.get(f"/api/sites/{demo.id}/coverage?plan_id={HUGE}"),
    ):
        assert resp.status_code == 422, (resp.request.url, resp.status_code)
        error_of(resp)
    for url in (f"/api/checkpoints/{HUGE}", f"/api/checkpoints/{HUGE}/qr.png", f"/api/plans/{HUGE}", f"/api/sites/{HUGE}/coverage"):
        resp = manager.get(url)
        assert resp.status_code == 404, url


def test_text_with_nul_characters_is_refused_not_crashed_on(as_role, demo):
    """PostgreSQL cannot store NUL in text: every way in answers 422."""
    manager = as_role("manager")
    f01 = by_code(demo.id, "F01")
    plan = {"name_zh": "巡\x00查", "schedule": {"days": [0], "windows": [["09:00", "10:00"]]}, "checkpoint_ids": [f01.id]}
    csv_text = "kind,name_zh,short_code\nfloor,11\x00楼,F11\n"
    for resp in (
        manager.post("/api/checkpoints/", json={"site_id": demo.id, "kind": "floor", "name_zh": "1\x001"}),
        manager.patch(f"/api/checkpoints/{f01.id}", json={"name_en": "a\x00b"}),
        manager.get("/api/checkpoints/resolve?code=F0%001"),
        manager.get("/api/checkpoints/resolve?token=a%00b"),
        manager.get(f"/api/sites/{demo.id}/checkpoints.csv?building=A%00"),
        manager.post(f"/api/sites/{demo.id}/checkpoints.csv", data=csv_text.encode(), headers={"Content-Type": "text/csv"}),
        manager.post(f"/api/sites/{demo.id}/plans", json=plan),
    ):
        assert resp.status_code == 422, (resp.request.url, resp.status_code)
        error_of(resp)
    assert db.session.execute(select(Checkpoint).where(Checkpoint.short_code == "F11")).first() is None
