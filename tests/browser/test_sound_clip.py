"""Listen: a sound clip recorded on the phone (Chromium's fake microphone), uploaded, refused when fake, played on the desk."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from server import sounds
from server.models import Photo

from .app_driver import installed_app, login, open_by_code, shot, wait_outbox, wait_rows
from .conftest import api_session, new_context

pytestmark = pytest.mark.browser

SAVE_FAKE_CLIP = """async () => {
  const db = await import('/static/pwa/db.js');
  const { sha256Hex } = await import('/static/pwa/photos.js');
  const bytes = new TextEncoder().encode('just a text file, renamed clip.webm\\n').buffer;
  const id = db.uuid();
  await db.savePhoto({ id, mime: 'audio/webm', bytes, sha256: await sha256Hex(bytes), purpose: 'finding', status: 'pending' });
  await (await import('/static/pwa/sync.js')).syncNow();
  return id;
}"""


# Chromium records MP4 (as iPhones do) when asked first; without it, WebM/Opus (as Android does).
NO_MP4 = """(() => { const f = MediaRecorder.isTypeSupported.bind(MediaRecorder);
  MediaRecorder.isTypeSupported = (t) => !t.startsWith('audio/mp4') && f(t); })();"""


@pytest.mark.parametrize("container", ["mp4", "webm"])
def test_sound_clip_recorded_uploaded_and_played_on_the_desk(live_server, launch, query, container):
    browser = launch(audio=True)
    context, page = installed_app(browser, live_server)
    context.grant_permissions(["camera", "microphone"], origin=live_server.url)
    if container == "webm":
        context.add_init_script(NO_MP4)
        page.reload()
        page.wait_for_selector("#nav a")

    open_by_code(page, "F07")
    page.click("button[data-item='floor.lights_doors_windows'][data-result='fail']")
    page.fill("#note-floor-lights_doors_windows", "电梯厅有异响")
    page.click("#sound-floor-lights_doors_windows")
    page.wait_for_selector("#sound-floor-lights_doors_windows.recording")
    page.wait_for_timeout(2500)  # record a little over two seconds of the fake microphone's beep
    shot(page, f"sound_recording_{container}")
    page.click("#sound-floor-lights_doors_windows")
    page.wait_for_selector("figure.clip audio")
    shot(page, f"sound_recorded_{container}")
    page.click("#save-visit")
    out = wait_outbox(page, lambda r: r and all(x["status"] == "sent" for x in r))
    task_id = out[0]["result"]["task_ids"][0]
    clips = wait_rows(page, "photos", lambda r: r and all(p["status"] == "uploaded" for p in r))
    assert len(clips) == 1 and clips[0]["mime"] == f"audio/{container}"
    clip_id = clips[0]["id"]

    row = query(lambda s: s.execute(select(Photo.content_type, Photo.sha256, Photo.finding_id, Photo.status).where(Photo.id == clip_id)).one())
    assert row.status == "received" and row.finding_id and row.sha256 == clips[0]["sha256"]
    assert row.content_type == clips[0]["mime"]
    # What the server serves is what the phone recorded, and its container says about 2.5 s.
    data = api_session(live_server, "supervisor").get(f"{live_server.url}/api/photos/{clip_id}").content
    assert hashlib.sha256(data).hexdigest() == row.sha256
    clip = sounds.sniff(data)
    print("recorded", clips[0]["mime"], clip)
    assert clip is not None and 1.5 < clip.seconds < 4.5


    # A text file passed off as a clip is refused, and the phone says why.
    fake_id = page.evaluate(SAVE_FAKE_CLIP)
    bad = wait_rows(page, "photos", lambda r: any(p["id"] == fake_id and p["status"] == "rejected" for p in r))
    assert [p["code"] for p in bad if p["id"] == fake_id] == ["not_a_sound"]
    assert query(lambda s: s.get(Photo, fake_id)) is None

    # The supervisor plays it on the task page of the desk.
    desk = new_context(browser, live_server)
    sup = desk.new_page()
    sup.goto("/")
    login(sup, "supervisor")
    sup.goto(f"/#/manage/tasks/{task_id}")
    sup.wait_for_selector(f"audio[data-clip='{clip_id}']", timeout=20000)
    ready = sup.evaluate(
        """async (id) => {
          const a = document.querySelector(`audio[data-clip='${id}']`);
          if (a.readyState < 1) await new Promise((ok, no) => { a.addEventListener('loadedmetadata', ok); a.addEventListener('error', () => no(String(a.error && a.error.message))); });
          return { state: a.readyState, error: a.error, type: a.currentSrc };
        }""",
        clip_id,
    )
    assert ready["state"] >= 1 and ready["error"] is None
    sup.locator("#task-sounds").scroll_into_view_if_needed()
    shot(sup, f"desk_task_sound_{container}")
