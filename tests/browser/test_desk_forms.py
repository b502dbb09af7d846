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


