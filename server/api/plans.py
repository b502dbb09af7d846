"""Patrol plans: the manager's plan of who patrols which checkpoints, when, and what to watch."""

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import select

from .. import plans
from ..auth import current_user, get_scoped, requires
from ..extensions import db
from ..models import PatrolPlan, Site
from .common import Id, Length, StrictSchema, Str

blp = Blueprint("plans", __name__, url_prefix="/api", description="Patrol plans")

class PlanSchema(StrictSchema):
    id = fields.Integer(dump_only=True)
    site_id = fields.Integer(dump_only=True)
    name_zh = Str(required=True, validate=Length(min=1, max=200))
    name_en = Str(load_default="", validate=Length(max=200))
    assignee_id = Id(load_default=None, allow_none=True)
    assignee_name = Str(dump_only=True, allow_none=True)
    # Checked by plans.validate_schedule, which names every problem in words.
    schedule = fields.Raw(
        required=True,
        metadata={"description": 'site-local: {"days": [0-6, Monday=0], "windows": [["09:00","11:00"], ["22:00","02:00"]]}'},
    )
    focus_zh = Str(load_default="", validate=Length(max=4000))
    focus_en = Str(load_default="", validate=Length(max=4000))
    checkpoint_ids = fields.List(Id(), required=True)
    active = fields.Boolean(load_default=True)
    updated_at = Str(dump_only=True)


class PlanUpdateSchema(StrictSchema):
    name_zh = Str(validate=Length(min=1, max=200))
    name_en = Str(validate=Length(max=200))
    assignee_id = Id(allow_none=True)
    schedule = fields.Raw()
    focus_zh = Str(validate=Length(max=4000))
    focus_en = Str(validate=Length(max=4000))
    checkpoint_ids = fields.List(Id())
    active = fields.Boolean()


class PlanListArgs(StrictSchema):
    active = fields.Boolean()


@blp.route("/sites/<int:site_id>/plans")
class Plans(MethodView):
    @requires("plan.read")
    @blp.arguments(PlanListArgs, location="query")
    @blp.response(200, PlanSchema(many=True))
    def get(self, args, site_id):
        """A site's patrol plans (everyone at the site may read them)."""
        get_scoped(Site, site_id, "plan.read")
        stmt = select(PatrolPlan).where(PatrolPlan.site_id == site_id)
        if "active" in args:
            stmt = stmt.where(PatrolPlan.active.is_(args["active"]))
        rows = db.session.execute(stmt.order_by(PatrolPlan.id)).scalars().all()
        return [plans.plan_payload(p) for p in rows]

    @requires("plan.edit")
    @blp.arguments(PlanSchema)
    @blp.response(201, PlanSchema)
    def post(self, body, site_id):
        """Write a patrol plan: checkpoints, assignee, schedule, focus notes."""
        get_scoped(Site, site_id, "plan.edit")
        plan = plans.create_plan(site_id, actor_id=current_user().id, **body)
        db.session.commit()
        return plans.plan_payload(plan)


@blp.route("/plans/<int:plan_id>")
class PlanItem(MethodView):
    @requires("plan.read")
    @blp.response(200, PlanSchema)
    def get(self, plan_id):
        """One patrol plan."""
        return plans.plan_payload(get_scoped(PatrolPlan, plan_id, "plan.read"))

    @requires("plan.edit")
    @blp.arguments(PlanUpdateSchema)
    @blp.response(200, PlanSchema)
    def patch(self, body, plan_id):
        """Change a plan; `active: false` pauses it (no windows are expected while paused)."""
        plan = get_scoped(PatrolPlan, plan_id, "plan.edit")
        plans.update_plan(plan, actor_id=current_user().id, **body)
        db.session.commit()
        return plans.plan_payload(plan)

    @requires("plan.edit")
    @blp.response(204)
    def delete(self, plan_id):
        """Delete a plan; phones drop it at their next sync."""
        plan = get_scoped(PatrolPlan, plan_id, "plan.edit")
        plans.delete_plan(plan, actor_id=current_user().id)
        db.session.commit()
