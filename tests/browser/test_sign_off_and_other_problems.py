"""On the phone, offline and across reloads: a problem outside the checklist, and a verification signed on site."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from server.models import Checkpoint, Finding, Photo, Task, Verification

from .app_driver import login, open_by_code, rows, serious_violations, shot, sign, wait_installed, wait_outbox, wait_rows
from .conftest import api_session, jpeg_bytes, new_context

pytestmark = pytest.mark.browser

# Pixels of a canvas that are not white: what was drawn on a signature pad.
INK_JS = """(sel) => {
  const c = document.querySelector(sel);
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] < 128) n += 1;
  return n;
}"""


def _online(page, context) -> None:
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")


def _stored(photo_dir: Path, photo_id: str) -> bool:
    """The server kept the photo: its original, waiting for the photo worker (docs/sync.md),
    or both JPEGs made from it."""
    original = photo_dir / photo_id[:2] / f"{photo_id}.original"
    if original.is_file():
        return original.stat().st_size > 0
    return all((photo_dir / photo_id[:2] / f"{photo_id}.{size}.jpg").stat().st_size > 0 for size in ("display", "thumb"))


def test_other_problem_recorded_offline_survives_reloads_and_becomes_a_repair_task_with_its_photo(live_server, launch, query, tmp_path):
    context = new_context(launch(), live_server)
    page = context.new_page()
    page.goto("/")
    login(page)
    wait_installed(page)

    context.set_offline(True)
    open_by_code(page, "F06")
    page.click("#add-extra")
    page.wait_for_selector("#all-fine", state="hidden")  # "all fine" is not offered with a problem on screen
    # Incomplete: refused on the phone (the server would refuse the whole visit).
    page.click("#save-visit")
    page.wait_for_selector("#visit-error:has-text('选择类别')")
    page.select_option("#extra-cat-0", "security_hazard")
    assert page.input_value("#extra-route-0") == "department_work"  # the category's usual route…
    page.select_option("#extra-route-0", "resident_violation")  # …or the one the patroller knows
    page.click("#save-visit")
    page.wait_for_selector("#visit-error:has-text('请描述')")
    assert rows(page, "outbox") == []
    page.fill("#extra-desc-0", "6楼住户在走廊私拉电线给电动车充电 a resident charges an e-bike from a wire in the corridor")
    page.set_input_files("#extra-photo-0", files=[{"name": "wire.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes()}])
    page.wait_for_selector("#extra-0 .thumbs img")
    page.check("#extra-major-0")
    shot(page, "checkpoint_other_problem")

    # The draft survives a reload under the form.
    page.reload()
    page.wait_for_selector("#extra-0 .thumbs img")
    assert page.input_value("#extra-cat-0") == "security_hazard"
    assert page.input_value("#extra-route-0") == "resident_violation"
    assert "电动车" in page.input_value("#extra-desc-0")
    assert page.is_checked("#extra-major-0")
    page.click("#save-visit")
    page.wait_for_selector(".screen-home")

    # Saved on the phone, and still there after another reload.
    page.reload()
    page.goto("/#/outbox")
    page.wait_for_selector(".out-row[data-kind='visit.record'][data-status='pending']")
    visit = rows(page, "outbox")[0]["payload"]
    assert [x["category"] for x in visit["extra_findings"]] == ["security_hazard"]
    assert [p["status"] for p in rows(page, "photos")] == ["pending"]
    assert query(lambda s: s.scalar(select(Finding.id))) is None

    _online(page, context)
    out = wait_outbox(page, lambda r: r and all(x["status"] == "sent" for x in r))
    wait_rows(page, "photos", lambda r: [p["status"] for p in r] == ["uploaded"])
    assert len(out[0]["result"]["task_ids"]) == 1

    def check(s):
        f = s.execute(select(Finding)).scalar_one()
        t = s.execute(select(Task).where(Task.finding_id == f.id)).scalar_one()
        p = s.execute(select(Photo).where(Photo.finding_id == f.id)).scalar_one()
        cp = s.get(Checkpoint, f.checkpoint_id)
        return f, t, p, cp.short_code

    f, t, p, code = query(check)
    assert (f.item_id, f.category, f.route, f.severity, f.dealt_on_spot, code) == (None, "security_hazard", "resident_violation", "major", False, "F06")
    assert "电动车" in f.description
    assert (t.id, t.route, t.due_at - f.observed_at) == (out[0]["result"]["task_ids"][0], "resident_violation", timedelta(days=7))
    assert (p.status, p.content_type, p.purpose) == ("received", "image/jpeg", "finding") and p.size_bytes > 0
    assert _stored(tmp_path / "photos", p.id)


def test_verification_signed_offline_by_verifier_and_fixer_survives_reloads_and_uploads_the_signatures(live_server, launch, query, tmp_path):
    # A task at F07, done and waiting for verification.
    patroller = api_session(live_server, "patroller")
    supervisor = api_session(live_server, "supervisor")
    cp_id = query(lambda s: s.execute(select(Checkpoint.id).where(Checkpoint.short_code == "F07")).scalar_one())
    r = patroller.post(f"{live_server.url}/api/findings/", json={"checkpoint_id": cp_id, "item_id": "floor.lights_doors_windows", "description": "7楼走廊灯不亮"})
    assert r.status_code == 201, r.text
    task_id = r.json()["task_id"]
    assert supervisor.post(f"{live_server.url}/api/tasks/{task_id}/assign", json={"assignee_id": patroller.me["id"]}).status_code == 200
    for to in ("in_progress", "done"):
        assert patroller.post(f"{live_server.url}/api/tasks/{task_id}/transition", json={"to": to}).status_code == 200

    context = new_context(launch(), live_server)
    page = context.new_page()
    page.goto("/")
    login(page)
    wait_installed(page)
    wait_rows(page, "tasks", lambda r: any(x["id"] == task_id and x["state"] == "done" for x in r))

    # Offline on site: re-scan by code, after photo, pass.
    context.set_offline(True)
    page.goto(f"/#/tasks/{task_id}")
    page.click("#task-verify")
    page.fill("#code", "F07")
    page.click("#code-open")
    page.wait_for_selector("#sig-verifier")
    page.set_input_files("#after-photo", files=[{"name": "after.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes(color=(40, 160, 60))}])
    page.wait_for_selector(".screen-verify .thumbs img")
    page.click("#verify-pass")

    # An empty pad, or a mere tap on it, is no signature.
    page.click("#save-verify")
    page.wait_for_selector("#verify-error:has-text('签名')")
    page.click("#sig-verifier")
    page.click("#save-verify")
    page.wait_for_selector("#verify-error:has-text('签名')")
    assert not [x for x in rows(page, "outbox") if x["kind"] == "task.verify"]
    page.click("#sig-clear-verifier")
    assert page.evaluate(INK_JS, "#sig-verifier") == 0

    # Two strokes, one undone; the fixer signs too; a supervisor scribble is cleared again.
    sign(page, "#sig-verifier", strokes=2)
    page.click("#sig-undo-verifier")
    assert page.evaluate(INK_JS, "#sig-verifier") > 0
    # The optional signatures open behind one tap.
    assert not page.is_visible("#sig-fixer")
    page.click("#sig-more")
    page.fill("#fixed-by", "工程部 王师傅")
    sign(page, "#sig-fixer")
    sign(page, "#sig-supervisor")
    page.click("#sig-clear-supervisor")
    ink = {role: page.evaluate(INK_JS, f"#sig-{role}") for role in ("verifier", "fixer", "supervisor")}
    assert ink["verifier"] > 0 and ink["fixer"] > 0 and ink["supervisor"] == 0
    shot(page, "verify_signed")

    # A reload under the form redraws the same signatures.
    page.reload()
    page.wait_for_selector("#sig-verifier")
    page.wait_for_selector(".screen-verify .thumbs img")
    assert {role: page.evaluate(INK_JS, f"#sig-{role}") for role in ink} == ink
    assert page.input_value("#fixed-by") == "工程部 王师傅"
    page.click("#save-verify")
    page.wait_for_selector(".screen-tasks")

    # Saved on the phone with its signature photos, and still there after another reload.
    page.reload()
    page.wait_for_selector(".screen-tasks")
    verify = wait_outbox(page, lambda r: any(x["kind"] == "task.verify" for x in r))[-1]
    assert verify["status"] == "pending" and set(verify["payload"]["signatures"]) == {"verifier", "fixer"}
    sig_ids = verify["payload"]["signatures"]
    phone = {p["id"]: p for p in rows(page, "photos")}
    assert {phone[i]["mime"] for i in sig_ids.values()} == {"image/png"}
    assert all(phone[i]["status"] == "pending" and phone[i]["bytes"] > 0 for i in sig_ids.values())
    assert query(lambda s: s.scalar(select(Verification.id))) is None

    _online(page, context)
    wait_outbox(page, lambda r: r and all(x["status"] == "sent" for x in r))
    wait_rows(page, "photos", lambda r: len(r) == 3 and all(p["status"] == "uploaded" for p in r))

    def check(s):
        v = s.execute(select(Verification).where(Verification.task_id == task_id)).scalar_one()
        photos = {k: s.get(Photo, pid) for k, pid in v.signatures.items()}
        return s.get(Task, task_id).state, v, photos

    state, v, photos = query(check)
    assert (state, v.result, v.fixed_by_name, v.signatures) == ("verified", "pass", "工程部 王师傅", sig_ids)
    for role, p in photos.items():
        assert (p.status, p.content_type, p.purpose, p.task_id) == ("received", "image/png", "signature", task_id), role
        assert p.sha256 == phone[p.id]["sha256"] and p.size_bytes == phone[p.id]["bytes"]
        assert _stored(tmp_path / "photos", p.id)

    # The supervisor's desk shows who signed, with the drawings.
    desk = new_context(launch(), live_server, bypass_csp=True).new_page()  # bypass only to inject axe
    desk.goto("/")
    login(desk, "supervisor")
    desk.goto(f"/#/manage/tasks/{task_id}")
    desk.wait_for_selector("#task-signatures figure[data-role='fixer'] img")
    desk.locator("#task-signatures").scroll_into_view_if_needed()
    desk.wait_for_function("() => [...document.querySelectorAll('#task-signatures img')].every((i) => i.complete && i.naturalWidth > 0)")
    captions = desk.locator("#task-signatures figcaption").all_inner_texts()
    assert captions == ["验收人签名 · 演示巡查员 Demo patroller", "整改人签名 · 工程部 王师傅"]
    shot(desk, "manage_task_signatures")
    assert serious_violations(desk) == []
