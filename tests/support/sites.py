"""Builders of sites beyond the demo one: a site with two checkpoints and one user per role."""

from __future__ import annotations

from server import choices
from server.accounts import create_user, grant
from server.extensions import db
from server.sites import create_checkpoint, create_site

from .api import PASSWORD


def make_site(code: str, name_zh: str, prefix: str, timezone: str = "Asia/Shanghai"):
    """A site with a floor and an elevator checkpoint and one user per role (`prefix + role`)."""
    site = create_site(code, name_zh, code.title(), timezone)
    create_checkpoint(site.id, kind="floor", name_zh="1楼", name_en="Floor 1", short_code=f"{code[:2]}F1")
    create_checkpoint(site.id, kind="elevator_car", name_zh="1号电梯", name_en="Elevator 1", short_code=f"{code[:2]}E1")
    for role in choices.ROLES:
        user = create_user(prefix + role, PASSWORD)
        grant(user, site.id, role)
    db.session.commit()
    return site
