"""Photos on the phone take little room: a replaced or abandoned form leaves none behind, and a
photo that a queued record names is never deleted."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server.models import Checkpoint, Photo

from .app_driver import login, open_by_code, rows, sign, wait_installed, wait_outbox, wait_rows
from .conftest import api_session, jpeg_bytes, new_context

pytestmark = pytest.mark.browser

# What the verification screen does on save before it queues the record: the drawn signature
# becomes a PNG photo. Reloading right after it is the app killed between the two steps.
SIGNATURE_PHOTO_JS = """async () => {
  const { addCanvasPhoto } = await import('/static/pwa/photos.js');
  return addCanvasPhoto(document.querySelector('#sig-verifier'), 'signature');
}"""

# The same step without a signature pad on screen: a photo saved that nothing names yet.
LOOSE_PHOTO_JS = """async () => {
  const { addCanvasPhoto } = await import('/static/pwa/photos.js');
  const c = document.createElement('canvas');
  c.width = 60;
  c.height = 20;
  return addCanvasPhoto(c, 'signature');
}"""


def _photo_ids(page) -> set:
    return {p["id"] for p in rows(page, "photos")}


def _rescan(page, task_id: int, code: str) -> None:
    page.goto(f"/#/tasks/{task_id}")
    page.click("#task-verify")
    page.fill("#code", code)
    page.click("#code-open")
    page.wait_for_selector("#save-verify")


def _after_photo(page) -> None:
    page.set_input_files("#after-photo", files=[{"name": "after.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes((800, 600), color=(40, 160, 60))}])
    page.wait_for_selector(".screen-verify .thumbs img")


def test_a_replaced_or_cancelled_verification_and_a_signature_saved_before_a_kill_leave_no_photos(live_server, launch, query):
    patroller = api_session(live_server, "patroller")
    supervisor = api_session(live_server, "supervisor")
    cp_id = query(lambda s: s.execute(select(Checkpoint.id).where(Checkpoint.short_code == "F07")).scalar_one())
    r = patroller.post(f"{live_server.url}/api/findings/", json={"checkpoint_id": cp_id, "item_id": "floor.clean", "description": "7楼走廊有垃圾"})
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
    context.set_offline(True)

    # Cancel on the verification screen throws the draft away with its after photo.
    _rescan(page, task_id, "F07")
    _after_photo(page)
    assert len(rows(page, "photos")) == 1
    page.click("#cancel-verify")
    page.wait_for_selector("#task-verify")
    assert rows(page, "photos") == [] and rows(page, "drafts") == []

    # A second scan for the same task replaces the first draft, and its after photo goes with it.
    _rescan(page, task_id, "F07")
    _after_photo(page)
    first = _photo_ids(page)
    assert len(first) == 1
    _rescan(page, task_id, "F07")
    assert page.locator(".screen-verify .thumbs img").count() == 0
    assert rows(page, "photos") == []

    # The app is killed after a signature became a photo and before the record was queued.
    _after_photo(page)
    after = _photo_ids(page)
    page.click("#verify-pass")
    sign(page, "#sig-verifier")
    orphan = page.evaluate(SIGNATURE_PHOTO_JS)
    assert _photo_ids(page) == after | {orphan}
    page.reload()
    # Start-up deletes the signature photo that nothing names; the draft keeps its after photo
    # and its strokes, so the screen is as it was.
    wait_rows(page, "photos", lambda r: {p["id"] for p in r} == after)
    page.wait_for_selector(".screen-verify .thumbs img")
    page.click("#save-verify")
    page.wait_for_selector(".screen-tasks")

    verify = wait_outbox(page, lambda r: any(x["kind"] == "task.verify" for x in r))[-1]
    named = set(verify["photo_ids"])
    assert verify["payload"]["after_photo_ids"] == sorted(after) and orphan not in named and not named & first
    assert {p["id"]: (p["status"], p["purpose"]) for p in rows(page, "photos")} == {
        **{i: ("pending", "after") for i in after},
        verify["payload"]["signatures"]["verifier"]: ("pending", "signature"),
    }
    assert rows(page, "drafts") == []


def test_photos_of_queued_records_and_open_forms_survive_the_start_up_sweep_and_upload(live_server, launch, query):
    context = new_context(launch(), live_server)
    page = context.new_page()
    page.goto("/")
    login(page)
    wait_installed(page)
    context.set_offline(True)

    # A visit with a problem and its photo, queued offline: the photo waits to be sent.
    open_by_code(page, "F06")
    page.click("button[data-item='floor.fire_escape_clear'][data-result='fail']")
    page.fill("#note-floor-fire_escape_clear", "消防通道堆放纸箱")
    page.set_input_files("#photo-floor-fire_escape_clear", files=[{"name": "a.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes((800, 600))}])
    page.wait_for_selector("#item-floor-fire_escape_clear .thumbs img")
    page.click("#save-visit")
    page.wait_for_selector(".screen-home")
    queued = wait_outbox(page, lambda r: any(x["kind"] == "visit.record" for x in r))[-1]
    assert len(queued["photo_ids"]) == 1 and _photo_ids(page) == set(queued["photo_ids"])

    # A photo of an item marked "problem" and then fine again is not sent: saving deletes it.
    open_by_code(page, "F04")
    page.click("button[data-item='floor.clean'][data-result='fail']")
    page.set_input_files("#photo-floor-clean", files=[{"name": "b.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes((800, 600))}])
    page.wait_for_selector("#item-floor-clean .thumbs img")
    assert len(_photo_ids(page)) == 2
    page.click("button[data-item='floor.clean'][data-result='ok']")
    page.click("#all-fine")
    page.wait_for_selector(".screen-home")
    assert _photo_ids(page) == set(queued["photo_ids"])

    # An open form with photos of its own (a failed item and an other problem)…
    open_by_code(page, "F05")
    page.click("button[data-item='floor.toilets'][data-result='fail']")
    page.set_input_files("#photo-floor-toilets", files=[{"name": "c.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes((800, 600))}])
    page.wait_for_selector("#item-floor-toilets .thumbs img")
    page.click("#add-extra")
    page.set_input_files("#extra-photo-0", files=[{"name": "d.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes((800, 600))}])
    page.wait_for_selector("#extra-0 .thumbs img")
    owned = _photo_ids(page)
    assert len(owned) == 3
    # …and a photo that nothing names, left by an app killed in the middle of a save.
    orphan = page.evaluate(LOOSE_PHOTO_JS)
    assert _photo_ids(page) == owned | {orphan}

    page.reload()
    wait_rows(page, "photos", lambda r: orphan not in {p["id"] for p in r})
    assert _photo_ids(page) == owned
    statuses = {p["id"]: p["status"] for p in rows(page, "photos")}
    assert statuses.pop(queued["photo_ids"][0]) == "pending" and set(statuses.values()) == {"draft"}
    page.wait_for_selector("#extra-0 .thumbs img")
    page.wait_for_selector("#item-floor-toilets .thumbs img")

    # Back online, the queued record's photo uploads whole.
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    wait_outbox(page, lambda r: r and all(x["status"] == "sent" for x in r))
    phone = wait_rows(page, "photos", lambda r: any(p["id"] == queued["photo_ids"][0] and p["status"] == "uploaded" for p in r))
    sent = next(p for p in phone if p["id"] == queued["photo_ids"][0])
    stored = query(lambda s: s.get(Photo, sent["id"]))
    assert (stored.status, stored.sha256, stored.size_bytes) == ("received", sent["sha256"], sent["bytes"])
