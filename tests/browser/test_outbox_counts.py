"""The outbox says what it means: records and photos counted apart, unsent first, today's sent apart, version under 关于."""

from __future__ import annotations

import pytest

from .app_driver import installed_app, record_all_fine, record_failed_with_photo, shot, wait_outbox, wait_rows
from .conftest import jpeg_bytes

pytestmark = pytest.mark.browser


def test_outbox_counts_records_and_photos_apart_and_lists_sent_ones_under_today(live_server, launch):
    browser = launch()
    context, page = installed_app(browser, live_server)
    context.set_offline(True)
    record_failed_with_photo(page, "F07", "floor.lights_doors_windows", "灯不亮", jpeg_bytes())
    record_all_fine(page, "F08")

    page.goto("/#/outbox")
    page.wait_for_selector("#outbox-unsent .out-row")
    assert page.inner_text("#unsent-summary") == "2 条记录、1 张照片未发送"
    assert page.get_attribute("#unsent", "title") == "2 条记录、1 张照片未发送"
    assert page.locator("#outbox-unsent .out-row").count() == 2
    assert page.locator("#outbox-sent .out-row").count() == 0
    # Unsent records at stake and storage not made persistent (headless Chromium does not grant it): warned.
    persisted = page.evaluate("() => navigator.storage.persisted()")
    if not persisted:
        page.wait_for_selector("#persist:not([hidden])")
    assert page.locator(".version").count() == 0  # no version hash for patrollers here
    shot(page, "outbox_unsent_zh")

    context.set_offline(False)
    page.click("#sync-now")
    wait_outbox(page, lambda r: len(r) == 2 and all(x["status"] == "sent" for x in r))
    wait_rows(page, "photos", lambda r: r and all(p["status"] == "uploaded" for p in r))
    page.goto("/#/about")
    page.goto("/#/outbox")
    page.wait_for_selector("#outbox-sent .out-row")
    assert page.inner_text("#unsent-summary") == "全部已发送。"
    assert page.locator("#outbox-unsent").count() == 0
    assert page.locator("#outbox-sent .out-row").count() == 2
    assert page.locator("#persist").count() == 0  # nothing at stake: no storage warning
    shot(page, "outbox_sent_today_zh")

    page.click("#about-link")
    page.wait_for_selector("#about-version")
    assert page.inner_text("#about-version").strip() not in ("", "—")
    shot(page, "about_zh")


def test_app_bar_counts_records_and_then_the_photos_left_behind(live_server, launch):
    """The bar says "未发送 1" for one record with its photo (as the outbox lists it), and once
    the record is sent but its photo is not, "照片未发送 1"; the title always names both."""
    browser = launch()
    context, page = installed_app(browser, live_server)
    context.set_offline(True)
    record_failed_with_photo(page, "F07", "floor.lights_doors_windows", "灯不亮", jpeg_bytes())
    page.wait_for_function("() => document.querySelector('#unsent').textContent === '未发送 1'")
    assert page.get_attribute("#unsent", "title") == "1 条记录、1 张照片未发送"

    # Online, but the photo upload fails: the record goes, its photo stays behind.
    page.route("**/api/photos/**", lambda route: route.abort() if route.request.method == "PUT" else route.continue_())
    context.set_offline(False)
    page.goto("/#/outbox")
    page.click("#sync-now")
    wait_outbox(page, lambda r: len(r) == 1 and r[0]["status"] == "sent")
    page.wait_for_function("() => document.querySelector('#unsent').textContent === '照片未发送 1'")
    assert page.get_attribute("#unsent", "title") == "1 张照片未发送"
