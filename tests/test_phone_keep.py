"""How long phones keep confirmed photo and sound bytes: a setting the server sends in /api/meta."""

from server import config


def test_meta_tells_phones_the_keep_days_from_the_setting(app, monkeypatch, tmp_path):
    assert app.test_client().get("/api/meta").get_json()["phone"] == {"keep_media_days": 14}
    monkeypatch.setenv("PHONE_KEEP_MEDIA_DAYS", "3")
    assert config.from_env(tmp_path)["PHONE_KEEP_MEDIA_DAYS"] == 3
    app.config["PHONE_KEEP_MEDIA_DAYS"] = 3
    assert app.test_client().get("/api/meta").get_json()["phone"] == {"keep_media_days": 3}
