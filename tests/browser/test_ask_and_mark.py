"""Ask and mark (issue 13 § 4): a resident's words recorded offline at a checkpoint, turned into a
problem in one tap, synced and read on the desk; a circle drawn over a photo whose original is kept."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server.models import Finding, Photo, ResidentNote, Task

from .app_driver import installed_app, login, open_by_code, rows, serious_violations, shot, wait_outbox, wait_rows
from .conftest import jpeg_bytes, new_context

pytestmark = pytest.mark.browser

SAID = "住户说：楼道灯晚上不亮，已经三天了"
SAID_2 = "门禁卡偶尔刷不开"


def variants(page, name: str, again=None, ready: str | None = None) -> None:
    """Screenshots of what the page shows in zh and en, light and dark (390×844)."""
    for lang in ("zh", "en"):
        page.evaluate("(l) => localStorage.setItem('patrol.lang', l)", lang)
        page.reload()
        if ready:
            page.wait_for_selector(ready)
        if again:
            again()
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            shot(page, f"{name}_{lang}_{scheme}")
    page.emulate_media(color_scheme="light")
    page.evaluate("() => localStorage.setItem('patrol.lang', 'zh')")
    page.reload()
    if ready:
        page.wait_for_selector(ready)


def _desk(browser, live_server):
    desk = new_context(browser, live_server, bypass_csp=True)  # to inject axe
    sup = desk.new_page()
    sup.goto("/")
    login(sup, "supervisor")
    return sup


def test_resident_words_offline_become_a_problem_in_one_tap_and_reach_the_supervisor(live_server, launch, query):
    browser = launch()
    context, page = installed_app(browser, live_server)
    context.set_offline(True)
    open_by_code(page, "F05")

    page.click("#add-resident")
    page.fill("#resident-said-0", SAID)
    assert page.is_hidden("#resident-unit-0")
    page.check("#resident-consent-0")
    page.fill("#resident-unit-0", "8-02")
    page.fill("#resident-contact-0", "13800000000")
    # A second resident who gives no contact: what was typed before unticking is not kept.
    page.click("#add-resident")
    page.fill("#resident-said-1", SAID_2)
    page.check("#resident-consent-1")
    page.fill("#resident-unit-1", "9-01")
    page.uncheck("#resident-consent-1")
    assert page.is_hidden("#resident-unit-1")
    page.locator("#resident-0").scroll_into_view_if_needed()
    variants(page, "ask_notes", ready="#resident-0", again=lambda: page.locator("#resident-0").scroll_into_view_if_needed())

    # One tap: an other problem in the resident's words, linked to the note.
    page.click("#resident-finding-0")
    assert page.input_value("#extra-desc-0") == SAID
    page.wait_for_selector("#resident-linked-0")
    page.select_option("#extra-cat-0", "facilities")
    page.locator("#extra-0").scroll_into_view_if_needed()
    variants(page, "ask_to_problem", ready="#extra-0", again=lambda: page.locator("#extra-0").scroll_into_view_if_needed())
    # A unit typed without the resident's words is not silently dropped: the save asks for the words.
    page.click("#add-resident")
    page.check("#resident-consent-2")
    page.fill("#resident-unit-2", "10-03")
    page.click("#save-visit")
    assert "住户反映 3" in page.inner_text("#visit-error")
    assert page.evaluate("() => document.activeElement.id") == "resident-said-2"
    assert rows(page, "outbox") == []
    page.click("#resident-remove-2")
    page.click("#save-visit")
    page.wait_for_selector(".screen-home")

    out = rows(page, "outbox")
    assert [r["kind"] for r in out] == ["visit.record", "resident.note", "resident.note"]
    visit, first, second = (r["payload"] for r in out)
    finding_id = visit["extra_findings"][0]["finding_id"]
    assert (first["finding_id"], first["unit"], first["contact"], first["consent"]) == (finding_id, "8-02", "13800000000", True)
    assert "unit" not in second and "contact" not in second and second["consent"] is False
    assert query(lambda s: s.execute(select(ResidentNote)).first()) is None

    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    wait_outbox(page, lambda r: r and all(x["status"] == "sent" for x in r))

    notes = query(lambda s: {n.said: (n.consent, n.unit, n.contact, n.finding_id, n.visit_id) for n in s.execute(select(ResidentNote)).scalars()})
    assert notes == {SAID: (True, "8-02", "13800000000", finding_id, visit["visit_id"]), SAID_2: (False, "", "", None, visit["visit_id"])}
    assert query(lambda s: s.get(Finding, finding_id).description) == SAID
    task_id = query(lambda s: s.execute(select(Task.id).where(Task.finding_id == finding_id)).scalar_one())

    # The supervisor reads both on the desk, with the contact only where the resident agreed.
    sup = _desk(browser, live_server)
    sup.goto("/#/manage/residents")
    sup.wait_for_selector(".resident-note", timeout=20000)
    texts = sup.locator(".resident-note").all_inner_texts()
    assert len(texts) == 2
    said_first = next(t for t in texts if SAID in t)
    said_second = next(t for t in texts if SAID_2 in t)
    assert "8-02" in said_first and "13800000000" in said_first
    assert "9-01" not in said_second and "住户未同意" in said_second
    assert serious_violations(sup) == []
    variants(sup, "desk_residents", ready=".resident-note")
    # And on the task page of the problem it became.
    sup.goto(f"/#/manage/tasks/{task_id}")
    sup.wait_for_selector("#task-residents:not([hidden]) .resident-note", timeout=20000)
    assert SAID in sup.inner_text("#task-residents")
    assert serious_violations(sup) == []
    sup.locator("#task-residents").scroll_into_view_if_needed()
    variants(sup, "desk_task_resident", ready="#task-residents:not([hidden]) .resident-note",
             again=lambda: sup.locator("#task-residents").scroll_into_view_if_needed())


PHOTO_SHA = """async (id) => {
  const db = await import('/static/pwa/db.js');
  const { sha256Hex } = await import('/static/pwa/photos.js');
  const p = await db.getPhoto(id);
  return { now: await sha256Hex(p.bytes), kept: p.sha256, annotation: p.annotation || null };
}"""


def _drag(page, box, a, b) -> None:
    """A mouse drag on the canvas from fraction `a` to fraction `b` of its box."""
    page.mouse.move(box["x"] + box["width"] * a[0], box["y"] + box["height"] * a[1])
    page.mouse.down()
    for i in range(1, 6):
        t = i / 5
        page.mouse.move(box["x"] + box["width"] * (a[0] + (b[0] - a[0]) * t), box["y"] + box["height"] * (a[1] + (b[1] - a[1]) * t))
    page.mouse.up()


def test_a_circle_drawn_on_a_photo_is_kept_beside_the_untouched_original(live_server, launch, query):
    browser = launch()
    context, page = installed_app(browser, live_server)
    context.set_offline(True)
    open_by_code(page, "F06")
    page.click("button[data-item='floor.clean'][data-result='fail']")
    page.fill("#note-floor-clean", "地面有积水")
    page.set_input_files("#photo-floor-clean", files=[{"name": "water.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes()}])
    page.wait_for_selector("#item-floor-clean .thumbs img")
    photo_id = page.get_attribute("#item-floor-clean [data-mark]", "data-mark")
    before = page.evaluate(PHOTO_SHA, photo_id)
    assert before["now"] == before["kept"]

    page.click(f"[data-mark='{photo_id}']")
    page.wait_for_selector("#annotate-canvas")
    box = page.locator("#annotate-canvas").bounding_box()
    _drag(page, box, (0.5, 0.5), (0.65, 0.5))  # a circle round the middle
    page.click("#annotate-arrow")
    _drag(page, box, (0.1, 0.9), (0.4, 0.6))
    assert page.get_attribute("#annotate-arrow", "aria-pressed") == "true"
    page.click("#annotate-undo")  # the arrow goes, the circle stays
    _drag(page, box, (0.15, 0.85), (0.4, 0.6))
    assert page.inner_text("#annotate-status") == "已标注 2 处"
    for lang in ("zh", "en"):
        page.evaluate("(l) => localStorage.setItem('patrol.lang', l)", lang)
        if lang == "en":  # the editor in English: the draft reopened after a reload
            page.click("#annotate-cancel")
            page.reload()
            page.wait_for_selector(f"[data-mark='{photo_id}']")
            page.click(f"[data-mark='{photo_id}']")
            page.wait_for_selector("#annotate-canvas")
            box = page.locator("#annotate-canvas").bounding_box()
            _drag(page, box, (0.5, 0.5), (0.65, 0.5))
            page.click("#annotate-arrow")
            _drag(page, box, (0.15, 0.85), (0.4, 0.6))
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            shot(page, f"mark_editor_{lang}_{scheme}")
    page.emulate_media(color_scheme="light")
    page.click("#annotate-done")
    page.wait_for_selector(f"[data-photo='{photo_id}'] svg.drawing circle")
    page.locator("#item-floor-clean .thumbs").scroll_into_view_if_needed()
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        shot(page, f"mark_thumb_en_{scheme}")
    page.emulate_media(color_scheme="light")

    after = page.evaluate(PHOTO_SHA, photo_id)
    assert after["now"] == before["now"], "drawing changed the photo's bytes"
    shapes = after["annotation"]["shapes"]
    assert [s["kind"] for s in shapes] == ["circle", "arrow"]
    assert abs(shapes[0]["x"] - 0.5) < 0.02 and abs(shapes[0]["y"] - 0.5) < 0.02 and shapes[0]["r"] > 0.05

    page.click("#save-visit")
    page.wait_for_selector(".screen-home")
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    out = wait_outbox(page, lambda r: r and all(x["status"] == "sent" for x in r))
    wait_rows(page, "photos", lambda r: r and all(p["status"] == "uploaded" for p in r))
    row = query(lambda s: s.execute(select(Photo.sha256, Photo.annotation, Photo.status).where(Photo.id == photo_id)).one())
    assert row.status == "received" and row.sha256 == before["now"]
    assert row.annotation == {"shapes": shapes}

    # The desk shows the drawing over the original.
    task_id = out[0]["result"]["task_ids"][0]
    sup = _desk(browser, live_server)
    sup.goto(f"/#/manage/tasks/{task_id}")
    sup.wait_for_selector(f"a.photo-slot[data-photo='{photo_id}'] svg.drawing circle.mark", timeout=20000)
    assert sup.locator(f"a.photo-slot[data-photo='{photo_id}'] svg.drawing line.mark").count() == 3  # the arrow: shaft and head
    assert serious_violations(sup) == []
    variants(sup, "desk_task_marked", ready=f"a.photo-slot[data-photo='{photo_id}'] svg.drawing circle",
             again=lambda: sup.locator("#task-photos").scroll_into_view_if_needed())


def test_a_visit_and_what_residents_said_are_saved_together_or_not_at_all(live_server, launch):
    """The visit and its resident notes go into the outbox in one transaction: when writing a
    note fails (here the outbox refuses it, as a full phone would), the visit is not queued
    either, the form and its words stay for another try, and the next save queues both."""
    browser = launch()
    context, page = installed_app(browser, live_server)
    context.set_offline(True)
    open_by_code(page, "F07")
    page.click("#add-resident")
    page.fill("#resident-said-0", SAID)
    # The outbox refuses any resident.note, once, the way IndexedDB refuses a write with no room.
    page.evaluate("""() => {
      const add = IDBObjectStore.prototype.add;
      IDBObjectStore.prototype.add = function (value, key) {
        if (this.name === 'outbox' && value && value.kind === 'resident.note') {
          IDBObjectStore.prototype.add = add;
          throw new DOMException('no room for this record', 'QuotaExceededError');
        }
        return add.call(this, value, key);
      };
    }""")
    page.click("#save-visit")
    page.wait_for_selector("#app .banner, #app [role=alert]:not(:empty)")
    assert page.url.endswith(f"#/checkpoint/{page.url.rsplit('/', 1)[1]}")  # still on the form
    assert rows(page, "outbox") == []  # not the visit alone
    assert page.input_value("#resident-said-0") == SAID
    assert rows(page, "drafts"), "the form's draft stays on the phone"

    page.click("#save-visit")
    page.wait_for_selector(".screen-home")
    out = rows(page, "outbox")
    assert [r["kind"] for r in out] == ["visit.record", "resident.note"]
    assert out[1]["payload"]["visit_id"] == out[0]["payload"]["visit_id"] and out[1]["payload"]["said"] == SAID
    assert out[1]["device_seq"] == out[0]["device_seq"] + 1
