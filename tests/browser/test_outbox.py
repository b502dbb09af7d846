"""The outbox: a refused record is set aside with its reason; an expired session loses nothing."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import delete, func, select

from server.models import AuthSession, Visit

from .app_driver import installed_app, record_all_fine, shot, wait_outbox

pytestmark = pytest.mark.browser

ENQUEUE_BAD_TRANSITION = """async () => {
  const db = await import('/static/pwa/db.js');
  await db.enqueue('task.transition', { task_id: 999999, to: 'done' }, { label: 'task.transition' });
}"""

# What inside an element is drawn in the app's alarm red (var(--fail), resolved in the page's
# colour scheme): 'border' for its own border, else each red element's class.
RED_IN = """(row) => {
  const probe = document.createElement('span');
  probe.style.color = 'var(--fail)';
  document.body.append(probe);
  const red = getComputedStyle(probe).color;
  probe.remove();
  const out = getComputedStyle(row).borderTopColor === red ? ['border'] : [];
  for (const el of row.querySelectorAll('*')) {
    if (el.textContent.trim() && getComputedStyle(el).color === red && !out.includes(el.className)) out.push(el.className);
  }
  return out;
}"""


def test_refused_record_is_shown_with_its_reason_and_does_not_block_later_ones(live_server, launch, query):
    browser = launch()
    context, page = installed_app(browser, live_server)
    context.set_offline(True)
    page.evaluate(ENQUEUE_BAD_TRANSITION)  # a task that does not exist at my sites
    record_all_fine(page, "F08")
    context.set_offline(False)
    page.goto("/#/outbox")
    page.click("#sync-now")
    out = wait_outbox(page, lambda r: len(r) == 2 and all(x["status"] != "pending" for x in r))
    assert [x["status"] for x in out] == ["rejected", "sent"]
    page.wait_for_selector(".out-row[data-status='rejected'] .reason")
    shot(page, "outbox_attention")
    assert "没有这个任务" in page.inner_text(".out-row[data-status='rejected'] .reason")
    assert "attention" in page.get_attribute("#unsent", "class")
    assert query(lambda s: s.scalar(select(func.count()).select_from(Visit))) == 1


def test_a_refused_record_is_said_in_the_headline_and_once_seen_stops_asking_for_attention(live_server, launch):
    """The outbox's headline does not say "all sent" alone while a record was refused; "got it"
    on the refused record clears "needs attention" from the bar, and the record stays listed
    among the refused ones (after a reload too), saying it was refused and why, no longer in red."""
    browser = launch()
    context, page = installed_app(browser, live_server)
    context.set_offline(True)
    page.evaluate(ENQUEUE_BAD_TRANSITION)
    context.set_offline(False)
    page.goto("/#/outbox")
    page.click("#sync-now")
    out = wait_outbox(page, lambda r: len(r) == 1 and r[0]["status"] == "rejected")
    seq = out[0]["seq"]
    page.wait_for_selector(f"#seen-{seq}")
    expect(page.locator("#unsent-summary")).to_have_text("全部已发送，其中 1 条被服务器拒收，请看下方。")
    expect(page.locator("#unsent")).to_have_class(re.compile(r"\battention\b"))
    assert page.locator(f".out-row[data-seq='{seq}']").evaluate(RED_IN) == ["border", "badge st-rejected", "error reason"]
    shot(page, "outbox_refused_unseen_zh")
    page.click("button.lang")
    page.wait_for_selector(f"#seen-{seq}")
    assert "refused 1" in page.inner_text("#unsent-summary")
    shot(page, "outbox_refused_unseen_en")
    page.click("button.lang")

    page.click(f"#seen-{seq}")
    expect(page.locator("#unsent-summary")).to_have_text("全部已发送。")
    expect(page.locator("#unsent")).not_to_have_class(re.compile(r"\battention\b"))
    row = page.locator(f"#outbox-refused .out-row[data-seq='{seq}']")
    expect(row).to_have_attribute("data-seen", "true")
    assert "没有这个任务" in row.inner_text() and "已拒收" in row.inner_text()
    assert page.locator(f"#outbox-refused .out-row[data-seq='{seq}']").evaluate(RED_IN) == []  # settled: nothing alarming
    assert page.query_selector(f"#seen-{seq}") is None
    assert wait_outbox(page, lambda r: r[0].get("seen_at"))[0]["status"] == "rejected"  # kept as it was
    shot(page, "outbox_refused_seen_zh")
    page.reload()
    page.wait_for_selector(f"#outbox-refused .out-row[data-seq='{seq}']")
    expect(page.locator("#unsent")).not_to_have_class(re.compile(r"\battention\b"))
    page.click("button.lang")
    expect(page.locator("#outbox-refused")).to_contain_text("Refused")
    assert page.locator(f"#outbox-refused .out-row[data-seq='{seq}']").evaluate(RED_IN) == []
    shot(page, "outbox_refused_seen_en")


def test_a_record_refused_for_its_fields_names_each_problem_in_the_readers_language(live_server, launch):
    """A push's invalid_payload names its fields with the API's codes (details.field_errors): the
    outbox says each problem in Chinese or English, not the server's English."""
    browser = launch()
    context, page = installed_app(browser, live_server)
    context.set_offline(True)
    page.evaluate("""async () => {
      const db = await import('/static/pwa/db.js');
      await db.enqueue('task.transition', { task_id: 'seven', to: 'finished' }, { label: 'task.transition' });
    }""")
    context.set_offline(False)
    page.goto("/#/outbox")
    page.click("#sync-now")
    seq = wait_outbox(page, lambda r: len(r) == 1 and r[0]["status"] == "rejected")[0]["seq"]
    problems = page.locator(f".out-row[data-seq='{seq}'] .field-problems li")
    expect(problems).to_have_text(["task_id：格式不正确。", "to：请从可选项中选择。"])
    assert page.inner_text(f".out-row[data-seq='{seq}'] .reason") == "原因：记录内容不完整或有误。"
    shot(page, "outbox_refused_fields_zh")
    page.click("button.lang")
    expect(problems).to_have_text(["task_id: Not a valid value.", "to: Choose one of the options."])
    shot(page, "outbox_refused_fields_en")
    page.click(f"#seen-{seq}")
    expect(page.locator(f"#outbox-refused .out-row[data-seq='{seq}'] .field-problems li")).to_have_count(2)
    assert page.locator(f"#outbox-refused .out-row[data-seq='{seq}']").evaluate(RED_IN) == []


def test_session_expired_while_offline_keeps_the_queue_and_asks_for_the_password_once(live_server, launch, query):
    browser = launch()
    context, page = installed_app(browser, live_server)
    context.set_offline(True)
    record_all_fine(page, "F09")
    record_all_fine(page, "F10")

    # The session ends on the server while the phone is away.
    def expire(s):
        s.execute(delete(AuthSession))
        s.commit()

    query(expire)
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_selector(".banner.warn button", timeout=20000)
    shot(page, "session_expired")
    out = wait_outbox(page, lambda r: len(r) == 2)
    assert {x["status"] for x in out} == {"pending"}
    # Recording goes on while logged out.
    record_all_fine(page, "F01")
    page.click(".banner.warn button")
    page.fill("#password", "patrol-demo")
    page.click("#login-submit")
    out = wait_outbox(page, lambda r: len(r) == 3 and all(x["status"] == "sent" for x in r))
    assert query(lambda s: s.scalar(select(func.count()).select_from(Visit))) == 3


ENQUEUE_WITH_A_BROKEN_PHOTO = """async () => {
  const db = await import('/static/pwa/db.js');
  const good = crypto.randomUUID(), broken = crypto.randomUUID();
  const bytesOf = async (text) => new TextEncoder().encode(text).buffer;
  const sha = async (buf) => [...new Uint8Array(await crypto.subtle.digest('SHA-256', buf))].map((b) => b.toString(16).padStart(2, '0')).join('');
  const junk = await bytesOf('this is not a JPEG at all');
  const tiny = Uint8Array.from(atob('/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAACf/EABQQAQAAAAAAAAAAAAAAAAAAAAD/2gAIAQEAAD8AKp//2Q=='), (c) => c.charCodeAt(0)).buffer;
  await db.savePhoto({ id: good, mime: 'image/jpeg', bytes: tiny, sha256: await sha(tiny), purpose: 'finding' });
  await db.savePhoto({ id: broken, mime: 'image/jpeg', bytes: junk, sha256: await sha(junk), purpose: 'finding' });
  await db.enqueue('task.transition', { task_id: 999999, to: 'done' }, { label: 'task.transition', photoIds: [good, broken] });
  return [good, broken];
}"""


def test_the_outbox_names_the_photo_the_server_could_not_read(live_server, launch, query):
    """The second photo of a record is not an image: the outbox says which one to take again."""
    browser = launch()
    context, page = installed_app(browser, live_server)
    context.set_offline(True)
    page.evaluate(ENQUEUE_WITH_A_BROKEN_PHOTO)
    context.set_offline(False)
    page.goto("/#/outbox")
    page.click("#sync-now")
    # The outbox redraws when the sync ends: expect() retries across redraws.
    retake = page.locator(".out-row .retake")
    expect(retake).to_have_count(1, timeout=30000)
    expect(retake).to_contain_text("第2张照片无法读取，请重拍")
    expect(retake).to_contain_text("不是图片")
    shot(page, "outbox_photo_retake")


def test_a_sync_started_on_the_outbox_never_redraws_the_screen_the_person_moved_to(live_server, launch):
    """Tap "sync now", move on to the scan screen and type a code: the sync finishing later
    redraws nothing there (it used to redraw the current screen and empty the code field)."""
    browser = launch()
    context, page = installed_app(browser, live_server)
    context.set_offline(True)
    record_all_fine(page, "F08")
    held = []
    page.route("**/api/sync/push", lambda route: held.append(route))
    context.set_offline(False)
    page.goto("/#/outbox")
    page.click("#sync-now")
    for _ in range(100):  # the push is on its way and held
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the outbox's sync never pushed"
    page.goto("/#/scan")
    page.wait_for_selector("#app[data-ready='scan']")
    page.fill("#code", "F10")
    for route in held:  # the push answers only now, with the person on another screen
        route.continue_()
    page.unroute("**/api/sync/push")
    page.wait_for_function("async () => !(await import('/static/pwa/store.js')).get().syncing")
    page.wait_for_timeout(300)  # the outbox's own redraw, if it still fired, lands within this
    assert page.input_value("#code") == "F10"
    page.click("#code-open")
    page.wait_for_selector("#all-fine")
