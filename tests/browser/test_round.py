"""A round that follows the manager's plan ends with what was missed; a label's URL opens its checkpoint."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server.models import Checkpoint, Round, Visit

from .app_driver import installed_app, shot, wait_count, wait_outbox
from .conftest import api_session

pytestmark = pytest.mark.browser


def test_round_from_a_plan_ends_with_a_summary_of_missed_checkpoints(live_server, launch, query):
    def ids(s):
        rows = s.execute(select(Checkpoint.short_code, Checkpoint.id, Checkpoint.site_id, Checkpoint.token)).all()
        return {code: (cid, site, token) for code, cid, site, token in rows}

    cps = query(ids)
    site_id = cps["F01"][1]
    manager = api_session(live_server, "manager")
    r = manager.post(
        f"{live_server.url}/api/sites/{site_id}/plans",
        json={"name_zh": "早班巡查", "name_en": "Morning round", "schedule": {"days": [0, 1, 2, 3, 4, 5, 6], "windows": [["00:00", "23:59"]]},
              "checkpoint_ids": [cps[c][0] for c in ("F01", "F02", "F03")]},
    )
    assert r.status_code == 201, r.text
    plan_id = r.json()["id"]

    browser = launch()
    context, page = installed_app(browser, live_server)
    wait_count(page, "plans", lambda n: n == 1)
    page.goto("/#/outbox")
    page.goto("/")
    page.select_option("#plan", str(plan_id))
    shot(page, "home_plan")
    page.click("#start-round")
    page.fill("#code", "F02")
    page.click("#code-open")
    page.click("#all-fine")
    # Saved: the round moves on to the scan screen (navigating away earlier would abort
    # the IndexedDB write, as closing the tab mid-save would).
    page.wait_for_selector("#code")
    # Opening a label's URL (the phone's own camera app) lands on that checkpoint too.
    page.goto(f"/c/{cps['LOBBY'][2]}")
    page.wait_for_selector("#all-fine")
    page.click("button[data-item='lobby.clean'][data-result='fail']")
    page.fill("#note-lobby-clean", "大堂地面有垃圾")
    page.click("#save-visit")
    page.wait_for_selector("#code")
    page.goto("/")
    page.click("#end-round")
    page.wait_for_selector("#sum-missed")
    shot(page, "summary_plan")
    assert page.inner_text("#sum-visited") == "2"
    assert page.inner_text("#sum-failed") == "1"
    missed = page.inner_text("#sum-missed")
    assert "F01" in missed and "F03" in missed and "F02" not in missed

    out = wait_outbox(page, lambda r: len(r) == 4 and all(x["status"] == "sent" for x in r))
    assert [x["kind"] for x in out] == ["round.start", "visit.record", "visit.record", "round.end"]

    def check(s):
        rnd = s.execute(select(Round)).scalar_one()
        visits = s.execute(select(Visit).order_by(Visit.scanned_at)).scalars().all()
        return rnd.plan_id, rnd.status, [(v.round_id == rnd.id, v.scan_method) for v in visits]

    assert query(check) == (plan_id, "ended", [(True, "code"), (True, "url")])
