"""Users and their roles at sites: the one place that creates them (API, CLI, demo)."""

from __future__ import annotations

from sqlalchemy import delete, func, select

from . import choices
from .auth import hash_password
from .changes import record_change
from .errors import ApiError
from .extensions import db
from .models import Membership, User

MIN_PASSWORD = 8


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ApiError(422, f"The password must have at least {MIN_PASSWORD} characters.", "weak_password", {"fields": {"password": ["too short"]}})


def create_user(username: str, password: str, display_name: str = "", locale: str = "zh") -> User:
    check_new_password(password)
    if db.session.execute(select(User.id).where(func.lower(User.username) == username.lower())).first():
        raise ApiError(409, f"The username {username!r} is taken.", "username_taken")
    user = User(username=username, password_hash=hash_password(password), display_name=display_name or username, locale=locale)
    db.session.add(user)
    db.session.flush()
    return user


def grant(user: User, site_id: int, role: str) -> bool:
    """Give `role` at a site; returns False when the user already had it."""
    if role not in choices.ROLES:
        raise ApiError(422, f"Unknown role {role!r}.", "validation_error")
    exists = db.session.execute(
        select(Membership.id).where(Membership.user_id == user.id, Membership.site_id == site_id, Membership.role == role)
    ).first()
    if exists:
        return False
    had_site = db.session.execute(select(Membership.id).where(Membership.user_id == user.id, Membership.site_id == site_id)).first()
    db.session.add(Membership(user_id=user.id, site_id=site_id, role=role))
    db.session.flush()
    if not had_site:
        # A phone must pull the whole site it was just given, not only later changes.
        record_change("access", f"{user.id}:{site_id}", site_id=site_id, user_id=user.id, op="grant")
    return True


def revoke(user: User, site_id: int, role: str | None = None) -> None:
    stmt = delete(Membership).where(Membership.user_id == user.id, Membership.site_id == site_id)
    if role:
        stmt = stmt.where(Membership.role == role)
    db.session.execute(stmt)
    left = db.session.execute(select(Membership.id).where(Membership.user_id == user.id, Membership.site_id == site_id)).first()
    if not left:
        record_change("access", f"{user.id}:{site_id}", site_id=site_id, user_id=user.id, op="revoke")


def set_password(user: User, password: str) -> None:
    check_new_password(password)
    user.password_hash = hash_password(password)
