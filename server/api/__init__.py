"""HTTP resources: the API object documenting the one error shape, and one module per resource, registered in MODULES order."""

from apispec.ext.marshmallow import MarshmallowPlugin
from flask_smorest import Api

from ..errors import ErrorSchema
from . import archive, auth, checklists, checkpoints, client_errors, complaints, coverage, devices, findings, meta, notifications, photos, plans, residents, sites, sync, tasks, users, webhooks

MODULES = [meta, auth, users, sites, checkpoints, checklists, plans, coverage, sync, photos, devices, findings, tasks, notifications, webhooks, archive, complaints, residents, client_errors]


def schema_name(schema) -> str:
    """OpenAPI component names: the class name without 'Schema', 'Partial' for partial loads."""
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__.removesuffix("Schema") or cls.__name__
    if not isinstance(schema, type) and schema.partial:
        name += "Partial"
    return name


class PatrolApi(Api):
    """flask-smorest's Api, documenting our one error shape."""

    ERROR_SCHEMA = ErrorSchema


api = PatrolApi(spec_kwargs={"marshmallow_plugin": MarshmallowPlugin(schema_name_resolver=schema_name)})
