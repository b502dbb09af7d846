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
