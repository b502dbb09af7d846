"""A whole patrol offline from a cold start, then synced exactly once (issue 5 acceptance)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from server.models import Checkpoint, Finding, ItemResult, Photo, Task, Visit

from .app_driver import login, rows, shot, wait_installed, wait_outbox
from .conftest import guard_origin, jpeg_bytes, new_context, qr_image, write_y4m

pytestmark = pytest.mark.browser


def _checkpoint(query, code: str) -> dict:
    return query(lambda s: s.execute(select(Checkpoint.id, Checkpoint.token).where(Checkpoint.short_code == code)).one()._asdict())


def _counts(query) -> dict:
    def run(s):
        return {
            "visits": s.scalar(select(func.count()).select_from(Visit)),
            "findings": s.scalar(select(func.count()).select_from(Finding)),
            "tasks": s.scalar(select(func.count()).select_from(Task)),
            "photos": s.scalar(select(func.count()).select_from(Photo).where(Photo.status == "received")),
        }

    return query(run)


def _first_visit_online(page) -> None:
    page.goto("/")
    login(page)
    wait_installed(page)


def _fill_one_failure(page, item_dom_id: str, item_id: str, note: str) -> None:
    page.click(f"button[data-item='{item_id}'][data-result='fail']")
    page.fill(f"#note-{item_dom_id}", note)
    page.set_input_files(f"#photo-{item_dom_id}", files=[{"name": "leak.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes()}])
    page.wait_for_selector(f"#item-{item_dom_id} .thumbs img")
    page.check(f"#major-{item_dom_id}")


def test_patrol_offline_from_cold_start_syncs_exactly_once_with_task_due_in_seven_days(live_server, launch, query, tmp_path):
    cp = _checkpoint(query, "F03")
    video = write_y4m(qr_image(f"{live_server.url}/c/{cp['token']}"), tmp_path / "qr.y4m")
    browser = launch(video)
    context = new_context(browser, live_server)
    leaks: list = []
    page = context.new_page()
    guard_origin(page, live_server, leaks)
    _first_visit_online(page)
    page.close()

    # Network off before the app opens: a cold start served by the service worker.
    context.set_offline(True)
    page = context.new_page()
    guard_origin(page, live_server, leaks)
    page.goto("/")
    page.wait_for_selector("#nav a")
    page.click("#nav a[href='#/scan']")
    # The fake camera shows the label; jsQR (loaded lazily, cached) decodes it.
    page.wait_for_selector("#all-fine", timeout=20000)
    shot(page, "checkpoint")
    _fill_one_failure(page, "floor-clean", "floor.clean", "楼道有积水 water on the floor")
    page.fill("#resident-note", "802 住户反映灯不亮")
    page.click("#save-visit")
    page.wait_for_selector(".screen-home")
    assert page.inner_text("#unsent") != ""
    outbox = rows(page, "outbox")
    assert [r["kind"] for r in outbox] == ["visit.record"]
    assert outbox[0]["status"] == "pending"
    photos = rows(page, "photos")
    assert len(photos) == 1 and photos[0]["status"] == "pending" and photos[0]["mime"] == "image/jpeg"
    page.close()

    # Closed and reopened, still offline: everything is still there.
    page = context.new_page()
    page.goto("/#/outbox")
    page.wait_for_selector(".out-row[data-kind='visit.record'][data-status='pending']")
    shot(page, "outbox_offline")
    # The bar counts records, as the outbox lists them; the visit's photo is named in its title.
    assert page.inner_text("#unsent").endswith(" 1")
    assert page.get_attribute("#unsent", "title") == "1 条记录、1 张照片未发送"
    visit = rows(page, "outbox")[0]["payload"]
    assert visit["scan_method"] == "qr" and visit["checkpoint_id"] == cp["id"]
    failed = [r for r in visit["results"] if r["result"] == "fail"]
    assert len(failed) == 1 and failed[0]["finding"]["severity"] == "major" and len(failed[0]["photo_ids"]) == 1
    assert _counts(query)["visits"] == 0

    # Back online: the app syncs by itself.
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    wait_outbox(page, lambda r: r and all(x["status"] == "sent" for x in r))
    page.wait_for_function("() => document.querySelector('#unsent').textContent.endsWith(' 0')")
    assert _counts(query) == {"visits": 1, "findings": 1, "tasks": 1, "photos": 1}

    def details(s):
        v = s.execute(select(Visit)).scalar_one()
        f = s.execute(select(Finding)).scalar_one()
        t = s.execute(select(Task)).scalar_one()
        oks = s.scalar(select(func.count()).select_from(ItemResult).where(ItemResult.result == "ok"))
        return v, f, t, oks

    v, f, t, oks = query(details)
    assert v.checkpoint_id == cp["id"] and v.resident_note == "802 住户反映灯不亮"
    assert f.item_id == "floor.clean" and f.severity == "major" and "water" in f.description
    assert oks == 5
    assert t.due_at - f.observed_at == timedelta(days=7)
    assert abs(f.observed_at - v.scanned_at) < timedelta(seconds=5)
    assert leaks == []
