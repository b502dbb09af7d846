"""Flask extensions (the database and its migrations), created unbound here and bound in the app factory.

The API object (flask-smorest) lives with the resources it documents, in `server.api`.
"""

import json
from datetime import datetime

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import JSON, DateTime, MetaData
from sqlalchemy.exc import DBAPIError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase

# Explicit constraint names, so migrations behave the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)
migrate = Migrate(compare_type=True, render_as_batch=True)


def dialect_insert(table):
    """INSERT with the database's ON CONFLICT clause (SQLite and PostgreSQL spell it alike)."""
    return (postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert)(table)


def insert_tuples(table, columns: tuple[str, ...], rows: list[tuple], json_text: tuple[str, ...] = (),
                  skip_conflicts_on: tuple[str, ...] = ()) -> int:
    """INSERT many rows given as tuples in `columns`' order: one driver executemany on the
    session's connection (so inside its transaction and savepoint), without SQLAlchemy
    Core's per-row parameter processing. For the big tables of a sync push.

    On PostgreSQL, rows without `skip_conflicts_on` go by COPY, and those with it as one
    INSERT … SELECT FROM unnest(one array per column): one round trip and one statement for
    all of them, where an executemany is a pipelined INSERT per row.
    Values go to the driver as they are, except through a column type's own bind processor
    where it has one (SQLite's DateTime, for one); a column named in `json_text` takes
    JSON already serialised (str), cast to the column's type on PostgreSQL. With
    `skip_conflicts_on` (a unique key's columns), a row whose key is taken is skipped
    (ON CONFLICT DO NOTHING). Returns how many rows were inserted.
    """
    conn = db.session.connection()
    dialect = conn.dialect
    quote = dialect.identifier_preparer.quote  # a column may be a keyword ("case")
    if dialect.name == "postgresql":
        if not rows:
            return 0
        if not skip_conflicts_on:
            return _copy_rows(conn, table, columns, rows, quote)
        return _insert_unnest(conn, table, columns, rows, json_text, skip_conflicts_on, quote)
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    marks, procs = [], []
    for name in columns:
        column = table.c[name]
        if name in json_text:
            marks.append(mark if dialect.name == "sqlite" else f"CAST({mark} AS {column.type.compile(dialect=dialect)})")
            procs.append(None)
        else:
            marks.append(mark)
            procs.append(_fast_sqlite_datetime(column.type._cached_bind_processor(dialect))
                         if dialect.name == "sqlite" and isinstance(column.type, DateTime) else column.type._cached_bind_processor(dialect))
    converts = [(i, f) for i, f in enumerate(procs) if f is not None]
    if converts:
        rows = _converted(rows, converts)
    names = ", ".join(quote(name) for name in columns)
    sql = f"INSERT INTO {quote(table.name)} ({names}) VALUES ({', '.join(marks)})"
    if skip_conflicts_on:
        sql += f" ON CONFLICT ({', '.join(quote(name) for name in skip_conflicts_on)}) DO NOTHING"
    return conn.exec_driver_sql(sql, rows).rowcount


def _insert_unnest(conn, table, columns, rows, json_text, skip_conflicts_on, quote) -> int:
    """PostgreSQL: INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING, each column's values
    as one array parameter cast to the column's type. The statement's text depends only on
    the columns, so the server prepares it once, whatever the number of rows."""
    dialect = conn.dialect
    arrays = []
    for name in columns:
        sql_type = table.c[name].type.compile(dialect=dialect)
        arrays.append(f"CAST(CAST(%s AS TEXT[]) AS {sql_type}[])" if name in json_text else f"CAST(%s AS {sql_type}[])")
    names = ", ".join(quote(name) for name in columns)
    sql = (f"INSERT INTO {quote(table.name)} ({names}) SELECT * FROM unnest({', '.join(arrays)}) "
           f"ON CONFLICT ({', '.join(quote(name) for name in skip_conflicts_on)}) DO NOTHING")
    return conn.exec_driver_sql(sql, tuple(list(values) for values in zip(*rows))).rowcount


def _converted(rows: list[tuple], converts: list[tuple[int, object]]) -> list[tuple]:
    """The rows with the values of the columns that have a bind processor passed through it.

    Only those columns are touched, and a naive datetime seen before in the same column is
    converted once: a push's rows share most of their times (the moment it was received,
    its `now`). Other values are converted each time (equal is not always the same text:
    two aware datetimes of one instant in two time zones, say).
    """
    out = []
    seen: list[dict] = [{} for _ in converts]
    for row in rows:
        row = list(row)
        for (i, convert), cache in zip(converts, seen):
            value = row[i]
            if value is None:
                continue
            if type(value) is datetime and value.tzinfo is None:
                text = cache.get(value)
                if text is None:
                    text = cache[value] = convert(value)
                row[i] = text
            else:
                row[i] = convert(value)
        out.append(tuple(row))
    return out


def _fast_sqlite_datetime(slow):
    """SQLite's DATETIME bind processor, for a naive datetime by `isoformat` (C): the very text
    SQLAlchemy stores ("YYYY-MM-DD HH:MM:SS.ffffff", microseconds always written), so stored
    values still compare as text with the rest. Anything else (an aware datetime, a date)
    goes through SQLAlchemy's own."""

    def process(value):
        if type(value) is datetime and value.tzinfo is None:
            return value.isoformat(" ", "microseconds")
        return slow(value)

    return process


def insert_rows(table, rows: list[dict]) -> int:
    """INSERT `rows` (dicts, each with every column of `table`) through `insert_tuples`: for the
    rows of a sync push, without Core's per-row parameter processing. JSON columns are
    serialised here. A row missing a column is a programming error (KeyError): Python-side
    column defaults are not applied."""
    if not rows:
        return 0
    columns = tuple(table.c.keys())
    json_columns = tuple(name for name in columns if isinstance(table.c[name].type, JSON))
    if json_columns:
        tuples = [tuple(json.dumps(row[c]) if c in json_columns else row[c] for c in columns) for row in rows]
    else:
        tuples = [tuple(row[c] for c in columns) for row in rows]
    return insert_tuples(table, columns, tuples, json_text=json_columns)


def _copy_rows(conn, table, columns: tuple[str, ...], rows: list[tuple], quote) -> int:
    """COPY `rows` into `table` on PostgreSQL through psycopg, on the session's connection (inside
    its transaction and savepoint, so a rollback undoes it like any INSERT). psycopg adapts
    each value by its Python type, as it does for parameters; a JSON column's value comes
    already serialised (str), which PostgreSQL reads as json/jsonb text."""
    if not rows:
        return 0
    names = ", ".join(quote(name) for name in columns)
    sql = f"COPY {quote(table.name)} ({names}) FROM STDIN"
    dbapi_error = conn.dialect.dbapi.Error
    try:
        with conn.connection.driver_connection.cursor() as cursor:
            with cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
    except dbapi_error as exc:
        # As SQLAlchemy wraps a driver error of any statement (a key taken is an
        # IntegrityError), so that callers handle a COPY's failure like an INSERT's.
        raise DBAPIError.instance(sql, None, exc, dbapi_error, dialect=conn.dialect) from exc
    return len(rows)
