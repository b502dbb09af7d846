"""Users: admins create them and give them roles at their own sites."""

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import select

from .. import accounts, choices
from ..auth import authorize, current_user, requires, site_ids
from ..errors import ApiError
from ..extensions import db
from ..models import Membership, User
from .common import Length, StrictSchema

blp = Blueprint("users", __name__, url_prefix="/api/users", description="Users and roles")


class RoleSchema(StrictSchema):
    site_id = fields.Integer(required=True)
    role = fields.String(required=True, validate=validate.OneOf(choices.ROLES))


class UserCreateSchema(StrictSchema):
    username = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.\-]{2,64}$", error="2-64 letters, digits, '.', '_' or '-'."))
    password = fields.String(required=True, load_only=True, validate=Length(min=8, max=256, spaces=True))
    display_name = fields.String(load_default="", validate=Length(max=120))
    locale = fields.String(load_default="zh", validate=validate.OneOf(["zh", "en"]))
    roles = fields.List(fields.Nested(RoleSchema), required=True, validate=Length(min=1))


class UserUpdateSchema(StrictSchema):
    display_name = fields.String(validate=Length(max=120))
    locale = fields.String(validate=validate.OneOf(["zh", "en"]))
    active = fields.Boolean()
    password = fields.String(load_only=True, validate=Length(min=8, max=256, spaces=True))
    roles = fields.List(fields.Nested(RoleSchema))


class UserSchema(StrictSchema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()
    locale = fields.String()
    active = fields.Boolean()
    roles = fields.List(fields.Nested(RoleSchema))


class UserListArgs(StrictSchema):
    site_id = fields.Integer()


def _out(user: User, visible_sites: set[int]) -> dict:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "locale": user.locale,
        "active": user.active,
        "roles": [{"site_id": m.site_id, "role": m.role} for m in user.memberships if m.site_id in visible_sites],
    }


def _load_user_for_admin(user_id: int) -> tuple[User, set[int]]:
    """A user is visible to an admin who shares a site with them."""
    me = current_user()
    admin_sites = set(site_ids(me, "user.manage"))
    user = db.session.get(User, user_id)
    if user is None or not ({m.site_id for m in user.memberships} & admin_sites):
        raise ApiError(404, "Not found.")
    return user, admin_sites


@blp.route("/")
class Users(MethodView):
    @requires("user.read")
    @blp.arguments(UserListArgs, location="query")
    @blp.response(200, UserSchema(many=True))
    def get(self, args):
        """People at the sites where I am an admin, supervisor or manager (to assign work)."""
        me = current_user()
        mine = set(site_ids(me, "user.read"))
        if "site_id" in args:
            authorize(args["site_id"], "user.read")
            mine = {args["site_id"]}
        users = db.session.execute(
            select(User).join(Membership).where(Membership.site_id.in_(mine)).distinct().order_by(User.username)
        ).scalars()
        return [_out(u, mine) for u in users]

    @requires("user.manage")
    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema)
    def post(self, body):
        """Create a user with roles at sites where I am an admin."""
        for r in body["roles"]:
            authorize(r["site_id"], "user.manage")
        user = accounts.create_user(body["username"], body["password"], body["display_name"], body["locale"])
        for r in body["roles"]:
            accounts.grant(user, r["site_id"], r["role"])
        db.session.commit()
        return _out(user, set(site_ids(current_user(), "user.manage")))


@blp.route("/<int:user_id>")
class UserItem(MethodView):
    @requires("user.manage")
    @blp.response(200, UserSchema)
    def get(self, user_id):
        """One user, with their roles at my sites."""
        user, admin_sites = _load_user_for_admin(user_id)
        return _out(user, admin_sites)

    @requires("user.manage")
    @blp.arguments(UserUpdateSchema)
    @blp.response(200, UserSchema)
    def patch(self, body, user_id):
        """Change a user's name, language, password, active flag, or roles at my sites."""
        user, admin_sites = _load_user_for_admin(user_id)
        if "roles" in body:
            for r in body["roles"]:
                if r["site_id"] not in admin_sites:
                    raise ApiError(404, "Not found.")
            wanted = {(r["site_id"], r["role"]) for r in body["roles"]}
            for m in list(user.memberships):
                if m.site_id in admin_sites and (m.site_id, m.role) not in wanted:
                    accounts.revoke(user, m.site_id, m.role)
            for site_id, role in sorted(wanted):
                accounts.grant(user, site_id, role)
        if "password" in body:
            accounts.set_password(user, body["password"])
        for key in ("display_name", "locale", "active"):
            if key in body:
                setattr(user, key, body[key])
        db.session.commit()
        db.session.refresh(user)
        return _out(user, admin_sites)
