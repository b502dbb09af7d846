"""Complaint screens as their readers see them: the handler finds their complaints, whoever holds
one assigned starts it, the item and the place in words and in the reader's language, dates in
the app's one way (the reviewer's defects of the demo data)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from server.models import Complaint

from .app_driver import shot
from .test_complaint_screens import Api, open_as

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("dispose_db_connections")]

PHONE = {"width": 390, "height": 844}
RAW_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")


@pytest.fixture
def demo_complaints(seeded):
    """The demo's complaints (a few in each state): {(state, unit): id}."""
    from server.demo import seed_complaints
    from server.extensions import db
    from server.models import Site

    with seeded.app_context():
        seed_complaints(db.session.execute(select(Site)).scalars().first())
        rows = db.session.execute(select(Complaint.id, Complaint.state, Complaint.unit, Complaint.handler_id)).all()
        db.session.remove()
    return rows


def settle(page):
    page.wait_for_selector(".desk-body, #no-role")
    page.wait_for_function("() => !document.querySelector('.desk-loading')")


def test_a_patroller_finds_the_complaints_assigned_to_them_from_the_navigation(live_server, browser, demo_complaints):
    page = open_as(browser, live_server, "patroller", PHONE)
    pat = Api(live_server, "patroller").me["id"]
    mine = sorted(cid for cid, _state, _unit, handler in demo_complaints if handler == pat)
    assert mine, "the demo has complaints handled by the patroller"
    page.click("#nav a[href='#/complaints']")
    settle(page)
    assert page.locator("#no-role").count() == 0
    page.wait_for_selector("#cmp-mine-only")
    page.wait_for_selector("#complaint-list a[data-complaint]")
    listed = sorted(int(x) for x in page.eval_on_selector_all("#complaint-list a[data-complaint]", "els => els.map((e) => e.dataset.complaint)"))
    assert listed == mine  # theirs only, none of the site's others
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    shot(page, "complaint-handler-list-390")
    page.click(f"#complaint-list a[data-complaint='{mine[0]}']")
    page.wait_for_selector("#cmp-state")
    # Five entries in the bottom navigation still fit a 320 px phone in English.
    page.set_viewport_size({"width": 320, "height": 640})
    page.click("button.lang")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    page.wait_for_selector("#nav a[href='#/complaints']:text('Complaints')")
    assert page.locator("#nav a").count() == 5
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert page.evaluate("() => [...document.querySelectorAll('#nav a')].every((a) => a.getBoundingClientRect().right <= innerWidth + 1)")
    shot(page, "complaint-handler-nav-en-320")
    page.context.close()


def test_a_supervisor_who_assigns_a_complaint_to_themself_can_start_it(live_server, browser, demo_complaints):
    cid = next(cid for cid, state, unit, _h in demo_complaints if state == "received" and unit == "12-03")
    sup = Api(live_server, "supervisor")
    sup.post(f"/api/complaints/{cid}/judge", {"valid": True})
    sup.post(f"/api/complaints/{cid}/assign", {"handler_id": sup.me["id"]})
    page = open_as(browser, live_server, "supervisor", PHONE)
    page.goto(f"/#/complaints/{cid}")
    page.wait_for_selector("#cmp-state")
    # The handler starts it; a supervisor may still give it to someone else.
    assert page.locator("#cmp-start-save").count() == 1 and page.locator("#cmp-assign-save").count() == 1
    page.locator("#cmp-start").scroll_into_view_if_needed()
    shot(page, "complaint-assigned-to-self-390")
    page.click("#cmp-start-save")
    page.wait_for_selector("#cmp-propose")
    page.context.close()


def test_the_complaint_says_its_item_and_times_in_words(live_server, browser, demo_complaints):
    cid = next(cid for cid, state, unit, _h in demo_complaints if state == "received" and unit == "8-01")
    page = open_as(browser, live_server, "supervisor", PHONE)
    page.goto(f"/#/complaints/{cid}")
    page.wait_for_selector("#cmp-place")
    place = page.text_content("#cmp-place")
    assert "走廊、楼梯及楼层灯具、开关完好" in place and "floor." not in place
    assert not RAW_TIME.search(page.text_content("#cmp-received"))  # 12月6日 03:45, as everywhere in the app
    shot(page, "complaint-item-in-words-390")
    page.goto("/#/complaints")
    settle(page)
    page.wait_for_selector("#complaint-list a[data-complaint]")
    assert not RAW_TIME.search(page.inner_text("#complaint-list"))
    page.context.close()


def test_english_complaint_screens_name_places_in_english(live_server, browser, demo_complaints):
    page = open_as(browser, live_server, "supervisor", PHONE)
    page.click("button.lang")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    page.goto("/#/complaints")
    settle(page)
    page.wait_for_selector("#complaint-list a[data-complaint]")
    # Each card's heading names the unit, or else the place (what residents wrote stays as written).
    headings = " ".join(page.eval_on_selector_all("#complaint-list a[data-complaint] strong", "els => els.map((e) => e.textContent)"))
    assert "Outdoor plaza" in headings and "外围广场" not in headings, headings
    shot(page, "complaint-list-en-390")
    cid = next(cid for cid, state, unit, _h in demo_complaints if unit == "8-01")
    page.goto(f"/#/complaints/{cid}")
    page.wait_for_selector("#cmp-place")
    assert "Corridor, stair and floor lights" in page.text_content("#cmp-place")
    from datetime import datetime, timezone

    month = datetime.now(timezone.utc).strftime("%Y-%m")
    page.goto(f"/#/complaints/stats?month={month}")
    settle(page)
    page.wait_for_selector("#cmp-stats-places")
    table = page.inner_text("#cmp-stats-places")
    assert not re.search(r"[\u4e00-\u9fff]", table), table  # no Chinese-only place names on an English screen
    page.locator("#cmp-stats-places").scroll_into_view_if_needed()
    shot(page, "complaint-stats-places-en-390")
    page.context.close()


def test_an_escalation_notice_shows_the_deadline_as_the_end_of_its_day(live_server, browser, seeded, demo_complaints):
    from server import complaints
    from server.extensions import db

    cid = next(cid for cid, state, unit, _h in demo_complaints if state == "received" and unit == "8-01")
    with seeded.app_context():
        c = db.session.get(Complaint, cid)
        complaints.escalate_due(c.due_at + timedelta(days=1, minutes=1))  # the manager's level
        db.session.commit()
        db.session.remove()
    page = open_as(browser, live_server, "supervisor", PHONE)
    page.goto(f"/#/complaints/{cid}")
    page.wait_for_selector("#cmp-due")
    on_page = page.text_content("#cmp-due")
    page.context.close()
    page = open_as(browser, live_server, "manager", PHONE)
    page.goto("/#/manage/notifications")
    notice = f"#notif-list li[data-kind='complaint_escalated']:has(a[href='#/complaints/{cid}'])"
    page.wait_for_selector(notice)
    said = page.text_content(notice)
    assert on_page in said and "00:00" not in said, (on_page, said)
    shot(page, "complaint-notice-due-390")
    page.context.close()
