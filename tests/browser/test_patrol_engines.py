"""The patrol-critical paths in Chromium, WebKit (Safari's engine) and Firefox, through one
driver layer (engines.py).

How each fault is provoked per engine:
- offline: Chromium's own offline switch; WebKit and Firefox reach the server through the
  tests' proxy, which then drops every connection without an answer (the page sees the
  network error a phone without signal sees; the service worker serves the app shell);
- the app killed after the server answered: the proxy forwards the request and keeps the
  answer, and the test closes the page (all engines);
- storage cleared: the site's IndexedDB, caches, service worker and local storage deleted
  from a page of the site that is not the app, the server's cookie kept, as Safari's 7-day
  rule does (all engines);
- storage full: Chromium gets a 16 MiB quota over CDP. WebKitGTK's MiniBrowser offers no
  way to set a quota; Firefox's small `dom.quotaManager.temporaryStorage.fixedLimit` made
  the filler's own connection unusable (InvalidStateError) rather than refuse the app's
  write, so that test runs in Chromium only;
- the QR camera: a QR is shown to the camera only in Chromium (a y4m file); WebKit's and
  Firefox's fake cameras show a test pattern, so there the checkpoint is reached by its
  typed code and by the label's URL.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from server.models import Checkpoint, Extension, Finding, Mutation, Photo, Task, Verification, Visit

from .app_driver import install, login, open_by_code, record_all_fine, rows, shot, sign, until, wait_installed, wait_outbox, wait_rows
from .conftest import api_session, jpeg_bytes
from .storage_js import EVICT_JS, FILL_STORAGE_JS, FREE_STORAGE_JS, NOT_THE_APP

pytestmark = pytest.mark.browser

def _count(query, model, *where) -> int:
    return query(lambda s: s.scalar(select(func.count()).select_from(model).where(*where)))


def _fail_with_photo(page, item: str, note: str, color=(200, 60, 40)) -> None:
    dom = item.replace(".", "-")
    page.click(f"button[data-item='{item}'][data-result='fail']")
    page.fill(f"#note-{dom}", note)
    page.set_input_files(f"#photo-{dom}", files=[{"name": "leak.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes((1600, 1200), color)}])
    page.wait_for_selector(f"#item-{dom} .thumbs img")


def _online(device, page) -> None:
    device.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")


def test_offline_round_with_a_failed_item_and_its_photo_syncs_exactly_once(engine, phone, query):
    device = phone()
    page = install(device)
    token = query(lambda s: s.execute(select(Checkpoint.token).where(Checkpoint.short_code == "LOBBY")).scalar_one())
    page.close()

    # No network from the start: the app opens from its service worker.
    device.set_offline(True)
    page = device.new_page()
    page.goto("/")
    page.wait_for_selector("#nav a")
    open_by_code(page, "F03")
    shot(page, f"{engine}_checkpoint")
    _fail_with_photo(page, "floor.clean", "楼道有积水 water on the floor")
    page.click("#save-visit")
    page.wait_for_selector(".screen-home")
    shot(page, f"{engine}_home")
    # A label's URL, opened by the phone's camera app, lands on its checkpoint offline too.
    page.goto(f"/c/{token}")
    page.click("#all-fine")
    page.wait_for_selector(".screen-home")
    page.close()

    # Closed and opened again, still offline: both records and the photo are on the phone.
    page = device.new_page()
    page.goto("/#/outbox")
    page.wait_for_selector(".out-row[data-kind='visit.record'][data-status='pending']")
    shot(page, f"{engine}_outbox")
    outbox = rows(page, "outbox")
    assert [(r["kind"], r["status"], r["payload"]["scan_method"]) for r in outbox] == [("visit.record", "pending", "code"), ("visit.record", "pending", "url")]
    assert [(p["status"], p["mime"]) for p in rows(page, "photos")] == [("pending", "image/jpeg")]
    assert _count(query, Visit) == 0

    _online(device, page)
    wait_outbox(page, lambda r: len(r) == 2 and all(x["status"] == "sent" for x in r))
    wait_rows(page, "photos", lambda r: len(r) == 1 and r[0]["status"] == "uploaded")
    page.wait_for_function("() => document.querySelector('#unsent').textContent.endsWith(' 0')")
    assert (_count(query, Visit), _count(query, Finding), _count(query, Task), _count(query, Photo, Photo.status == "received")) == (2, 1, 1, 1)
    finding = query(lambda s: s.execute(select(Finding)).scalar_one())
    assert finding.item_id == "floor.clean" and "water" in finding.description


def test_app_killed_after_the_server_answered_resends_and_ends_with_each_record_once(engine, phone, query):
    device = phone()
    page = install(device)
    device.set_offline(True)
    record_all_fine(page, "F04")
    open_by_code(page, "F05")
    _fail_with_photo(page, "floor.fire_escape_clear", "消防通道堆放杂物")
    page.click("#save-visit")
    page.wait_for_selector(".screen-home")
    recorded = [r["mutation_id"] for r in rows(page, "outbox")]

    # The push reaches the server, which stores both records; the app is killed before it
    # hears the answer.
    pushes = device.proxy.hold("/api/sync/push")
    _online(device, page)
    until(page, lambda: pushes, "the push answered")
    assert [r["status"] for r in pushes[0]["body"]["results"]] == ["applied", "applied"]
    page.close()
    device.proxy.unhold()
    assert _count(query, Visit) == 2

    # Started again: the records are still pending, go again, and the server says duplicate.
    page = device.new_page()
    page.goto("/")
    out = wait_outbox(page, lambda r: len(r) == 2 and all(x["status"] == "sent" for x in r))
    assert [r["mutation_id"] for r in out] == recorded
    wait_rows(page, "photos", lambda r: len(r) == 1 and r[0]["status"] == "uploaded")
    assert (_count(query, Visit), _count(query, Finding), _count(query, Task), _count(query, Mutation)) == (2, 1, 1, 2)
    assert _count(query, Photo, Photo.status == "received") == 1


def test_storage_evicted_with_unsent_records_the_phone_says_what_the_server_has_and_what_is_lost(engine, phone, query, live_server):
    device = phone()
    page = install(device)
    record_all_fine(page, "F03")
    wait_outbox(page, lambda r: len(r) == 1 and r[0]["status"] == "sent")
    # Two more visits while the server cannot be reached (the site's pages still load).
    device.proxy.drop("/api/*")
    record_all_fine(page, "F04")
    record_all_fine(page, "F05")
    assert [r["status"] for r in rows(page, "outbox")] == ["sent", "pending", "pending"]

    # Days later the browser evicts the site's storage (the server's cookie stays).
    page.goto(NOT_THE_APP)
    page.evaluate(EVICT_JS)
    page.close()

    # Back online, the app opens on an empty phone: it carries on as the logged-in person,
    # installs again and says what arrived and what was lost.
    device.proxy.undrop()
    page = device.new_page()
    page.goto("/")
    wait_installed(page)
    page.wait_for_selector("#lost-banner")
    shot(page, f"{engine}_records_lost")
    text = page.inner_text("#lost-banner")
    assert "服务器已收到你的 1 条记录" in text and "已经丢失" in text
    # What was sent is on the server; the two unsent visits are not.
    assert _count(query, Visit) == 1
    supervisor = api_session(live_server, "supervisor")
    phones = [d for d in supervisor.get(f"{live_server.url}/api/devices/").json() if d["username"] == "patroller"]
    assert [(d["max_seq"], d["seq_gaps"]) for d in phones] == [(1, [])]

    # The notice stays until the person has read it, then the work goes on.
    page.reload()
    page.click("#lost-banner-ok")
    page.wait_for_function("() => !document.querySelector('#lost-banner')")
    page.wait_for_function("() => import('/static/pwa/db.js').then((db) => db.getMeta('lost_records')).then((v) => !v)")
    page.reload()
    page.wait_for_selector("#nav a")
    assert page.evaluate("() => document.querySelectorAll('#lost-banner').length") == 0
    record_all_fine(page, "F04")
    wait_outbox(page, lambda r: len(r) == 1 and r[0]["status"] == "sent")
    assert _count(query, Visit) == 2


@pytest.mark.parametrize("engine", ["chromium"], indirect=True)
def test_storage_full_says_so_loses_nothing_and_saves_once_there_is_room(engine, phone, query, live_server):
    device = phone()
    page = device.new_page()
    cdp = device.context.new_cdp_session(page)
    cdp.send("Storage.overrideQuotaForOrigin", {"origin": device.base_url, "quotaSize": 16 << 20})
    page.goto("/")
    login(page)
    wait_installed(page)
    device.set_offline(True)
    record_all_fine(page, "F03")
    before = rows(page, "outbox")

    open_by_code(page, "F04")
    page.click("button[data-item='floor.clean'][data-result='fail']")
    page.fill("#note-floor-clean", "地面有油污")
    assert page.evaluate(FILL_STORAGE_JS) == "QuotaExceededError"
    page.click("#save-visit")
    page.wait_for_selector("#save-notice")
    page.wait_for_function("() => document.querySelector('#save-notice').textContent.includes('手机存储空间已满')")
    assert page.input_value("#note-floor-clean") == "地面有油污"
    assert rows(page, "outbox") == before

    page.evaluate(FREE_STORAGE_JS)
    page.click("#save-visit")
    page.wait_for_selector(".screen-home")
    assert [(r["status"], r["device_seq"]) for r in rows(page, "outbox")] == [("pending", 1), ("pending", 2)]
    _online(device, page)
    wait_outbox(page, lambda r: len(r) == 2 and all(x["status"] == "sent" for x in r))
    assert query(lambda s: sorted(m.seq for m in s.scalars(select(Mutation)))) == [1, 2]


def test_task_screens_after_sync_and_verification_with_a_signature(engine, phone, query, live_server):
    patroller = api_session(live_server, "patroller")
    supervisor = api_session(live_server, "supervisor")
    manager = api_session(live_server, "manager")
    cp_id = query(lambda s: s.execute(select(Checkpoint.id).where(Checkpoint.short_code == "F07")).scalar_one())
    r = patroller.post(f"{live_server.url}/api/findings/", json={"checkpoint_id": cp_id, "item_id": "floor.lights_doors_windows", "description": "7楼走廊灯不亮"})
    assert r.status_code == 201, r.text
    task_id = r.json()["task_id"]
    assert supervisor.post(f"{live_server.url}/api/tasks/{task_id}/assign", json={"assignee_id": patroller.me["id"]}).status_code == 200
    due = (datetime.now(timezone.utc) + timedelta(days=14)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = patroller.post(f"{live_server.url}/api/tasks/{task_id}/extensions", json={"requested_due_at": due, "reason": "灯具需订货"})
    assert manager.post(f"{live_server.url}/api/tasks/extensions/{r.json()['id']}/decision", json={"approve": True}).status_code == 200

    device = phone()
    page = install(device)
    # The task pulled by the sync is on the task screens, and is worked on from there.
    page.goto("/#/tasks")
    page.wait_for_selector(f"a[data-task='{task_id}']")
    shot(page, f"{engine}_tasks")
    page.click(f"a[data-task='{task_id}']")
    page.click("#task-start")
    # As a person does, the next tap comes once the task shows the first move made: sent, and
    # the server's copy pulled. (Tapped at once, "done" raced the redraws of that sync: in one
    # WebKit run of 2026-12-05 its click reached no button and only "start" was ever queued.)
    wait_outbox(page, lambda r: len(r) == 1 and r[0]["status"] == "sent")
    page.wait_for_selector("#task-state [data-state='in_progress']")
    page.click("#task-done")
    wait_outbox(page, lambda r: len(r) == 2 and all(x["status"] == "sent" for x in r))
    page.goto("/#/outbox")
    page.click("#sync-now")
    wait_rows(page, "tasks", lambda r: any(t["id"] == task_id and t["state"] == "done" for t in r))
    page.goto(f"/#/tasks/{task_id}")
    page.wait_for_selector("#task-verify")
    shot(page, f"{engine}_task")

    # On site: re-scan by code, after photo, pass, signature.
    page.click("#task-verify")
    page.fill("#code", "F07")
    page.click("#code-open")
    page.wait_for_selector("#save-verify")
    page.set_input_files("#after-photo", files=[{"name": "after.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes((1200, 900), (40, 160, 60))}])
    page.wait_for_selector(".screen-verify .thumbs img")
    page.click("#verify-pass")
    page.click("#sig-more")  # the fixer's name and signature open behind one tap
    page.fill("#fixed-by", "工程部 王师傅")
    sign(page, "#sig-verifier")
    shot(page, f"{engine}_verify")
    page.click("#save-verify")
    page.wait_for_selector(".screen-tasks")
    wait_outbox(page, lambda r: len(r) == 3 and all(x["status"] == "sent" for x in r))
    wait_rows(page, "photos", lambda r: len(r) == 2 and all(p["status"] == "uploaded" for p in r))

    def check(s):
        ver = s.execute(select(Verification).where(Verification.task_id == task_id)).scalar_one()
        sig = s.get(Photo, ver.signatures["verifier"])
        ext = s.execute(select(Extension).where(Extension.task_id == task_id)).scalar_one()
        return s.get(Task, task_id).state, ver.result, ver.fixed_by_name, sig.content_type, sig.status, ext.state

    assert query(check) == ("verified", "pass", "工程部 王师傅", "image/png", "received", "approved")
