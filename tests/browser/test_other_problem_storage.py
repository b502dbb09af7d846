"""A photo of an "other problem" on a full phone: the patroller is told, nothing typed or taken is lost."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server.models import Finding, Photo

from .app_driver import installed_app, open_by_code, rows, wait_outbox, wait_rows
from .conftest import jpeg_bytes
from .storage_js import FILL_STORAGE_JS, FREE_STORAGE_JS

pytestmark = pytest.mark.browser

DESCRIPTION = "6楼走廊私拉电线给电动车充电 a wire run to charge an e-bike"


def photo(name: str) -> list[dict]:
    return [{"name": name, "mimeType": "image/jpeg", "buffer": jpeg_bytes()}]


def test_other_problem_photo_on_a_full_phone_says_so_and_keeps_the_problem_and_its_photos(live_server, launch, query):
    browser = launch()
    context, page = installed_app(browser, live_server)
    # A phone with little room: Chromium grants this origin 16 MiB (the app needs about 1).
    cdp = context.new_cdp_session(page)
    cdp.send("Storage.overrideQuotaForOrigin", {"origin": live_server.url, "quotaSize": 16 << 20})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    context.set_offline(True)

    open_by_code(page, "f06")
    page.click("#add-extra")
    page.select_option("#extra-cat-0", "security_hazard")
    page.fill("#extra-desc-0", DESCRIPTION)
    page.check("#extra-major-0")
    page.set_input_files("#extra-photo-0", files=photo("first.jpg"))
    page.wait_for_selector("#extra-0 .thumbs img")
    first = [p["id"] for p in rows(page, "photos")]
    assert len(first) == 1

    # The phone fills up; the second photo of the same problem cannot be kept.
    assert page.evaluate(FILL_STORAGE_JS) == "QuotaExceededError"
    page.set_input_files("#extra-photo-0", files=photo("second.jpg"))
    page.wait_for_selector("#save-notice:has-text('手机存储空间已满，照片没有保存')")
    assert errors == []  # told, not thrown
    # The problem is on screen as it was, with the photo taken before; storage holds that photo.
    assert page.input_value("#extra-cat-0") == "security_hazard"
    assert page.input_value("#extra-desc-0") == DESCRIPTION
    assert page.is_checked("#extra-major-0")
    assert page.locator("#extra-0 .thumbs img").count() == 1
    assert [p["id"] for p in rows(page, "photos")] == first
    assert rows(page, "outbox") == []

    # Room again: the photo is taken again, and the visit saves with both.
    page.evaluate(FREE_STORAGE_JS)
    page.set_input_files("#extra-photo-0", files=photo("second.jpg"))
    page.wait_for_function("() => document.querySelectorAll('#extra-0 .thumbs img').length === 2")
    assert page.inner_text("#save-notice") == ""
    page.click("#save-visit")
    page.wait_for_selector(".screen-home")
    [record] = rows(page, "outbox")
    [extra] = record["payload"]["extra_findings"]
    assert extra["description"] == DESCRIPTION and extra["severity"] == "major" and len(extra["photo_ids"]) == 2
    assert extra["photo_ids"][0] == first[0]

    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    wait_outbox(page, lambda r: len(r) == 1 and r[0]["status"] == "sent")
    wait_rows(page, "photos", lambda r: len(r) == 2 and all(p["status"] == "uploaded" for p in r))
    finding = query(lambda s: s.scalars(select(Finding).where(Finding.description == DESCRIPTION)).one())
    assert finding.category == "security_hazard" and finding.severity == "major"
    assert query(lambda s: sorted(p.id for p in s.scalars(select(Photo).where(Photo.finding_id == finding.id)))) == sorted(extra["photo_ids"])
    assert errors == []
    context.close()
