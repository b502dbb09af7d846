"""Verification made easy (issue 13, point 5): the finding's before-photo beside the after photo,
offline too; the verifier signs first and the optional signatures open behind one tap; the form
is about two phone screens long."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from server.models import Checkpoint, Photo, Task, Verification

from .app_driver import login, open_by_code, rows, serious_violations, shot, sign, until, wait_installed, wait_outbox, wait_rows
from .conftest import SCREENSHOTS, api_session, jpeg_bytes, new_context

pytestmark = pytest.mark.browser

ITEM = "floor.lights_doors_windows"
DOM = "floor-lights_doors_windows"

# The bytes an <img> shows, fetched from its own src (a blob: URL of the phone's storage, or the server).
IMG_SHA_JS = """async (img) => {  // an <img> or an <audio>
  const buf = await (await fetch(img.src)).arrayBuffer();
  const d = await crypto.subtle.digest('SHA-256', buf);
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, '0')).join('');
}"""



def _shown_sha(context, page, img) -> str:
    """SHA-256 of what an <img> shows (the context bypasses the CSP only so that the test may fetch a blob: URL)."""
    return page.evaluate(IMG_SHA_JS, img)


CACHED_JS = """async (url) => !!(await (await caches.open('patrol-media')).match(url))"""


def _report_with_photo(page, code: str, note: str) -> None:
    open_by_code(page, code)
    page.click(f"button[data-item='{ITEM}'][data-result='fail']")
    page.fill(f"#note-{DOM}", note)
    page.set_input_files(f"#photo-{DOM}", files=[{"name": "before.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes((1600, 1200), color=(190, 50, 40))}])
    page.wait_for_selector(f"#item-{DOM} .thumbs img")
    page.click("#save-visit")
    page.wait_for_selector(".screen-home")


def _ready_for_verification(live_server, task_id: int) -> None:
    supervisor = api_session(live_server, "supervisor")
    patroller = api_session(live_server, "patroller")
    assert supervisor.post(f"{live_server.url}/api/tasks/{task_id}/assign", json={"assignee_id": patroller.me["id"]}).status_code == 200
    for to in ("in_progress", "done"):
        assert patroller.post(f"{live_server.url}/api/tasks/{task_id}/transition", json={"to": to}).status_code == 200


def _open_verification(page, task_id: int, code: str) -> None:
    page.goto(f"/#/tasks/{task_id}")
    page.click("#task-verify")
    page.fill("#code", code)
    page.click("#code-open")
    page.wait_for_selector("#save-verify")


def _sync(page, task_id: int) -> None:
    page.goto("/#/outbox")
    page.click("#sync-now")
    wait_rows(page, "tasks", lambda r: any(x["id"] == task_id and x["state"] == "done" for x in r))


def test_verification_shows_the_findings_photo_beside_the_after_photo_offline_with_optional_signatures_behind_a_tap(live_server, launch, query):
    browser = launch()
    context = new_context(browser, live_server, bypass_csp=True)
    page = context.new_page()
    page.goto("/")
    login(page)
    wait_installed(page)

    # The patroller reports a broken light with a photo; it becomes a task, fixed and done.
    _report_with_photo(page, "F07", "7楼走廊灯不亮")
    out = wait_outbox(page, lambda r: r and all(x["status"] == "sent" for x in r))
    wait_rows(page, "photos", lambda r: r and all(p["status"] == "uploaded" for p in r))
    task_id = out[0]["result"]["task_ids"][0]
    before_id = query(lambda s: s.execute(select(Photo.id).where(Photo.finding_id == s.get(Task, task_id).finding_id)).scalar_one())
    before_sha = query(lambda s: s.get(Photo, before_id).sha256)
    _ready_for_verification(live_server, task_id)
    _sync(page, task_id)

    # On site with no network: the before photo (the phone's own copy) stands beside the capture.
    context.set_offline(True)
    _open_verification(page, task_id, "F07")
    before = page.wait_for_selector(f"#verify-before-photos img[data-photo='{before_id}']")
    assert before.get_attribute("data-from") == "bytes", before.get_attribute("src")
    assert before.get_attribute("src").startswith("blob:") and _shown_sha(context, page, before) == before_sha
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=before)
    assert page.is_visible("#verify-after-photos .cmp-empty")  # an empty frame beside it, the way to take one
    shot(page, "verify_before_capture_zh_light")
    page.set_input_files("#after-photo", files=[{"name": "after.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes((1600, 1200), color=(40, 160, 60))}])
    after = page.wait_for_selector("#verify-after-photos img")
    # Side by side, like with like: the same size, one row.
    b, a = before.bounding_box(), after.bounding_box()
    assert abs(b["y"] - a["y"]) < 2 and b["x"] + b["width"] <= a["x"] and abs(b["width"] - a["width"]) < 2 and abs(b["height"] - a["height"]) < 2

    # The verifier's pad comes first; the fixer's and the supervisor's only after a tap.
    assert page.is_visible("#sig-verifier")
    assert not page.is_visible("#sig-fixer") and not page.is_visible("#sig-supervisor") and not page.is_visible("#fixed-by")
    assert page.get_attribute("#sig-more", "aria-expanded") == "false"
    assert page.evaluate("() => document.querySelector('#sig-verifier').compareDocumentPosition(document.querySelector('#sig-more')) & Node.DOCUMENT_POSITION_FOLLOWING")
    page.click("#verify-pass")
    sign(page, "#sig-verifier")
    page.evaluate("() => window.scrollTo(0, 0)")
    # About two screens at 390×844 with the optional signatures closed.
    screens = page.evaluate("() => document.documentElement.scrollHeight / 844")
    print(f"verify form height: {screens:.2f} screens of 844 px")
    assert screens <= 2.1, screens
    shot(page, "verify_compare_zh_light")
    page.screenshot(path=str(SCREENSHOTS / "verify_compare_full_zh_light.png"), full_page=True)  # the whole form, to look at
    page.emulate_media(color_scheme="dark")
    shot(page, "verify_compare_zh_dark")
    page.click("#sig-more")
    assert page.get_attribute("#sig-more", "aria-expanded") == "true"
    page.wait_for_selector("#sig-fixer", state="visible")
    assert page.is_visible("#sig-supervisor") and page.is_visible("#fixed-by")
    page.fill("#fixed-by", "工程部 王师傅")
    sign(page, "#sig-fixer")
    page.locator("#sig-more").scroll_into_view_if_needed()
    shot(page, "verify_signatures_open_zh_dark")
    assert serious_violations(page) == []  # the context bypasses the CSP, so axe can be injected

    # A reload under the form: the optional signatures drawn stay open and drawn.
    page.reload()
    page.wait_for_selector("#sig-fixer", state="visible")
    page.click("button.lang")
    page.wait_for_selector("#sig-fixer", state="visible")
    page.evaluate("() => window.scrollTo(0, 0)")
    shot(page, "verify_compare_en_dark")
    page.emulate_media(color_scheme="light")
    shot(page, "verify_compare_en_light")
    page.click("#save-verify")
    page.wait_for_selector(".screen-tasks")

    context.set_offline(False)
    page.goto("/#/outbox")
    page.click("#sync-now")
    wait_outbox(page, lambda r: any(x["kind"] == "task.verify" and x["status"] == "sent" for x in r))

    def check(s):
        v = s.execute(select(Verification).where(Verification.task_id == task_id)).scalar_one()
        return s.get(Task, task_id).state, v.result, sorted(v.signatures), v.fixed_by_name

    assert query(check) == ("verified", "pass", ["fixer", "verifier"], "工程部 王师傅")


def test_a_second_phone_fetches_the_before_photo_and_sound_clip_ahead_and_shows_them_offline(live_server, launch, query):
    patroller = api_session(live_server, "patroller")
    # The finding comes from another phone, with a photo and a sound clip: neither is on this one.
    first_context = new_context(launch(audio=True), live_server)
    first_context.grant_permissions(["camera", "microphone"], origin=live_server.url)
    first = first_context.new_page()
    first.goto("/")
    login(first)
    wait_installed(first)
    open_by_code(first, "F06")
    first.click(f"button[data-item='{ITEM}'][data-result='fail']")
    first.fill(f"#note-{DOM}", "6楼电梯厅灯不亮，有异响")
    first.set_input_files(f"#photo-{DOM}", files=[{"name": "before.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes((1600, 1200))}])
    first.wait_for_selector(f"#item-{DOM} .thumbs img")
    first.click(f"#sound-{DOM}")
    first.wait_for_selector(f"#sound-{DOM}.recording")
    first.wait_for_timeout(1500)  # a second and a half of the fake microphone's beep
    first.click(f"#sound-{DOM}")
    first.wait_for_selector("figure.clip audio")
    first.click("#save-visit")
    out = wait_outbox(first, lambda r: r and all(x["status"] == "sent" for x in r))
    wait_rows(first, "photos", lambda r: len(r) == 2 and all(p["status"] == "uploaded" for p in r))
    task_id = out[0]["result"]["task_ids"][0]

    def media(s):
        fid = s.get(Task, task_id).finding_id
        return {p.content_type.split("/")[0]: (p.id, p.sha256) for p in s.execute(select(Photo).where(Photo.finding_id == fid)).scalars()}

    found = query(media)
    before_id, (clip_id, clip_sha) = found["image"][0], found["audio"]
    _ready_for_verification(live_server, task_id)
    server_thumb = patroller.get(f"{live_server.url}/api/photos/{before_id}?size=thumb")
    assert server_thumb.status_code == 200

    context = new_context(launch(), live_server, bypass_csp=True)
    page = context.new_page()
    page.goto("/")
    login(page)
    wait_installed(page)
    wait_rows(page, "tasks", lambda r: any(x["id"] == task_id and x["state"] == "done" for x in r))
    assert not [p for p in rows(page, "photos") if p["id"] == before_id]
    until(page, lambda: page.evaluate(CACHED_JS, f"/api/photos/{before_id}?size=thumb"), "the before photo fetched ahead")
    until(page, lambda: page.evaluate(CACHED_JS, f"/api/photos/{clip_id}"), "the sound clip fetched ahead")

    context.set_offline(True)
    # The task page shows the same photo and plays the same clip, offline.
    page.goto(f"/#/tasks/{task_id}")
    shown = page.wait_for_selector(f"#task-photos img[data-photo='{before_id}']")
    assert shown.get_attribute("data-from") == "cache" and _shown_sha(context, page, shown) == hashlib.sha256(server_thumb.content).hexdigest()
    assert page.wait_for_selector(f"#task-sounds audio[data-clip='{clip_id}']").get_attribute("data-from") == "cache"
    _open_verification(page, task_id, "F06")
    img = page.wait_for_selector(f"#verify-before-photos img[data-photo='{before_id}']")
    assert img.get_attribute("data-from") == "cache"
    assert img.get_attribute("src").startswith("blob:") and _shown_sha(context, page, img) == hashlib.sha256(server_thumb.content).hexdigest()
    assert page.query_selector("#verify-before-missing") is None
    clip = page.wait_for_selector(f"#verify-before-sounds audio[data-clip='{clip_id}']")
    assert clip.get_attribute("data-from") == "cache"
    assert _shown_sha(context, page, clip) == clip_sha
    shot(page, "verify_before_photo_and_sound_offline")
