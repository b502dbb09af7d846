"""Fixtures: a fresh database per test (a real SQLite file, or PostgreSQL when
TEST_DATABASE_URL is set), the app, API clients logged in per role, the demo site.

The data a test starts from (the demo site, a second site) is built once per worker into
a template and copied for each test (tests/support/database.py); a test asks for it by
naming the fixture (`demo`, `other_site`, `seeded`), as before.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from server import create_app
from server.demo import DEMO_SITE, seed
from server.extensions import db
from server.models import Site

from .support.api import ApiClient
from .support.database import PostgresTemplates, SqliteTemplates, app_config
from .support.phone import Phone
from .support.sites import make_site

BASE_PG_URL = os.environ.get("TEST_DATABASE_URL", "")
# Under pytest-xdist each worker gets a database of its own (created on first use), so
# workers never truncate each other's tables.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
PG_URL = f"{BASE_PG_URL}_{WORKER}" if BASE_PG_URL and WORKER else BASE_PG_URL
OTHER_SITE = "OTHER"


def _other_site():
    return make_site(OTHER_SITE, "其他大厦", prefix="other-")


def demo_site() -> Site:
    """The demo site of the test's database (loaded by `seed()` if the template did not have it)."""
    site = db.session.execute(select(Site).where(Site.code == DEMO_SITE)).scalar_one_or_none()
    return site or seed()[0]


# The data sets a test can start from: (template name, builders, config for the builders),
# chosen by the first of these fixtures the test uses.
DATA_SETS = {
    "other_site": ("other", [seed, _other_site], {}),
    # The browser suite's live server runs with the production password hash.
    "seeded": ("demo_scrypt", [seed], {"PASSWORD_HASH_METHOD": "scrypt"}),
    "demo": ("demo", [seed], {}),
}


@pytest.fixture(scope="session")
def databases(tmp_path_factory):
    """This worker's templates: the schema built once, each data set built on first use."""
    tmp = tmp_path_factory.mktemp("templates")
    templates = PostgresTemplates(BASE_PG_URL, PG_URL, tmp) if PG_URL else SqliteTemplates(tmp)
    yield templates
    templates.close()


def fresh_database(databases, tmp_path, fixture: str = "") -> str:
    """A database holding exactly data set `fixture` (see DATA_SETS), or the empty schema."""
    name, builders, config = DATA_SETS.get(fixture, ("", [], {}))
    return databases.database(tmp_path, name, builders, config)


@pytest.fixture
def db_url(databases, tmp_path, request) -> str:
    """A fresh database for this test, with the full schema and the data its fixtures name."""
    wanted = next((f for f in DATA_SETS if f in request.fixturenames), "")
    return fresh_database(databases, tmp_path, wanted)


@pytest.fixture
def app(db_url, tmp_path):
    app = create_app(app_config(db_url, tmp_path))
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
def archive_dir(app) -> Path:
    """This test's own ARCHIVE_DIR (app_config puts it under tmp_path), for tests that look at the files."""
    return Path(app.config["ARCHIVE_DIR"])


@pytest.fixture
def demo(app):
    """The demo site, as `make run` loads it."""
    return demo_site()


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
    site = db.session.execute(select(Site).where(Site.code == OTHER_SITE)).scalar_one_or_none()
    return site or _other_site()


@pytest.fixture
def phone(as_role, demo):
    """The patroller's phone on the demo site."""
    return Phone(as_role("patroller"), demo.id)


def _uncoded(described, path: str = "") -> list[str]:
    """Each entry of a details.field_errors without a code, or whose code has no sentence."""
    from server import i18n

    if isinstance(described, dict) and "code" in described and "message" in described:
        code = described["code"]
        row = i18n.table().get(f"err_{code}") if code else None
        return [] if row else [f"{path}: {described['message']!r} (code {code})"]
    if isinstance(described, dict):
        return [x for k, v in described.items() for x in _uncoded(v, f"{path}.{k}" if path else str(k))]
    if isinstance(described, list):
        return [x for v in described for x in _uncoded(v, path)]
    return []


@pytest.fixture(autouse=True)
def every_field_problem_has_a_code(monkeypatch):
    """Every field problem a client is sent in this test (an API answer's or a sync rejection's
    details.field_errors) has a stable code with a Chinese and an English sentence: the phone and
    the desk show a problem without one in the server's English. Each test that sends bad input
    (the fuzzer's included) checks it; server/field_errors.py says where codes come from."""
    from server import field_errors

    original, found = field_errors.with_codes, []

    def checked(details, *args):
        out = original(details, *args)
        found.extend(_uncoded(out.get("field_errors") if isinstance(out, dict) else None))
        return out

    monkeypatch.setattr(field_errors, "with_codes", checked)
    yield
    assert found == [], "field problems sent without a translated code"
