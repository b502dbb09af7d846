"""The OpenAPI document and the browsable docs, served with nothing from outside."""

import re



def test_openapi_lists_every_api_endpoint(app, client):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops if m in ("get", "post", "put", "patch", "delete")}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint in ("api-docs.openapi_json", "web.api_docs"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (method, path) in documented, (method, path)


def test_api_docs_page_loads_only_local_assets(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert refs and all(ref.startswith("/") and not ref.startswith("//") for ref in refs), refs
    for ref in refs:
        assert client.get(ref).status_code == 200, ref
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "<script>" not in html  # no inline script under the CSP


def test_a_new_legal_hold_answers_only_what_its_schema_allows(as_role, demo, client):
    """A hold that stands has no release yet: the answer says null, so the document must allow
    null there (a fuzz run found a 201 that broke the published schema)."""
    answer = as_role("admin").post(f"/api/archive/sites/{demo.id}/holds", json={"reason": "保险理赔 insurance claim"})
    assert answer.status_code == 201
    body = answer.get_json()
    assert body["released_at"] is None and body["released_by"] is None
    properties = client.get("/api/openapi.json").get_json()["components"]["schemas"]["Hold"]["properties"]
    for name, value in body.items():
        if value is None:
            assert properties[name].get("nullable") is True, name
