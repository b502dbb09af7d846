"""Migrations take an empty database to head and back, and agree with the models."""

from __future__ import annotations

import os
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text

from server import create_app
from server.extensions import db

PG_URL = os.environ.get("TEST_DATABASE_URL", "")


@pytest.fixture
def empty_db_url(tmp_path):
    """A brand-new empty database: an SQLite file, or a fresh PostgreSQL database."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'migrate.sqlite3'}"
        return
    name = f"patrol_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = PG_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_upgrade_from_empty_matches_the_models_and_downgrade_empties_it(empty_db_url, tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_db_url, "PHOTO_DIR": str(tmp_path / "p")})
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
        assert diff == [], f"models and migrations disagree; run `flask db migrate`: {diff}"
        tables = set(inspect(db.engine).get_table_names())
        assert {"sites", "users", "checkpoints", "visits", "findings", "tasks", "mutations", "audit_events"} <= tables
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()  # and back up again, as a real deploy after a rollback would
        assert "tasks" in set(inspect(db.engine).get_table_names())
        db.engine.dispose()


def test_seed_demo_runs_on_a_migrated_database(empty_db_url, tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_db_url, "PHOTO_DIR": str(tmp_path / "p")})
    with app.app_context():
        upgrade()
        runner = app.test_cli_runner()
        first = runner.invoke(args=["seed-demo"])
        second = runner.invoke(args=["seed-demo"])
        assert first.exit_code == 0 and "created" in first.output
        assert second.exit_code == 0 and "already there" in second.output
        db.session.remove()
        db.engine.dispose()
