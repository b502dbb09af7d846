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
    patrol_text = "\n".join(p.read_text(encoding="utf-8") for p in web.PWA.rglob("*.js")
                             if not p.relative_to(web.PWA).as_posix().startswith(("vendor/", *web.DESK_MODULES)))
    named = [prefix for name, prefix in choices.LABEL_KEYS.items() if f"'{name}'" in patrol_text]
    assert "st_" in named or "task_state_" in named  # the patrol screens label task states
    for key in table:
        if key.startswith(tuple(named)):
            assert key in phone, key  # a list the patrol screens label, e.g. vocab.label('task_states', …)
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


def test_the_apps_modules_are_served_without_comments_and_still_parse(client, tmp_path):
    """Phones get the app's own modules and styles without comment lines (about a quarter of the
    shell's bytes); code, strings and template literals are untouched, and every served module
    still parses as an ES module (node --check)."""
    import shutil
    import subprocess

    src = "\n".join([
        "// a comment line",
        "/** a block",
        " * over lines */",
        "const a = 'http://example.invalid'; // kept: after code",
        "const b = `first line",
        "// inside a template literal: text, kept",
        "/* also text */`;",
        "  /* a block on its own line */",
        "export { a, b };",
        "",
    ])
    out = web.strip_comments(src)
    assert out.splitlines() == [
        "const a = 'http://example.invalid'; // kept: after code",
        "const b = `first line",
        "// inside a template literal: text, kept",
        "/* also text */`;",
        "export { a, b };",
    ]
    assert web.strip_comments("/* top */\na { color: red; }\n  /* x */\nb { margin: 0 }\n", css=True) == "a { color: red; }\nb { margin: 0 }\n"

    served = client.get("/static/pwa/app.js")
    raw = (web.PWA / "app.js").read_text(encoding="utf-8")
    assert served.status_code == 200 and served.mimetype == "text/javascript"
    assert len(served.data) < len(raw.encode()) and "// The controller" in raw and b"// The controller" not in served.data
    assert client.get("/static/pwa/app.js", headers={"If-None-Match": served.headers["ETag"]}).status_code == 304
    # Vendored libraries keep their licence headers; nothing outside the app's folder is served.
    assert client.get("/static/pwa/vendor/idb/idb.js").data == (web.PWA / "vendor/idb/idb.js").read_bytes()
    assert client.get("/static/pwa/../../__init__.py").status_code == 404
    # The service worker's hashes are of the bytes phones get, so it can reuse the page's copies.
    assert web.shell_hashes()["/static/pwa/app.js"] == __import__("hashlib").sha256(served.data).hexdigest()

    node = shutil.which("node")
    assert node, "node runs the browser tests' Firefox bridge; it checks the served modules here"
    for path in sorted(web.PWA.rglob("*.js")):
        rel = path.relative_to(web.PWA).as_posix()
        if rel.startswith("vendor/") or rel == "sw.js":
            continue
        copy = tmp_path / (rel.replace("/", "__")[:-3] + ".mjs")
        copy.write_bytes(client.get(f"/static/pwa/{rel}").data)
        check = subprocess.run([node, "--check", str(copy)], capture_output=True, text=True)
        assert check.returncode == 0, (rel, check.stderr)
