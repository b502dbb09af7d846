"""The browsable API docs render in a real browser with no request leaving the server."""

import pytest

from .conftest import guard_origin

pytestmark = pytest.mark.browser


def test_api_docs_render_from_this_server_only(live_server, launch):
    browser = launch()
    page = browser.new_page()
    outside: list = []
    guard_origin(page, live_server, outside)
    csp_errors: list = []
    page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(live_server.url + "/api/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=20000)
    assert "Patrol API" in page.inner_text(".swagger-ui .info .title")
    # Every resource module appears as a tag with its operations.
    page.wait_for_selector(".opblock-tag-section")
    tags = page.locator(".opblock-tag").all_inner_texts()
    assert any("auth" in t.lower() for t in tags) and any("checkpoints" in t.lower() for t in tags)
    assert outside == []
    assert csp_errors == []
