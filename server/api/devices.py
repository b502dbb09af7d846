"""Devices: each phone's clock offset and the gaps in its sequence numbers, for supervisors."""

from flask_smorest import Blueprint
from marshmallow import fields

from .. import sync
from ..auth import authorize, current_user, requires, site_ids
from .common import StrictSchema, UtcDateTime

blp = Blueprint("devices", __name__, url_prefix="/api/devices", description="Devices and their sync health")



class DeviceArgs(StrictSchema):
    site_id = fields.Integer()


class DeviceSchema(StrictSchema):
    id = fields.String()
    user_id = fields.Integer()
    username = fields.String()
    display_name = fields.String()
    first_seen_at = UtcDateTime()
    last_seen_at = UtcDateTime()
    clock_offset_ms = fields.Integer(metadata={"description": "phone minus server at the last push"})
    clock_flagged = fields.Boolean(metadata={"description": "the last push's clock was off by more than CLOCK_SKEW_FLAG_SECONDS"})
    max_seq = fields.Integer()
    seq_gaps = fields.List(fields.List(fields.Integer()), metadata={"description": "[first, last] ranges of sequence numbers never received"})
    user_agent = fields.String()


@blp.route("/")
@requires("device.read")
@blp.arguments(DeviceArgs, location="query")
@blp.response(200, DeviceSchema(many=True))
def devices(args):
    """Devices of the people at my sites: clock flags and lost records (sequence gaps)."""
    ids = site_ids(current_user(), "device.read")
    if "site_id" in args:
        authorize(args["site_id"], "device.read")
        ids = [args["site_id"]]
    return sync.devices_for_sites(ids)


@blp.route("/mine")
@requires()
@blp.response(200, DeviceSchema(many=True))
def my_devices():
    """My own phones and the gaps in their sequence numbers: after the browser cleared a
    phone's storage, the app shows the person what the server received and what never arrived."""
    me = current_user()
    return [d for d in sync.devices_for_sites(site_ids(me)) if d["user_id"] == me.id]
