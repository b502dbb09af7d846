"""The pages that serve the phone app: service worker version and shell, gzip, QR links."""

from __future__ import annotations

import gzip
import hashlib
import json


def test_service_worker_names_its_version_and_precaches_every_module_but_the_qr_decoder(client, monkeypatch):
    monkeypatch.setenv("PWA_VERSION", "v-test")
    resp = client.get("/sw.js")
    text = resp.get_data(as_text=True)
    assert resp.headers["Cache-Control"] == "no-cache"
    assert "const VERSION = 'v-test';" in text
    shell = json.loads("[" + text.split("const SHELL = [", 1)[1].split("];", 1)[0].replace("'", '"') + "]")
    assert "/" in shell and "/static/pwa/app.js" in shell and "/static/pwa/vendor/idb/idb.js" in shell
    assert "/static/pwa/ui/checkpoint.js" in shell and "/static/pwa/icons/icon-192.png" in shell
    # The large icons (home-screen install only) are fetched once the worker is active, into the same version's cache.
    after = json.loads("[" + text.split("const AFTER = [", 1)[1].split("];", 1)[0] + "]")
    assert "/static/pwa/icons/icon-512.png" in after and not set(after) & set(shell)
    # Each shell file's SHA-256, so the worker can take the copy the page just loaded without asking again.
    hashes = json.loads("{" + text.split("const HASHES = {", 1)[1].split("};", 1)[0] + "}")
    assert set(hashes) == set(shell)
    assert hashes["/static/pwa/app.js"] == hashlib.sha256(client.get("/static/pwa/app.js").get_data()).hexdigest()
    assert hashes["/"] == hashlib.sha256(client.get("/").get_data()).hexdigest()
    assert not any("jsqr" in url.lower() for url in shell)
    for url in shell + after:
        assert client.get(url).status_code == 200, url


def test_text_assets_are_gzipped_and_revalidate_to_304(client):
    resp = client.get("/static/pwa/strings.json", headers={"Accept-Encoding": "gzip, br"})
    assert resp.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in resp.headers["Vary"]
    body = gzip.decompress(resp.data).decode()
    assert "全部正常" in body and len(resp.data) < len(body.encode()) / 2
    again = client.get("/static/pwa/strings.json", headers={"Accept-Encoding": "gzip", "If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304
    plain = client.get("/static/pwa/strings.json")
    assert "Content-Encoding" not in plain.headers


def test_qr_label_url_opens_the_app_at_that_checkpoint(client):
    resp = client.get("/c/abcDEF123_-x")
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/#/scan/abcDEF123_-x")


def test_manifest_makes_the_app_installable(client):
    resp = client.get("/manifest.webmanifest")
    data = json.loads(gzip.decompress(resp.data) if resp.headers.get("Content-Encoding") == "gzip" else resp.data)
    assert resp.mimetype == "application/manifest+json"
    assert data["display"] == "standalone" and data["start_url"] == "/"
    sizes = {(i["sizes"], i.get("purpose", "any")) for i in data["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in data["icons"]:
        assert client.get(icon["src"]).status_code == 200
