"""What the app met on a phone and could not handle reaches the server's log (POST /api/client-errors)."""

from __future__ import annotations

import json
import time

import pytest

from .app_driver import installed_app

pytestmark = pytest.mark.browser

# The phone's storage answers a read of the drafts with a fault nobody planned for.
BREAK_DRAFTS_JS = """() => {
  const get = IDBObjectStore.prototype.get;
  IDBObjectStore.prototype.get = function (key) {
    if (this.name === 'drafts') throw new TypeError('drafts store broke');
    return get.call(this, key);
  };
}"""


def _client_errors(server, want: int, timeout: float = 15.0) -> list[dict]:
    """The client errors in the server's log, once there are `want` of them."""
    deadline = time.monotonic() + timeout
    while True:
        server.log.flush()
        text = open(server.log.name, encoding="utf-8", errors="replace").read()
        found = [json.loads(line.split("client error ", 1)[1]) for line in text.splitlines() if "client error {" in line]
        if len(found) >= want or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_a_fault_on_the_phone_is_said_on_its_screen_and_reaches_the_servers_log_once(browser, live_server):
    context, page = installed_app(browser, live_server)
    page.goto("/#/scan")
    page.wait_for_selector("#code")
    page.evaluate(BREAK_DRAFTS_JS)
    page.fill("#code", "F03")
    for _ in range(3):  # the patroller tries again: the screen says it each time
        page.click("#code-open")
        page.wait_for_function("() => document.querySelector('#scan-error').textContent.includes('drafts store broke')")
        page.evaluate("() => { document.querySelector('#scan-error').textContent = ''; }")
    # And an error no screen caught at all.
    page.evaluate("() => { Promise.reject(new RangeError('nobody caught me')); }")

    found = _client_errors(live_server, 2)
    time.sleep(3)  # the page batches for 2 s: anything more it would send is in by now
    found = _client_errors(live_server, 2)
    # One line for the three taps (those within the page's 2 s batch counted); who, where,
    # and where in the code.
    assert sorted(e["message"] for e in found) == ["RangeError: nobody caught me", "TypeError: drafts store broke"], found
    by_message = {e["message"]: e for e in found}
    broke = by_message["TypeError: drafts store broke"]
    assert 1 <= broke["count"] <= 3 and broke["screen"] == "scan" and broke["username"] == "patroller"
    assert "scan.js" in broke["stack"] or "db.js" in broke["stack"]
    assert by_message["RangeError: nobody caught me"]["count"] == 1
    context.close()
