"""iPhone readiness in WebKit at an iPhone's 390x844: the home-screen app's full-screen layout
keeps out of the notch and the home indicator, and Safari in a tab tells the person to add the
app to the home screen (Safari deletes a site's data after 7 days unused otherwise)."""

from __future__ import annotations

import pytest

from .app_driver import install, shot

pytestmark = pytest.mark.browser

IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1"
)

# An iPhone 14's insets in portrait, set where app.css reads env(safe-area-inset-*):
# WebKitGTK on a desktop has no notch, so its env() values are 0.
NOTCH_JS = """() => {
  const s = document.documentElement.style;
  s.setProperty('--safe-top', '47px');
  s.setProperty('--safe-bottom', '34px');
}"""

LAYOUT_JS = """() => {
  const r = (css) => document.querySelector(css).getBoundingClientRect();
  const links = [...document.querySelectorAll('#nav a')].map((a) => a.getBoundingClientRect());
  return {
    // The bar's first control (the app's name gives way to the logout button on a phone).
    bar_top: r('#net-status').top,
    bar_bottom: r('#bar').bottom,
    nav_links_bottom: Math.max(...links.map((l) => l.bottom)),
    nav_bottom: r('#nav').bottom,
    width: innerWidth, height: innerHeight,
  };
}"""


@pytest.mark.parametrize("engine", ["webkit"], indirect=True)
def test_home_screen_app_layout_keeps_out_of_the_notch_and_the_home_indicator(engine, phone):
    page = install(phone())
    html = page.evaluate("() => fetch('/').then((r) => r.text())")
    manifest = page.evaluate("() => fetch('/manifest.webmanifest').then((r) => r.json())")
    assert "viewport-fit=cover" in html and 'name="apple-mobile-web-app-status-bar-style" content="black-translucent"' in html
    assert manifest["display"] == "standalone"

    page.evaluate(NOTCH_JS)
    page.goto("/#/outbox")
    page.evaluate(NOTCH_JS)
    page.wait_for_selector("#sync-now")
    layout = page.evaluate(LAYOUT_JS)
    shot(page, "webkit_iphone_safe_areas")
    assert (layout["width"], layout["height"]) == (390, 844)
    assert layout["bar_top"] >= 47  # the bar's controls below the status bar and the notch
    assert layout["nav_bottom"] == 844 and layout["nav_links_bottom"] <= 844 - 34  # tabs above the home indicator


@pytest.mark.parametrize("engine", ["webkit"], indirect=True)
def test_safari_in_a_tab_shows_a_dismissable_add_to_home_screen_hint(engine, phone):
    page = install(phone(webkit_args=[f"--user-agent={IPHONE_SAFARI}"]))
    page.wait_for_selector("#install-hint")
    shot(page, "webkit_iphone_install_hint")
    assert "添加到主屏幕" in page.inner_text("#install-hint")
    page.click("#bar button.lang")
    page.wait_for_function("() => document.querySelector('#install-hint').innerText.includes('Add to Home Screen')")
    page.click("#install-hint-ok")
    assert page.evaluate("() => document.querySelectorAll('#install-hint').length") == 0
    page.reload()
    page.wait_for_selector("#nav a")
    assert page.evaluate("() => document.querySelectorAll('#install-hint').length") == 0


@pytest.mark.parametrize("engine", ["webkit"], indirect=True)
def test_no_install_hint_outside_ios(engine, phone):
    page = install(phone())  # WebKitGTK's own Linux user agent
    page.goto("/#/outbox")
    page.wait_for_selector("#sync-now")
    assert page.evaluate("() => document.querySelectorAll('#install-hint').length") == 0
