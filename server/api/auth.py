"""Login, logout and who am I."""

from flask import g, request
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import select

from .. import auth
from ..errors import ApiError
from ..extensions import db
from ..models import Membership, Site
from .common import Length, StrictSchema

blp = Blueprint("auth", __name__, url_prefix="/api/auth", description="Sessions")


class LoginSchema(StrictSchema):
    username = fields.String(required=True, validate=Length(min=1, max=64))
    password = fields.String(required=True, validate=Length(min=1, max=256, spaces=True))


class MembershipOut(StrictSchema):
    site_id = fields.Integer()
    site_code = fields.String()
    site_name_zh = fields.String()
    site_name_en = fields.String()
    timezone = fields.String()
    roles = fields.List(fields.String())


class MeSchema(StrictSchema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()
    locale = fields.String()
    sites = fields.List(fields.Nested(MembershipOut))
    csrf_token = fields.String()


def me_payload(user) -> dict:
    rows = db.session.execute(
        select(Membership.site_id, Membership.role, Site).join(Site, Site.id == Membership.site_id).where(Membership.user_id == user.id)
    ).all()
    sites: dict[int, dict] = {}
    for site_id, role, site in rows:
        entry = sites.setdefault(
            site_id,
            {"site_id": site_id, "site_code": site.code, "site_name_zh": site.name_zh, "site_name_en": site.name_en, "timezone": site.timezone, "roles": []},
        )
        entry["roles"].append(role)
    for entry in sites.values():
        entry["roles"].sort()
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "locale": user.locale,
        "sites": sorted(sites.values(), key=lambda s: s["site_id"]),
        "csrf_token": g.auth_session.csrf_token,
    }


@blp.route("/login", methods=["POST"])
@auth.public
@blp.arguments(LoginSchema)
@blp.response(200, MeSchema)
def login(body):
    """Log in with username and password; sets the session cookie."""
    if not request.is_json:
        raise ApiError(415, "Send the login as JSON (Content-Type: application/json).")
    user = auth.login(body["username"], body["password"])
    db.session.commit()  # a failed attempt counts towards the lock-out too
    if user is None:
        raise ApiError(401, "Wrong username or password.", "bad_credentials")
    return me_payload(user)


@blp.route("/logout", methods=["POST"])
@auth.requires()
@blp.response(204)
def logout():
    """End this session."""
    auth.logout()
    db.session.commit()


@blp.route("/me")
@auth.requires()
@blp.response(200, MeSchema)
def me():
    """The logged-in user, their roles per site, and the CSRF token for writes."""
    return me_payload(auth.current_user())
