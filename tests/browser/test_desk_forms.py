"""Desk forms that keep what was typed (a reload, the language button), refusals said on the form in
the reader's language (coverage, exports), a sealed month's closed task read-only, and an overdue
notice under a day that says so; at desk width, in Chinese and English."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select, update

from server.models import Checkpoint, Complaint, MonthArchive, PatrolPlan, Site, Task, utcnow
from server.timeutil import month_of

from ..support.photos import jpeg
from .app_driver import shot, until
from .desk_driver import Api, clean, open_as

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("dispose_db_connections")]

DESK = {"width": 1366, "height": 900}


def desk(browser, server, username: str, lang: str = "zh"):
    page = open_as(browser, server, username, lang=lang)
    page.set_viewport_size(DESK)
    return page


def switch_language(page, to: str) -> None:
    page.click("#bar button.lang")
    until(page, f"() => document.documentElement.lang === '{'en' if to == 'en' else 'zh-CN'}' && !!document.querySelector('#app[data-ready]')", f"switched to {to}")


def ids(query) -> dict[str, int]:
    return query(lambda s: dict(s.execute(select(Checkpoint.short_code, Checkpoint.id)).all()))


def a_task(server, query) -> int:
    cp = ids(query)["F04"]
    return Api(server, "patroller").post("/api/findings/", {"checkpoint_id": cp, "item_id": "floor.lights_doors_windows",
                                                             "description": "走廊灯坏了", "severity": "normal"})["task_id"]


# --- 1. drafts: the plan editor and taking a complaint ----------------------------------------------


def test_a_new_plan_keeps_what_was_typed_through_the_language_button_and_a_reload(live_server, browser, query):
    cps = ids(query)
    page = desk(browser, live_server, "manager")
    page.goto("/#/manage/plans/new")
    page.wait_for_selector("#plan-form")
    page.fill("#plan-name-zh", "夜间车库巡查")
    page.fill("#plan-name-en", "Night car park round")
    page.click("#plan-days-weekdays")
    page.fill("#plan-win-0-start", "22:00")
    page.fill("#plan-win-0-end", "23:30")
    page.click("#plan-win-add")
    page.fill("#plan-win-1-end", "23:59")
    for code in ("F02", "F01"):
        page.click(f"#plan-add-{cps[code]}")
    page.fill("#plan-focus-zh", "注意车库照明")

    def still_typed():
        assert page.input_value("#plan-name-zh") == "夜间车库巡查"
        assert page.input_value("#plan-name-en") == "Night car park round"
        assert [page.is_checked(f"#plan-day-{d}") for d in range(7)] == [True] * 5 + [False] * 2
        assert (page.input_value("#plan-win-0-start"), page.input_value("#plan-win-0-end")) == ("22:00", "23:30")
        assert page.locator("#plan-window-list li").count() == 2 and page.input_value("#plan-win-1-end") == "23:59"
        assert page.evaluate("() => [...document.querySelectorAll('#plan-chosen li')].map((li) => Number(li.dataset.checkpoint))") == [cps["F02"], cps["F01"]]
        assert page.input_value("#plan-focus-zh") == "注意车库照明"

    switch_language(page, "en")
    expect(page.locator("#plan-save")).to_have_text("Save the plan")
    still_typed()
    shot(page, "desk-plan-draft-after-language-en-1366")
    page.reload()
    page.wait_for_selector("#plan-draft")
    still_typed()
    expect(page.locator("#plan-draft")).to_contain_text("What you typed at")
    shot(page, "desk-plan-draft-after-reload-en-1366")
    switch_language(page, "zh")
    still_typed()
    expect(page.locator("#plan-draft")).to_contain_text("还没有保存的内容")
    shot(page, "desk-plan-draft-after-reload-zh-1366")

    page.click("#plan-save")
    page.wait_for_selector("#plan-list .plan-row")
    plan = query(lambda s: s.execute(select(PatrolPlan).where(PatrolPlan.name_zh == "夜间车库巡查")).scalar_one())
    assert plan.checkpoint_ids == [cps["F02"], cps["F01"]] and plan.schedule["days"] == [0, 1, 2, 3, 4]
    # Saved: the draft is gone, a new plan starts blank.
    page.goto("/#/manage/plans/new")
    page.wait_for_selector("#plan-form")
    assert page.input_value("#plan-name-zh") == "" and page.locator("#plan-draft").count() == 0

    # Cancel throws typed work away, on purpose.
    page.fill("#plan-name-zh", "不要了")
    page.click("#plan-cancel")
    page.wait_for_selector("#plan-list")
    page.goto("/#/manage/plans/new")
    page.wait_for_selector("#plan-form")
    assert page.input_value("#plan-name-zh") == ""
    clean(page)


def test_an_edited_plan_comes_back_after_a_reload_and_can_be_discarded(live_server, browser, query):
    cps = ids(query)
    site_id = query(lambda s: s.execute(select(Site.id)).scalar_one())
    plan = Api(live_server, "manager").post(f"/api/sites/{site_id}/plans", {
        "name_zh": "大堂巡查", "schedule": {"days": [0, 1, 2, 3, 4, 5, 6], "windows": [["09:00", "11:00"]]}, "checkpoint_ids": [cps["LOBBY"]]})
    page = desk(browser, live_server, "manager")
    page.goto(f"/#/manage/plans/{plan['id']}")
    page.wait_for_selector("#plan-form")
    page.fill("#plan-name-zh", "大堂和一楼巡查")
    page.click(f"#plan-add-{cps['F01']}")
    page.reload()
    page.wait_for_selector("#plan-draft")
    assert page.input_value("#plan-name-zh") == "大堂和一楼巡查"
    assert page.locator(f"#plan-chosen li[data-checkpoint='{cps['F01']}']").count() == 1
    page.click("#plan-draft-discard")
    until(page, "() => document.querySelector('#plan-name-zh')?.value === '大堂巡查' && !document.querySelector('#plan-draft')", "the stored plan again")
    page.reload()
    page.wait_for_selector("#plan-form")
    assert page.input_value("#plan-name-zh") == "大堂巡查" and page.locator("#plan-draft").count() == 0
    clean(page)


def test_a_complaint_being_taken_keeps_its_fields_and_photo_through_the_language_button_and_a_reload(live_server, browser, query):
    page = desk(browser, live_server, "receptionist")
    page.goto("/#/complaints/new")
    page.wait_for_selector("#cmp-form")
    page.select_option("#cmp-channel", "phone")
    page.fill("#cmp-complainant", "王女士")
    page.fill("#cmp-unit", "8-01")
    page.select_option("#cmp-checkpoint", label="8楼 (F08)")
    page.wait_for_selector("#cmp-item-field:not([hidden])")
    item = page.eval_on_selector("#cmp-item", "(s) => s.options[2].value")
    page.select_option("#cmp-item", item)
    page.fill("#cmp-content", "8楼电梯厅灯不亮")
    page.fill("#cmp-contact", "138 0000 0000")
    page.check("#cmp-consent")
    page.set_input_files("#cmp-photo-files", files=[{"name": "lamp.jpg", "mimeType": "image/jpeg", "buffer": jpeg(800, 600)}])

    def still_typed():
        assert page.input_value("#cmp-channel") == "phone"
        assert page.input_value("#cmp-complainant") == "王女士"
        assert page.input_value("#cmp-unit") == "8-01"
        assert page.input_value("#cmp-content") == "8楼电梯厅灯不亮"
        until(page, f"() => document.querySelector('#cmp-item')?.value === '{item}'", "the item chosen again")
        assert page.input_value("#cmp-contact") == "138 0000 0000"
        assert page.is_checked("#cmp-consent")
        assert page.evaluate("() => document.querySelector('#cmp-photo-files').files.length") == 1

    switch_language(page, "en")
    expect(page.locator("#cmp-save")).to_have_text("Save the complaint")
    still_typed()
    shot(page, "desk-complaint-draft-after-language-en-1366")
    page.reload()
    page.wait_for_selector("#cmp-draft")
    still_typed()
    switch_language(page, "zh")
    still_typed()
    shot(page, "desk-complaint-draft-after-reload-zh-1366")

    page.click("#cmp-save")
    page.wait_for_selector("#cmp-state")
    saved = query(lambda s: s.execute(select(Complaint)).scalar_one())
    assert (saved.complainant, saved.unit, saved.content, saved.contact_consent) == ("王女士", "8-01", "8楼电梯厅灯不亮", True)
    assert len(saved.photo_ids) == 1 and saved.item_id == item
    page.goto("/#/complaints/new")
    page.wait_for_selector("#cmp-form")
    assert page.input_value("#cmp-complainant") == "" and page.locator("#cmp-draft").count() == 0
    clean(page)


def test_the_language_button_keeps_a_comment_being_typed_on_a_task(live_server, browser, query):
    task_id = a_task(live_server, query)
    page = desk(browser, live_server, "supervisor")
    page.goto(f"/#/manage/tasks/{task_id}")
    page.wait_for_selector("#comment-body")
    page.fill("#comment-body", "明天上午派电工去看")
    page.fill("#assign-note", "带梯子")
    switch_language(page, "en")
    expect(page.locator("#comment-submit")).to_have_text("Send comment")
    assert page.input_value("#comment-body") == "明天上午派电工去看"
    assert page.input_value("#assign-note") == "带梯子"
    clean(page)


# --- 2. coverage: a range too long is said beside the dates ------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_coverage_range_over_a_year_is_said_beside_the_dates_and_the_form_stays(live_server, browser, lang):
    page = desk(browser, live_server, "manager", lang=lang)
    page.goto("/#/manage/coverage")
    page.wait_for_selector("#cov-totals")
    to = page.input_value("#cov-to")
    far = (date.fromisoformat(to) - timedelta(days=400)).isoformat()
    page.fill("#cov-from", far)
    page.click("#cov-apply")
    said = {"zh": "一次最多 366 天（含起止两天），请缩短日期范围。", "en": "At most 366 days at a time (both ends included): shorten the range."}[lang]
    expect(page.locator("#cov-form [data-error-for='to']")).to_have_text(said)
    assert page.input_value("#cov-from") == far  # the form kept, to change it
    # The same range reached by a link: the server refuses it, and its refusal sits at the same place.
    page.goto(f"/#/manage/coverage?from={far}&to={to}")
    expect(page.locator("#cov-form [data-error-for='to']")).to_have_text(said)
    assert page.locator(".desk-problem").count() == 0 and page.locator("#desk-retry").count() == 0
    assert page.locator("#cov-totals").count() == 0
    shot(page, f"desk-coverage-range-too-long-{lang}-1366")
    clean(page)


# --- 3. exports: a refusal is said on the form --------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_export_the_server_would_refuse_is_said_on_the_form(live_server, browser, lang):
    page = desk(browser, live_server, "archivist", lang=lang)
    page.goto("/#/archive/exports")
    page.wait_for_selector("#export-form")
    texts = {
        "zh": ("一次最多 1099 天（含起止两天），请缩短日期范围。", "日期的年份须在 2000 到 2999 之间（写作 YYYY-MM-DD）。"),
        "en": ("At most 1099 days at a time (both ends included): shorten the range.", "A date with a year from 2000 to 2999 (written YYYY-MM-DD)."),
    }[lang]
    downloads = []
    page.on("download", lambda d: downloads.append(d))
    page.fill("#export-from", "2020-01-01")
    page.fill("#export-to", "2023-06-30")
    page.click("#export-download")
    expect(page.locator("#export-form [data-error-for='to']")).to_have_text(texts[0])
    page.fill("#export-from", "1999-12-01")
    page.fill("#export-to", "2000-01-31")
    page.click("#export-download")
    expect(page.locator("#export-form [data-error-for='from']")).to_have_text(texts[1])
    expect(page.locator("#export-form [data-error-for='to']")).to_have_text("")

    # A refusal only the server makes (here: the check asked for 1999 whatever the form held) is said too.
    page.route("**/exports?*dry_run=true", lambda route: route.continue_(url=route.request.url.replace("from=2000-01-01", "from=1999-01-01")))
    page.fill("#export-from", "2000-01-01")
    page.click("#export-download")
    expect(page.locator("#export-form [data-error-for='from']")).to_have_text(texts[1])
    shot(page, f"desk-export-refused-{lang}-1366")
    page.unroute("**/exports?*dry_run=true")
    assert downloads == []

    # An export the server makes still downloads as a file.
    page.fill("#export-from", "2026-01-01")
    page.fill("#export-to", "2026-01-31")
    with page.expect_download() as got:
        page.click("#export-download")
    assert got.value.suggested_filename.endswith(".csv")
    expect(page.locator("#export-form [data-error-for='from']")).to_have_text("")
    clean(page)


# --- 4. a closed task of a sealed month -------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_closed_task_of_a_sealed_month_offers_no_comment_box_and_says_why(live_server, browser, query, lang):
    task_id = a_task(live_server, query)
    Api(live_server, "supervisor").post(f"/api/tasks/{task_id}/cancel", {"reason": "重复登记"}, status=200)
    month = month_of(utcnow(), "Asia/Shanghai")

    def seal(s):
        s.add(MonthArchive(site_id=s.execute(select(Site.id)).scalar_one(), month=month, state="sealed", sealed_at=utcnow()))
        s.commit()

    query(seal)
    page = desk(browser, live_server, "supervisor", lang=lang)
    page.goto(f"/#/manage/tasks/{task_id}")
    page.wait_for_selector("#task-comments")
    said = {"zh": f"所属月份 {month} 已在月末归档时封存，任务现在只读", "en": f"its month, {month}, was sealed at month-end filing: the task is read-only"}[lang]
    expect(page.locator("#task-sealed")).to_contain_text(said)
    assert page.locator("#comment-body").count() == 0 and page.locator("#comment-submit").count() == 0
    page.locator("#task-comments").scroll_into_view_if_needed()
    shot(page, f"desk-task-sealed-{lang}-1366")
    clean(page)


# --- 5. an overdue notice under a day ----------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_task_overdue_less_than_a_day_is_not_called_zero_days_overdue(live_server, browser, query, seeded, lang):
    from server.extensions import db
    from server.tasks.escalation import escalate_overdue

    task_id = a_task(live_server, query)
    with seeded.app_context():
        db.session.execute(update(Task).where(Task.id == task_id).values(due_at=utcnow() - timedelta(hours=22)))
        assert escalate_overdue() == 1
        db.session.commit()
        db.session.remove()
    page = desk(browser, live_server, "supervisor", lang=lang)
    page.goto("/#/manage/notifications")
    notice = page.locator("#notif-list .notif[data-kind='task_overdue']")
    expect(notice).to_contain_text({"zh": "超期不到 1 天", "en": "Overdue less than a day"}[lang])
    assert {"zh": "超期 0 天", "en": "0 days overdue"}[lang] not in notice.inner_text()
    shot(page, f"desk-notice-overdue-under-a-day-{lang}-1366")
    clean(page)
