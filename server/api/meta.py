"""Health and the domain's vocabulary (roles, kinds, states) for clients."""

from flask_smorest import Blueprint

from .. import choices
from ..auth import public
from ..extensions import db

blp = Blueprint("meta", __name__, url_prefix="/api", description="Health and vocabulary")


@blp.route("/health")
@public
def health():
    """Is the server up and its database reachable?"""
    db.session.execute(db.text("SELECT 1"))
    return {"status": "ok"}


@blp.route("/meta")
@public
def meta():
    """The domain's named constants: roles, checkpoint kinds, methods, categories, states."""
    return {
        "roles": list(choices.ROLES),
        "checkpoint_kinds": list(choices.CHECKPOINT_KINDS),
        "methods": list(choices.METHODS),
        "categories": list(choices.CATEGORIES),
        "routes": list(choices.ROUTES),
        "task_states": list(choices.TASK_STATES),
        "severities": list(choices.SEVERITIES),
    }
