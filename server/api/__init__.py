"""HTTP resources: one module per resource, each exposing `blp`, registered in this order."""

from . import auth, checklists, checkpoints, findings, meta, notifications, sites, tasks, users, webhooks

MODULES = [meta, auth, users, sites, checkpoints, checklists, findings, tasks, notifications, webhooks]
