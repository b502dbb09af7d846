"""Coverage: which planned checkpoints were visited in each round window, which were missed."""

from datetime import timedelta

from flask_smorest import Blueprint
from marshmallow import fields, validate

from .. import coverage
from ..auth import get_scoped, requires
from ..models import Site
from .common import StrictSchema
from .params import Day, Month

blp = Blueprint("coverage", __name__, url_prefix="/api", description="Patrol coverage and suspicious scans")


class CoverageArgs(StrictSchema):
    from_ = Day(data_key="from", metadata={"description": "first site-local day (default: yesterday)"})
    to = Day(metadata={"description": "last site-local day, inclusive (default: today)"})
    plan_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))


class MonthArgs(StrictSchema):
    month = Month(required=True)


class CoverageSchema(StrictSchema):
    site_id = fields.Integer()
    timezone = fields.String()
    month = fields.String()
    from_ = fields.String(data_key="from", attribute="from")
    to = fields.String()
    generated_at = fields.String()
    thresholds = fields.Dict()
    totals = fields.Dict(metadata={"description": "windows (ended), planned, visited, missed, coverage, late, explained (missed with a patroller's reason)"})
    windows = fields.List(fields.Dict(), metadata={"description": "one per scheduled window, with status, missed_checkpoint_ids (pending_checkpoint_ids while it runs) and reasons: the patrollers' reasons for its checkpoints not visited"})
    by_day = fields.List(fields.Dict())
    by_floor = fields.List(fields.Dict())
    by_kind = fields.List(fields.Dict())
    by_plan = fields.List(fields.Dict())
    missed = fields.List(fields.Dict(), metadata={"description": "every planned checkpoint not visited in an ended window, with `reason` ({reason, note, user_id, user_name, round_id, given_at}) when the patroller gave one at the end of the round, else null"})
    flags = fields.List(fields.Dict(), metadata={"description": "suspicious scans: too_fast, repeated_scan"})


@blp.route("/sites/<int:site_id>/coverage")
@requires("coverage.read")
@blp.arguments(CoverageArgs, location="query")
@blp.response(200, CoverageSchema)
def site_coverage(args, site_id):
    """Coverage per window, day, floor, kind and plan; the missed checkpoints; suspicious scans."""
    site = get_scoped(Site, site_id, "coverage.read")
    today = coverage.local_today(site)
    last = args.get("to") or today
    first = args.get("from_") or min(last, today - timedelta(days=1))
    return coverage.coverage(site, first, last, plan_id=args.get("plan_id"))


@blp.route("/sites/<int:site_id>/coverage/month")
@requires("coverage.read")
@blp.arguments(MonthArgs, location="query")
@blp.response(200, CoverageSchema)
def month_coverage(args, site_id):
    """A month's coverage, as the monthly archive files it."""
    site = get_scoped(Site, site_id, "coverage.read")
    return coverage.month_coverage(site, args["month"])
