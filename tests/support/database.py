"""Test databases: each fixture data set is built once per worker into a template, and each test gets a copy.

A data set is a list of builders (functions run in an app context that commit), e.g. the
demo site. SQLite: the template is a file, copied per test. PostgreSQL: the worker's
database gets the template's rows kept in a schema of their own (one `tpl_<name>` per
data set); a test's database is TRUNCATEd and refilled from it with INSERT ... SELECT,
and the sequences are set back to where the builders left them. Either way a test
starts from exactly the rows the builders made, with the same ids, as if it had run
them itself, without paying for them (password hashing, checklist loading) every time.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from server import create_app
from server.extensions import db

Builder = Callable[[], object]


def app_config(url: str, tmp: Path, **extra) -> dict:
    """The config of every test app (and of the apps that build templates)."""
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "PHOTO_DIR": str(tmp / "photos"),
        "ARCHIVE_DIR": str(tmp / "archives"),
        "LOGIN_MAX_FAILURES": 5,
        # Cheaper scrypt for speed; test_config checks the production default.
        "PASSWORD_HASH_METHOD": "scrypt:4096:8:1",
        **extra,
    }


def _run(url: str, tmp: Path, builders: list[Builder], config: dict) -> None:
    app = create_app(app_config(url, tmp, **config))
    with app.app_context():
        for build in builders:
            build()
            db.session.commit()
        db.session.remove()
        db.engine.dispose()


class SqliteTemplates:
    """Template files: the empty schema, and one file per data set built on a copy of it."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.files: dict[str, Path] = {}
        empty = tmp / "empty.sqlite3"
        app = create_app(app_config(f"sqlite:///{empty}", tmp))
        with app.app_context():
            db.create_all()
            db.session.commit()
            db.engine.dispose()
        self.files[""] = empty

    def database(self, target_dir: Path, name: str = "", builders: list[Builder] = (), config: dict | None = None) -> str:
        """A fresh database for one test: a copy of data set `name`'s template."""
        if name not in self.files:
            path = self.tmp / f"{name}.sqlite3"
            shutil.copy(self.files[""], path)
            _run(f"sqlite:///{path}", self.tmp, list(builders), config or {})
            self.files[name] = path
        target = target_dir / "patrol.sqlite3"
        shutil.copy(self.files[name], target)
        return f"sqlite:///{target}"

    def close(self) -> None:
        pass


class PostgresTemplates:
    """The worker's database, refilled per test from a schema that holds a data set's rows."""

    def __init__(self, base_url: str, url: str, tmp: Path):
        self.url, self.tmp = url, tmp
        if url != base_url:
            _ensure_database(base_url, make_url(url).database)
        self.engine: Engine = create_engine(url)
        self.tables = [t.name for t in db.metadata.sorted_tables]
        app = create_app(app_config(url, tmp))
        with app.app_context():
            db.session.execute(text("DROP SCHEMA public CASCADE"))
            db.session.execute(text("CREATE SCHEMA public"))
            db.session.commit()
            db.create_all()
            db.session.commit()
            db.engine.dispose()
        with self.engine.begin() as conn:
            for (schema,) in conn.execute(text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tpl\\_%'")):
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            # Every sequence behind a serial/identity column, to put back after a refill.
            self.sequences = [
                seq for (seq,) in conn.execute(text(
                    "SELECT pg_get_serial_sequence(quote_ident(c.table_name), c.column_name) FROM information_schema.columns c "
                    "WHERE c.table_schema = 'public'"))
                if seq
            ]
        self.refills: dict[str, str] = {"": ""}

    def _truncate(self) -> str:
        return "TRUNCATE {} RESTART IDENTITY CASCADE".format(", ".join(f'"{t}"' for t in self.tables))

    def database(self, target_dir: Path, name: str = "", builders: list[Builder] = (), config: dict | None = None) -> str:
        """The worker's database, emptied and refilled with data set `name`'s rows."""
        if name not in self.refills:
            self._build(name, list(builders), config or {})
        with self.engine.begin() as conn:
            conn.exec_driver_sql(self._truncate() + ";" + self.refills[name])
        return self.url

    def close(self) -> None:
        self.engine.dispose()

    def _build(self, name: str, builders: list[Builder], config: dict) -> None:
        with self.engine.begin() as conn:
            conn.exec_driver_sql(self._truncate())
        self.engine.dispose()
        _run(self.url, self.tmp, builders, config)
        schema = f"tpl_{name}"
        statements = []
        with self.engine.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            for table in self.tables:
                if conn.execute(text(f'SELECT EXISTS (SELECT 1 FROM "{table}")')).scalar():
                    conn.exec_driver_sql(f'CREATE TABLE "{schema}"."{table}" AS SELECT * FROM "{table}"')
                    statements.append(f'INSERT INTO "{table}" SELECT * FROM "{schema}"."{table}"')
            for seq in self.sequences:
                last, called = conn.execute(text(f"SELECT last_value, is_called FROM {seq}")).one()
                if called:
                    statements.append(f"SELECT setval('{seq}', {last}, true)")
        self.engine.dispose()
        self.refills[name] = ";".join(statements)


def _ensure_database(base_url: str, name: str) -> None:
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
