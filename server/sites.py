"""Sites, their departments and checkpoints: creation and the rules they keep."""

from __future__ import annotations

import re
import secrets
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from sqlalchemy import select

from . import audit, choices
from .accounts import grant
from .changes import record_change
from .extensions import db
from .models import Checkpoint, Department, RetiredToken, Site, User
from .problems import Conflict, Invalid

# Short codes are typed on a phone: no 0/O, 1/I/L.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid.field("timezone", "unknown timezone", f"Unknown timezone {name!r}.", field_code="field_timezone")
    return name


def create_site(code: str, name_zh: str, name_en: str = "", timezone: str | None = None) -> Site:
    site = Site(
        code=code,
        name_zh=name_zh,
        name_en=name_en,
        timezone=check_timezone(timezone or current_app.config["DEFAULT_TIMEZONE"]),
        task_due_days=current_app.config["TASK_DUE_DAYS"],
    )
    db.session.add(site)
    db.session.flush()
    for dept_code, zh, en in choices.DEFAULT_DEPARTMENTS:
        save_department(Department(site_id=site.id, code=dept_code, name_zh=zh, name_en=en))
    record_change("site", site.id, site_id=site.id)
    return site


def update_site(site: Site, **fields) -> Site:
    """Change a site's names, timezone, task due days or minimum scan gap; phones pull it."""
    if "timezone" in fields:
        check_timezone(fields["timezone"])
    for key, value in fields.items():
        setattr(site, key, value)
    db.session.flush()
    record_change("site", site.id, site_id=site.id)
    return site


def add_department(site_id: int, code: str, **fields) -> Department:
    """A department of the site's own (work is routed to departments by code)."""
    if db.session.execute(select(Department.id).where(Department.site_id == site_id, Department.code == code)).first():
        raise Conflict(f"Department code {code!r} exists at this site.", "department_exists")
    return save_department(Department(site_id=site_id, code=code, **fields))


def update_department(dept: Department, **fields) -> Department:
    for key, value in fields.items():
        setattr(dept, key, value)
    return save_department(dept)


# Site codes name a site in commands (`--site CODE`) and in file names of labels and archives.
SITE_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,31}$")


def open_site(code: str, name_zh: str, name_en: str = "", timezone: str | None = None, *, admin: User | None = None,
              actor_id: int | None = None, task_due_days: int | None = None, min_scan_gap_seconds: int | None = None) -> Site:
    """A new site with the default departments, for the API and `flask sites create`.

    The rule (policy `site.create`): an admin of any site may open one, and becomes the new
    site's admin, since nobody holds a role there yet; the command line names its admin.
    """
    code = code.strip().upper()
    if not SITE_CODE.match(code):
        raise Invalid.field("code", "2-32 letters, digits, '-' or '_', starting with a letter or digit",
                            f"The site code {code!r} is not allowed: use 2-32 letters, digits, '-' or '_'.", field_code="field_site_code")
    if db.session.execute(select(Site.id).where(Site.code == code)).first():
        raise Conflict(f"A site with the code {code} exists.", "site_exists")
    site = create_site(code, name_zh, name_en, timezone)
    if task_due_days is not None:
        site.task_due_days = task_due_days
    if min_scan_gap_seconds is not None:
        site.min_scan_gap_seconds = min_scan_gap_seconds
    if admin is not None:
        grant(admin, site.id, choices.ADMIN)
    audit.record("site", site.id, "create", actor_id=actor_id, site_id=site.id,
                 data={"code": code, "name_zh": name_zh, "name_en": name_en, "timezone": site.timezone, "admin_id": admin.id if admin else None})
    return site


def save_department(dept: Department) -> Department:
    db.session.add(dept)
    db.session.flush()
    record_change("department", dept.id, site_id=dept.site_id)
    return dept


def new_token() -> str:
    return secrets.token_urlsafe(18)


def new_short_code(site_id: int) -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(5))
        if not db.session.execute(select(Checkpoint.id).where(Checkpoint.site_id == site_id, Checkpoint.short_code == code)).first():
            return code


def normalise_code(code: str) -> str:
    """The one form of a typed short code: upper case, without spaces or dashes."""
    return code.strip().upper().replace(" ", "").replace("-", "")


def create_checkpoint(site_id: int, **fields) -> Checkpoint:
    _check_kind(fields.get("kind"))
    code = normalise_code(fields.pop("short_code", "") or "") or new_short_code(site_id)
    _check_code_free(site_id, code)
    cp = Checkpoint(site_id=site_id, short_code=code, token=new_token(), **fields)
    db.session.add(cp)
    db.session.flush()
    record_change("checkpoint", cp.id, site_id=site_id)
    return cp


def _check_kind(kind) -> None:
    if kind not in choices.CHECKPOINT_KINDS:
        raise Invalid.field("kind", "unknown kind", f"Unknown checkpoint kind {kind!r}.", field_code="field_one_of",
                            choices=", ".join(choices.CHECKPOINT_KINDS))


def _check_code_free(site_id: int, code: str, exclude_id: int | None = None) -> None:
    stmt = select(Checkpoint.id).where(Checkpoint.site_id == site_id, Checkpoint.short_code == code)
    if exclude_id:
        stmt = stmt.where(Checkpoint.id != exclude_id)
    if db.session.execute(stmt).first():
        raise Conflict(f"The short code {code} is already used at this site.", "short_code_taken")


def update_checkpoint(cp: Checkpoint, **fields) -> Checkpoint:
    if "kind" in fields:
        _check_kind(fields["kind"])
    if "short_code" in fields:
        code = normalise_code(fields.pop("short_code"))
        _check_code_free(cp.site_id, code, cp.id)
        cp.short_code = code
    for key, value in fields.items():
        setattr(cp, key, value)
    db.session.flush()
    record_change("checkpoint", cp.id, site_id=cp.site_id)
    return cp


def reissue_token(cp: Checkpoint) -> Checkpoint:
    """A lost label is reprinted with a new token; the old one is remembered as retired."""
    db.session.add(RetiredToken(token=cp.token, checkpoint_id=cp.id))
    cp.token = new_token()
    db.session.flush()
    record_change("checkpoint", cp.id, site_id=cp.site_id)
    return cp


def find_by_token(token: str) -> tuple[Checkpoint | None, bool]:
    """(checkpoint, retired): a retired token still names its checkpoint, flagged."""
    cp = db.session.execute(select(Checkpoint).where(Checkpoint.token == token)).scalar_one_or_none()
    if cp:
        return cp, False
    old = db.session.get(RetiredToken, token)
    if old:
        return db.session.get(Checkpoint, old.checkpoint_id), True
    return None, False


def reorder_checkpoints(checkpoints: list[Checkpoint]) -> None:
    """Give checkpoints positions 10, 20, 30… in the order given (the walking order)."""
    for index, cp in enumerate(checkpoints, start=1):
        if cp.position != index * 10:
            update_checkpoint(cp, position=index * 10)
