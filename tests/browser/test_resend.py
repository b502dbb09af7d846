"""A long outbox resent after lost answers uploads only what the server is missing (issue 16, point 3)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from server.models import Mutation, Photo, Visit

from .app_driver import installed_app, json_body, open_by_code, record_all_fine, rows, until, wait_outbox, wait_rows
from .conftest import jpeg_bytes

pytestmark = pytest.mark.browser

FINE = ["LOBBY", "F01", "F02", "F03", "F04", "F06", "F07", "F08", "F09", "F10", "EL1"]


def test_a_long_outbox_resent_after_a_lost_answer_sends_only_the_missing_records_and_photos(live_server, launch, query):
    browser = launch()
    context, page = installed_app(browser, live_server)
    context.set_offline(True)
    open_by_code(page, "f05")
    page.click("button[data-item='floor.fire_escape_clear'][data-result='fail']")
    page.fill("#note-floor-fire_escape_clear", "消防通道堆放杂物")
    page.set_input_files("#photo-floor-fire_escape_clear", files=[{"name": "a.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes()}])
    page.wait_for_selector("#item-floor-fire_escape_clear .thumbs img")
    page.click("#save-visit")
    page.wait_for_selector(".screen-home")
    for code in FINE:
        record_all_fine(page, code)
    first = [r["mutation_id"] for r in rows(page, "outbox")]
    assert len(first) >= 12

    # Back in signal: the push reaches the server, which commits it, and the answer is lost;
    # then the signal goes again (nothing more reaches the server).
    lost: list = []

    def lose_answer(route):
        if not lost and route.request.url.endswith("/api/sync/held"):
            route.continue_()  # nothing held yet
            return
        if lost or not route.request.url.endswith("/api/sync/push"):
            route.abort("internetdisconnected")
            return
        resp = route.fetch()
        lost.append({"status": resp.status, "encoding": route.request.headers.get("content-encoding"),
                     "ids": [m["mutation_id"] for m in json_body(route.request)["mutations"]]})
        route.abort("connectionreset")

    context.route("**/api/sync/**", lose_answer)
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    until(page, lambda: lost, "the push reached the server")
    context.set_offline(True)
    assert lost[0]["status"] == 200 and sorted(lost[0]["ids"]) == sorted(first)
    assert lost[0]["encoding"] == "gzip"  # Chromium has CompressionStream: the push went compressed
    assert query(lambda s: s.scalar(select(func.count()).select_from(Mutation))) == len(first)
    context.unroute("**/api/sync/**")

    # Two more visits offline; then the phone syncs again, watched.
    record_all_fine(page, "EL2")
    record_all_fine(page, "PLAZA")
    later = [r["mutation_id"] for r in rows(page, "outbox") if r["mutation_id"] not in first]
    assert len(later) == 2 and all(r["status"] == "pending" for r in rows(page, "outbox"))
    asked: list = []
    pushed: list = []
    puts: list = []

    def watch(route):
        req = route.request
        if req.url.endswith("/api/sync/held"):
            asked.append(json_body(req))
        elif req.url.endswith("/api/sync/push"):
            pushed.extend(m["mutation_id"] for m in json_body(req)["mutations"])
        elif req.method == "PUT":
            puts.append(req.url)
        route.continue_()

    context.route("**/api/**", watch)
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    wait_outbox(page, lambda r: len(r) == len(first) + 2 and all(x["status"] == "sent" for x in r))
    wait_rows(page, "photos", lambda r: len(r) == 1 and r[0]["status"] == "uploaded")

    # One question naming the whole outbox as a few seq ranges, then only the two new records.
    assert len(asked) == 1
    seqs = [r["device_seq"] for r in rows(page, "outbox")]
    named = {n for a, b in asked[0]["seqs"] for n in range(a, b + 1)}
    assert named == set(seqs) and len(asked[0]["seqs"]) <= 2
    assert sorted(pushed) == sorted(later)
    # The photo never reached the server: it is uploaded, once.
    assert len(puts) == 1

    def stored(s):
        return {
            "visits": s.scalar(select(func.count()).select_from(Visit)),
            "mutations": s.scalar(select(func.count()).select_from(Mutation)),
            "photos": [p.status for p in s.scalars(select(Photo))],
        }

    assert query(stored) == {"visits": len(FINE) + 3, "mutations": len(first) + 2, "photos": ["received"]}
