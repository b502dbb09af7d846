"""From a finding to a verified fix: supervisor assigns, manager extends, patroller verifies on site."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from server.models import Checkpoint, Extension, Photo, Task, Verification, Visit

from .app_driver import installed_app, shot, sign, wait_outbox, wait_rows
from .conftest import api_session, jpeg_bytes, qr_image, write_y4m

pytestmark = pytest.mark.browser


def test_supervisor_assigns_manager_extends_and_patroller_verifies_on_site_with_a_rescan(live_server, launch, query, tmp_path):
    token = query(lambda s: s.execute(select(Checkpoint.token).where(Checkpoint.short_code == "F07")).scalar_one())
    browser = launch(write_y4m(qr_image(f"{live_server.url}/c/{token}"), tmp_path / "f07.y4m"))
    context, page = installed_app(browser, live_server)

    # The patroller scans F07 and reports a broken light.
    page.goto("/#/scan")
    page.wait_for_selector("#all-fine", timeout=20000)
    page.click("button[data-item='floor.lights_doors_windows'][data-result='fail']")
    page.fill("#note-floor-lights_doors_windows", "7楼走廊灯不亮")
    page.click("#save-visit")
    out = wait_outbox(page, lambda r: r and all(x["status"] == "sent" for x in r))
    task_id = out[0]["result"]["task_ids"][0]

    # Supervisor assigns it to the patroller; the patroller asks for more time; the manager approves.
    supervisor = api_session(live_server, "supervisor")
    patroller = api_session(live_server, "patroller")
    manager = api_session(live_server, "manager")
    r = supervisor.post(f"{live_server.url}/api/tasks/{task_id}/assign", json={"assignee_id": patroller.me["id"], "note": "请处理"})
    assert r.status_code == 200, r.text
    new_due = (datetime.now(timezone.utc) + timedelta(days=14)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = patroller.post(f"{live_server.url}/api/tasks/{task_id}/extensions", json={"requested_due_at": new_due, "reason": "灯具需订货"})
    assert r.status_code == 201, r.text
    r = manager.post(f"{live_server.url}/api/tasks/extensions/{r.json()['id']}/decision", json={"approve": True, "note": "同意"})
    assert r.status_code == 200, r.text

    # On the phone: the task arrives, is worked on and marked done.
    page.goto("/#/outbox")
    page.click("#sync-now")
    page.goto("/#/tasks")
    page.wait_for_selector(f"a[data-task='{task_id}']", timeout=20000)
    shot(page, "tasks")
    page.click(f"a[data-task='{task_id}']")
    page.click("#task-start")
    page.click("#task-done")
    wait_outbox(page, lambda r: len(r) == 3 and all(x["status"] == "sent" for x in r))
    page.goto("/#/outbox")
    page.click("#sync-now")
    page.goto(f"/#/tasks/{task_id}")
    page.wait_for_selector("#task-verify", timeout=20000)
    shot(page, "task")

    # Verification on site: re-scan through the camera, after photo, pass, signature.
    page.click("#task-verify")
    page.wait_for_selector("#save-verify", timeout=20000)
    page.set_input_files("#after-photo", files=[{"name": "after.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes(color=(40, 160, 60))}])
    page.wait_for_selector(".screen-verify .thumbs img")
    page.click("#verify-pass")
    page.click("#sig-more")  # the fixer's name and signature open behind one tap
    page.fill("#fixed-by", "工程部 王师傅")
    sign(page, "#sig-verifier")
    shot(page, "verify")
    page.click("#save-verify")
    page.wait_for_selector(".screen-tasks")
    out = wait_outbox(page, lambda r: len(r) == 4 and all(x["status"] == "sent" for x in r))
    page.wait_for_function("() => document.querySelector('#unsent').textContent.endsWith(' 0')", timeout=20000)
    assert out[-1]["kind"] == "task.verify"
    wait_rows(page, "photos", lambda r: len(r) == 2 and all(p["status"] == "uploaded" for p in r))

    def check(s):
        task = s.get(Task, task_id)
        ver = s.execute(select(Verification).where(Verification.task_id == task_id)).scalar_one()
        visit = s.get(Visit, ver.visit_id)
        ext = s.execute(select(Extension).where(Extension.task_id == task_id)).scalar_one()
        sig = s.get(Photo, ver.signatures["verifier"])
        return task.state, ver.result, visit.purpose, visit.scan_method, ext.state, sig.status, sig.content_type, len(ver.after_photo_ids), ver.fixed_by_name

    assert query(check) == ("verified", "pass", "verify", "qr", "approved", "received", "image/png", 1, "工程部 王师傅")
