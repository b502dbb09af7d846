"""The phone's storage does not fill over months (issue 13, point 8): the bytes of photos the server
confirmed leave the phone after PHONE_KEEP_MEDIA_DAYS (from /api/meta), a thumbnail stays and the
screens show it, and nothing a queued record or an open draft names is ever cleared."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server.models import Photo, Task

from .app_driver import login, open_by_code, shot, until, wait_installed, wait_outbox, wait_ready, wait_rows
from .conftest import api_session, jpeg_bytes, new_context

pytestmark = pytest.mark.browser

# What the phone holds of each photo: sizes of its bytes and thumbnail, and its times.
PHOTOS_JS = """async () => {
  const db = await new Promise((ok, no) => { const r = indexedDB.open('patrol'); r.onsuccess = () => ok(r.result); r.onerror = () => no(r.error); });
  const rows = await new Promise((ok) => { const r = db.transaction('photos').objectStore('photos').getAll(); r.onsuccess = () => ok(r.result); });
  db.close();
  const out = {};
  for (const p of rows) {
    let side = null;
    if (p.thumb) { const b = await createImageBitmap(new Blob([p.thumb], { type: p.thumb_mime })); side = Math.max(b.width, b.height); }
    out[p.id] = { status: p.status, bytes: p.bytes ? p.bytes.byteLength : null, thumb: p.thumb ? p.thumb.byteLength : null, thumb_side: side, confirmed_at: p.confirmed_at || null };
  }
  return out;
}"""

# Move the phone's clock of these photos back: confirmed `days` days ago.
AGE_JS = """async ([ids, days]) => {
  const db = await new Promise((ok) => { const r = indexedDB.open('patrol'); r.onsuccess = () => ok(r.result); });
  const tx = db.transaction('photos', 'readwrite');
  for (const id of ids) {
    const p = await new Promise((ok) => { const r = tx.objectStore('photos').get(id); r.onsuccess = () => ok(r.result); });
    p.confirmed_at = new Date(Date.now() - days * 86400000).toISOString();
    tx.objectStore('photos').put(p);
  }
  await new Promise((ok) => { tx.oncomplete = ok; });
  db.close();
}"""

# A record queued again (as after a resend) and an open form naming a photo.
QUEUE_AND_DRAFT_JS = """async ([seq, photoId]) => {
  const db = await new Promise((ok) => { const r = indexedDB.open('patrol'); r.onsuccess = () => ok(r.result); });
  const tx = db.transaction(['outbox', 'drafts'], 'readwrite');
  const row = await new Promise((ok) => { const r = tx.objectStore('outbox').get(seq); r.onsuccess = () => ok(r.result); });
  tx.objectStore('outbox').put({ ...row, status: 'pending' });
  tx.objectStore('drafts').put({ key: 'verify:999999', after_photo_ids: [photoId], result: null, note: '' });
  await new Promise((ok) => { tx.oncomplete = ok; });
  db.close();
}"""


def _visit(page, code: str, items: list[str]) -> None:
    """A visit that reports each item as a problem with one photo."""
    open_by_code(page, code)
    for n, item in enumerate(items):
        dom = item.replace(".", "-")
        page.click(f"button[data-item='{item}'][data-result='fail']")
        page.fill(f"#note-{dom}", f"{code} 问题 {n + 1}")
        page.set_input_files(f"#photo-{dom}", files=[{"name": "p.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes((1200, 900), color=(60 * n + 40, 90, 150))}])
        page.wait_for_selector(f"#item-{dom} .thumbs img")
    page.click("#save-visit")
    page.wait_for_selector(".screen-home")


def _photo_of(query, task_id: int) -> str:
    return query(lambda s: s.execute(select(Photo.id).where(Photo.finding_id == s.get(Task, task_id).finding_id)).scalar_one())


def test_confirmed_photo_bytes_leave_the_phone_after_the_keep_days_but_thumbnails_and_what_is_still_named_stay(live_server, launch, query):
    assert api_session(live_server, "patroller").get(f"{live_server.url}/api/meta").json()["phone"] == {"keep_media_days": 14}
    context = new_context(launch(), live_server)
    page = context.new_page()
    page.goto("/")
    login(page)
    wait_installed(page)

    # Three visits, four photos: old (a) and recent (d) in one record, b and c in their own.
    _visit(page, "F07", ["floor.lights_doors_windows", "floor.clean"])
    _visit(page, "F06", ["floor.lights_doors_windows"])
    _visit(page, "F05", ["floor.lights_doors_windows"])
    out = wait_outbox(page, lambda r: len(r) == 3 and all(x["status"] == "sent" for x in r))
    by_code = {row["payload"]["checkpoint_id"]: row for row in out}
    assert len(by_code) == 3
    tasks = [t for row in out for t in row["result"]["task_ids"]]
    a, d, b, c = (_photo_of(query, t) for t in tasks)
    # Uploaded, and the phone noted when the server confirmed them.
    held = wait_rows(page, "photos", lambda r: len(r) == 4 and all(p["status"] == "uploaded" and p.get("confirmed_at") for p in r))
    assert {p["id"] for p in held} == {a, b, c, d}

    # The task of photo a is done and waits for verification on this phone.
    supervisor, patroller = api_session(live_server, "supervisor"), api_session(live_server, "patroller")
    assert supervisor.post(f"{live_server.url}/api/tasks/{tasks[0]}/assign", json={"assignee_id": patroller.me["id"]}).status_code == 200
    for to in ("in_progress", "done"):
        assert patroller.post(f"{live_server.url}/api/tasks/{tasks[0]}/transition", json={"to": to}).status_code == 200
    page.goto("/#/outbox")
    page.click("#sync-now")
    wait_rows(page, "tasks", lambda r: any(x["id"] == tasks[0] and x["state"] == "done" for x in r))

    # Offline, weeks later: a, b and c were confirmed 20 days ago, d 2 days ago; b's record is
    # queued again and an open form names c.
    context.set_offline(True)
    page.evaluate(AGE_JS, [[a, b, c], 20])
    page.evaluate(AGE_JS, [[d], 2])
    page.evaluate(QUEUE_AND_DRAFT_JS, [out[1]["seq"], c])
    before = page.evaluate(PHOTOS_JS)
    assert all(before[x]["bytes"] and before[x]["thumb"] is None for x in (a, b, c, d))

    # The next start sweeps.
    page.reload()
    wait_ready(page)
    after = until(page, lambda: (lambda x: x if not x[a]["bytes"] else None)(page.evaluate(PHOTOS_JS)), "photo a's bytes cleared")
    assert after[a]["bytes"] is None and after[a]["thumb"] and after[a]["thumb_side"] <= 320
    assert after[a]["thumb"] < before[a]["bytes"] / 4
    for kept in (b, c, d):
        assert after[kept]["bytes"] == before[kept]["bytes"], kept
        assert after[kept]["thumb"] is None, kept
    assert {x: after[x]["status"] for x in after} == {a: "uploaded", b: "uploaded", c: "uploaded", d: "uploaded"}

    # Verification of a's task, offline: the before photo shows from the thumbnail kept.
    page.goto(f"/#/tasks/{tasks[0]}")
    page.click("#task-verify")
    page.fill("#code", "F07")
    page.click("#code-open")
    img = page.wait_for_selector(f"#verify-before-photos img[data-photo='{a}']")
    assert img.get_attribute("data-from") == "thumb"
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0 && img.naturalWidth <= 320", arg=img)
    shot(page, "verify_before_from_thumbnail")
