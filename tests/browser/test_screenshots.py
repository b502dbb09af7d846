"""Screenshots of every phone screen issue 13 changed, at 390×844, in Chinese and English, light and dark.

Each screen is reached the way a person reaches it, with realistic data on the phone, and
photographed as tests/screenshots/<screen>_<zh|en>_<light|dark>.png. On every shot the test
also checks what a person would see go wrong there:

- nothing wider than the phone: no sideways scrolling at 390 px, and the app bar fits 320 px;
- on the English screens no Chinese text, except what people typed or named (user data)
  and the language button's own "中文";
- no serious or critical axe-core violation, colour contrast included, in the dark as well;
- the dark theme is dark (and the light one light).

To add a screen: add a row (name, how it is reached) to ONLINE or OFFLINE below (OFFLINE
screens are shot while the patroller's phone holds unsent records offline), and write its
`reach_<name>(w)`, which brings one of the world's pages (`w.phone` the patroller's,
`w.desk` the supervisor's, `w.door` logged out) there, waits until it is drawn and returns it.
It may add to `w.notes` what it found wrong. User data that may be Chinese on an English
screen goes in `w.user_data`.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from .app_driver import login, open_by_code, serious_violations, shot, wait_installed, wait_outbox, wait_ready, wait_rows
from .conftest import api_session, jpeg_bytes, new_context

pytestmark = pytest.mark.browser

# The screens: (name, how to reach it). The name makes the file <name>_<zh|en>_<light|dark>.png;
# `reach_<name>(w)` below takes a page there and returns it. Add a screen with a row and its reach_.
# Online: the phone and the desk see the server (task photos need it).
ONLINE = [
    ("login", "a phone nobody is logged in on (the app bar without logout)"),
    ("tasks", "the bottom navigation's 任务: one task awaiting verification (major), one assigned"),
    ("task", "that list's task awaiting verification: its photo, the verify button"),
    ("verify", "验收 on that task, the checkpoint's code typed"),
    ("desk_task", "the supervisor's desk, the same task: its sound clip plays there"),
]
# Offline: the patroller's phone holds two unsent records (one with a photo), one sent today,
# and an open checkpoint (EL1) with a failed item that has a note, a photo and a sound clip.
OFFLINE = [
    ("home", "首页: the site, start a round, my tasks"),
    ("scan", "扫码: the camera (Chromium's fake one) and the code field"),
    ("checkpoint", "the open checkpoint, top: problems noted, items with all their methods"),
    ("checkpoint_problem", "its failed item: note, photo, sound clip, clear of the sticky bar"),
    ("checkpoint_recording", "the same while a sound clip records"),
    ("checkpoint_other", "an other problem open, the sticky + 其他问题 bar"),
    ("checkpoint_end", "the end of the checkpoint: what a resident said, the visit note, Save"),
    ("outbox", "the app bar's unsent count: named counts, unsent only, 今天已发送"),
    ("outbox_sent", "the outbox scrolled to today's sent and the 关于 link"),
    ("about", "关于: version, user, last sync, storage"),
]

WIDTH, NARROW = 390, 320
EL_ITEM = "elevator_car.ride_smooth"  # listen + touch: a failed item with a photo, a sound clip and a note
EL_KEY = EL_ITEM.replace(".", "-")


# --- how to reach each screen -------------------------------------------------------------


def reach_login(w):
    w.door.goto("/#/login")
    w.door.wait_for_selector("#login-submit")
    wait_ready(w.door, "login")
    return w.door


def reach_home(w):
    w.phone.goto("/#/")
    wait_ready(w.phone, "home")
    w.phone.wait_for_selector("#home-tasks .task-card")
    return w.phone


def reach_scan(w):
    w.phone.goto("/#/scan")
    wait_ready(w.phone, "scan")
    w.phone.wait_for_selector("#code")
    return w.phone


def reach_checkpoint(w):
    """The top of a checkpoint with a problem noted: items with all their methods (听 摸)."""
    w.phone.goto(f"/#/checkpoint/{w.el1}")
    wait_ready(w.phone, "checkpoint")
    w.phone.wait_for_selector(f"#item-{EL_KEY} .thumbs figure.clip audio")
    return w.phone


def reach_checkpoint_problem(w):
    """The failed item's photo and sound clip, scrolled to as the app does for a new one: clear of the sticky bar."""
    page = reach_checkpoint(w)
    # From the top of the checklist, a field the patroller moves to (the "major" box) is not under the bar...
    page.evaluate("document.activeElement?.blur(); window.scrollTo(0, 0)")
    page.focus(f"#major-{EL_KEY}")
    w.notes += [f"focused field under the sticky bar: {x}" for x in page.evaluate(UNDER_BAR_JS, f"#major-{EL_KEY}")]
    # ...nor is the last thumbnail, scrolled into view as the app does after a photo or clip.
    page.evaluate(f"window.scrollTo(0, 0); document.querySelector('#item-{EL_KEY} .thumbs figure:last-child').scrollIntoView({{block: 'nearest'}})")
    w.notes += [f"last thumbnail under the sticky bar: {x}" for x in page.evaluate(UNDER_BAR_JS, f"#item-{EL_KEY} .thumbs figure:last-child")]
    return page


def reach_checkpoint_recording(w):
    """Recording a sound clip: the button counts the seconds up to the limit."""
    page = reach_checkpoint_problem(w)
    page.click(f"#sound-{EL_KEY}")
    page.wait_for_selector(f"#sound-{EL_KEY}.recording")
    page.wait_for_function(f"/[1-9]/.test(document.querySelector('#sound-{EL_KEY}').textContent.replace(/15/, ''))")
    w.after = stop_recording
    return page


def stop_recording(w):
    """Stop the clip started for the shot and remove it again: the draft keeps its one clip."""
    page = w.phone
    clips = f"#item-{EL_KEY} .thumbs figure.clip"
    page.click(f"#sound-{EL_KEY}")
    page.wait_for_function(f"document.querySelectorAll('{clips}').length === 2")
    page.locator(f"{clips} button").last.click()
    page.wait_for_function(f"document.querySelectorAll('{clips}').length === 1")


def reach_checkpoint_other(w):
    """The sticky "+ 其他问题" bar at the end of the checklist, with an other problem open."""
    page = reach_checkpoint(w)
    page.locator("#extra-0").scroll_into_view_if_needed()
    return page


def reach_checkpoint_end(w):
    page = reach_checkpoint(w)
    page.locator("#cancel-visit").scroll_into_view_if_needed()
    return page


def reach_outbox(w):
    w.phone.goto("/#/outbox")
    wait_ready(w.phone, "outbox")
    w.phone.wait_for_selector("#outbox-unsent .out-row")
    w.phone.wait_for_selector("#outbox-sent .out-row")
    return w.phone


def reach_outbox_sent(w):
    """Today's sent records, and the link to 关于 (version details) under them."""
    page = reach_outbox(w)
    page.locator("#about-link").scroll_into_view_if_needed()
    return page


def reach_about(w):
    w.phone.goto("/#/about")
    wait_ready(w.phone, "about")
    w.phone.wait_for_selector("#about-version")
    return w.phone


def reach_tasks(w):
    w.phone.goto("/#/tasks")
    wait_ready(w.phone, "tasks")
    w.phone.wait_for_selector(f"a[data-task='{w.done_task}']")
    return w.phone


def reach_task(w):
    """A task done and awaiting verification, with its photo (online)."""
    w.phone.goto(f"/#/tasks/{w.done_task}")
    wait_ready(w.phone, "task")
    w.phone.wait_for_selector("#task-verify")
    w.phone.wait_for_selector(".thumbs img")
    return w.phone


def reach_verify(w):
    w.phone.goto(f"/#/scan?task={w.done_task}")
    w.phone.fill("#code", "LOBBY")
    w.phone.click("#code-open")
    w.phone.wait_for_selector("#save-verify")
    wait_ready(w.phone, "verify")
    return w.phone


def reach_desk_task(w):
    """The supervisor's task page on the desk: the finding's sound clip plays there."""
    w.desk.goto(f"/#/manage/tasks/{w.done_task}")
    w.desk.wait_for_selector("#task-sounds audio")
    wait_ready(w.desk, "manage-task")
    w.desk.locator("#task-sounds").scroll_into_view_if_needed()
    return w.desk


# --- what is checked on every shot ----------------------------------------------------------

# Whether an element is hidden under the sticky "+ 其他问题" bar or the bottom navigation.
UNDER_BAR_JS = """(css) => {
  const el = document.querySelector(css).getBoundingClientRect();
  const bar = document.querySelector('.cp-bar').getBoundingClientRect();
  const nav = document.getElementById('nav').getBoundingClientRect();
  const top = Math.min(bar.top, nav.top);
  return el.bottom > top + 0.5 ? [`${css} ends at ${Math.round(el.bottom)}px, the bar starts at ${Math.round(top)}px`] : [];
}"""

# Visible text nodes, with where they are; hidden ones, options not shown, and text marked as
# Chinese on purpose (lang="zh…", the language button) are left out.
VISIBLE_TEXT_JS = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const text = n.textContent.trim();
    const el = n.parentElement;
    if (!text || !el || el.closest('script, style, template')) continue;
    const marked = el.closest('[lang]');
    if (marked && marked !== document.documentElement && marked.lang.startsWith('zh')) continue;
    if (el.tagName === 'OPTION' && !el.selected) continue;
    if (!el.checkVisibility({ visibilityProperty: true, opacityProperty: true })) continue;
    const where = el.id ? `#${el.id}` : `${el.tagName.toLowerCase()}.${[...el.classList].join('.')}`;
    out.push({ text, where });
  }
  // Words a person sees without text nodes: field placeholders and the values of buttons.
  for (const el of document.querySelectorAll('[placeholder]')) if (el.checkVisibility()) out.push({ text: el.placeholder, where: `placeholder of #${el.id}` });
  return out;
}"""

CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff01-\uff0a\uff0c-\uff5e]")

# What code leaks into the page instead of words: a missing value or an unfilled {placeholder}.
LEAKED = re.compile(r"\bnull\b|\bundefined\b|\bNaN\b|\[object |\{[a-z_]+\}|^[a-z]+(_[a-z]+)+$")

OVERFLOW_JS = """() => ({ width: document.scrollingElement.scrollWidth,
  wide: [...document.querySelectorAll('#app *, #bar *, #nav *')].filter((e) => e.getBoundingClientRect().right > innerWidth + 0.5 && e.checkVisibility() && !e.closest('.sub-nav'))
    .slice(0, 5).map((e) => e.id ? `#${e.id}` : `${e.tagName.toLowerCase()}.${[...e.classList].join('.')}`) })"""

# The app bar at the narrowest phone: every control whole (only the app's name may give way).
BAR_JS = """() => {
  const bar = document.getElementById('bar');
  const bad = [];
  if (bar.scrollWidth > bar.clientWidth) bad.push(`bar ${bar.scrollWidth}px wide`);
  for (const el of bar.children) {
    if (!el.checkVisibility()) continue;
    const r = el.getBoundingClientRect();
    if (r.right > innerWidth + 0.5 || r.left < -0.5) bad.push(`${el.className} outside (${Math.round(r.left)}–${Math.round(r.right)})`);
    if (!el.classList.contains('brand') && el.scrollWidth > el.clientWidth + 1) bad.push(`${el.className} cut: "${el.textContent}"`);
  }
  return bad;
}"""

# The page's background: relative luminance (0 black, 1 white).
LUMINANCE_JS = """() => {
  const [r, g, b] = getComputedStyle(document.documentElement).backgroundColor.match(/\\d+/g).map(Number)
    .map((c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}"""

SETTLED_JS = """() => document.fonts.status === 'loaded' && !document.querySelector('.thumbs.loading')
  && [...document.images].every((i) => i.complete) && getComputedStyle(document.getElementById('toast')).opacity === '0'"""


def wrong_language(page, user_data) -> list:
    """Visible text with Chinese in it on an English screen, after taking out what people typed or named."""
    bad = []
    for node in page.evaluate(VISIBLE_TEXT_JS):
        text = node["text"]
        for data in user_data:
            text = text.replace(data, "")
        if CJK.search(text):
            bad.append(f"{node['where']}: {node['text']!r}")
    return bad


def check_screen(page, name: str, lang: str, scheme: str, w) -> list:
    """Shoot the screen and say what is wrong on it."""
    page.wait_for_function(SETTLED_JS)
    shot(page, f"{name}_{lang}_{scheme}")
    problems = list(w.notes)
    over = page.evaluate(OVERFLOW_JS)
    if over["width"] > WIDTH:
        problems.append(f"scrolls sideways: {over['width']}px wide ({over['wide']})")
    problems += [f"code instead of words: {x['where']}: {x['text']!r}" for x in page.evaluate(VISIBLE_TEXT_JS) if LEAKED.search(x["text"])]
    if lang == "en":
        problems += [f"Chinese on the English screen: {x}" for x in wrong_language(page, w.user_data)]
    assert page.evaluate("document.documentElement.lang") == ("en" if lang == "en" else "zh-CN")
    light = page.evaluate(LUMINANCE_JS)
    if (scheme == "dark") != (light < 0.05):
        problems.append(f"background luminance {light:.2f} in {scheme} mode")
    problems += [f"axe {v['id']} ({v['impact']}): {v['nodes']}" for v in serious_violations(page)]
    page.set_viewport_size({"width": NARROW, "height": 844})
    try:
        problems += [f"app bar at {NARROW}px: {x}" for x in page.evaluate(BAR_JS)]
        over = page.evaluate(OVERFLOW_JS)
        if over["width"] > NARROW:
            problems.append(f"scrolls sideways at {NARROW}px: {over['width']}px wide ({over['wide']})")
        if name == "outbox":  # the widest bar: offline, unsent records, logged in
            page.wait_for_function(SETTLED_JS)
            shot(page, f"appbar{NARROW}_{lang}_{scheme}")
    finally:
        page.set_viewport_size({"width": WIDTH, "height": 844})
    return problems


def set_language(page, lang: str) -> None:
    """Switch with the app bar's language button, as a person does."""
    want = "en" if lang == "en" else "zh-CN"
    if page.evaluate("document.documentElement.lang") != want:
        page.click("#bar .lang")
    page.wait_for_function(f"document.documentElement.lang === '{want}'")


def shoot_all(w, screens, found: dict) -> None:
    for lang in ("zh", "en"):
        for scheme in ("light", "dark"):
            for page in (w.phone, w.desk, w.door):
                page.emulate_media(color_scheme=scheme)
                set_language(page, lang)
            for name, _how in screens:
                w.after, w.notes = None, []
                page = globals()[f"reach_{name}"](w)
                problems = check_screen(page, name, lang, scheme, w)
                if w.after:
                    w.after(w)
                if problems:
                    found[f"{name}_{lang}_{scheme}"] = problems


# --- the day on the phone -------------------------------------------------------------------


def fail_item(page, item: str, note: str, photo: bool = True, clip: bool = False) -> None:
    key = item.replace(".", "-")
    page.click(f"button[data-item='{item}'][data-result='fail']")
    page.fill(f"#note-{key}", note)
    if photo:
        page.set_input_files(f"#photo-{key}", files=[{"name": "p.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes((800, 600))}])
        page.wait_for_selector(f"#item-{key} .thumbs img")
    if clip:
        page.click(f"#sound-{key}")
        page.wait_for_selector(f"#sound-{key}.recording")
        page.wait_for_timeout(2000)  # two seconds of the fake microphone's beep
        page.click(f"#sound-{key}")
        page.wait_for_selector(f"#item-{key} .thumbs figure.clip audio")


def test_screenshots_of_the_changed_phone_screens_in_both_languages_light_and_dark(live_server, launch):
    browser = launch(audio=True)  # Chromium's fake microphone (and camera)
    # The CSP forbids injected scripts; axe is injected only in these audit contexts.
    phone_ctx = new_context(browser, live_server, bypass_csp=True)
    phone_ctx.grant_permissions(["camera", "microphone"], origin=live_server.url)
    phone = phone_ctx.new_page()
    phone.goto("/")
    login(phone)
    wait_installed(phone)
    me = phone.evaluate("async () => (await import('/static/pwa/store.js')).get().me")

    # Online: two problems in the lobby, one with a photo and a sound clip; both go to the server.
    open_by_code(phone, "LOBBY")
    fail_item(phone, "lobby.safety_signs", "安全标识脱落，在电梯旁", clip=True)
    fail_item(phone, "lobby.facilities_lights_bins", "垃圾箱盖子坏了", photo=False)
    phone.check("#major-lobby-safety_signs")
    phone.click("#save-visit")
    out = wait_outbox(phone, lambda r: r and all(x["status"] == "sent" for x in r))
    wait_rows(phone, "photos", lambda r: r and all(p["status"] == "uploaded" for p in r))
    done_task, open_task = out[0]["result"]["task_ids"]
    # The supervisor gives both to the patroller, who finishes one: it awaits verification.
    supervisor = api_session(live_server, "supervisor")
    patroller = api_session(live_server, "patroller")
    for task in (done_task, open_task):
        r = supervisor.post(f"{live_server.url}/api/tasks/{task}/assign", json={"assignee_id": me["id"]})
        assert r.status_code == 200, r.text
    for to in ("in_progress", "done"):
        r = patroller.post(f"{live_server.url}/api/tasks/{done_task}/transition", json={"to": to})
        assert r.status_code == 200, r.text
    phone.goto("/#/outbox")
    phone.click("#sync-now")
    wait_rows(phone, "tasks", lambda r: any(x["id"] == done_task and x["state"] == "done" for x in r) and any(x["id"] == open_task for x in r))

    desk_ctx = new_context(browser, live_server, bypass_csp=True)
    desk = desk_ctx.new_page()
    desk.goto("/")
    login(desk, "supervisor")
    door = new_context(browser, live_server, bypass_csp=True).new_page()  # a phone nobody is logged in on
    door.goto("/")
    door.wait_for_selector("#login-submit")

    w = SimpleNamespace(
        phone=phone, desk=desk, door=door, done_task=done_task, open_task=open_task, after=None, notes=[],
        # What people typed or are named: it stays as written in either language.
        user_data=["安全标识脱落，在电梯旁", "垃圾箱盖子坏了", "电梯运行时有咔咔声", "电梯门口地垫翘起", me["display_name"], supervisor.me["display_name"]],
    )
    found: dict = {}
    shoot_all(w, ONLINE, found)

    # Offline in the lift lobby: a record with a photo and an all-fine record wait to be sent,
    # and the elevator car's checklist is open with a failed item, its photo and sound clip.
    phone_ctx.set_offline(True)
    open_by_code(phone, "F07")
    fail_item(phone, "floor.walls_ceilings_handrails", "电梯门口地垫翘起")
    phone.click("#save-visit")
    phone.wait_for_selector(".screen-home")
    open_by_code(phone, "F08")
    phone.click("#all-fine")
    phone.wait_for_selector(".screen-home")
    open_by_code(phone, "EL1")
    w.el1 = phone.evaluate("location.hash.split('/').pop()")
    fail_item(phone, EL_ITEM, "电梯运行时有咔咔声", clip=True)
    phone.click("#add-extra")
    phone.select_option("#extra-cat-0", "facilities")
    shoot_all(w, OFFLINE, found)

    problems = "\n".join(f"{shot_name}: {p}" for shot_name, ps in found.items() for p in ps)
    assert not found, f"what the screenshots show wrong:\n{problems}"
