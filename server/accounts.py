"""Users, their passwords and their roles at sites: the one place that creates them (API, CLI, demo)."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import delete, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from . import choices
from .changes import record_change
from .extensions import db
from .models import Membership, User
from .problems import Conflict, Invalid

MIN_PASSWORD = 8
# A hash to compare against when the user does not exist, so timing does not tell.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def hash_password(password: str) -> str:
    # Werkzeug's scrypt (n=2^15, r=8, p=1 by default) with a random salt. Tests lower n
    # through PASSWORD_HASH_METHOD, as Django's test settings do, to keep the suite fast.
    return generate_password_hash(password, method=current_app.config.get("PASSWORD_HASH_METHOD", "scrypt"))


def check_password(user: User | None, password: str) -> bool:
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return False
    return check_password_hash(user.password_hash, password)


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        exc = Invalid.field("password", "too short", f"The password must have at least {MIN_PASSWORD} characters.", "weak_password")
        exc.details["min"] = MIN_PASSWORD
        raise exc


def create_user(username: str, password: str, display_name: str = "", locale: str = "zh") -> User:
    check_new_password(password)
    if db.session.execute(select(User.id).where(func.lower(User.username) == username.lower())).first():
        raise Conflict(f"The username {username!r} is taken.", "username_taken")
    user = User(username=username, password_hash=hash_password(password), display_name=display_name or username, locale=locale)
    db.session.add(user)
    db.session.flush()
    return user


def grant(user: User, site_id: int, role: str) -> bool:
    """Give `role` at a site; returns False when the user already had it."""
    if role not in choices.ROLES:
        raise Invalid(f"Unknown role {role!r}.")
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
