"""A round guided by the manager's plan, offline: today's round on home with progress and the next
checkpoint, a scan out of order counted, the missed checkpoints' reasons at the end, and all of it
reaching the server and its coverage report once back online."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from server.models import Checkpoint, MissedReason, PatrolPlan, Round, Site, Visit

from .app_driver import installed_app, login, serious_violations, shot, wait_count, wait_installed, wait_outbox, wait_ready
from .conftest import api_session, new_context

pytestmark = pytest.mark.browser

PLAN = ("F01", "F02", "F03", "F04")


def _ids(s):
    rows = s.execute(select(Checkpoint.short_code, Checkpoint.id, Checkpoint.site_id, Checkpoint.token)).all()
    return {code: (cid, site, token) for code, cid, site, token in rows}


def _site_now(query) -> datetime:
    cps = query(_ids)
    return datetime.now(ZoneInfo(query(lambda s: s.get(Site, cps["F01"][1]).timezone)))


def _plan_now(live_server, query, codes=PLAN, *, hours: int = 3, before: timedelta | None = None, after: timedelta | None = None) -> tuple[int, dict, int]:
    """A daily plan whose window runs now on the site's clock (from `hours` ago to `hours` ahead,
    or from `before` ago to `after` ahead)."""
    cps = query(_ids)
    site_id = cps["F01"][1]
    tz = query(lambda s: s.get(Site, site_id).timezone)
    now = datetime.now(ZoneInfo(tz))
    before = before if before is not None else timedelta(hours=hours)
    after = after if after is not None else timedelta(hours=hours)
    window = [(now - before).strftime("%H:%M"), (now + after).strftime("%H:%M")]
    r = api_session(live_server, "manager").post(
        f"{live_server.url}/api/sites/{site_id}/plans",
        json={"name_zh": "早班巡查", "name_en": "Morning round", "schedule": {"days": list(range(7)), "windows": [window]},
              "focus_zh": "重点看消防通道是否堵塞", "focus_en": "Watch the fire escapes",
              "checkpoint_ids": [cps[c][0] for c in codes]},
    )
    assert r.status_code == 201, r.text
    plan_id = r.json()["id"]

    def written_yesterday(s):
        # Coverage expects only windows that started after the plan was written.
        s.get(PatrolPlan, plan_id).created_at -= timedelta(days=1)
        s.commit()

    query(written_yesterday)
    return plan_id, cps, site_id


def _save_all_fine(page, code: str) -> None:
    """On the scan screen: type the checkpoint's code, tap "all fine"; the app saves and goes home."""
    page.fill("#code", code)
    page.click("#code-open")
    page.click("#all-fine")
    wait_ready(page, "home")
    page.wait_for_selector("#today-round")


def _states(page) -> dict:
    return page.evaluate("() => Object.fromEntries([...document.querySelectorAll('#round-list li')].map((li) => [li.innerText.match(/\\((\\w+)\\)/)[1], li.dataset.state]))")


def _looks(page, name: str) -> None:
    """Screenshots in zh and en, light and dark (the app's language button; the phone's colour scheme)."""
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for lang in ("zh", "en"):
            if page.evaluate("() => document.documentElement.lang.startsWith('zh')") != (lang == "zh"):
                page.click("button.lang")
                wait_ready(page)
            # The last save's toast has faded away.
            page.wait_for_function("() => { const t = document.getElementById('toast'); return !t || getComputedStyle(t).opacity === '0'; }")
            page.evaluate("() => window.scrollTo(0, 0)")
            shot(page, f"{name}_{lang}_{scheme}")
    page.emulate_media(color_scheme="light")
    if not page.evaluate("() => document.documentElement.lang.startsWith('zh')"):
        page.click("button.lang")
        wait_ready(page)


def _phone_with_the_plan(launch, live_server):
    """The patroller's installed phone (axe may be injected: CSP bypassed), holding the plan."""
    context = new_context(launch(), live_server, bypass_csp=True)
    page = context.new_page()
    page.goto("/")
    login(page)
    wait_installed(page)
    wait_count(page, "plans", lambda n: n == 1)
    return page


def test_plan_guided_round_offline_progress_next_out_of_order_and_missed_reasons_reach_coverage(live_server, launch, query):
    plan_id, cps, site_id = _plan_now(live_server, query)
    page = _phone_with_the_plan(launch, live_server)
    context = page.context
    wait_count(page, "sites", lambda n: n >= 1)
    context.set_offline(True)
    page.goto("/")
    wait_ready(page, "home")

    # Home: today's round from the plan, before it starts.
    card = page.wait_for_selector("#today-round")
    assert card.get_attribute("data-status") == "in_progress"
    assert "今日巡查" in page.inner_text("#today-title") and "早班巡查" in page.inner_text("#today-round")
    assert page.inner_text("#round-progress") == "已巡 0/4"
    assert "F01" in page.inner_text("#round-next")
    assert "重点看消防通道是否堵塞" in page.inner_text("#today-round")
    assert list(_states(page)) == list(PLAN)  # the plan's order
    assert serious_violations(page) == []
    _looks(page, "round_today")

    page.click("#start-round")
    page.wait_for_selector("#code")
    _save_all_fine(page, "F01")
    # Saved: the screen the patroller lands on offers the next checkpoint of the plan.
    assert page.get_attribute("#scan-next", "data-checkpoint") == str(cps["F02"][0])
    assert "F02" in page.inner_text("#scan-next")
    assert page.inner_text("#round-progress") == "已巡 1/4"

    # Out of the plan's order: F03 before F02 is taken and counted; F02 stays next.
    page.click("#scan-next")
    page.wait_for_selector("#code")
    page.wait_for_function("() => /F02/.test(document.getElementById('scan-round')?.textContent || '')")
    assert page.inner_text("#scan-round").startswith("已巡 1/4")
    _save_all_fine(page, "F03")
    assert page.inner_text("#round-progress") == "已巡 2/4"
    assert _states(page) == {"F01": "visited", "F02": "next", "F03": "visited", "F04": "todo"}
    assert "F02" in page.inner_text("#scan-next")
    assert page.query_selector("#round-done") is None
    assert serious_violations(page) == []
    _looks(page, "round_today_progress")

    # The end lists what was missed and asks why (once the patroller confirms ending early).
    page.click("#end-round")
    page.click("#end-round-confirm")
    page.wait_for_selector("#missed-form")
    assert page.inner_text("#sum-visited") == "2"
    missed = page.inner_text("#sum-missed")
    assert "F02" in missed and "F04" in missed and "F01" not in missed and "F03" not in missed
    page.click("#missed-send")  # nothing chosen yet: it says which one needs a reason
    assert "F02" in page.inner_text("#missed-error")
    page.click(f"#missed-{cps['F02'][0]} [data-reason='locked']")
    page.click(f"#missed-{cps['F04'][0]} [data-reason='other']")
    page.click("#missed-send")  # "other" needs words
    assert "F04" in page.inner_text("#missed-error")
    assert page.evaluate("() => document.activeElement.id") == f"missed-note-{cps['F04'][0]}"
    page.fill(f"#missed-note-{cps['F04'][0]}", "<b>业主装修</b>，楼道封闭")
    assert serious_violations(page) == []
    _looks(page, "round_missed_reasons")  # the choices survive a language change (a redraw)
    assert page.get_attribute(f"#missed-{cps['F02'][0]} [data-reason='locked']", "aria-pressed") == "true"
    page.click("#missed-send")
    page.wait_for_selector("#missed-given")
    assert page.get_attribute("#missed-status", "data-sent") == "false"
    given = page.inner_text("#missed-given")
    assert "上锁" in given and "<b>业主装修</b>，楼道封闭" in given
    shot(page, "round_missed_given_zh_light")

    out = wait_outbox(page, lambda r: len(r) == 5)
    assert [x["kind"] for x in out] == ["round.start", "visit.record", "visit.record", "round.end", "round.missed"]
    assert all(x["status"] == "pending" for x in out)  # offline: all on the phone
    # The outbox names the reasons' record by what it says, not by its kind.
    page.goto("/#/outbox")
    row = page.inner_text(".out-row[data-kind='round.missed']")
    assert "2楼: 上锁" in row and "4楼: 其他" in row  # F02 and F04, by name
    page.go_back()
    page.wait_for_selector("#missed-given")

    # Back online, still on the summary: the app syncs (as on the phone's "online" event), and the screen says the reasons went.
    context.set_offline(False)
    page.evaluate("async () => (await import('/static/pwa/sync.js')).syncNow()")
    out = wait_outbox(page, lambda r: len(r) == 5 and all(x["status"] == "sent" for x in r))
    page.wait_for_selector("#missed-status[data-sent='true']")
    assert "已发送" in page.inner_text("#missed-status")
    shot(page, "round_missed_sent_zh_light")

    def stored(s):
        rnd = s.execute(select(Round)).scalar_one()
        visits = s.execute(select(Visit.checkpoint_id).order_by(Visit.scanned_at)).scalars().all()
        reasons = s.execute(select(MissedReason.checkpoint_id, MissedReason.reason, MissedReason.note, MissedReason.plan_id)
                            .order_by(MissedReason.checkpoint_id)).all()
        return rnd.plan_id, rnd.status, visits, [tuple(r) for r in reasons]

    assert query(stored) == (
        plan_id, "ended", [cps["F01"][0], cps["F03"][0]],
        sorted([(cps["F02"][0], "locked", "", plan_id), (cps["F04"][0], "other", "<b>业主装修</b>，楼道封闭", plan_id)]),
    )
    # The supervisor's coverage report: the running window carries the reasons.
    body = api_session(live_server, "supervisor").get(f"{live_server.url}/api/sites/{site_id}/coverage?plan_id={plan_id}").json()
    running = [w for w in body["windows"] if w["status"] == "in_progress"]
    assert len(running) == 1
    assert running[0]["visited"] == 2
    assert sorted((r["checkpoint_id"], r["reason"], r["note"]) for r in running[0]["reasons"]) == sorted(
        [(cps["F02"][0], "locked", ""), (cps["F04"][0], "other", "<b>业主装修</b>，楼道封闭")])
    # And on the desk's coverage screen, beside each checkpoint, the patroller's words as text.
    _desk, desk = installed_app(page.context.browser, live_server, "supervisor")
    desk.goto(f"/#/manage/coverage?site={site_id}&plan={plan_id}")
    desk.wait_for_selector("#cov-open .cov-reason")
    reasons = {int(li.get_attribute("data-checkpoint")): li.inner_text() for li in desk.query_selector_all("#cov-open .cov-missed")}
    assert set(reasons) == {cps["F02"][0], cps["F04"][0]}
    assert "上锁" in reasons[cps["F02"][0]] and "<b>业主装修</b>，楼道封闭" in reasons[cps["F04"][0]]
    assert desk.query_selector("#cov-open b") is None
    desk.locator("#cov-open").scroll_into_view_if_needed()
    shot(desk, "round_missed_reasons_desk_coverage")


def test_the_label_url_opens_its_checkpoint_within_a_round_without_a_plan(live_server, launch, query):
    """No plan applies: the round starts without one, and the phone's own camera app opening a label's URL lands on it."""
    cps = query(_ids)
    browser = launch()
    context, page = installed_app(browser, live_server)
    page.goto("/")
    wait_ready(page, "home")
    assert page.query_selector("#today-round") is None
    page.click("#start-round")
    page.fill("#code", "F02")
    page.click("#code-open")
    page.click("#all-fine")
    page.wait_for_selector("#code")  # a round without a plan goes straight on to the next scan
    page.goto(f"/c/{cps['LOBBY'][2]}")
    page.wait_for_selector("#all-fine")
    page.click("button[data-item='lobby.clean'][data-result='fail']")
    page.fill("#note-lobby-clean", "大堂地面有垃圾")
    page.click("#save-visit")
    page.wait_for_selector("#code")
    page.goto("/")
    page.click("#end-round")
    page.wait_for_selector("#sum-visited")
    assert page.inner_text("#sum-visited") == "2" and page.inner_text("#sum-failed") == "1"
    assert page.query_selector("#sum-missed") is None and page.query_selector("#missed-form") is None
    out = wait_outbox(page, lambda r: len(r) == 4 and all(x["status"] == "sent" for x in r))
    assert [x["kind"] for x in out] == ["round.start", "visit.record", "visit.record", "round.end"]

    def check(s):
        rnd = s.execute(select(Round)).scalar_one()
        return rnd.plan_id, rnd.status, s.execute(select(Visit.scan_method).order_by(Visit.scanned_at)).scalars().all()

    assert query(check) == (None, "ended", ["code", "url"])


WINDOW_MATH = """async ({plan, zone, now, visits}) => {
  const rounds = await import('/static/pwa/rounds.js');
  const win = rounds.currentWindow([plan], zone, new Date(now));
  if (!win) return null;
  const p = rounds.progress(win, visits.map(([id, at]) => ({ checkpoint_id: id, at: new Date(at) })), { now: new Date(now) });
  return { status: win.status, start: win.start.toISOString(), end: win.end.toISOString(), until: win.until.toISOString(),
           states: p.rows.map((r) => r.state), visited: p.visited, next: p.next, missed: p.missed, late: p.late };
}"""


def _server_windows(schedule: dict, zone: str, day) -> list[tuple[str, str]]:
    from server.plans import windows

    plan = PatrolPlan(id=1, schedule=schedule, checkpoint_ids=[1, 2, 3])
    return [(w.start.isoformat(timespec="milliseconds") + "Z", w.end.isoformat(timespec="milliseconds") + "Z") for w in windows(plan, zone, day, day)]


CASES = [
        # A night window crossing midnight, seen after midnight: it belongs to the day it started.
        ({"days": list(range(7)), "windows": [["22:00", "02:00"]]}, "Asia/Shanghai", "2026-12-03T17:30:00Z", [],
         {"status": "in_progress", "day": "2026-12-03", "states": ["next", "todo", "todo"], "visited": 0, "next": 1}),
        # The morning daylight-saving change in New York: 01:30 EST to 03:30 EDT is one hour.
        ({"days": list(range(7)), "windows": [["01:30", "03:30"]]}, "America/New_York", "2026-03-08T07:00:00Z", [(3, "2026-03-08T06:40:00Z")],
         {"status": "in_progress", "day": "2026-03-08", "states": ["next", "todo", "visited"], "visited": 1, "next": 1}),
        # Out of order: 3 and 1 visited; 2 is next.
        ({"days": list(range(7)), "windows": [["09:00", "11:00"]]}, "Asia/Shanghai", "2026-12-03T02:00:00Z",
         [(3, "2026-12-03T01:10:00Z"), (1, "2026-12-03T01:20:00Z")],
         {"status": "in_progress", "day": "2026-12-03", "states": ["visited", "next", "visited"], "visited": 2, "next": 2}),
        # Over: one visited in time, one after the end (late), one never (missed); a scan before the start does not count.
        ({"days": list(range(7)), "windows": [["09:00", "11:00"]]}, "Asia/Shanghai", "2026-12-03T05:00:00Z",
         [(3, "2026-12-03T00:50:00Z"), (1, "2026-12-03T02:00:00Z"), (2, "2026-12-03T04:00:00Z")],
         {"status": "ended", "day": "2026-12-03", "states": ["visited", "late", "missed"], "visited": 1, "next": None, "missed": 1, "late": 1}),
        # Before the day's window opens it is the one coming; a weekday outside the plan has none.
        ({"days": list(range(7)), "windows": [["09:00", "11:00"], ["15:00", "17:00"]]}, "Asia/Shanghai", "2026-12-03T03:30:00Z", [],
         {"status": "upcoming", "day": "2026-12-03", "states": ["next", "todo", "todo"], "visited": 0, "next": 1}),
        ({"days": [0], "windows": [["09:00", "11:00"]]}, "Asia/Shanghai", "2026-12-03T02:00:00Z", [], None),  # a Thursday
]


def test_todays_window_and_progress_on_the_phone_follow_the_servers_plan_rules(live_server, launch):
    """rounds.js (offline, on the phone) finds the same windows as server/plans.py and counts visits by the coverage rule."""
    browser = launch()
    page = browser.new_page()
    page.goto(f"{live_server.url}/manifest.webmanifest")  # a document of the app's origin under its page policy, to import its modules (a static file's own policy runs nothing)
    for n, (schedule, zone, now, visits, expected) in enumerate(CASES):
        plan = {"id": 1, "schedule": schedule, "checkpoint_ids": [1, 2, 3]}
        got = page.evaluate(WINDOW_MATH, {"plan": plan, "zone": zone, "now": now, "visits": visits})
        if expected is None:
            assert got is None, n
            continue
        expected = dict(expected)
        server = _server_windows(schedule, zone, date.fromisoformat(expected.pop("day")))
        assert (got["start"], got["end"]) in server, (n, got, server)  # the same instants as the server's coverage
        assert {k: got[k] for k in expected} == expected, n


# The phone's clock moved on by `ms` (the server measures and corrects the offset of each push).
CLOCK_AHEAD = """(ms) => {
  const Real = Date;
  class Shifted extends Real {
    constructor(...args) { if (args.length) super(...args); else super(Real.now() + ms); }
    static now() { return Real.now() + ms; }
  }
  globalThis.Date = Shifted;
}"""


def test_after_the_window_home_says_what_was_missed_and_what_came_late(live_server, launch, query):
    """F01 in the window; then the window closes: F02 scanned afterwards is late, F03 and F04 are missed."""
    # The window and the jump of the phone's clock stay within today on the site's clock (past
    # midnight the daily plan's next window is "upcoming", which is right, but not this case).
    now = _site_now(query)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    to_midnight = int((midnight - now).total_seconds() // 60)
    since_midnight = now.hour * 60 + now.minute
    after = timedelta(minutes=max(2, min(60, to_midnight // 3)))
    before = timedelta(minutes=max(2, min(60, since_midnight // 2)))
    _plan_now(live_server, query, before=before, after=after)
    browser = launch()
    context, page = installed_app(browser, live_server)
    wait_count(page, "plans", lambda n: n == 1)
    page.goto("/")
    page.click("#start-round")
    page.wait_for_selector("#code")
    _save_all_fine(page, "F01")
    page.click("#end-round")
    page.click("#end-round-confirm")
    page.wait_for_selector("#missed-form")
    # Later on the phone's clock: the window ended as long ago as it had still to run.
    context.add_init_script(f"({CLOCK_AHEAD})({int(2 * after.total_seconds() * 1000) + 60_000})")
    page.goto("/")
    wait_ready(page, "home")
    assert page.get_attribute("#today-round", "data-status") == "ended"
    assert page.query_selector("#start-round") is not None and page.query_selector("#round-next") is None  # nothing is "next" any more
    page.goto("/#/scan")
    page.fill("#code", "F02")
    page.click("#code-open")
    page.click("#all-fine")
    wait_ready(page, "home")  # not in a round: home
    page.wait_for_selector("#round-late")
    assert _states(page) == {"F01": "visited", "F02": "late", "F03": "missed", "F04": "missed"}
    assert (page.get_attribute("#round-late", "data-missed"), page.get_attribute("#round-late", "data-late")) == ("2", "1")
    assert "漏巡 2 个" in page.inner_text("#round-late")
    assert page.query_selector("#missed-pending") is not None  # the last round's reasons are still to give
    _looks(page, "round_today_ended")
    page.click("#missed-pending")
    page.wait_for_selector("#missed-form")
    missed = page.inner_text("#sum-missed")
    assert "F02" in missed and "F03" in missed and "F04" in missed and "F01" not in missed
    # A shared phone: the next person is not asked to explain another's round.
    page.click("#logout")
    page.wait_for_selector("#login-submit")
    login(page, "supervisor")
    page.goto("/")
    wait_ready(page, "home")
    assert page.inner_text("#round-progress") == "已巡 0/4"  # their own visits, none yet
    assert page.query_selector("#missed-pending") is None
    page.goto("/#/round/summary")
    wait_ready(page, "summary")
    assert page.query_selector("#missed-form") is None and page.query_selector("#sum-visited") is None


def test_ending_a_round_early_asks_first_and_home_then_says_the_round_ended(live_server, launch, query):
    """One checkpoint of four visited, hours of the window left: "end round" asks first, saying
    how many are not visited and how long the window still runs; cancel keeps the round. Ended,
    home says the round ended (the window still runs: another round may start by the plan),
    with nothing "next" and no "in progress"."""
    _plan_now(live_server, query)
    page = _phone_with_the_plan(launch, live_server)
    page.goto("/")
    page.click("#start-round")
    page.wait_for_selector("#code")
    _save_all_fine(page, "F01")

    page.click("#end-round")
    page.wait_for_selector("#end-round-ask")
    text = page.inner_text("#end-round-ask")
    assert "计划的 4 个点位中还有 3 个没巡：F02、F03、F04" in text
    assert "巡查时段到" in text and "小时" in text
    assert page.evaluate("() => document.activeElement.id") == "end-round-cancel"
    assert serious_violations(page) == []
    page.wait_for_function("() => { const t = document.getElementById('toast'); return !t || getComputedStyle(t).opacity === '0'; }")
    shot(page, "round_end_ask_zh")
    page.click("#end-round-cancel")
    page.wait_for_selector("#end-round")
    assert page.query_selector("#end-round-ask") is None
    assert page.evaluate("async () => (await import('/static/pwa/store.js')).get().round !== null")
    assert "round.end" not in [x["kind"] for x in wait_outbox(page, lambda r: len(r) == 2)]

    page.click("button.lang")
    wait_ready(page, "home")
    page.click("#end-round")
    page.wait_for_selector("#end-round-ask")
    assert "3 of the plan's 4 checkpoints are not visited yet" in page.inner_text("#end-round-ask")
    page.wait_for_function("() => { const t = document.getElementById('toast'); return !t || getComputedStyle(t).opacity === '0'; }")
    shot(page, "round_end_ask_en")
    page.click("#end-round-cancel")
    page.click("button.lang")
    wait_ready(page, "home")

    page.click("#end-round")
    page.click("#end-round-confirm")
    page.wait_for_selector("#missed-form")
    page.goto("/")
    wait_ready(page, "home")
    page.wait_for_selector("#today-round[data-ended='true']")
    assert page.inner_text("#round-status").startswith("本轮已于")
    assert page.query_selector("#round-next") is None and page.query_selector("#round-again") is not None
    assert page.inner_text("#start-round") == "再按计划开始一轮"
    assert "next" not in _states(page).values()
    assert _states(page)["F01"] == "visited"
    page.evaluate("() => window.scrollTo(0, 0)")
    shot(page, "round_home_after_end_zh")
    page.click("button.lang")
    wait_ready(page, "home")
    page.wait_for_selector("#today-round[data-ended='true']")
    assert page.inner_text("#round-status").startswith("Round ended")
    shot(page, "round_home_after_end_en")
