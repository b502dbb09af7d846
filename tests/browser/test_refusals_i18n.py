"""The server's refusals in the reader's language: the login, a form's field problems, a sync
rejection's reason (i18n.reason with its parameters), and English beside Chinese."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .app_driver import login, shot
from .conftest import new_context

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESK = {"width": 1366, "height": 900}
LATIN = re.compile(r"[A-Za-z]{3,}")


def open_page(launch, server, viewport=PHONE):
    context = new_context(launch(), server)
    page = context.new_page()
    page.set_viewport_size(viewport)
    page.goto("/")
    page.wait_for_selector("#username")
    return page


def test_a_wrong_password_is_refused_in_chinese(live_server, launch):
    page = open_page(launch, live_server)
    page.fill("#username", "patroller")
    page.fill("#password", "not-the-password")
    page.click("#login-submit")
    expect(page.locator("#login-error")).to_have_text("登录失败：用户名或密码错误。")
    shot(page, "login-refused-zh")


def test_a_new_complaint_saved_empty_names_each_field_problem_in_chinese(live_server, launch):
    page = open_page(launch, live_server)
    login(page, "receptionist")
    page.goto("/#/complaints/new")
    page.wait_for_selector("#cmp-form")
    page.click("#cmp-save")
    slot = page.locator("#cmp-form [data-error-for='complainant']")
    expect(slot).to_have_text("请填写此项。")  # left empty: required, not "length 1 to 120"
    errors = page.locator("#cmp-form [data-error-for] li").all_inner_texts()
    assert errors and not [e for e in errors if LATIN.search(e)], errors
    assert not LATIN.search(page.locator("#cmp-error").inner_text())
    shot(page, "complaint-new-field-errors-zh")


@pytest.mark.parametrize(("lang", "month_says", "reason_says"), [
    ("zh", "请按 YYYY-MM 填写月份（年份 2000–2999），例如 2026-10。", "请填写此项。"),
    ("en", "A month written YYYY-MM (year 2000–2999), e.g. 2026-10.", "Required."),
])
def test_the_holds_form_says_a_typo_in_the_month_at_the_month_in_the_readers_language(live_server, launch, lang, month_says, reason_says):
    # The month's rule and a reason of spaces came as the server's English (no code) before.
    from .desk_driver import open_as

    page = open_as(launch(), live_server, "archivist", lang=lang)
    page.set_viewport_size(DESK)
    page.goto("/#/archive/holds")
    page.wait_for_selector("#hold-form")
    page.fill("#hold-month", "2026-13")
    page.fill("#hold-reason", "审计 audit")
    page.click("#hold-submit")
    expect(page.locator("#hold-form [data-error-for='month']")).to_have_text(month_says)
    expect(page.locator("#hold-form-error")).not_to_be_empty()
    if lang == "zh":
        assert not LATIN.search(page.locator("#hold-form-error").inner_text())
    page.locator("#hold-form").scroll_into_view_if_needed()
    shot(page, f"archive-hold-month-typo-{lang}")
    page.fill("#hold-month", "")
    page.fill("#hold-reason", "   ")
    page.click("#hold-submit")
    expect(page.locator("#hold-form [data-error-for='reason']")).to_have_text(reason_says)
    expect(page.locator("#hold-form [data-error-for='month']")).to_be_empty()


def test_a_sync_rejection_and_a_refusal_with_states_read_in_the_users_words(live_server, launch):
    page = open_page(launch, live_server)
    login(page, "patroller")
    said = page.evaluate("""async () => {
      const i18n = await import('/static/pwa/i18n.js');
      return [
        i18n.reason('transition_not_allowed', 'A task that is cancelled cannot become done.', {state: 'cancelled', to: 'done', vocabulary: 'task_states'}),
        i18n.reason('due_too_far', 'An extension can move the due date by a year at most.'),
        i18n.reason('no_such_code_yet', 'The English sentence.'),
        i18n.fieldReason({code: 'field_too_long', message: 'Longer than maximum length 64.', params: {max: '64'}}),
        i18n.reason('transition_not_allowed', 'A task that is cancelled cannot become done.'),
      ];
    }""")
    assert said[0] == "“已取消”的任务不能改为“待验收”。"
    assert said[1] == "延期最多只能把截止日期推后一年。"
    assert said[2] == "The English sentence."  # an unknown code: the server's words
    assert said[3] == "最多 64 个字。"
    # What the outbox keeps today (code and message, no details): still Chinese, without the states.
    assert said[4] == "当前状态下不能进行这个操作，请刷新后查看最新状态。"


def test_an_extension_too_far_is_refused_in_chinese_on_the_task_screen(live_server, launch, query):
    from datetime import date, timedelta

    from sqlalchemy import select

    from server.models import Checkpoint

    from .desk_driver import Api

    cp = query(lambda s: s.execute(select(Checkpoint.id).where(Checkpoint.short_code == "F04")).scalar_one())
    task_id = Api(live_server, "patroller").post("/api/findings/", {"checkpoint_id": cp, "item_id": "floor.lights_doors_windows",
                                                                     "description": "走廊灯坏了", "severity": "normal"})["task_id"]
    page = open_page(launch, live_server)
    login(page, "supervisor")
    page.goto(f"/#/manage/tasks/{task_id}")
    page.wait_for_selector("#ext-request")
    due_day = date.fromisoformat(page.get_attribute("#ext-date", "min"))
    page.fill("#ext-date", (due_day + timedelta(days=400)).isoformat())
    page.fill("#ext-reason", "等配件")
    page.click("#ext-request")
    expect(page.locator("#ext-error")).to_have_text("延期最多只能把截止日期推后一年。")
    page.locator("#ext-error").scroll_into_view_if_needed()
    shot(page, "task-extension-too-far-zh")


def test_a_complaint_judged_not_valid_without_a_reason_says_which_reason_is_needed(live_server, launch, seeded):
    """One "give the reason" for every missing reason did not say that this one is the resident's answer."""
    from sqlalchemy import select

    from server import complaints
    from server.extensions import db
    from server.models import Site, User

    with seeded.app_context():
        site = db.session.execute(select(Site)).scalars().first()
        receptionist = db.session.execute(select(User).where(User.username == "receptionist")).scalar_one()
        c, _ = complaints.receive(site, actor=receptionist, channel="phone", complainant="王女士", unit="8-01", content="楼道灯不亮")
        db.session.commit()
        cid = c.id
        db.session.remove()
    page = open_page(launch, live_server)
    login(page, "receptionist")
    page.goto(f"/#/complaints/{cid}")
    page.wait_for_selector("#cmp-invalid")
    page.click("#cmp-invalid")
    expect(page.locator("#cmp-judge-error")).to_have_text("请填写投诉不成立的原因，这就是给住户的答复。")
    page.locator("#cmp-judge-error").scroll_into_view_if_needed()
    shot(page, "complaint-invalid-no-reason-zh")
    page.click("button.lang")
    page.wait_for_selector("#cmp-invalid")
    page.click("#cmp-invalid")
    expect(page.locator("#cmp-judge-error")).to_have_text("Give the reason the complaint is not valid; it is the answer the resident gets.")
    page.locator("#cmp-judge-error").scroll_into_view_if_needed()
    shot(page, "complaint-invalid-no-reason-en")
