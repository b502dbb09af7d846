"""Supervisor and manager screens in a real browser: the desk, task lists, assignment, extensions, notifications (issue 5, item 6)."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from server.models import Checkpoint, Extension, Task, User

from .app_driver import shot, until, wait_ready
from .conftest import AXE, jpeg_bytes
from .desk_driver import Api, clean, open_as

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("dispose_db_connections")]

SCREENS = ["manage", "manage/tasks", "manage/findings", "manage/notifications", "manage/repeats", "manage/checkpoints", "manage/plans", "manage/plans/new", "manage/coverage"]


# --- set-up through the API, as the people themselves would -------------------------------


@pytest.fixture
def checkpoints(query) -> dict[str, int]:
    return query(lambda s: dict(s.execute(select(Checkpoint.short_code, Checkpoint.id)).all()))


@pytest.fixture
def report(live_server, checkpoints):
    """report(code, item_id, description, severity) → the finding, reported by the demo patroller."""
    patroller = Api(live_server, "patroller")

    def make(code: str, item_id: str, description: str, severity: str = "normal", photo: bytes | None = None) -> dict:
        body = {"checkpoint_id": checkpoints[code], "item_id": item_id, "description": description, "severity": severity}
        if photo is not None:
            photo_id = str(uuid.uuid4())
            resp = patroller.s.put(
                f"{patroller.base}/api/photos/{photo_id}",
                data=photo,
                headers={"Content-Type": "image/jpeg", "X-Content-SHA256": hashlib.sha256(photo).hexdigest()},
                timeout=10,
            )
            assert resp.status_code == 201, resp.text
            body["photo_ids"] = [photo_id]
        return patroller.post("/api/findings/", body)

    return make


# The images in the viewport are loaded (lazy ones below it load when scrolled to).
VISIBLE_IMAGES_LOADED = """() => [...document.querySelectorAll('#app img')]
  .filter((i) => i.getBoundingClientRect().top < innerHeight)
  .every((i) => i.complete)"""


def badge_count(page) -> int:
    return page.evaluate("() => { const b = document.getElementById('unread-badge'); return b && !b.hidden ? Number(b.dataset.count) : 0; }")


# --- the rules ----------------------------------------------------------------------------


def test_supervisor_filters_tasks_on_the_desk_and_assigns_one_to_a_person(live_server, browser, report, query):
    report("F03", "floor.clean", "楼道有积水 water on the floor", "major")
    report("EL1", "elevator_car.ride_smooth", "电梯运行有异响 the car rattles")
    report("F05", "floor.clean", "垃圾未清 rubbish left")

    # A patroller has no desk.
    patroller = open_as(browser, live_server, "patroller")
    assert patroller.locator("#nav a[href='#/manage']").count() == 0
    patroller.context.close()

    page = open_as(browser, live_server, "supervisor")
    page.click("#nav a[href='#/manage']")
    page.wait_for_selector("#stat-open")
    assert page.get_attribute("#stat-open", "data-count") == "3"
    assert page.get_attribute("#stat-major", "data-count") == "1"
    assert page.get_attribute("#stat-unassigned", "data-count") == "3"
    bars = page.evaluate("() => [...document.querySelectorAll('#chart-category g')].map((g) => [g.dataset.label, Number(g.dataset.value)])")
    assert ["清洁卫生", 2] in bars and ["公共设施设备", 1] in bars
    shot(page, "manage-desk")

    # Filter: elevator cars only, then major only.
    page.click("#nav a[href='#/manage']")
    page.click(".sub-nav a[href='#/manage/tasks']")
    page.wait_for_selector("#task-list .desk-task")
    assert page.locator("#task-list .desk-task").count() == 3
    page.click("#task-filters >> xpath=.. >> summary")
    page.select_option("#f-kind", "elevator_car")
    page.click("#f-apply")
    until(page, "() => location.hash.includes('kind=elevator_car') && document.querySelectorAll('#task-list .desk-task').length === 1", "kind filter")
    assert "电梯运行有异响" in page.inner_text("#task-list")
    # Results first: the filters stay folded, their button names the active one.
    assert page.evaluate("() => !document.querySelector('#task-filters').closest('details').open")
    assert "类型 电梯轿厢" in page.inner_text("#f-summary") or "电梯轿厢" in page.inner_text("#f-summary")
    page.click("#f-summary")
    page.select_option("#f-kind", "")
    page.check("#f-major")
    page.click("#f-apply")
    until(page, "() => location.hash.includes('major=1') && !location.hash.includes('kind=') && document.querySelectorAll('#task-list .desk-task').length === 1", "major filter")
    assert "楼道有积水" in page.inner_text("#task-list")
    shot(page, "manage-tasks-filtered")
    # At desk size too, the list comes first and the folded filters name what is active.
    page.set_viewport_size({"width": 1280, "height": 800})
    assert page.locator("#task-list .desk-task").first.is_visible()
    assert page.locator("#f-major").is_hidden()
    shot(page, "manage-tasks-filtered-desk")
    page.set_viewport_size({"width": 390, "height": 844})

    # Open it and assign it to the patroller.
    page.click("#task-list .desk-task")
    page.wait_for_selector("#assign-person")
    patroller_id = query(lambda s: s.execute(select(User.id).where(User.username == "patroller")).scalar_one())
    page.select_option("#assign-person", str(patroller_id))
    page.fill("#assign-note", "今天处理 today please")
    page.click("#assign-submit")
    until(page, "() => document.querySelector('#task-assignee')?.textContent.includes('Demo patroller') && document.querySelector('#assign-submit')?.textContent === '改派'", "assigned on screen")
    assert page.inner_text("#task-state") == "已分派"
    assert "分派" in page.inner_text("#task-history")
    shot(page, "manage-task-assigned")

    task = query(lambda s: s.execute(select(Task).where(Task.severity == "major")).scalar_one())
    assert task.assignee_id == patroller_id and task.state == "assigned"
    clean(page)


def test_manager_approves_extension_and_the_due_date_changes_on_screen(live_server, browser, report, query):
    finding = report("F04", "floor.lights_doors_windows", "走廊灯坏了，需要订货 the corridor light needs a part")
    task_id = finding["task_id"]

    # The supervisor asks for five more days, on the task screen.
    sup = open_as(browser, live_server, "supervisor")
    sup.goto(f"/#/manage/tasks/{task_id}")
    sup.wait_for_selector("#ext-request")
    before = sup.inner_text("#task-due")  # the app's one format: 12月10日 16:16 (site clock)
    due_day = date.fromisoformat(sup.get_attribute("#ext-date", "min"))
    assert before.startswith(f"{due_day.month}月{due_day.day}日 ")
    sup.fill("#ext-date", (due_day + timedelta(days=5)).isoformat())
    sup.fill("#ext-reason", "配件需要订货 the part must be ordered")
    sup.click("#ext-request")
    sup.wait_for_selector(".ext-pending")
    assert sup.locator("#ext-approve").count() == 0  # only a manager decides
    assert sup.inner_text("#task-due") == before  # nothing moves until then
    clean(sup)
    sup.context.close()

    page = open_as(browser, live_server, "manager")
    page.goto("/#/manage")
    page.wait_for_selector("#stat-extensions")
    assert page.get_attribute("#stat-extensions", "data-count") == "1"
    page.click("#stat-extensions")
    page.wait_for_selector(f"#task-list [data-task='{task_id}']")
    page.click(f"#task-list [data-task='{task_id}']")
    page.wait_for_selector("#ext-approve")
    assert page.inner_text("#task-due") == before
    assert page.inner_text("#task-checkpoint").startswith("4楼 (F04)")
    shot(page, "manage-task-extension")
    page.fill("#ext-note", "同意 agreed")
    page.click("#ext-approve")
    until(page, f"() => document.querySelector('#task-due') && document.querySelector('#task-due').textContent !== {json.dumps(before)}", "due date changed on screen")
    after = page.inner_text("#task-due")
    moved = due_day + timedelta(days=5)
    assert after.startswith(f"{moved.month}月{moved.day}日 ")
    assert page.locator("li.ext-approved").count() == 1
    assert "期限变更" in page.inner_text("#task-history")

    ext = query(lambda s: s.execute(select(Extension)).scalar_one())
    task = query(lambda s: s.get(Task, task_id))
    assert ext.state == "approved" and task.due_at == ext.requested_due_at and task.due_at > task.original_due_at
    clean(page)


def test_manager_lists_the_extensions_to_decide_and_reads_what_each_notice_is_about(live_server, browser, report, query):
    waiting = report("F04", "floor.lights_doors_windows", "走廊灯坏了 the corridor light is out")["task_id"]
    report("EL1", "elevator_car.ride_smooth", "电梯运行有异响 the car rattles")
    task = query(lambda s: s.get(Task, waiting))
    new_due = (task.due_at + timedelta(days=5)).replace(tzinfo=timezone.utc)
    Api(live_server, "supervisor").post(f"/api/tasks/{waiting}/extensions", {"requested_due_at": new_due.isoformat(), "reason": "配件需要订货 the part must be ordered"})

    page = open_as(browser, live_server, "manager")
    page.goto("/#/manage/tasks")
    page.wait_for_selector("#task-list .desk-task")
    assert page.locator("#task-list .desk-task").count() == 2
    page.click("#task-filters >> xpath=.. >> summary")
    page.check("#f-extension")
    page.click("#f-apply")
    until(page, "() => location.hash.includes('extension=pending') && document.querySelectorAll('#task-list .desk-task').length === 1", "extension filter")
    row = page.inner_text(f"#task-list [data-task='{waiting}']")
    # The row names its checkpoint (from the list itself) and says it waits for a decision.
    assert "4楼" in row and "F04" in row and "延期待审批" in row
    assert "1 个任务有待审批的延期申请" in page.inner_text("#task-total")

    page.goto("/#/manage/notifications")
    page.wait_for_selector("#notif-list .notif[data-kind='extension_requested']")
    notice = page.inner_text("#notif-list .notif[data-kind='extension_requested']")
    assert "4楼 (F04)" in notice and "走廊灯坏了" in notice and "配件需要订货" in notice
    assert "演示主管 Demo supervisor 申请把期限从" in notice
    local = new_due.astimezone(ZoneInfo("Asia/Shanghai"))
    assert f"延到 {local.month}月{local.day}日 {local:%H:%M}" in notice
    clean(page)


def test_supervisor_confirms_route_and_cancels_only_with_a_reason(live_server, browser, report, query):
    task_id = report("F02", "floor.elevator_doors", "电梯门有涂鸦 graffiti on the doors")["task_id"]
    page = open_as(browser, live_server, "supervisor")
    page.goto(f"/#/manage/tasks/{task_id}")
    page.wait_for_selector("#route-confirm")
    assert "路线待确认" in page.inner_text("#task-route")

    # Graffiti turned out to be the cleaners' job: route it to their department.
    page.select_option("#route-select", "department_work")
    page.click("#route-confirm")
    until(page, "() => document.querySelector('#task-route') && !document.querySelector('#task-route').textContent.includes('路线待确认')", "route confirmed")
    assert "通知责任部门" in page.inner_text("#task-route")

    page.click("#task-cancel-card summary")
    page.click("#cancel-submit")
    assert page.inner_text("#cancel-error") == "取消任务必须填写原因。"
    assert query(lambda s: s.get(Task, task_id).state) == "open"
    page.fill("#cancel-reason", "重复上报 reported twice")
    page.click("#cancel-submit")
    until(page, "() => document.querySelector('#task-state')?.textContent === '已取消'", "cancelled on screen")
    assert page.locator("#assign-submit").count() == 0 and page.locator("#task-cancel-card").count() == 0

    task = query(lambda s: s.get(Task, task_id))
    assert task.state == "cancelled" and task.cancel_reason == "重复上报 reported twice" and task.route == "department_work" and task.route_confirmed
    clean(page)


def test_desk_tells_a_patroller_it_is_not_theirs(live_server, browser):
    page = open_as(browser, live_server, "patroller")
    page.goto("/#/manage")
    page.wait_for_selector(".screen-manage h1")
    assert "不是主管、经理或管理员" in page.inner_text(".screen-manage")
    clean(page)


def test_notification_badge_shows_unread_count_and_clears_when_read(live_server, browser, report):
    report("F06", "floor.fire_escape_clear", "消防通道被堵 fire escape blocked", "major")
    report("LOBBY", "lobby.safety_signs", "安全出口标志不亮 exit sign dark", "major")

    page = open_as(browser, live_server, "supervisor")
    page.goto("/#/manage")
    until(page, "() => document.getElementById('unread-badge')?.dataset.count === '2'", "badge shows 2")
    assert badge_count(page) == 2
    assert page.evaluate("() => document.getElementById('desk-notifications-link').textContent") == "通知 2 条未读"

    page.click("#desk-notifications-link")
    page.wait_for_selector("#notif-list .notif.unread")
    assert page.locator("#notif-list .notif.unread").count() == 2
    assert "消防通道被堵" in page.inner_text("#notif-list")
    shot(page, "manage-notifications")

    page.locator("#notif-list .notif.unread .notif-mark").first.click()
    until(page, "() => document.getElementById('unread-badge')?.dataset.count === '1'", "badge shows 1")
    page.click("#notif-read-all")
    until(page, "() => document.getElementById('unread-badge')?.hidden === true", "badge hidden")
    assert page.locator("#notif-list .notif.unread").count() == 0
    assert page.is_disabled("#notif-read-all")

    # Read on the server, not only on this screen.
    page.goto("/#/manage")
    page.wait_for_selector("#stat-open")
    # The badge has asked the server (data-count is set by its answer, hidden at zero).
    page.wait_for_selector("#unread-badge[data-count]", state="attached")
    assert badge_count(page) == 0
    clean(page)


def test_desk_screens_say_so_when_offline_instead_of_a_blank_page(live_server, browser):
    page = open_as(browser, live_server, "supervisor")
    # Installed first, so the desk's modules come from the service worker's cache.
    until(page, "() => navigator.serviceWorker && navigator.serviceWorker.controller !== null", "service worker controls the page", timeout=30)
    until(
        page,
        "async () => { for (const k of await caches.keys()) { if (k.startsWith('patrol-shell-') && await (await caches.open(k)).match('/static/pwa/ui/manage/tasks.js')) return true; } return false; }",
        "desk modules precached",
        timeout=30,
    )
    page.context.set_offline(True)
    page.goto("/#/manage/tasks")
    page.wait_for_selector(".desk-problem")
    assert "需要网络" in page.inner_text(".desk-problem")
    assert page.is_visible("#desk-retry")
    shot(page, "manage-offline")
    page.context.set_offline(False)
    page.click("#desk-retry")
    page.wait_for_selector("#task-total")
    clean(page)


def test_axe_finds_no_serious_or_critical_violation_on_desk_screens(live_server, browser, report):
    report("F07", "floor.clean", "墙角有垃圾 rubbish in the corner", "major")
    for n in range(3):
        # Three failures of one item at one checkpoint: a repeat problem.
        report("F08", "floor.elevator_doors", f"电梯门被划 doors scratched ({n + 1})")
    task_id = report("F09", "floor.walls_ceilings_handrails", "墙皮脱落 paint peeling", photo=jpeg_bytes((1200, 900)))["task_id"]
    Api(live_server, "supervisor").post(f"/api/tasks/{task_id}/extensions", {"requested_due_at": (datetime.now(timezone.utc) + timedelta(days=30)).isoformat(), "reason": "等材料 waiting for material"})
    manager = Api(live_server, "manager")
    site_id = manager.me["sites"][0]["site_id"]
    cps = manager.get(f"/api/checkpoints/?site_id={site_id}")["items"]
    # A plan, so the plan list and coverage screens have something to show.
    manager.post(f"/api/sites/{site_id}/plans", {"name_zh": "日常巡查", "name_en": "Daily round", "schedule": {"days": list(range(7)), "windows": [["00:00", "23:59"]]}, "checkpoint_ids": [c["id"] for c in cps[:4]]})

    found = {}
    for lang in ("zh", "en"):
        page = open_as(browser, live_server, "manager", bypass_csp=True, lang=lang)
        for screen in [*SCREENS, f"manage/tasks/{task_id}"]:
            page.goto(f"/#/{screen}")
            page.wait_for_selector(".desk-body")
            page.wait_for_selector(".desk-loading", state="detached")
            wait_ready(page)
            # The unread badge has its count, and the thumbnails on screen have loaded.
            page.wait_for_selector("#unread-badge[data-count]", state="attached")
            until(page, VISIBLE_IMAGES_LOADED, "the thumbnails on screen loaded")
            name = "manage-" + screen.replace("manage/", "").replace("/", "-").replace("manage", "desk")
            shot(page, f"{name}-{lang}")
            if lang == "zh":
                page.screenshot(path=str(shot_path(f"{name}-{lang}-full")), full_page=True)
            if not page.evaluate("() => !!window.axe"):
                page.add_script_tag(path=str(AXE))
            # The desk's own content; the top bar and bottom navigation are the shell's (checked by its tests).
            result = page.evaluate("async () => (await axe.run({ include: [['#app']] }, { resultTypes: ['violations'] })).violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }))")
            bad = [v for v in result if v["impact"] in ("serious", "critical")]
            if bad:
                found[f"{screen} ({lang})"] = bad
        page.context.close()
    assert found == {}, json.dumps(found, ensure_ascii=False, indent=1)


def shot_path(name: str):
    from .conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"


NAV_GEOMETRY = """() => {
  const nav = document.querySelector('.screen-manage .sub-nav') || document.querySelector('.sub-nav');
  const links = [...nav.querySelectorAll('a')].map((a) => a.getBoundingClientRect());
  const box = nav.getBoundingClientRect();
  const active = nav.querySelector('a.active').getBoundingClientRect();
  return { navHeight: box.height, linkHeight: links[0].height, navLeft: box.left, navRight: box.right,
           activeLeft: active.left, activeRight: active.right, widest: Math.max(...links.map((r) => r.width)),
           rows: new Set(links.map((r) => Math.round(r.top))).size, count: links.length };
}"""


def test_desk_links_take_one_row_on_a_phone_with_the_current_one_in_view(live_server, browser):
    """Ten desk links wrapped into four rows pushed every desk screen's content 220 px down on a
    phone: they are one row that scrolls sideways, with the current screen's link brought into view."""
    page = open_as(browser, live_server, "manager")
    page.goto("/#/manage/coverage")  # near the end of the row: off screen unless scrolled to
    page.wait_for_selector(".sub-nav a.active[href='#/manage/coverage']")
    until(page, f"() => {{ const g = ({NAV_GEOMETRY})(); return g.activeLeft >= g.navLeft - 1 && g.activeRight <= g.navRight + 1; }}",
          "the current link scrolled into view")
    g = page.evaluate(NAV_GEOMETRY)
    assert g["count"] >= 8 and g["rows"] == 1
    assert g["navHeight"] < 2 * g["linkHeight"]
    shot(page, "manage-nav-phone")
    # At a desk the row wraps, and no link is stretched across the screen on a row of its own.
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto("/#/manage/tasks")
    page.wait_for_selector(".sub-nav a.active[href='#/manage/tasks']")
    g = page.evaluate(NAV_GEOMETRY)
    assert g["widest"] < 200, g
    shot(page, "manage-nav-desk")
    clean(page)


def test_a_desk_screen_that_cannot_load_says_why_in_the_readers_language(live_server, browser):
    """A task that is not there (a stale link): the desk's problem banner gives the server's
    refusal in Chinese, not its English message."""
    page = open_as(browser, live_server, "supervisor")
    page.goto("/#/manage/tasks/999999")
    page.wait_for_selector(".desk-problem")
    text = page.inner_text(".desk-problem")
    assert "找不到该内容" in text and "Not found" not in text, text
    clean(page)


def test_notices_name_their_place_in_the_readers_language(live_server, browser, checkpoints, seeded):
    """A notice that keeps the names it was sent with (a major problem dealt with on the spot, a
    complaint escalated) names the place in English on an English screen; an older notice, stored
    with the Chinese name only, still names it, in Chinese."""
    from server import complaints
    from server.extensions import db
    from server.models import Site
    from server.notifications import notify

    Api(live_server, "patroller").post("/api/findings/", {
        "checkpoint_id": checkpoints["LOBBY"], "item_id": "lobby.safety_signs", "description": "安全出口标志不亮 exit sign dark",
        "severity": "major", "dealt_on_spot": True, "spot_note": "换了灯管 new tube"})
    with seeded.app_context():
        site = db.session.execute(select(Site)).scalars().first()
        manager = db.session.execute(select(User).where(User.username == "manager")).scalar_one()
        receptionist = db.session.execute(select(User).where(User.username == "receptionist")).scalar_one()
        c, _ = complaints.receive(site, actor=receptionist, channel="phone", complainant="王女士", unit="8-01",
                                  content="电梯厅灯不亮 hall light out", checkpoint_id=checkpoints["F08"])
        complaints.escalate_due(c.due_at + timedelta(days=1, minutes=1))  # the manager's level
        # Sent before notices kept the English name: the Chinese one only.
        notify([manager.id], site_id=site.id, kind="complaint_escalated", dedupe_key="old-complaint", data={
            "site_id": site.id, "site_name": site.name_zh, "complaint_id": c.id, "checkpoint_name": "旧的点位名", "unit": "3-01",
            "content": "old", "state": "received", "level": "manager", "due_at_local": "2026-12-01 18:00", "due_day": "2026-12-01"})
        db.session.commit()
        cid = c.id
        db.session.remove()

    major = "#notif-list li[data-kind='major_finding']"
    escalated = f"#notif-list li[data-kind='complaint_escalated']:has(a[href='#/complaints/{cid}']):not(:has-text('old'))"
    old = "#notif-list li[data-kind='complaint_escalated']:has-text('old')"
    page = open_as(browser, live_server, "manager", lang="en")
    page.goto("/#/manage/notifications")
    page.wait_for_selector(major)
    assert "Ground-floor lobby" in page.inner_text(major) and "一楼大堂" not in page.inner_text(major)
    assert "undefined" not in page.inner_text("#notif-list")
    assert "Floor 8" in page.inner_text(escalated) and "8楼" not in page.inner_text(escalated), page.inner_text(escalated)
    assert "旧的点位名" in page.inner_text(old)
    shot(page, "manage-notifications-en-390")
    clean(page)
    page.context.close()

    page = open_as(browser, live_server, "manager")
    page.goto("/#/manage/notifications")
    page.wait_for_selector(major)
    assert "一楼大堂" in page.inner_text(major) and "8楼" in page.inner_text(escalated)
    clean(page)


def test_the_desks_date_filters_mean_the_sites_days_whatever_the_browsers_timezone(live_server, browser, report, seeded):
    from .app_driver import login as log_in
    from .conftest import new_context

    report("F03", "floor.lights_doors_windows", "走廊灯不亮")
    now = datetime.now(timezone.utc)
    site_day = now.astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
    # A browser whose own day of that date leaves out this moment (it starts after it, or
    # ends before it): a manager travelling, or a laptop set to another zone.
    zone = "Pacific/Kiritimati" if 12 <= now.hour < 16 else "Etc/GMT+12"
    page = new_context(browser, live_server, timezone_id=zone).new_page()
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto("/")
    log_in(page, "supervisor")
    site = seeded_site_id(seeded)
    for screen in ("manage/findings", "manage/tasks"):
        page.goto(f"/#/{screen}?site={site}&from={site_day}&to={site_day}")
        wait_ready(page, screen.replace("/", "-"))
        page.wait_for_function("() => /共 \\d+ 条/.test(document.getElementById('app').innerText)")
        text = page.inner_text("#app")
        assert "共 1 条" in text and "走廊灯不亮" in text, (screen, zone, text[:300])


def seeded_site_id(seeded) -> int:
    from server.extensions import db
    from server.models import Site

    with seeded.app_context():
        site_id = db.session.execute(select(Site.id)).scalars().first()
        db.session.remove()
    return site_id
