"""Flask extensions (the database and its migrations), created unbound here and bound in the app factory.

The API object (flask-smorest) lives with the resources it documents, in `server.api`.
"""

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
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

    Values go to the driver as they are, except through a column type's own bind processor
    where it has one (SQLite's DateTime, for one); a column named in `json_text` takes
    JSON already serialised (str), cast to the column's type on PostgreSQL. With
    `skip_conflicts_on` (a unique key's columns), a row whose key is taken is skipped
    (ON CONFLICT DO NOTHING). Returns how many rows were inserted.
    """
    conn = db.session.connection()
    dialect = conn.dialect
    quote = dialect.identifier_preparer.quote  # a column may be a keyword ("case")
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    marks, procs = [], []
    for name in columns:
        column = table.c[name]
        if name in json_text:
            marks.append(mark if dialect.name == "sqlite" else f"CAST({mark} AS {column.type.compile(dialect=dialect)})")
            procs.append(None)
        else:
            marks.append(mark)
            procs.append(column.type._cached_bind_processor(dialect))
    if any(procs):
        rows = [tuple(v if f is None or v is None else f(v) for f, v in zip(procs, row)) for row in rows]
    names = ", ".join(quote(name) for name in columns)
    sql = f"INSERT INTO {quote(table.name)} ({names}) VALUES ({', '.join(marks)})"
    if skip_conflicts_on:
        sql += f" ON CONFLICT ({', '.join(quote(name) for name in skip_conflicts_on)}) DO NOTHING"
    return conn.exec_driver_sql(sql, rows).rowcount
