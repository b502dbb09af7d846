"""Asking for more time (延期): from the phone's task screen, offline too, and the decision
coming back; on the desk, a decided request no longer reads as one waiting for a manager."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from server.models import Checkpoint, Extension, Task, User

from .app_driver import installed_app, rows, shot, until, wait_outbox
from .desk_driver import Api, clean, open_as
from .test_live_task import SYNC, my_task_open

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("dispose_db_connections")]

SHANGHAI = ZoneInfo("Asia/Shanghai")


def site_day(dt) -> date:
    """The day of a naive-UTC time on the demo site's clock."""
    return dt.replace(tzinfo=ZoneInfo("UTC")).astimezone(SHANGHAI).date()


def zh_day(d: date) -> str:
    return f"{d.month}月{d.day}日"


def synced(page) -> None:
    page.evaluate(SYNC)
    until(page, "async () => !(await import('/static/pwa/store.js')).get().syncError", "a sync with its pull")


def test_the_assignee_asks_for_more_time_offline_and_sees_the_managers_decisions(live_server, launch, query):
    browser = launch()
    context, page = installed_app(browser, live_server)
    task_id, _ = my_task_open(page, live_server)
    due = query(lambda s: s.get(Task, task_id).due_at)
    due_day = site_day(due)
    manager = Api(live_server, "manager")

    # In a basement: the request is written and kept on the phone.
    context.set_offline(True)
    page.click("#task-ext-open")
    page.click("#task-ext-submit")
    assert page.inner_text("#task-ext-error") == "请选择新的截止日期。"
    page.fill("#task-ext-date", due_day.isoformat())  # not later than the due day
    page.click("#task-ext-submit")
    assert page.inner_text("#task-ext-error") == "新的截止日期必须晚于当前截止日期。"
    page.fill("#task-ext-date", (due_day + timedelta(days=3)).isoformat())
    page.click("#task-ext-submit")
    assert page.inner_text("#task-ext-error") == "请填写延期原因。"
    # What is being typed survives a redraw of the page (a sync landing meanwhile).
    page.fill("#task-ext-reason", "等配件，厂家下周到货")
    page.evaluate("async () => (await import('/static/pwa/store.js')).set({ pulledAt: new Date().toISOString() })")
    page.wait_for_timeout(300)
    assert page.input_value("#task-ext-reason") == "等配件，厂家下周到货"
    assert page.input_value("#task-ext-date") == (due_day + timedelta(days=3)).isoformat()
    page.click("#task-ext-submit")
    page.wait_for_selector("#task-ext-state[data-state='queued']")
    assert f"已申请延期到 {zh_day(due_day + timedelta(days=3))}，尚未发送" in page.inner_text("#task-extension")
    assert page.locator("#task-ext-open").count() == 0  # one request at a time
    (asked,) = [r for r in rows(page, "outbox") if r["kind"] == "task.extend"]
    assert asked["status"] == "pending" and asked["payload"]["reason"] == "等配件，厂家下周到货"
    assert query(lambda s: s.execute(select(Extension)).scalars().all()) == []
    shot(page, "task_extension_queued_offline")

    # Signal again: sent once, waiting for a manager, at the same time of day on the site's clock.
    context.set_offline(False)
    synced(page)
    page.wait_for_selector("#task-ext-state[data-state='pending']")
    assert "等待经理审批" in page.inner_text("#task-extension")
    ext = query(lambda s: s.execute(select(Extension)).scalar_one())
    patroller = query(lambda s: s.execute(select(User.id).where(User.username == "patroller")).scalar_one())
    assert (ext.state, ext.requested_by, ext.requested_due_at) == ("pending", patroller, due + timedelta(days=3))
    wait_outbox(page, lambda r: all(x["status"] == "sent" for x in r))

    # The manager refuses it, with a reason: the phone's next sync shows it, and offers asking again.
    manager.post(f"/api/tasks/extensions/{ext.id}/decision", {"approve": False, "note": "本周内必须修好"}, status=200)
    synced(page)
    page.wait_for_selector("#task-ext-state[data-state='rejected']")
    text = page.inner_text("#task-extension")
    assert "被驳回" in text and "经理说明：本周内必须修好" in text
    assert page.inner_text("#task-due") == zh_day(due_day)
    shot(page, "task_extension_refused")

    # Asked again, online this time, and approved: the new due date is the task's.
    page.click("#task-ext-open")
    page.fill("#task-ext-date", (due_day + timedelta(days=5)).isoformat())
    page.fill("#task-ext-reason", "厂家延迟发货")
    page.click("#task-ext-submit")
    page.wait_for_selector("#task-ext-state[data-state='pending']")
    second = query(lambda s: s.execute(select(Extension).where(Extension.state == "pending")).scalar_one())
    manager.post(f"/api/tasks/extensions/{second.id}/decision", {"approve": True}, status=200)
    synced(page)
    page.wait_for_selector("#task-ext-state[data-state='approved']")
    moved = zh_day(due_day + timedelta(days=5))
    assert f"延期已批准：新的截止日期 {moved}" in page.inner_text("#task-extension")
    assert page.inner_text("#task-due") == moved
    assert query(lambda s: s.get(Task, task_id).due_at) == due + timedelta(days=5)
    shot(page, "task_extension_approved")

    page.click("#bar .lang")
    page.wait_for_selector("#task-ext-state[data-state='approved']")
    assert "More time approved: now due" in page.inner_text("#task-extension")
    shot(page, "task_extension_approved_en")
    page.click("#task-ext-open")
    page.click("#task-ext-submit")
    assert page.inner_text("#task-ext-error") == "Choose the new due date."
    shot(page, "task_extension_form_en")


def test_a_request_the_server_refuses_says_why_on_the_task_screen(live_server, launch, query):
    """A supervisor asked from the desk while the patroller's phone was offline: the phone's
    request is refused (one already waits) and the task screen says so in the reader's words."""
    browser = launch()
    context, page = installed_app(browser, live_server)
    task_id, supervisor = my_task_open(page, live_server)
    due = query(lambda s: s.get(Task, task_id).due_at)
    context.set_offline(True)
    page.click("#task-ext-open")
    page.fill("#task-ext-date", (site_day(due) + timedelta(days=2)).isoformat())
    page.fill("#task-ext-reason", "下雨无法施工")
    page.click("#task-ext-submit")
    page.wait_for_selector("#task-ext-state[data-state='queued']")
    r = supervisor.post(f"{live_server.url}/api/tasks/{task_id}/extensions",
                        json={"requested_due_at": (due + timedelta(days=4)).isoformat() + "Z", "reason": "配件缺货"})
    assert r.status_code == 201, r.text
    context.set_offline(False)
    synced(page)
    page.wait_for_selector("#task-ext-refused")
    assert "延期申请未被接受：该任务已有一项延期申请在等待经理处理。" in page.inner_text("#task-ext-refused")
    # What the server has is shown: the supervisor's request, waiting.
    assert page.get_attribute("#task-ext-state", "data-state") == "pending"
    shot(page, "task_extension_refused_by_server")


def test_decided_extension_requests_stop_reading_as_waiting_in_every_managers_feed(live_server, browser, query):
    """The manager approves one request and rejects another on the desk's task page; the
    requests' notices are then read and say how they were decided."""
    supervisor = Api(live_server, "supervisor")
    patroller = Api(live_server, "patroller")
    ids = []
    for code, text in (("F04", "走廊灯坏了"), ("F06", "地砖破损")):
        cp = query(lambda s, code=code: s.execute(select(Checkpoint.id).where(Checkpoint.short_code == code)).scalar_one())
        task_id = patroller.post("/api/findings/", {"checkpoint_id": cp, "item_id": "floor.lights_doors_windows", "description": text})["task_id"]
        due = query(lambda s, t=task_id: s.get(Task, t).due_at)
        supervisor.post(f"/api/tasks/{task_id}/extensions", {"requested_due_at": (due + timedelta(days=3)).isoformat() + "Z", "reason": "配件需要订货"})
        ids.append(task_id)

    page = open_as(browser, live_server, "manager")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"/#/manage/tasks/{ids[0]}")
    page.wait_for_selector("#ext-approve")
    page.click("#ext-approve")
    until(page, "() => document.querySelector('li.ext-approved')", "approved on screen")
    page.goto(f"/#/manage/tasks/{ids[1]}")
    page.wait_for_selector("#ext-reject")
    page.fill("#ext-note", "本周内完成")
    page.click("#ext-reject")
    until(page, "() => document.querySelector('li.ext-rejected')", "rejected on screen")

    page.goto("/#/manage/notifications")
    page.wait_for_selector("#notif-list .notif[data-kind='extension_requested']")
    requests = page.locator("#notif-list .notif[data-kind='extension_requested']")
    assert requests.count() == 2
    assert page.locator("#notif-list .notif.unread[data-kind='extension_requested']").count() == 0
    texts = [requests.nth(i).inner_text() for i in range(2)]
    assert all("延期申请（已处理）" in x and "延期申请待审批" not in x for x in texts), texts
    assert any("已批准（演示经理 Demo manager）" in x for x in texts)
    assert any("已驳回（演示经理 Demo manager）" in x and "本周内完成" in x for x in texts)
    shot(page, "manage_notifications_extensions_decided")
    page.click("#bar .lang")
    page.wait_for_selector("#notif-list .notif[data-decided='true']")
    assert "Extension request (decided)" in page.inner_text("#notif-list")
    shot(page, "manage_notifications_extensions_decided_en")
    clean(page)
