"""The checkpoint screen on a small phone (a real mobile profile, 360×740): on a long checklist
"other problem" is in reach of the thumb wherever the patroller is, and marking a problem moves
nothing under the finger."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server.models import Checkpoint

from .app_driver import installed_app, login, open_by_code, serious_violations, shot, wait_installed, wait_rows
from .conftest import api_session, jpeg_bytes

pytestmark = pytest.mark.browser

EXTRA_ITEMS = 14


def _phone(playwright, browser, server, **kw):
    """The Galaxy S8 profile of Playwright: 360×740, a touch screen, a mobile browser."""
    profile = {k: v for k, v in playwright.devices["Galaxy S8"].items() if k != "default_browser_type"}
    return browser.new_context(**profile, base_url=server.url, **kw)


def _in_reach(page, selector: str) -> bool:
    """On screen, whole, at least 48 px tall, and not under the bottom navigation."""
    box = page.locator(selector).bounding_box()
    nav = page.locator("#nav").bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= nav["y"] + 0.5 and box["height"] >= 48


def test_other_problem_is_in_reach_anywhere_on_a_long_checklist_and_marking_a_problem_moves_nothing(live_server, launch, playwright, query):
    site_id = query(lambda s: s.execute(select(Checkpoint.site_id).where(Checkpoint.short_code == "F03")).scalar_one())
    manager = api_session(live_server, "manager")
    for n in range(EXTRA_ITEMS):
        r = manager.post(
            f"{live_server.url}/api/sites/{site_id}/checklists/items",
            json={"kind": "floor", "key": f"local_{n}", "text_zh": f"本楼自定项目 {n + 1}：消防设施完好、标识清楚、无遮挡", "text_en": f"Local item {n + 1}",
                  "methods": ["look"], "category": "facilities", "route": "facility_repair"},
        )
        assert r.status_code == 201, r.text

    context = _phone(playwright, launch(), live_server, bypass_csp=True)  # bypass only to inject axe
    page = context.new_page()
    page.goto("/")
    login(page)
    wait_installed(page)
    wait_rows(page, "checklists", lambda r: any(c["id"] == f"{site_id}:floor" and len(c["body"]["items"]) == 6 + EXTRA_ITEMS for c in r))
    open_by_code(page, "F03")
    assert page.locator(".item").count() == 6 + EXTRA_ITEMS

    # On arrival: "all fine" and "other problem" are both on screen.
    assert _in_reach(page, "#all-fine") and _in_reach(page, "#add-extra")

    # Marking the first item a problem takes "all fine" away, but nothing below it moves.
    first = page.locator(".item").first
    y = first.bounding_box()["y"]
    first.locator("[data-result='fail']").click()
    page.wait_for_selector("#all-fine", state="hidden")
    assert page.inner_text("#problems-noted") == "已记下 1 个问题，检查完后在页面底部点“保存”"
    assert first.bounding_box()["y"] == y
    # …nor when it is fine again and "all fine" comes back.
    first.locator("[data-result='ok']").click()
    page.wait_for_selector("#all-fine", state="visible")
    assert first.bounding_box()["y"] == y

    # Halfway down the list, "other problem" is still under the thumb; it opens a new problem, focused.
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight / 2)")
    assert page.evaluate("window.scrollY") > 600
    assert _in_reach(page, "#add-extra")
    shot(page, "checkpoint_long_list")
    page.click("#add-extra")
    page.wait_for_selector("#extra-0")
    assert page.evaluate("document.activeElement.id") == "extra-cat-0"
    assert _in_reach(page, "#extra-cat-0")
    page.wait_for_selector("#all-fine", state="hidden")
    assert page.inner_text("#problems-noted").startswith("已记下 1 个问题")

    # An incomplete one is refused with the reason beside it, too.
    page.click("#save-visit")
    page.wait_for_selector("#extra-error-0:has-text('选择类别')")
    assert page.get_attribute("#extra-cat-0", "aria-invalid") == "true"
    shot(page, "checkpoint_other_problem_incomplete")
    assert serious_violations(page) == []


BAR_JS = """() => {
  const bar = document.querySelector('#bar');
  const width = document.documentElement.clientWidth;
  return {
    height: bar.getBoundingClientRect().height,
    inside: [...bar.children].every((el) => el.getBoundingClientRect().right <= width && el.getBoundingClientRect().left >= 0),
    // The network state, the counter and the language button show their whole text on one line.
    whole: ['#net-status', '#unsent', '#bar .lang'].map((s) => document.querySelector(s)).every((el) => el.scrollWidth <= el.clientWidth && el.getBoundingClientRect().height <= 52),
    unsent: document.querySelector('#unsent').textContent,
  };
}"""


def test_top_bar_stays_one_line_on_a_320_px_phone_offline_with_a_two_digit_count_in_both_languages(live_server, launch, playwright):
    profile = {k: v for k, v in playwright.devices["Galaxy S8"].items() if k != "default_browser_type"}
    context = launch().new_context(**{**profile, "viewport": {"width": 320, "height": 640}}, base_url=live_server.url)
    page = context.new_page()
    page.goto("/")
    login(page)
    wait_installed(page)
    context.set_offline(True)
    page.evaluate("window.dispatchEvent(new Event('offline'))")
    for n in range(1, 11):
        open_by_code(page, f"F{n:02d}")
        page.click("#all-fine")
        page.wait_for_selector(".screen-home")
    page.wait_for_function("() => document.querySelector('#unsent').textContent === '未发送 10'")
    bar = page.evaluate(BAR_JS)
    assert bar["height"] <= 60 and bar["inside"] and bar["whole"], bar
    shot(page, "bar_320_zh")
    page.click("#bar .lang")
    page.wait_for_function("() => document.querySelector('#unsent').textContent === 'Unsent 10'")
    bar = page.evaluate(BAR_JS)
    assert bar["height"] <= 60 and bar["inside"] and bar["whole"], bar
    shot(page, "bar_320_en")
    # The longest English words: syncing, and a refused record to look at. The network state
    # gives way to a dot (its words in its title); the buttons keep theirs, nothing leaves the screen.
    page.evaluate("async () => (await import('/static/pwa/store.js')).set({ unsent: 0, unsentRecords: 0, attention: 1, syncing: true })")
    page.wait_for_function("() => document.querySelector('#unsent').textContent === 'Attention 1'")
    bar = page.evaluate(BAR_JS)
    assert bar["height"] <= 60 and bar["inside"] and bar["whole"], bar
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    assert page.get_attribute("#net-status", "title") == "Syncing…"
    shot(page, "bar_320_en_attention")


CLEAR_JS = """(css) => {
  const r = document.querySelector(css).getBoundingClientRect();
  const bar = document.querySelector('.cp-bar').getBoundingClientRect();
  return { bottom: r.bottom, top: r.top, barTop: bar.top };
}"""


def test_the_sticky_bar_never_hides_the_focused_field_or_the_photo_just_taken(live_server, launch, playwright):
    context = _phone(playwright, launch(), live_server)
    page = context.new_page()
    page.goto("/")
    login(page)
    wait_installed(page)
    open_by_code(page, "F03")
    last = page.locator(".item").last
    item = last.locator("[data-result='fail']").get_attribute("data-item")
    dom = item.replace(".", "-")
    # The last item of the list, at the bottom of the screen where the bar sits.
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    last.locator("[data-result='fail']").click()
    page.focus(f"#note-{dom}")
    page.keyboard.type("墙面渗水 damp wall")
    note = page.evaluate(CLEAR_JS, f"#note-{dom}")
    assert note["top"] >= 0 and note["bottom"] <= note["barTop"], note

    page.set_input_files(f"#photo-{dom}", files=[{"name": "wall.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes((1600, 1200))}])
    page.wait_for_selector(f"#item-{dom} .thumbs img")
    page.wait_for_function("(css) => { const r = document.querySelector(css).getBoundingClientRect(); const b = document.querySelector('.cp-bar').getBoundingClientRect(); return r.bottom <= b.top; }",
                           arg=f"#item-{dom} .thumbs figure:last-child", timeout=5000)
    thumb = page.evaluate(CLEAR_JS, f"#item-{dom} .thumbs figure:last-child")
    assert thumb["top"] >= 0 and thumb["bottom"] <= thumb["barTop"], thumb
    shot(page, "checkpoint_photo_clear_of_bar")

    # Tabbing on to "major": the browser scrolls it clear of the bar too.
    page.focus(f"#major-{dom}")
    major = page.evaluate(CLEAR_JS, f"#major-{dom}")
    assert major["top"] >= 0 and major["bottom"] <= major["barTop"], major


def test_an_item_checked_more_ways_than_one_shows_each_way(live_server, launch, playwright):
    """The lift's ride is listened to and felt (听 摸): both show on the item, not only its group's 听."""
    context = _phone(playwright, launch(), live_server)
    page = context.new_page()
    page.goto("/")
    login(page)
    wait_installed(page)
    open_by_code(page, "EL1")
    ride = "#item-elevator_car-ride_smooth"
    assert page.locator(f"{ride} .item-methods .method").all_inner_texts() == ["听", "摸"]
    assert page.locator(f"{ride} .item-methods").get_attribute("aria-label") == "检查方法"
    # An item checked one way only needs no second label: its group's legend says it.
    single = page.locator(".item").filter(has_not=page.locator(".item-methods")).count()
    assert single > 0
    shot(page, "checkpoint_methods")


def test_home_offers_the_checkpoint_left_open_and_it_comes_back_as_it_was(live_server, launch):
    """A patroller who leaves a checkpoint mid-form (a call, the app closed) finds it on home
    and takes it up again with what was marked; once saved, home no longer offers it."""
    browser = launch()
    _context, page = installed_app(browser, live_server)
    open_by_code(page, "F07")
    page.click("button[data-item='floor.lights_doors_windows'][data-result='fail']")
    page.fill("#note-floor-lights_doors_windows", "灯不亮")
    page.wait_for_function("async () => !!(await (await import('/static/pwa/db.js')).getDraft('visit'))?.results?.['floor.lights_doors_windows']")
    page.goto("/#/")
    page.wait_for_selector("#app[data-ready='home']")
    banner = page.inner_text("#open-visit")
    assert "F07" in banner and "1 项" in banner
    page.click("#open-visit")
    page.wait_for_selector("#app[data-ready='checkpoint']")
    assert page.input_value("#note-floor-lights_doors_windows") == "灯不亮"
    page.click("#save-visit")
    page.wait_for_selector(".screen-home")
    page.wait_for_selector("#app[data-ready='home']")
    assert page.query_selector("#open-visit") is None


def _draft_photos(page) -> int:
    return page.evaluate("async () => (await (await import('/static/pwa/db.js')).all('photos')).filter((p) => p.status === 'draft').length")


def test_scanning_another_checkpoint_never_silently_throws_away_a_marked_unsaved_one(live_server, launch):
    """A problem marked with a note and a photo at F07, then F05 scanned before saving: the app
    asks. Continuing takes F07 up as it was; scanning F07 again resumes it too; only an explicit
    discard, which says what goes, opens F05 and deletes F07's draft photo."""
    browser = launch()
    _context, page = installed_app(browser, live_server)
    open_by_code(page, "F07")
    page.click("button[data-item='floor.lights_doors_windows'][data-result='fail']")
    page.fill("#note-floor-lights_doors_windows", "灯不亮")
    page.set_input_files("#photo-floor-lights_doors_windows", files=[{"name": "a.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes((800, 600))}])
    page.wait_for_selector(".thumbs img")
    page.wait_for_function("async () => (await (await import('/static/pwa/db.js')).getDraft('visit'))?.results?.['floor.lights_doors_windows']?.note === '灯不亮'")
    assert _draft_photos(page) == 1

    # Another checkpoint: a question, not a silent replacement.
    page.goto("/#/scan")
    page.fill("#code", "F05")
    page.click("#code-open")
    page.wait_for_selector("#open-visit-ask")
    text = page.inner_text("#open-visit-ask")
    assert "F07" in text and "已标记 1 项" in text and "照片或录音 1 个" in text
    assert "F05" in page.inner_text("#open-visit-discard")
    shot(page, "open_visit_ask_zh")
    page.click("button.lang")
    page.wait_for_selector("#code")  # the language change redraws the scan screen: ask again
    page.fill("#code", "F05")
    page.click("#code-open")
    page.wait_for_selector("#open-visit-ask")
    assert "not saved" in page.inner_text("#open-visit-ask")
    shot(page, "open_visit_ask_en")
    page.click("button.lang")
    page.wait_for_selector("#code")
    page.fill("#code", "F05")
    page.click("#code-open")
    page.wait_for_selector("#open-visit-ask")
    assert _draft_photos(page) == 1

    # Continue: F07 as it was.
    page.click("#open-visit-continue")
    page.wait_for_selector("#app[data-ready='checkpoint']")
    assert "F07" in page.inner_text("#app")
    assert page.input_value("#note-floor-lights_doors_windows") == "灯不亮"
    assert page.locator(".thumbs img").count() == 1

    # The same checkpoint scanned again resumes its draft.
    page.goto("/#/scan")
    page.fill("#code", "F07")
    page.click("#code-open")
    page.wait_for_selector("#app[data-ready='checkpoint']")
    assert page.query_selector("#open-visit-ask") is None
    assert page.input_value("#note-floor-lights_doors_windows") == "灯不亮"
    assert _draft_photos(page) == 1

    # Cancel on the question leaves everything as it was.
    page.goto("/#/scan")
    page.fill("#code", "F05")
    page.click("#code-open")
    page.click("#open-visit-back")
    page.wait_for_selector("#code")
    assert page.query_selector("#open-visit-ask") is None
    assert _draft_photos(page) == 1

    # Discard, chosen: F05 opens, F07's draft and its photo are gone.
    page.fill("#code", "F05")
    page.click("#code-open")
    page.click("#open-visit-discard")
    page.wait_for_selector("#app[data-ready='checkpoint']")
    assert "F05" in page.inner_text("#app")
    assert _draft_photos(page) == 0
    assert page.evaluate("async () => (await (await import('/static/pwa/db.js')).getDraft('visit')).checkpoint_id") != page.evaluate(
        "async () => (await (await import('/static/pwa/db.js')).all('checkpoints')).find((c) => c.short_code === 'F07').id")


def test_scanning_another_checkpoint_replaces_an_untouched_one_without_asking(live_server, launch):
    """Nothing marked, nothing written: nothing to lose, so no question."""
    browser = launch()
    _context, page = installed_app(browser, live_server)
    open_by_code(page, "F07")
    open_by_code(page, "F05")
    assert page.query_selector("#open-visit-ask") is None
    assert "F05" in page.inner_text("#app")
