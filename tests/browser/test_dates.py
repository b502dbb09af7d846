"""One date and time formatter for the whole app: the site's clock, never a zone name, zh and en conventions."""

from __future__ import annotations

import re

import pytest

from .app_driver import installed_app, login, open_by_code, wait_outbox
from .conftest import new_context

pytestmark = pytest.mark.browser

FORMATS = """async () => {
  const i18n = await import('/static/pwa/i18n.js');
  const store = await import('/static/pwa/store.js');
  const y = new Date().getFullYear();
  const at = `${y}-12-01T01:05:00Z`;          // 09:05 in Shanghai
  const lastYear = `${y - 1}-12-01T01:05:00Z`;
  const out = {};
  for (const lang of ['zh', 'en']) {
    store.set({ lang });
    out[lang] = {
      site: i18n.fmtTime(at), // the site's zone by default, whatever the phone's own
      other: i18n.fmtTime(lastYear),
      date: i18n.fmtDate(at),
      day: i18n.fmtDay(at),
      utc: i18n.fmtTime(at, { zone: 'UTC' }),
      local: i18n.fmtLocal(`${y}-12-10 16:16`),
    };
  }
  store.set({ lang: 'zh' });
  return { y, out, browserZone: Intl.DateTimeFormat().resolvedOptions().timeZone };
}"""


def test_one_formatter_site_local_in_chinese_and_english(live_server, launch):
    browser = launch()
    context, page = installed_app(browser, live_server)
    r = page.evaluate(FORMATS)
    y = r["y"]
    assert r["browserZone"] != "Asia/Shanghai"  # the phone's own zone is not the site's: the site's wins
    assert r["out"]["zh"] == {
        "site": "12月1日 09:05", "other": f"{y - 1}年12月1日 09:05", "date": "12月1日", "day": f"{y}-12-01",
        "utc": "12月1日 01:05", "local": "12月10日 16:16",
    }
    assert r["out"]["en"] == {
        "site": "1 Dec 09:05", "other": f"1 Dec {y - 1} 09:05", "date": "1 Dec", "day": f"{y}-12-01",
        "utc": "1 Dec 01:05", "local": "10 Dec 16:16",
    }


def test_a_finding_reads_the_same_on_the_phone_and_the_desk_and_no_zone_name_shows(live_server, launch):
    browser = launch()
    context, page = installed_app(browser, live_server)
    open_by_code(page, "F07")
    page.click("button[data-item='floor.lights_doors_windows'][data-result='fail']")
    page.fill("#note-floor-lights_doors_windows", "灯不亮")
    page.click("#save-visit")
    out = wait_outbox(page, lambda r: r and all(x["status"] == "sent" for x in r))
    task_id = out[0]["result"]["task_ids"][0]
    page.goto("/#/outbox")
    page.wait_for_selector("#outbox-sent .out-row")
    phone_time = page.inner_text("#outbox-sent .out-row .hint")
    assert re.fullmatch(r"\d{1,2}月\d{1,2}日 \d\d:\d\d", phone_time), phone_time

    desk = new_context(browser, live_server)
    sup = desk.new_page()
    sup.goto("/")
    login(sup, "supervisor")
    sup.goto(f"/#/manage/tasks/{task_id}")
    sup.wait_for_selector("#task-due")
    text = sup.inner_text("#app")
    assert "Asia/" not in text and "Shanghai" not in text
    assert re.fullmatch(r"\d{1,2}月\d{1,2}日 \d\d:\d\d", sup.inner_text("#task-due").strip())
    # The finding's time on the desk is the same text as on the patroller's phone.
    assert phone_time in text
