"""HTTP resources: one module per resource, each exposing `blp`, registered in this order."""

from . import archive, auth, checklists, checkpoints, coverage, devices, findings, meta, notifications, photos, plans, sites, sync, tasks, users, webhooks

MODULES = [meta, auth, users, sites, checkpoints, checklists, plans, coverage, sync, photos, devices, findings, tasks, notifications, webhooks, archive]
