"""Fixtures: a fresh database per test (a real SQLite file, or PostgreSQL when
TEST_DATABASE_URL is set), the app, API clients logged in per role, the demo site."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text

from server import create_app
from server.extensions import db

from .helpers import ApiClient, make_site

BASE_PG_URL = os.environ.get("TEST_DATABASE_URL", "")
# Under pytest-xdist each worker gets a database of its own (created on first use), so
# workers never truncate each other's tables.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
PG_URL = f"{BASE_PG_URL}_{WORKER}" if BASE_PG_URL and WORKER else BASE_PG_URL


def _ensure_pg_database(url: str) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    admin = create_engine(BASE_PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def _url_for(tmp: Path) -> str:
    return PG_URL or f"sqlite:///{tmp / 'patrol.sqlite3'}"


@pytest.fixture(scope="session")
def _schema(tmp_path_factory):
    """Build the schema once: a template SQLite file, or tables in the PostgreSQL test database."""
    tmp = tmp_path_factory.mktemp("schema")
    if PG_URL and PG_URL != BASE_PG_URL:
        _ensure_pg_database(PG_URL)
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": _url_for(tmp), "PHOTO_DIR": str(tmp / "photos")})
    with app.app_context():
        if PG_URL:
            db.session.execute(text("DROP SCHEMA public CASCADE"))
            db.session.execute(text("CREATE SCHEMA public"))
            db.session.commit()
        db.create_all()
        db.session.commit()
        db.engine.dispose()
    return tmp / "patrol.sqlite3"


@pytest.fixture
def db_url(_schema, tmp_path) -> str:
    """A fresh, empty database for this test, with the full schema."""
    if PG_URL:
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": PG_URL, "PHOTO_DIR": str(tmp_path / "photos")})
        with app.app_context():
            names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
            db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            db.session.commit()
            db.engine.dispose()
        return PG_URL
    target = tmp_path / "patrol.sqlite3"
    shutil.copy(_schema, target)
    return f"sqlite:///{target}"


@pytest.fixture
def app(db_url, tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": db_url,
            "PHOTO_DIR": str(tmp_path / "photos"),
            "ARCHIVE_DIR": str(tmp_path / "archives"),
            "LOGIN_MAX_FAILURES": 5,
            # Cheaper scrypt for speed; test_config checks the production default.
            "PASSWORD_HASH_METHOD": "scrypt:4096:8:1",
        }
    )
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def demo(app):
    """The demo site, as `make run` loads it."""
    from server.demo import seed

    site, _ = seed()
    return site


@pytest.fixture
def as_role(app, demo):
    """as_role("supervisor") → an ApiClient logged in as that demo user."""

    def make(username: str) -> ApiClient:
        c = ApiClient(app.test_client())
        c.login(username, "patrol-demo")
        return c

    return make


@pytest.fixture
def other_site(app, demo):
    """A second site, with one user per role named other-<role>."""
    return make_site("OTHER", "其他大厦", prefix="other-")
