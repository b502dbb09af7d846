"""Sites and their departments."""

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import select

from .. import choices, sites
from ..auth import current_user, get_scoped, requires, site_ids
from ..errors import ApiError
from ..extensions import db
from ..models import Department, Site
from .common import Length, StrictSchema

blp = Blueprint("sites", __name__, url_prefix="/api/sites", description="Sites and departments")


class SiteSchema(StrictSchema):
    id = fields.Integer(dump_only=True)
    code = fields.String(dump_only=True)
    name_zh = fields.String(validate=Length(min=1, max=200))
    name_en = fields.String(validate=Length(max=200))
    timezone = fields.String(validate=Length(min=1, max=64))
    task_due_days = fields.Integer(validate=validate.Range(min=1, max=90))
    min_scan_gap_seconds = fields.Integer(validate=validate.Range(min=0, max=3600))
    complaint_business_days = fields.Boolean(metadata={"description": "complaint deadlines count site-local business days (docs/complaints.md)"})
    complaint_weekend = fields.String(validate=validate.OneOf(choices.COMPLAINT_WEEKENDS), metadata={"description": "the weekend business days skip"})


class SiteCreateSchema(StrictSchema):
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_\-]{1,31}$", error="2-32 letters, digits, '-' or '_'."),
                         metadata={"description": "stored in capitals; names the site in commands and file names"})
    name_zh = fields.String(required=True, validate=Length(min=1, max=200))
    name_en = fields.String(load_default="", validate=Length(max=200))
    timezone = fields.String(validate=Length(min=1, max=64), metadata={"description": "IANA name; default DEFAULT_TIMEZONE"})
    task_due_days = fields.Integer(validate=validate.Range(min=1, max=90))
    min_scan_gap_seconds = fields.Integer(validate=validate.Range(min=0, max=3600))


class DepartmentSchema(StrictSchema):
    id = fields.Integer(dump_only=True)
    site_id = fields.Integer(dump_only=True)
    code = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{1,31}$"))
    name_zh = fields.String(required=True, validate=Length(min=1, max=120))
    name_en = fields.String(load_default="", validate=Length(max=120))
    active = fields.Boolean(load_default=True)


class DepartmentUpdateSchema(StrictSchema):
    name_zh = fields.String(validate=Length(min=1, max=120))
    name_en = fields.String(validate=Length(max=120))
    active = fields.Boolean()


@blp.route("/")
class Sites(MethodView):
    @requires("site.read")
    @blp.response(200, SiteSchema(many=True))
    def get(self):
        """The sites I work at."""
        ids = site_ids(current_user())
        return db.session.execute(select(Site).where(Site.id.in_(ids)).order_by(Site.id)).scalars().all()

    @requires("site.create")
    @blp.arguments(SiteCreateSchema)
    @blp.response(201, SiteSchema)
    def post(self, body):
        """Open a new site with the default departments; an admin of any site may, and becomes its admin."""
        user = current_user()
        site = sites.open_site(body.pop("code"), body.pop("name_zh"), admin=user, actor_id=user.id, **body)
        db.session.commit()
        return site


@blp.route("/<int:site_id>")
class SiteItem(MethodView):
    @requires("site.read")
    @blp.response(200, SiteSchema)
    def get(self, site_id):
        """One of my sites."""
        return get_scoped(Site, site_id, "site.read")

    @requires("site.edit")
    @blp.arguments(SiteSchema(partial=True))
    @blp.response(200, SiteSchema)
    def patch(self, body, site_id):
        """Change a site's names, timezone, task due days, minimum scan gap or complaint business days."""
        site = sites.update_site(get_scoped(Site, site_id, "site.edit"), **body)
        db.session.commit()
        return site


@blp.route("/<int:site_id>/departments")
class Departments(MethodView):
    @requires("site.read")
    @blp.response(200, DepartmentSchema(many=True))
    def get(self, site_id):
        """A site's departments (work is routed to them)."""
        get_scoped(Site, site_id, "site.read")
        return db.session.execute(select(Department).where(Department.site_id == site_id).order_by(Department.id)).scalars().all()

    @requires("site.edit")
    @blp.arguments(DepartmentSchema)
    @blp.response(201, DepartmentSchema)
    def post(self, body, site_id):
        """Add a department to a site."""
        get_scoped(Site, site_id, "site.edit")
        dept = sites.add_department(site_id, **body)
        db.session.commit()
        return dept


@blp.route("/<int:site_id>/departments/<int:department_id>")
class DepartmentItem(MethodView):
    @requires("site.edit")
    @blp.arguments(DepartmentUpdateSchema)
    @blp.response(200, DepartmentSchema)
    def patch(self, body, site_id, department_id):
        """Rename or (de)activate a department."""
        dept = get_scoped(Department, department_id, "site.edit")
        if dept.site_id != site_id:
            raise ApiError(404, "Not found.")
        sites.update_department(dept, **body)
        db.session.commit()
        return dept
