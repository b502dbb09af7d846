"""Flask extensions, created unbound here and bound in the app factory."""

from flask_migrate import Migrate
from apispec.ext.marshmallow import MarshmallowPlugin
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
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


def schema_name(schema) -> str:
    """OpenAPI component names: the class name without 'Schema', 'Partial' for partial loads."""
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__.removesuffix("Schema") or cls.__name__
    if not isinstance(schema, type) and schema.partial:
        name += "Partial"
    return name


class PatrolApi(Api):
    """flask-smorest's Api, documenting our one error shape."""

    from .errors import ErrorSchema as ERROR_SCHEMA


db = SQLAlchemy(model_class=Base)
migrate = Migrate(compare_type=True, render_as_batch=True)
api = PatrolApi(spec_kwargs={"marshmallow_plugin": MarshmallowPlugin(schema_name_resolver=schema_name)})
