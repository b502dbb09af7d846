"""Configuration from the environment, with safe defaults."""

import pytest

from server import ROOT, config


def test_production_refuses_to_start_without_a_secret_key(monkeypatch):
    monkeypatch.setenv("PATROL_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        config.from_env(ROOT)


def test_production_cookies_are_secure(monkeypatch):
    monkeypatch.setenv("PATROL_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    cfg = config.from_env(ROOT)
    assert cfg["SESSION_COOKIE_SECURE"] is True
    assert cfg["SESSION_COOKIE_HTTPONLY"] is True
    assert cfg["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_development_generates_and_keeps_a_secret_key(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("PATROL_ENV", raising=False)
    first = config.from_env(tmp_path)["SECRET_KEY"]
    assert len(first) >= 64
    assert config.from_env(tmp_path)["SECRET_KEY"] == first
    assert (tmp_path / "instance" / "secret_key").stat().st_mode & 0o077 == 0


def test_defaults_match_the_domain(monkeypatch, tmp_path):
    for name, *_ in config.SETTINGS:
        if name not in ("SECRET_KEY",):
            monkeypatch.delenv(name, raising=False)
    cfg = config.from_env(tmp_path)
    assert cfg["TASK_DUE_DAYS"] == 7
    assert cfg["RETENTION_MONTHS"] == 24
    assert cfg["DEFAULT_TIMEZONE"] == "Asia/Shanghai"
    assert cfg["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/instance/patrol.sqlite3"
    assert cfg["PASSWORD_HASH_METHOD"] == "scrypt"  # full strength outside tests


def test_postgres_urls_use_psycopg3(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db/patrol")
    assert config.from_env(tmp_path)["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/patrol"


def test_a_bad_number_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("TASK_DUE_DAYS", "seven")
    with pytest.raises(RuntimeError, match="TASK_DUE_DAYS must be a whole number"):
        config.from_env(tmp_path)


def test_readme_documents_every_setting():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, *_ in config.SETTINGS:
        assert f"`{name}`" in readme, name


def test_label_font_defaults_to_the_font_installed_with_the_app(monkeypatch, tmp_path):
    from server import fonts

    monkeypatch.delenv("LABEL_FONT", raising=False)
    cfg = config.from_env(tmp_path)
    assert cfg["LABEL_FONT"] == ""
    setting = fonts.font_setting(cfg)
    assert setting.path == fonts.delivered_font() and setting.path.endswith("wqy-microhei.ttc")
    monkeypatch.setenv("LABEL_FONT", "/srv/fonts/own.ttf")
    monkeypatch.setenv("LABEL_FONT_INDEX", "2")
    setting = fonts.font_setting(config.from_env(tmp_path))
    assert (setting.path, setting.index, setting.configured) == ("/srv/fonts/own.ttf", 2, True)
