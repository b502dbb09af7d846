"""Checkpoints, labels, CSV, patrol plans and coverage on the desk, in a real browser, as admins, managers and supervisors use them."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from server.models import Checkpoint, PatrolPlan, Site, User, Visit
from server.timeutil import month_of

from .app_driver import shot, until
from .desk_driver import Api, clean, open_as

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("dispose_db_connections")]

SHANGHAI = ZoneInfo("Asia/Shanghai")
HEADER = "kind,name_zh,name_en,building,floor,unit,short_code,position,active\n"


@pytest.fixture
def ids(query) -> dict[str, int]:
    return query(lambda s: dict(s.execute(select(Checkpoint.short_code, Checkpoint.id)).all()))


def checkpoint(query, code: str) -> Checkpoint | None:
    return query(lambda s: s.execute(select(Checkpoint).where(Checkpoint.short_code == code)).scalar_one_or_none())


def count_checkpoints(query) -> int:
    return query(lambda s: s.execute(select(func.count()).select_from(Checkpoint)).scalar())


def rows_shown(page) -> list[str]:
    return page.evaluate("() => [...document.querySelectorAll('#cp-list .cp-row')].map((li) => li.dataset.code)")


def pdf_text(page, href: str, tmp_path) -> str:
    """Fetch a label sheet with the page's own session, as the browser's PDF viewer would, and read it back."""
    resp = page.context.request.get(href)
    assert resp.status == 200 and resp.headers["content-type"] == "application/pdf"
    assert shutil.which("pdftotext"), "pdftotext is missing: apt-get install poppler-utils"
    path = tmp_path / f"labels-{uuid.uuid4().hex}.pdf"
    path.write_bytes(resp.body())
    return subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True).stdout.decode()


def demo_plan(server, ids, codes, *, name="日常楼层巡查", windows=(("09:00", "11:00"),), days=range(7)) -> dict:
    return Api(server, "manager").post(
        f"/api/sites/{site_id(server)}/plans",
        {"name_zh": name, "name_en": "Daily floor round", "schedule": {"days": list(days), "windows": [list(w) for w in windows]}, "checkpoint_ids": [ids[c] for c in codes]},
    )


def site_id(server) -> int:
    return Api(server, "manager").me["sites"][0]["site_id"]


# --- checkpoints ----------------------------------------------------------------------------


def test_admin_finds_creates_edits_retires_and_brings_back_a_checkpoint(live_server, browser, ids, query):
    demo_plan(live_server, ids, ["F01", "F02", "F03"])
    page = open_as(browser, live_server, "admin")
    page.click("#nav a[href='#/manage']")
    page.click(".sub-nav a[href='#/manage/checkpoints']")
    page.wait_for_selector("#cp-list .cp-row")
    assert len(rows_shown(page)) == 18

    # Finding: by kind, by floor, by words; the filters are kept in the address.
    page.select_option("#cp-kind", "vacant_unit")
    assert rows_shown(page) == ["U0801", "U1003"]
    page.select_option("#cp-kind", "")
    page.select_option("#cp-floor", "B1")
    assert rows_shown(page) == ["PB1"]
    assert "floor=B1" in page.evaluate("() => location.hash")
    page.select_option("#cp-floor", "")
    page.fill("#cp-search", "电梯")
    assert rows_shown(page) == ["EL1", "EL2"]
    page.fill("#cp-search", "")

    # Create: a code already in use is refused at the code field, nothing is saved.
    before = count_checkpoints(query)
    page.click("#cp-new")
    page.select_option("#cp-f-kind", "floor")
    page.fill("#cp-f-name-zh", "11楼")
    page.fill("#cp-f-name-en", "Floor 11")
    page.fill("#cp-f-building", "A座")
    page.fill("#cp-f-floor", "11")
    page.fill("#cp-f-code", "F10")
    page.click("#cp-save")
    until(page, "() => document.querySelector('#cp-f-code-error')?.textContent.includes('已经有点位在用')", "code taken, said at the field")
    assert count_checkpoints(query) == before
    page.fill("#cp-f-code", "f-11")
    page.click("#cp-save")
    page.wait_for_selector("#cp-list [data-code='F11']")
    assert page.locator("#cp-editor").count() == 0
    f11 = checkpoint(query, "F11")
    assert (f11.name_zh, f11.name_en, f11.building, f11.floor, f11.kind, f11.active) == ("11楼", "Floor 11", "A座", "11", "floor", True)
    # A new place goes after every other one in the walking order.
    assert f11.position > max(c.position for c in query(lambda s: s.execute(select(Checkpoint).where(Checkpoint.short_code != "F11")).scalars().all()))

    # Edit.
    page.click(f"#cp-edit-{f11.id}")
    assert page.input_value("#cp-f-name-zh") == "11楼"
    page.fill("#cp-f-name-en", "Floor 11 (east)")
    page.click("#cp-save")
    until(page, "() => !document.querySelector('#cp-editor')", "editor closed")
    assert checkpoint(query, "F11").name_en == "Floor 11 (east)"
    shot(page, "manage-checkpoints")

    # Retire one that a plan covers: the screen says which plan, then it leaves the list.
    f03 = ids["F03"]
    page.click(f"#cp-retire-{f03}")
    assert "日常楼层巡查" in page.inner_text("#cp-retire-plans")
    page.click("#cp-retire-confirm")
    until(page, f"() => !document.querySelector('#cp-list [data-checkpoint=\"{f03}\"]')", "retired checkpoint left the list")
    assert checkpoint(query, "F03").active is False
    page.check("#cp-retired")
    page.wait_for_selector(f"#cp-list .cp-row.retired[data-checkpoint='{f03}']")
    page.click(f"#cp-restore-{f03}")
    until(page, f"() => document.querySelector('#cp-list [data-checkpoint=\"{f03}\"]') && !document.querySelector('#cp-list .cp-row.retired')", "back in use")
    assert checkpoint(query, "F03").active is True
    clean(page)


def test_reissuing_a_lost_label_makes_the_old_qr_answer_replaced(live_server, browser, ids, query):
    old_token = checkpoint(query, "F05").token
    page = open_as(browser, live_server, "manager")
    page.goto("/#/manage/checkpoints")
    page.click(f"#cp-edit-{ids['F05']}")
    page.click("#cp-reissue summary")
    page.click("#cp-reissue-confirm")
    page.wait_for_selector("#cp-reissued-label")
    assert checkpoint(query, "F05").token != old_token
    resolved = Api(live_server, "patroller").s.get(f"{live_server.url}/api/checkpoints/resolve?token={old_token}", timeout=10)
    assert resolved.status_code == 410 and resolved.json()["error"]["code"] == "label_replaced"
    assert page.get_attribute("#cp-reissued-label", "href") == f"/api/sites/{site_id(live_server)}/labels.pdf?checkpoint_ids={ids['F05']}"
    clean(page)


def test_supervisor_reads_exports_and_prints_labels_but_cannot_change_checkpoints(live_server, browser, ids, tmp_path):
    page = open_as(browser, live_server, "supervisor")
    page.goto("/#/manage/checkpoints")
    page.wait_for_selector("#cp-list .cp-row")
    assert page.is_visible("#cp-readonly")
    for absent in ("#cp-new", "#cp-import", "[id^='cp-edit-']", "[id^='cp-retire-']"):
        assert page.locator(absent).count() == 0, absent

    # Export: the whole site as CSV, with the byte-order mark Excel needs for Chinese.
    with page.expect_download() as download:
        page.click("#cp-export")
    data = open(download.value.path(), "rb").read()
    assert data.startswith(b"\xef\xbb\xbf" + HEADER.strip().encode())
    assert "一楼大堂".encode() in data and data.count(b"\n") == 19

    # A sheet of the ticked labels, in walking order whatever order they were ticked in.
    assert page.is_hidden("#cp-print-selected")
    page.check(f"#cp-pick-{ids['F02']}")
    page.check(f"#cp-pick-{ids['LOBBY']}")
    assert "已选 2 个" in page.inner_text("#cp-selected")
    href = page.get_attribute("#cp-print-selected", "href")
    assert href.endswith(f"checkpoint_ids={ids['LOBBY']}%2C{ids['F02']}")
    text = pdf_text(page, href, tmp_path)
    assert "LOBBY" in text and "F02" in text and "F03" not in text
    # One label on its own.
    single = pdf_text(page, page.get_attribute(f"#cp-label-{ids['EL1']}", "href"), tmp_path)
    assert "EL1" in single and "1号电梯轿厢" in single and "LOBBY" not in single
    clean(page)


def test_csv_import_shows_row_errors_first_and_changes_nothing_until_a_clean_preview_is_applied(live_server, browser, query):
    before = count_checkpoints(query)
    page = open_as(browser, live_server, "manager")
    page.goto("/#/manage/checkpoints")
    page.wait_for_selector("#cp-list .cp-row")
    page.click("#cp-import summary")

    bad = HEADER + "floor,11楼,Floor 11,A座,11,,F11,,\nflor,12楼,Floor 12,A座,12,,F12,,\nfloor,13楼,,A座,13,,F13,thirteen,\n"
    page.set_input_files("#cp-csv-file", files=[{"name": "a.csv", "mimeType": "text/csv", "buffer": bad.encode()}])
    page.click("#cp-csv-check")
    page.wait_for_selector("#cp-csv-errors")
    lines = page.evaluate("() => [...document.querySelectorAll('#cp-csv-errors tbody tr')].map((tr) => [Number(tr.dataset.line), tr.textContent])")
    assert [n for n, _ in lines] == [3, 4]
    assert "flor" in lines[0][1] and "position" in lines[1][1]
    assert page.locator("#cp-csv-apply").count() == 0
    shot(page, "manage-checkpoints-csv-errors")
    assert count_checkpoints(query) == before

    # The fixed file: the preview says what will happen, and still nothing has changed.
    good = HEADER + "floor,11楼,Floor 11,A座,11,,F11,,\nfloor,十楼（翻新）,Floor 10 (renovated),A座,10,,F10,,\nlobby,一楼大堂,Ground-floor lobby,A座,1,,LOBBY,0,\n"
    page.set_input_files("#cp-csv-file", files=[{"name": "b.csv", "mimeType": "text/csv", "buffer": good.encode("utf-8-sig")}])
    page.click("#cp-csv-check")
    page.wait_for_selector("#cp-csv-preview")
    preview = page.evaluate("() => [...document.querySelectorAll('#cp-csv-preview tbody tr')].map((tr) => [Number(tr.dataset.line), tr.dataset.action])")
    assert preview == [[2, "created"], [3, "updated"]]
    assert "1 个不变" in page.inner_text("#cp-csv-summary")
    assert count_checkpoints(query) == before and checkpoint(query, "F10").name_zh == "10楼"
    shot(page, "manage-checkpoints-csv-preview")

    page.click("#cp-csv-apply")
    page.wait_for_selector("#cp-csv-done")
    assert count_checkpoints(query) == before + 1
    assert checkpoint(query, "F11").name_en == "Floor 11" and checkpoint(query, "F10").name_zh == "十楼（翻新）"
    page.wait_for_selector("#cp-list [data-code='F11']")
    clean(page)


# --- patrol plans ---------------------------------------------------------------------------


def plan_in_db(query, name: str) -> PatrolPlan | None:
    return query(lambda s: s.execute(select(PatrolPlan).where(PatrolPlan.name_zh == name)).scalar_one_or_none())


def test_manager_writes_a_plan_sees_schedule_problems_then_pauses_and_edits_it(live_server, browser, ids, query):
    page = open_as(browser, live_server, "manager")
    page.goto("/#/manage/plans")
    page.wait_for_selector("#plan-empty")
    page.click("#plan-new")
    page.wait_for_selector("#plan-form")
    page.fill("#plan-name-zh", "工作日楼层巡查")
    page.fill("#plan-name-en", "Weekday floor round")
    page.click("#plan-days-weekdays")
    # Two windows that overlap: the server names the problem, shown at the schedule.
    page.fill("#plan-win-0-start", "09:00")
    page.fill("#plan-win-0-end", "11:00")
    page.click("#plan-win-add")
    page.fill("#plan-win-1-start", "10:30")
    page.fill("#plan-win-1-end", "12:00")
    page.fill("#plan-cp-search", "F0")
    for code in ("F01", "F02", "F03"):
        page.click(f"#plan-add-{ids[code]}")
    page.click(f"#plan-up-{ids['F03']}")  # walking order F01, F03, F02
    page.fill("#plan-focus-zh", "注意消防通道是否堵塞")
    page.click("#plan-save")
    until(page, "() => document.querySelector('#plan-schedule-error')?.textContent === '时段 09:00-11:00 与 10:30-12:00 重叠。'", "overlap shown, in Chinese")
    assert plan_in_db(query, "工作日楼层巡查") is None
    shot(page, "manage-plan-schedule-error")

    # A night window crossing midnight instead.
    page.fill("#plan-win-1-start", "22:00")
    page.fill("#plan-win-1-end", "02:00")
    assert "次日" in page.inner_text("#plan-win-1-note")
    page.click("#plan-save")
    page.wait_for_selector("#plan-list .plan-row")
    plan = plan_in_db(query, "工作日楼层巡查")
    assert plan.schedule == {"days": [0, 1, 2, 3, 4], "windows": [["09:00", "11:00"], ["22:00", "02:00"]]}
    assert plan.checkpoint_ids == [ids["F01"], ids["F03"], ids["F02"]]
    assert (plan.name_en, plan.focus_zh, plan.active) == ("Weekday floor round", "注意消防通道是否堵塞", True)
    assert "工作日 09:00–11:00、22:00–次日 02:00" in page.inner_text(f"[data-plan='{plan.id}']")
    shot(page, "manage-plans")

    # Pause and resume from the list.
    page.click(f"#plan-toggle-{plan.id}")
    until(page, f"() => document.querySelector('[data-plan=\"{plan.id}\"]')?.classList.contains('paused')", "paused on screen")
    assert plan_in_db(query, "工作日楼层巡查").active is False
    page.click(f"#plan-toggle-{plan.id}")
    until(page, f"() => !document.querySelector('[data-plan=\"{plan.id}\"]')?.classList.contains('paused')", "running on screen")
    assert plan_in_db(query, "工作日楼层巡查").active is True

    # Edit: a retired checkpoint drops out (and the screen says so), another is removed by hand.
    Api(live_server, "admin").s.patch(f"{live_server.url}/api/checkpoints/{ids['F01']}", json={"active": False}, timeout=10).raise_for_status()
    page.click(f"#plan-open-{plan.id}")
    page.wait_for_selector("#plan-retired-note")
    assert "F01" in page.inner_text("#plan-retired-note")
    page.click(f"#plan-remove-{ids['F02']}")
    page.click("#plan-save")
    page.wait_for_selector("#plan-list")
    assert plan_in_db(query, "工作日楼层巡查").checkpoint_ids == [ids["F03"]]
    clean(page)


def test_supervisor_reads_plans_but_cannot_write_them(live_server, browser, ids):
    plan = demo_plan(live_server, ids, ["LOBBY", "F01"], name="大堂巡查")
    page = open_as(browser, live_server, "supervisor")
    page.goto("/#/manage/plans")
    page.wait_for_selector("#plan-list")
    assert page.locator("#plan-new").count() == 0 and page.locator(f"#plan-toggle-{plan['id']}").count() == 0
    page.click(f"#plan-open-{plan['id']}")
    page.wait_for_selector("#plan-view")
    assert page.locator("#plan-form").count() == 0
    assert page.evaluate("() => [...document.querySelectorAll('#plan-chosen li')].map((li) => Number(li.dataset.checkpoint))") == [ids["LOBBY"], ids["F01"]]
    clean(page)


# --- coverage -------------------------------------------------------------------------------


def local(day, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    """A Shanghai wall-clock time on `day` as the naive UTC the database keeps."""
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=SHANGHAI).astimezone(timezone.utc).replace(tzinfo=None)


def add_visits(query, ids, visits):
    def run(s):
        patroller = s.execute(select(User.id).where(User.username == "patroller")).scalar_one()
        site = s.execute(select(Site.id)).scalar_one()
        for code, at in visits:
            s.add(Visit(id=str(uuid.uuid4()), site_id=site, checkpoint_id=ids[code], user_id=patroller, device_id="phone-1", purpose="patrol",
                        scanned_at=at, scanned_at_device=at, received_at=at + timedelta(seconds=5), month=month_of(at, "Asia/Shanghai")))
        s.commit()

    query(run)


def test_coverage_shows_visited_missed_late_and_suspicious_scans_at_a_glance(live_server, browser, ids, query):
    plan = demo_plan(live_server, ids, ["F01", "F02", "F03"], windows=(("09:00", "11:00"),))
    # The plan was written a week ago (windows before a plan existed are not expected).
    query(lambda s: (s.execute(update(PatrolPlan).where(PatrolPlan.id == plan["id"]).values(created_at=datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(days=7))), s.commit()))
    yesterday = datetime.now(SHANGHAI).date() - timedelta(days=1)
    add_visits(query, ids, [
        ("F01", local(yesterday, 9, 30)),  # in the window
        ("F02", local(yesterday, 13, 5)),  # after it closed: late
        ("F05", local(yesterday, 9, 40, 0)),  # two different places five seconds apart: too fast
        ("F06", local(yesterday, 9, 40, 5)),
    ])

    page = open_as(browser, live_server, "supervisor")
    page.goto("/#/manage")
    page.click(".sub-nav a[href='#/manage/coverage']")
    page.wait_for_selector("#cov-form")
    page.click("#cov-yesterday")
    page.wait_for_selector(f"#cov-totals[data-from='{yesterday.isoformat()}'][data-to='{yesterday.isoformat()}']")
    count = lambda sel: int(page.get_attribute(sel, "data-count"))  # noqa: E731
    assert (count("#cov-planned"), count("#cov-visited"), count("#cov-missed"), count("#cov-late"), count("#cov-flags")) == (3, 1, 2, 1, 1)
    assert page.inner_text("#cov-rate .stat-n") == "33.3%"
    missed = {int(k): v for k, v in page.evaluate("() => Object.fromEntries([...document.querySelectorAll('#cov-missed-list .cov-missed')].map((li) => [li.dataset.checkpoint, [li.dataset.late, li.textContent]]))").items()}
    assert set(missed) == {ids["F02"], ids["F03"]}
    assert missed[ids["F02"]][0] == "1" and "迟到" in missed[ids["F02"]][1] and "13:05" in missed[ids["F02"]][1]
    assert missed[ids["F03"]][0] == "0" and "未到" in missed[ids["F03"]][1]
    flag = page.locator("#cov-flag-list .cov-flag")
    assert flag.count() == 1 and flag.get_attribute("data-type") == "too_fast"
    assert "演示巡查员" in flag.inner_text() and "5楼 (F05) → 6楼 (F06)" in flag.inner_text()
    floors = page.evaluate("() => [...document.querySelectorAll('#cov-by-floor tbody tr')].map((tr) => [...tr.children].map((c) => c.textContent))")
    assert ["A座 1层", "1", "1", "0", "100%"] in floors and ["A座 3层", "1", "0", "1", "0%"] in floors
    shot(page, "manage-coverage")

    # A range of days: one bar a day, and the plan filter keeps the figures of that plan.
    page.fill("#cov-from", (yesterday - timedelta(days=2)).isoformat())
    page.fill("#cov-to", yesterday.isoformat())
    page.select_option("#cov-plan", str(plan["id"]))
    page.click("#cov-apply")
    page.wait_for_selector(f"#cov-totals[data-from='{(yesterday - timedelta(days=2)).isoformat()}']")
    assert page.locator("#cov-chart-day g").count() == 3
    assert count("#cov-planned") == 9 and count("#cov-visited") == 1
    clean(page)


def test_patrollers_have_no_desk_screens_for_places(live_server, browser):
    page = open_as(browser, live_server, "patroller")
    for screen in ("manage/checkpoints", "manage/plans", "manage/coverage"):
        page.goto(f"/#/{screen}")
        # The hash changes in the same document: wait for this screen, not the one before it.
        until(page, f"() => location.hash === '#/{screen}' && !!document.querySelector('#app .screen h1')", f"{screen} drawn")
        until(page, "() => document.getElementById('app').innerText.includes('不是主管、经理或管理员')", f"{screen} says it is not a patroller's")
    clean(page)
