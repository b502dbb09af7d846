"""The archivist's screens inside the app (#/archive): months, sealing, bundle and addendum downloads,
exports, legal holds and the retention preview, at phone and desk width, in Chinese and English."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import uuid
import zipfile
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from server.models import Checkpoint, ItemResult, Site, User, Visit, utcnow
from server.timeutil import month_of

from .app_driver import login, shot
from .conftest import LiveServer, new_context

pytestmark = pytest.mark.browser

DESK = {"width": 1280, "height": 800}


@pytest.fixture
def server(seeded, db_url, tmp_path):
    """The app with its own archive folder; records are kept 0 months, so a filed month can be purged."""
    live = LiveServer(db_url, tmp_path)
    live.start(ARCHIVE_DIR=str(tmp_path / "archives"), RETENTION_MONTHS="0")
    yield live
    live.kill()
    live.log.close()


def last_month() -> tuple[str, datetime]:
    """The month before this one (at the demo site), and a moment in it (naive UTC)."""
    first = utcnow().replace(day=1, hour=4, minute=0, second=0, microsecond=0)
    at = first - timedelta(days=12)
    return month_of(at, "Asia/Shanghai"), at


def add_visit(query, code: str, at: datetime, addendum: bool = False) -> str:
    """A patrol visit recorded directly (as sync would have stored it), with two item results."""

    def add(s):
        site = s.scalars(select(Site)).one()
        cp = s.execute(select(Checkpoint).where(Checkpoint.short_code == code)).scalar_one()
        patroller = s.execute(select(User).where(User.username == "patroller")).scalar_one()
        visit = Visit(id=str(uuid.uuid4()), site_id=site.id, checkpoint_id=cp.id, user_id=patroller.id, device_id="test", purpose="patrol",
                      scanned_at=at, scanned_at_device=at, received_at=utcnow(), scan_method="qr", month=month_of(at, site.timezone),
                      addendum=addendum, note="")
        s.add(visit)
        s.flush()
        s.add_all([ItemResult(visit_id=visit.id, item_id="floor.clean", result="ok"), ItemResult(visit_id=visit.id, item_id="floor.fire_escape_clear", result="ok")])
        s.commit()
        return visit.id

    return query(add)


def open_as(browser, server, username: str, viewport=None):
    """A logged-in page; the Content-Security-Policy violations it reports are kept in page.csp_errors."""
    context = new_context(browser, server)
    page = context.new_page()
    page.csp_errors = []
    page.on("console", lambda m: page.csp_errors.append(m.text) if "Content Security Policy" in m.text else None)
    if viewport:
        page.set_viewport_size(viewport)
    page.goto("/")
    login(page, username)
    return context, page


def no_sideways_scroll(page) -> None:
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"


def download(page, selector: str) -> bytes:
    with page.expect_download() as info:
        page.click(selector)
    with open(info.value.path(), "rb") as f:
        return f.read()


def test_archivist_seals_last_month_downloads_the_bundle_and_an_addendum_exports_and_holds(server, launch, query):
    month, at = last_month()
    add_visit(query, "F01", at)
    add_visit(query, "F02", at + timedelta(days=2))
    browser = launch()
    context, page = open_as(browser, server, "archivist")

    # The archivist's navigation: the archive, not the desk or the scanner.
    expect(page.locator("#nav a[href='#/archive']")).to_be_visible()
    assert page.locator("#nav a[href='#/manage'], #nav a[href='#/scan']").count() == 0
    page.click("#nav a[href='#/archive']")
    card = page.locator(f"#month-{month}")
    expect(card).to_have_attribute("data-state", "open")
    assert "巡查 2" in card.inner_text()
    this_month = page.locator(".month").first
    assert this_month.get_attribute("data-month") > month
    assert this_month.locator("button").count() == 0  # not ended: nothing to seal yet
    no_sideways_scroll(page)
    shot(page, "archive-months-zh")

    # Seal asks first, saying what sealing does; cancel leaves the month open.
    page.click(f"#seal-{month}")
    confirm = page.locator(f"#seal-box-{month}")
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text("只读")
    expect(confirm).to_contain_text("补录")
    shot(page, "archive-seal-confirm-zh")
    page.click(f"#seal-cancel-{month}")
    expect(confirm).to_be_hidden()
    page.reload()
    expect(page.locator(f"#month-{month}")).to_have_attribute("data-state", "open")
    # Seal, confirmed: the month is filed, its bundle listed with its hash, and downloads as those bytes.
    page.click(f"#seal-{month}")
    page.click(f"#seal-confirm-{month}")
    expect(card).to_have_attribute("data-state", "archived", timeout=30000)
    # When it was sealed, in the app's way of writing a time (12月6日 05:45), not a table's 2026-12-06.
    sealed_at = card.locator(".hint").first.inner_text()
    assert re.search(r"封存于 (\d{4}年)?\d{1,2}月\d{1,2}日 \d{2}:\d{2}", sealed_at), sealed_at
    expect(page.locator("#toast")).to_contain_text(f"{month} 已封存归档")
    bundle = card.locator(".month-file[data-kind='bundle']")
    recorded = bundle.locator(".sha").get_attribute("title").removeprefix("SHA-256 ")
    data = download(page, f"#month-{month} .month-file[data-kind='bundle'] a >> nth=0")
    assert hashlib.sha256(data).hexdigest() == recorded
    assert any(name.endswith("manifest.json") for name in zipfile.ZipFile(io.BytesIO(data)).namelist())
    # The printable record on its own: the record.pdf inside that zip, byte for byte.
    pdf = download(page, f"#month-{month} .month-file[data-kind='bundle'] a.record-pdf")
    top = [n for n in zipfile.ZipFile(io.BytesIO(data)).namelist() if n.endswith("/record.pdf")][0]
    assert pdf.startswith(b"%PDF") and pdf == zipfile.ZipFile(io.BytesIO(data)).read(top)
    assert card.locator(f"#seal-{month}").count() == 0
    no_sideways_scroll(page)
    shot(page, "archive-months-sealed-zh")

    # A visit of that month synced late: checking for an addendum files one more file.
    add_visit(query, "F03", at + timedelta(days=3), addendum=True)
    page.click(f"#build-{month}")
    expect(card.locator(".month-file")).to_have_count(2, timeout=30000)
    extra = card.locator(".month-file").nth(1)
    assert extra.get_attribute("data-kind") != "bundle"
    data = download(page, f"#month-{month} .month-file >> nth=1 >> a >> nth=0")
    assert hashlib.sha256(data).hexdigest() == extra.locator(".sha").get_attribute("title").removeprefix("SHA-256 ")

    # Exports: the records of any days, here last month's visits as CSV.
    page.click(".sub-nav a[href='#/archive/exports']")
    page.fill("#export-from", (at - timedelta(days=20)).strftime("%Y-%m-%d"))
    page.fill("#export-to", (at + timedelta(days=5)).strftime("%Y-%m-%d"))
    text = download(page, "#export-download").decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(text)))) == 1 + 3  # a header and the three visits
    no_sideways_scroll(page)
    shot(page, "archive-exports-zh")

    # A legal hold on the month, then released.
    page.click(".sub-nav a[href='#/archive/holds']")
    page.fill("#hold-month", month)
    page.fill("#hold-reason", "业主投诉待查 a resident's complaint under review")
    page.click("#hold-submit")
    hold = page.locator("#hold-list li").first
    expect(hold).to_contain_text(f"月份 {month}")
    expect(hold).to_contain_text("保全中")
    no_sideways_scroll(page)
    shot(page, "archive-holds-zh")
    hold.locator("button").click()
    expect(page.locator("#hold-list li").first).not_to_contain_text("保全中")
    assert page.locator("#hold-list button").count() == 0

    # Retention: kept 0 months, the filed month is what the next purge would remove; nothing purged yet.
    page.click(".sub-nav a[href='#/archive/retention']")
    row = page.locator(f"#retention-list li[data-month='{month}']")
    expect(row).to_have_attribute("data-action", "purge")
    expect(row).to_contain_text("巡查 3")
    expect(page.locator("#purge-none")).to_be_visible()
    shot(page, "archive-retention-zh")

    # The same screens in English, and at desk width.
    page.click("#bar button.lang")
    page.click(".sub-nav a[href='#/archive']")
    expect(card).to_contain_text("Archived")
    expect(card).to_contain_text("3 visits")
    shot(page, "archive-months-en")
    page.set_viewport_size(DESK)
    expect(card).to_be_visible()
    no_sideways_scroll(page)
    shot(page, "archive-months-en-desk")
    page.click("#bar button.lang")
    expect(card).to_contain_text("已归档")
    shot(page, "archive-months-zh-desk")
    assert page.csp_errors == []  # the archive runs under the app's strict policy
    context.close()


def test_a_manager_reads_the_archive_but_does_not_file_and_a_patroller_has_none(server, launch, query):
    month, at = last_month()
    add_visit(query, "F01", at)
    browser = launch()
    context, page = open_as(browser, server, "manager")
    # People with the desk reach the archive from the desk's own links (the bottom bar has no room).
    assert page.locator("#nav a[href='#/archive']").count() == 0
    page.click("#nav a[href='#/manage']")
    page.click(".sub-nav a[href='#/archive']")
    card = page.locator(f"#month-{month}")
    expect(page.locator("#nav a.active")).to_have_attribute("href", "#/manage")
    expect(card).to_have_attribute("data-state", "open")
    assert page.locator(".month button").count() == 0  # sealing is the archivist's and the admin's
    page.click(".sub-nav a[href='#/archive/holds']")
    expect(page.locator("#hold-none")).to_be_visible()
    assert page.locator("#hold-form").count() == 0
    page.click(".sub-nav a[href='#/archive/exports']")
    expect(page.locator("#export-download")).to_be_visible()  # reading includes exports
    context.close()

    context, page = open_as(browser, server, "patroller")
    assert page.locator("#nav a[href='#/archive']").count() == 0
    page.goto("/#/archive")
    expect(page.locator("#no-role")).to_contain_text("档案员")
    context.close()
