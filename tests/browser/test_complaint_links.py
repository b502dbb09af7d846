"""The desk's complaint screens and patrols: the checklist item a complaint is about, the repair
task it is linked to, the agreed return-visit time on the site's clock whatever the browser's
timezone, a reply letter's line breaks, and the unit in an escalation notice (field walk-through)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from server.models import Complaint

from .app_driver import login, shot
from .conftest import guard_origin, new_context
from .test_complaint_screens import PASSWORD, Api

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("dispose_db_connections")]

DESK = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
ITEM = "floor.lights_doors_windows"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def open_as(browser, server, username: str, viewport, **context_kw):
    """Logged in, at `viewport`; `context_kw` go to the browser context (e.g. timezone_id)."""
    page = new_context(browser, server, **context_kw).new_page()
    page.set_viewport_size(viewport)
    page.leaks = []
    guard_origin(page, server, page.leaks)
    page.goto("/")
    page.wait_for_selector("#username")
    login(page, username, PASSWORD)
    return page


def to_english(page):
    page.click("button.lang")
    page.wait_for_function("() => document.documentElement.lang === 'en'")


def in_app(seeded, fn):
    from server.extensions import db

    with seeded.app_context():
        out = fn(db)
        db.session.commit()
        db.session.remove()
    return out


def patrolled_ok(seeded, code: str, item_id: str, at: datetime) -> None:
    """A patrol visit of `code` at `at` (naive UTC) that marked `item_id` OK."""
    from server.models import Checkpoint, ItemResult, Site, User, Visit

    def add(db):
        cp = db.session.execute(select(Checkpoint).where(Checkpoint.short_code == code)).scalar_one()
        site = db.session.get(Site, cp.site_id)
        pat = db.session.execute(select(User).where(User.username == "patroller")).scalar_one()
        v = Visit(id=str(uuid.uuid4()), site_id=site.id, checkpoint_id=cp.id, user_id=pat.id, device_id="d1", scanned_at=at,
                  scanned_at_device=at, month=at.strftime("%Y-%m"))
        db.session.add(v)
        db.session.flush()
        db.session.add(ItemResult(visit_id=v.id, item_id=item_id, result="ok"))

    in_app(seeded, add)


def site_and_checkpoint(seeded, code: str) -> tuple[int, int]:
    from server.models import Checkpoint

    return in_app(seeded, lambda db: tuple(db.session.execute(select(Checkpoint.site_id, Checkpoint.id).where(Checkpoint.short_code == code)).one()))


def test_the_desk_form_names_the_checklist_item_and_the_patrolled_as_fine_signal_follows(live_server, browser, seeded, query):
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    patrolled_ok(seeded, "F08", ITEM, now - timedelta(days=1))
    page = open_as(browser, live_server, "receptionist", DESK)
    page.goto("/#/complaints/new")
    page.wait_for_selector("#cmp-form")
    # No checkpoint, no item to choose.
    assert page.is_hidden("#cmp-item-field")
    page.select_option("#cmp-checkpoint", label="8楼 (F08)")
    page.wait_for_selector("#cmp-item-field:not([hidden])")
    options = page.eval_on_selector_all("#cmp-item option", "els => els.map((e) => [e.value, e.textContent])")
    # The floor's own checklist, in the reader's language, and nothing of another kind of place.
    assert options[0][0] == "" and all(v.startswith("floor.") for v, _ in options[1:]), options
    assert dict(options)[ITEM] == "走廊、楼梯及楼层灯具、开关完好，门窗完好"
    page.select_option("#cmp-item", ITEM)
    page.fill("#cmp-complainant", "王女士")
    page.fill("#cmp-content", "8楼走廊灯晚上不亮")
    shot(page, "complaint-new-item-zh-1366")
    page.click("#cmp-save")
    page.wait_for_selector("#cmp-state")
    cid = int(page.url.rsplit("/", 1)[1])
    assert query(lambda s: s.get(Complaint, cid).item_id) == ITEM
    assert "走廊、楼梯及楼层灯具" in page.text_content("#cmp-place")
    page.click("#cmp-valid")
    page.wait_for_selector("#cmp-state:text('有效投诉')")
    page.context.close()

    # The supervisor sees that the last patrol, a day before, marked that item OK.
    page = open_as(browser, live_server, "supervisor", DESK)
    page.goto(f"/#/complaints/{cid}")
    page.wait_for_selector("#cmp-fine-signal")
    shot(page, "complaint-fine-signal-from-desk-1366")
    page.context.close()

    # In English the items are English, and the form still works at phone width.
    page = open_as(browser, live_server, "receptionist", PHONE)
    to_english(page)
    page.goto("/#/complaints/new")
    page.wait_for_selector("#cmp-form")
    page.select_option("#cmp-checkpoint", label="Floor 8 (F08)")
    page.wait_for_selector("#cmp-item-field:not([hidden])")
    assert page.text_content(f"#cmp-item option[value='{ITEM}']").startswith("Corridor, stair and floor lights")
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.locator("#cmp-item-field").scroll_into_view_if_needed()
    shot(page, "complaint-new-item-en-390")
    # Another checkpoint's kind gives its own items; no checkpoint hides the field again.
    page.select_option("#cmp-checkpoint", label="Elevator car 1 (EL1)")
    page.wait_for_function("() => [...document.querySelectorAll('#cmp-item option')].slice(1).every((o) => o.value.startsWith('elevator'))"
                           " && document.querySelectorAll('#cmp-item option').length > 1")
    page.select_option("#cmp-checkpoint", "")
    page.wait_for_selector("#cmp-item-field[hidden]", state="attached")
    assert page.leaks == []
    page.context.close()


def test_a_supervisor_links_an_open_repair_task_of_the_place_and_the_page_shows_it(live_server, browser, seeded, query):
    from server.findings import record_finding
    from server.models import Checkpoint, Site, Task, User

    def make(db):
        cp = db.session.execute(select(Checkpoint).where(Checkpoint.short_code == "F08")).scalar_one()
        pat = db.session.execute(select(User).where(User.username == "patroller")).scalar_one()
        f = record_finding(finding_id=str(uuid.uuid4()), site=db.session.get(Site, cp.site_id), checkpoint=cp, reported_by=pat.id,
                           observed_at=datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(hours=3), item_id=ITEM,
                           category="facilities", route="facility_repair", description="8楼走廊两盏灯不亮", severity="normal",
                           dealt_on_spot=False, spot_note="")
        db.session.flush()
        return db.session.execute(select(Task.id).where(Task.finding_id == f.id)).scalar_one()

    task_id = in_app(seeded, make)
    site_id, cp_id = site_and_checkpoint(seeded, "F08")
    rec = Api(live_server, "receptionist")
    cid = rec.post("/api/complaints/", {"site_id": site_id, "channel": "phone", "complainant": "王女士", "unit": "8-01",
                                        "checkpoint_id": cp_id, "content": "8楼走廊灯不亮"})["id"]

    page = open_as(browser, live_server, "supervisor", DESK)
    page.goto(f"/#/complaints/{cid}")
    page.wait_for_selector("#cmp-links")
    assert page.is_visible("#cmp-no-links")
    page.wait_for_selector(f"#cmp-link-task-pick option[value='{task_id}']", state="attached")
    page.select_option("#cmp-link-task-pick", str(task_id))
    shot(page, "complaint-link-task-zh-1366")
    page.click("#cmp-link-task-save")
    page.wait_for_selector(f"#cmp-link-task[data-task='{task_id}']")
    assert query(lambda s: s.get(Complaint, cid).task_id) == task_id
    assert "8楼走廊两盏灯不亮" in page.text_content("#cmp-link-finding")
    assert page.get_attribute("#cmp-link-task a", "href") == f"#/manage/tasks/{task_id}"
    assert "待分派" in page.text_content("#cmp-link-task")
    # The linked task is not offered again, and with no other open task at the place nothing is offered.
    page.wait_for_selector("#cmp-link-task-box[data-loaded='0']", state="attached")
    assert page.locator("#cmp-link-task-pick, #cmp-no-open-tasks").count() == 0
    page.locator("#cmp-links").scroll_into_view_if_needed()
    shot(page, "complaint-linked-task-zh-1366")
    to_english(page)
    page.wait_for_selector("#cmp-links-title:text('Linked patrol finding and repair task')")
    assert "Corridor, stair and floor lights" in page.text_content("#cmp-link-finding")
    page.locator("#cmp-links").scroll_into_view_if_needed()
    shot(page, "complaint-linked-task-en-1366")
    page.set_viewport_size(PHONE)
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.locator("#cmp-links").scroll_into_view_if_needed()
    shot(page, "complaint-linked-task-en-390")
    page.context.close()

    # The receptionist sees the link, and is offered no linking (complaint.assign is not hers).
    page = open_as(browser, live_server, "receptionist", DESK)
    page.goto(f"/#/complaints/{cid}")
    page.wait_for_selector(f"#cmp-link-task[data-task='{task_id}']")
    assert page.locator("#cmp-link-task-pick").count() == 0
    page.context.close()


def replied_letter(live_server, seeded, text: str, unit: str = "10-03") -> int:
    """A complaint at F10 taken through to a reply by letter with `text`."""
    site_id, cp_id = site_and_checkpoint(seeded, "F10")
    rec, sup, pat = Api(live_server, "receptionist"), Api(live_server, "supervisor"), Api(live_server, "patroller")
    cid = rec.post("/api/complaints/", {"site_id": site_id, "channel": "letter", "complainant": "周女士", "unit": unit,
                                        "checkpoint_id": cp_id, "content": "消防通道门关不上"})["id"]
    rec.post(f"/api/complaints/{cid}/judge", {"valid": True})
    sup.post(f"/api/complaints/{cid}/assign", {"handler_id": pat.me["id"]})
    pat.post(f"/api/complaints/{cid}/start")
    pat.post(f"/api/complaints/{cid}/propose", {"cause": "闭门器损坏", "solution": "更换闭门器"})
    sup.post(f"/api/complaints/{cid}/approve", {"approve": True})
    rec.post(f"/api/complaints/{cid}/accept", {"signed_by": "周女士"})
    rec.post(f"/api/complaints/{cid}/reply", {"text": text, "channel": "letter"})
    return cid


@pytest.mark.parametrize("browser_zone", ["UTC", "America/New_York"])
def test_the_agreed_return_visit_time_is_the_sites_clock_whatever_the_browsers_timezone(live_server, browser, seeded, query, browser_zone):
    cid = replied_letter(live_server, seeded, "已更换闭门器。")
    page = open_as(browser, live_server, "receptionist", DESK, timezone_id=browser_zone)
    assert page.evaluate("() => Intl.DateTimeFormat().resolvedOptions().timeZone") == browser_zone
    page.goto(f"/#/complaints/{cid}")
    page.wait_for_selector("#cmp-visit-at")
    # Tomorrow on the site's calendar, 10:00 on the site's clock.
    tomorrow = (datetime.now(SHANGHAI) + timedelta(days=1)).date()
    page.fill("#cmp-visit-at", f"{tomorrow.isoformat()}T10:00")
    page.click("#cmp-visit-schedule")
    page.wait_for_selector("#cmp-return-due:has-text('约定时间')")
    stored = query(lambda s: s.get(Complaint, cid).return_scheduled_at)
    assert stored == datetime(tomorrow.year, tomorrow.month, tomorrow.day, 10, 0, tzinfo=SHANGHAI).astimezone(timezone.utc).replace(tzinfo=None)
    said = page.text_content("#cmp-return-due")
    assert f"约定时间 {tomorrow.month}月{tomorrow.day}日 10:00" in said, said
    # Shown again in the input as typed, on the site's clock.
    assert page.input_value("#cmp-visit-at") == f"{tomorrow.isoformat()}T10:00"
    page.goto("/#/complaints/visits?all=1")
    page.wait_for_selector(f"#cmp-visits-list a[data-complaint='{cid}']")
    assert f"{tomorrow.month}月{tomorrow.day}日 10:00" in page.inner_text("#cmp-visits-list")
    if browser_zone == "UTC":
        page.goto(f"/#/complaints/{cid}")
        page.wait_for_selector("#cmp-visit-at")
        page.locator("#cmp-return-due").scroll_into_view_if_needed()
        shot(page, "complaint-agreed-time-utc-browser-1366")
    page.context.close()


def test_a_reply_letters_line_breaks_show_on_the_desk_as_text(live_server, browser, seeded):
    letter = "周女士您好：\n\n您反映的消防通道门已修复。\n<b>如有问题</b>请致电客服中心。"
    cid = replied_letter(live_server, seeded, letter)
    page = open_as(browser, live_server, "receptionist", DESK)
    page.goto(f"/#/complaints/{cid}")
    page.wait_for_selector("#cmp-reply-text")
    # As typed, line by line (innerText keeps the breaks the page shows), and markup stays text.
    assert page.inner_text("#cmp-reply-text") == letter
    assert page.locator("#cmp-reply-text b").count() == 0
    lines = page.evaluate("() => { const el = document.getElementById('cmp-reply-text'); "
                          "return Math.round(el.getBoundingClientRect().height / parseFloat(getComputedStyle(el).lineHeight)); }")
    assert lines >= 4, lines
    page.locator("#cmp-reply-text").scroll_into_view_if_needed()
    shot(page, "complaint-reply-letter-lines-1366")
    page.context.close()


def test_an_escalation_notice_calls_the_unit_a_unit(live_server, browser, seeded):
    from server import complaints

    site_id, cp_id = site_and_checkpoint(seeded, "EL1")
    cid = Api(live_server, "receptionist").post("/api/complaints/", {
        "site_id": site_id, "channel": "visit", "complainant": "李先生", "unit": "12-03", "checkpoint_id": cp_id, "content": "1号电梯异响"})["id"]

    def escalate(db):
        c = db.session.get(Complaint, cid)
        complaints.escalate_due(c.due_at + timedelta(days=1, minutes=1))  # the manager's level

    in_app(seeded, escalate)
    page = open_as(browser, live_server, "manager", PHONE)
    page.goto("/#/manage/notifications")
    notice = f"#notif-list li[data-kind='complaint_escalated']:has(a[href='#/complaints/{cid}'])"
    page.wait_for_selector(notice)
    said = page.text_content(notice)
    assert "12-03室" in said, said
    shot(page, "complaint-notice-unit-zh-390")
    to_english(page)
    page.wait_for_selector(f"{notice}:has-text('unit 12-03')")
    shot(page, "complaint-notice-unit-en-390")
    page.context.close()
