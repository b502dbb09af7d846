"""HTTP resources: one module per resource, each exposing `blp`, registered in this order."""

from . import auth, checklists, checkpoints, meta, sites, users

MODULES = [meta, auth, users, sites, checkpoints, checklists]
