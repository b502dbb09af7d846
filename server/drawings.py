"""A photo's annotation: the circle or arrow a patroller drew over it to show where the problem is.

The photo's bytes stay exactly as taken (their SHA-256 is the evidence); the drawing is kept
beside them on the photo's row as vector shapes, in coordinates relative to the photo:

    {"shapes": [{"kind": "circle", "x": 0.42, "y": 0.31, "r": 0.12},
                {"kind": "arrow", "x1": 0.1, "y1": 0.9, "x2": 0.38, "y2": 0.4}]}

x runs 0..1 across the photo's width, y 0..1 down its height; a circle's `r` is a fraction
of the photo's shorter side (so a circle stays round on any photo). Screens draw the shapes
as SVG over the original. A drawing is set once, like the bytes: the same drawing again is
accepted, another one is a conflict.
"""

from __future__ import annotations

import math

from .extensions import db
from .models import Photo
from .photos import can_see, taken_by
from .problems import Conflict, FieldMessage, Forbidden, Invalid, NotFound

MAX_SHAPES = 20
FIELDS = {"circle": ("x", "y", "r"), "arrow": ("x1", "y1", "x2", "y2")}
KINDS = tuple(FIELDS)


def validate(body) -> dict:
    """The annotation in its one stored form, or Invalid naming every bad field (shapes.N.field)."""
    errors: dict[str, list[FieldMessage]] = {}

    def bad(name: str, message: FieldMessage) -> None:
        errors.setdefault(name, []).append(message)

    if not isinstance(body, dict):
        raise Invalid.field("shapes", "send an object {\"shapes\": [...]}", "The annotation must be a JSON object with a list of shapes.",
                            field_code="field_invalid", type="object")
    if set(body) - {"shapes"}:
        for key in sorted(set(body) - {"shapes"}):
            bad(str(key)[:40], FieldMessage("unknown field", "field_unknown"))
    shapes = body.get("shapes")
    if not isinstance(shapes, list) or not shapes:
        bad("shapes", FieldMessage("a list of one or more shapes", "field_required"))
        shapes = []
    elif len(shapes) > MAX_SHAPES:
        bad("shapes", FieldMessage(f"at most {MAX_SHAPES} shapes", "field_too_many", max=MAX_SHAPES))
        shapes = []
    out = []
    for n, shape in enumerate(shapes):
        at = f"shapes.{n}"
        if not isinstance(shape, dict):
            bad(at, FieldMessage("a shape is an object", "field_invalid", type="object"))
            continue
        kind = shape.get("kind")
        if kind not in FIELDS:
            bad(f"{at}.kind", FieldMessage(f"one of {', '.join(KINDS)}", "field_one_of", choices=", ".join(KINDS)))
            continue
        names = FIELDS[kind]
        for key in sorted(set(shape) - {"kind", *names}):
            bad(f"{at}.{str(key)[:40]}", FieldMessage("unknown field", "field_unknown"))
        clean = {"kind": kind}
        for name in names:
            v = shape.get(name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                bad(f"{at}.{name}", FieldMessage("a number", "field_invalid", type="number"))
            elif not 0 <= v <= 1:
                bad(f"{at}.{name}", FieldMessage("between 0 and 1 (a fraction of the photo)", "field_between", min=0, max=1))
            elif name == "r" and v == 0:
                bad(f"{at}.{name}", FieldMessage("larger than 0", "field_above", min=0))
            else:
                clean[name] = round(float(v), 4)
        if kind == "arrow" and len(clean) == 5 and (clean["x1"], clean["y1"]) == (clean["x2"], clean["y2"]):
            bad(at, FieldMessage("an arrow needs two different ends", "field_arrow_ends"))
        out.append(clean)
    if errors:
        raise Invalid("The drawing on the photo is not valid.", None, {"fields": errors})
    return {"shapes": out}


def annotate(user, photo_id: str, body) -> tuple[Photo, bool]:
    """Keep the drawing of a photo its author took; returns (photo, changed). The caller commits."""
    photo = db.session.get(Photo, photo_id, with_for_update=True)
    if photo is None or not can_see(user, photo):
        raise NotFound("Not found.")
    annotation = validate(body)
    if photo.annotation == annotation:
        return photo, False  # a resend: nothing changes, as for the photo's own bytes
    if not taken_by(photo, user.id):
        raise Forbidden("Only the person who took a photo can draw on it.", "not_your_photo")
    if photo.annotation is not None:
        raise Conflict("This photo already has another drawing; the first one stands.", "annotation_conflict")
    photo.annotation = annotation
    db.session.flush([photo])
    return photo, True
