"""Screenshots (390x844) of the screens issue 13 changed, light and dark, Chinese and English; the app bar keeps one line."""

from __future__ import annotations

import pytest

from .app_driver import login, open_by_code, record_all_fine, shot, wait_installed, wait_outbox
from .conftest import new_context

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_changed_screens_in_both_languages_and_schemes(live_server, launch, scheme):
    browser = launch()
    context = new_context(browser, live_server, color_scheme=scheme)
    page = context.new_page()
    page.goto("/")
    login(page)
    wait_installed(page)
    # Something sent today, and something still on the phone (a record with a photo).
    record_all_fine(page, "F01")
    wait_outbox(page, lambda r: r and all(x["status"] == "sent" for x in r))
    context.set_offline(True)
    record_all_fine(page, "F02")
    for lang in ("zh", "en"):
        page.evaluate(f"async () => (await import('/static/pwa/store.js')).set({{ lang: '{lang}' }})")
        for route, ready, name in (
            ("", "#logout", "home_bar"),
            ("outbox", "#unsent-summary", "outbox"),
            ("about", "#about-version", "about"),
        ):
            page.goto(f"/#/{route}")
            page.wait_for_selector(ready)
            page.wait_for_timeout(200)  # let the screen settle before the picture
            # The bar keeps one line with the logout button in it, in either language.
            bar = page.evaluate("() => { const b = document.getElementById('bar'); return { sw: b.scrollWidth, cw: b.clientWidth, h: b.getBoundingClientRect().height }; }")
            assert bar["sw"] <= bar["cw"] and bar["h"] < 90, bar
            shot(page, f"day_{name}_{lang}_{scheme}")
        open_by_code(page, "F07")
        page.click("button[data-item='floor.lights_doors_windows'][data-result='fail']")
        page.locator("#sound-floor-lights_doors_windows").scroll_into_view_if_needed()
        shot(page, f"day_checkpoint_sound_{lang}_{scheme}")
        # Cancel the visit: scanning F07 again would take this one up (with its problem marked).
        page.click("#cancel-visit")
        page.wait_for_selector("#app[data-ready='home']")
        page.goto("/#/")
