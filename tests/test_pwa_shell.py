"""What the phone app's service worker precaches: the patroller's shell, without the desk, the archive or the QR decoder."""

from __future__ import annotations

import json

from server import web


def shell(client) -> list[str]:
    text = client.get("/sw.js").get_data(as_text=True)
    return json.loads("[" + text.split("const SHELL = [", 1)[1].split("];", 1)[0].replace("'", '"') + "]")


def test_the_shell_holds_the_patrol_screens_and_the_translation_table_but_not_the_online_screens(client):
    urls = shell(client)
    for needed in ("/i18n/phone.json", "/static/pwa/vocab.js", "/static/pwa/policy.js", "/static/pwa/ui/checkpoint.js", "/static/pwa/ui/problem.js"):
        assert needed in urls, needed
    left_out = [u for u in urls if u.startswith(("/static/pwa/ui/manage/", "/static/pwa/ui/archive/", "/static/pwa/vendor/jsqr/")) or u in ("/static/pwa/ui/online.js", "/static/pwa/manage.css", "/i18n/desk.json", "/static/pwa/strings.json")]
    assert left_out == []
    # Left out of the first load, but served to those who open them.
    for lazy in ("/static/pwa/ui/manage/desk.js", "/static/pwa/ui/archive/months.js", "/static/pwa/ui/online.js", "/static/pwa/manage.css"):
        assert client.get(lazy).status_code == 200, lazy


def test_the_one_translation_table_is_served_in_two_parts_that_add_up_to_it(client):
    """The phone's part holds every word a patrol screen names; the desk's, only what desk and
    archive screens alone name; together, exactly the one table."""
    import re

    from server import choices, i18n

    phone = client.get("/i18n/phone.json").get_json()
    desk = client.get("/i18n/desk.json").get_json()
    table = i18n.table()
    assert not phone.keys() & desk.keys()
    assert {**phone, **desk} == table
    assert len(desk) > len(table) // 4  # the split is worth having: the desk's words are many
    # Every key a patrol-screen module quotes is in the phone's part, and so is every label of the vocabulary.
    for path in sorted(web.PWA.rglob("*.js")):
        rel = path.relative_to(web.PWA).as_posix()
        if rel.startswith(("vendor/", *web.DESK_MODULES)):
            continue
        for key in re.findall(r"t\('([a-z][a-z0-9_]*)'", path.read_text(encoding="utf-8")):
            if key in table:
                assert key in phone, (rel, key)
    for key in table:
        if key.startswith(tuple(choices.LABEL_KEYS.values())):
            assert key in phone, key
    # Words a desk screen names and the phone never does wait for the desk (e.g. the archive's).
    assert any(k.startswith("arc_") for k in desk)
    # Revalidated by its hash; an unknown part is a 404.
    tag = client.get("/i18n/phone.json").headers["ETag"]
    assert client.get("/i18n/phone.json", headers={"If-None-Match": tag}).status_code == 304
    assert client.get("/i18n/secret.json").status_code == 404


def test_the_archivists_old_page_is_gone_and_only_one_qr_decoder_is_served(client):
    assert client.get("/static/archive/index.html").status_code == 404
    assert client.get("/static/archive/archive.js").status_code == 404
    assert client.get("/static/pwa/vendor/jsqr/jsQR.js").status_code == 404
    assert client.get("/static/pwa/vendor/jsqr/jsqr.mjs").status_code == 200


def test_the_app_version_changes_with_any_file_of_the_app(tmp_path, monkeypatch):
    monkeypatch.delenv("PWA_VERSION", raising=False)
    app = tmp_path / "pwa"
    (app / "ui").mkdir(parents=True)
    (app / "app.js").write_text("// one")
    (app / "ui" / "home.js").write_text("// two")
    monkeypatch.setattr(web, "PWA", app)
    before = web.pwa_version()
    (app / "ui" / "home.js").write_text("// two, changed")
    assert web.pwa_version() != before
    (app / "ui" / "home.js").write_text("// two")
    assert web.pwa_version() == before
    (app / "vendor").mkdir()
    (app / "vendor" / "extra.js").write_text("// a file nobody loads is still part of the app's version")
    assert web.pwa_version() != before


def test_the_apps_files_carry_a_short_policy_that_lets_them_do_nothing_as_a_page_and_pages_keep_theirs(client):
    from server import security

    for url in ("/static/pwa/app.js", "/static/pwa/app.css", "/static/pwa/strings.json", "/static/pwa/icons/icon-192.png"):
        resp = client.get(url)
        assert resp.headers["Content-Security-Policy"] == security.STATIC_CSP, url
        assert resp.headers["X-Content-Type-Options"] == "nosniff" and "Content-Disposition" not in resp.headers, url
    for url in ("/", "/sw.js", "/manifest.webmanifest"):
        assert client.get(url).headers["Content-Security-Policy"] == security.CSP, url
    assert "Permissions-Policy" in client.get("/").headers
