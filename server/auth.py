"""Who is asking: login sessions, throttling, CSRF, and the API's authorisation by the policy table.

Every API view declares who may call it with `@requires(action)` (or `@public`); the
authorisation test walks the URL map and fails on a view that declares nothing. Site
scoping is done by `authorize(...)`/`get_scoped(...)`: a user with no role at a site gets
404 for anything of it (its existence is not revealed), and 403 for a role they lack.

Views own the transaction, with one exception: `load_user` commits the sliding expiry of
a session it touches, because most requests that keep a session alive are GETs that
commit nothing else.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import current_app, g, request, session
from sqlalchemy import bindparam, delete, func, select

from . import choices, policy
from .accounts import check_password
from .db_sqlite import READS_KEY, start_writing
from .extensions import db
from .models import AuthSession, LoginAttempt, Membership, User, utcnow
from .problems import Forbidden, NotFound, Throttled, Unauthenticated

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def init_app(app) -> None:
    # The cookie lasts as long as the login it names (both slide together in load_user).
    app.permanent_session_lifetime = timedelta(hours=app.config["SESSION_HOURS"])

    @app.before_request
    def _forget_previous_user():
        # `g` can outlive a request (an app context pushed around several requests, as
        # in tests and CLI code): the user must be looked up afresh for every request.
        g.pop("user", None)
        g.pop("auth_session", None)
        g.pop(READS_KEY, None)


def _token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- throttling -------------------------------------------------------------------


def login_locked(username: str, remote_addr: str) -> int:
    """Seconds until a login may be tried again (0 when not locked).

    Counted per username and per address, in the database so that every gunicorn
    worker sees the same count.
    """
    cfg = current_app.config
    window = timedelta(minutes=cfg["LOGIN_LOCKOUT_MINUTES"])
    since = utcnow() - window
    limit = cfg["LOGIN_MAX_FAILURES"]
    for column, value, allowed in ((LoginAttempt.username, username.lower(), limit), (LoginAttempt.remote_addr, remote_addr, limit * 4)):
        failures = db.session.execute(
            select(func.count(), func.max(LoginAttempt.at)).where(column == value, LoginAttempt.at >= since, LoginAttempt.success.is_(False))
        ).one()
        if failures[0] >= allowed:
            retry = int((failures[1] + window - utcnow()).total_seconds()) + 1
            return max(retry, 1)
    return 0


def record_attempt(username: str, remote_addr: str, success: bool) -> None:
    db.session.add(LoginAttempt(username=username.lower(), remote_addr=remote_addr, success=success))
    if success:
        # A good login clears this user's failures.
        db.session.execute(delete(LoginAttempt).where(LoginAttempt.username == username.lower(), LoginAttempt.success.is_(False)))


# --- sessions -----------------------------------------------------------------------


def login(username: str, password: str) -> User | None:
    """Check a login and record the attempt; start a session and return the user, or None for wrong credentials.

    The caller commits either way: a failed attempt must count towards the lock-out.
    """
    remote = request.remote_addr or ""
    wait = login_locked(username, remote)
    if wait:
        raise Throttled(f"Too many failed logins. Try again in {(wait + 59) // 60} minute(s).", "login_locked",
                        {"minutes": (wait + 59) // 60}, retry_after=wait)
    user = db.session.execute(select(User).where(func.lower(User.username) == username.lower())).scalar_one_or_none()
    ok = check_password(user, password) and user is not None and user.active
    record_attempt(username, remote, ok)
    if not ok:
        return None
    start_session(user)
    return user


def start_session(user: User) -> AuthSession:
    # A fresh token at every login: whatever session the browser had is discarded
    # (no session fixation).
    old = session.get("sid")
    if old:
        db.session.execute(delete(AuthSession).where(AuthSession.id == _token_key(old)))
    session.clear()
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = AuthSession(
        id=_token_key(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(24),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=current_app.config["SESSION_HOURS"]),
        user_agent=(request.user_agent.string or "")[:300],
    )
    db.session.add(row)
    session["sid"] = token
    session.permanent = True
    g.auth_session = row
    g.user = user
    return row


def logout() -> None:
    """End this browser's session (the caller commits)."""
    token = session.get("sid")
    if token:
        db.session.execute(delete(AuthSession).where(AuthSession.id == _token_key(token)))
    session.clear()


# Built once: every request that needs a login runs it, and a statement object keeps its
# cache key (two `Session.get` calls built and keyed a new statement each, on every request).
_SESSION_AND_USER = (
    select(AuthSession, User).join(User, User.id == AuthSession.user_id).where(AuthSession.id == bindparam("key"))
)


def load_user() -> User | None:
    """The logged-in user of this request, or None; slides the session's expiry."""
    if "user" in g:
        return g.user
    g.user = None
    token = session.get("sid")
    if not token:
        return None
    found = db.session.execute(_SESSION_AND_USER, {"key": _token_key(token)}).first()
    now = utcnow()
    if found is None:  # no such session, or its user is gone
        return None
    row, user = found
    if row.expires_at <= now or not user.active:
        return None
    if (now - row.last_seen_at) > timedelta(minutes=5):
        if start_writing(db.session):
            # A read-only view's transaction ended (server/db_sqlite.py): read the rows
            # again in the write transaction; the session may have ended meanwhile.
            row = db.session.get(AuthSession, _token_key(token))
            user = db.session.get(User, row.user_id) if row is not None and row.expires_at > now else None
            if user is None or not user.active:
                return None
        row.last_seen_at = now
        row.expires_at = now + timedelta(hours=current_app.config["SESSION_HOURS"])
        db.session.commit()
        session.modified = True  # the cookie's expiry slides with the login's (SESSION_REFRESH_EACH_REQUEST is off)
    g.auth_session = row
    g.user = user
    return user


def current_user() -> User:
    user = load_user()
    if user is None:
        raise Unauthenticated("Please log in.")
    return user


def check_csrf() -> None:
    """Cookie-authenticated writes must echo the session's CSRF token in a header."""
    if request.method in SAFE_METHODS:
        return
    row = g.get("auth_session")
    sent = request.headers.get("X-CSRF-Token", "")
    if row is None or not hmac.compare_digest(sent, row.csrf_token):
        raise Forbidden("Missing or wrong X-CSRF-Token header; reload the app and try again.", "csrf_failed")


# --- authorisation ------------------------------------------------------------------


def site_ids(user: User, action: str | None = None) -> list[int]:
    """The sites where the user works (and, given an action, where a role of theirs allows it)."""
    stmt = select(Membership.site_id).where(Membership.user_id == user.id).distinct()
    if action:
        stmt = stmt.where(Membership.role.in_(policy.roles_for(action)))
    return sorted(db.session.execute(stmt).scalars())


def authorize(site_id: int | None, action: str, obj=None) -> None:
    """404 unless the user works at the site; 403 unless the policy lets them do `action` there."""
    user = current_user()
    held = policy.roles_at(user, site_id)
    if not held:
        raise NotFound("Not found.")
    if not policy.allows(action, held, policy.relations_to(user, obj) if obj is not None else ()):
        raise Forbidden("Your role at this site does not allow this.", None, {"action": action})


def get_scoped(model, ident, action: str):
    """Load a site-owned row for the current user or answer 404/403."""
    try:
        obj = db.session.get(model, ident)
    except Exception:  # a malformed key (e.g. text for an integer id) is simply not found
        db.session.rollback()
        obj = None
    if obj is None:
        raise NotFound("Not found.")
    authorize(obj.site_id, action, obj)
    return obj


def requires(action: str | None = None):
    """Declare and enforce: logged in, and able to do `action` (server/policy.py) at some site.

    With no action, any logged-in user passes (for what is not a site's: one's own session,
    or a move whose action the domain looks up). An action every role may do, or one that
    a relation to the object allows (a task's assignee), passes everyone here: the site,
    and the relation, are decided where the object is loaded (`get_scoped`/`authorize`)
    or by the domain's `policy.require`. Otherwise a user whose roles allow it at none of
    their sites gets 403 before the view runs.
    """
    rule = policy.rule(action) if action else None
    pre_check = rule is not None and not rule.relations and rule.roles != frozenset(choices.ROLES)

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            user = current_user()
            check_csrf()
            if pre_check and not site_ids(user, action):
                raise Forbidden("Your role does not allow this.", None, {"action": action})
            return fn(*args, **kwargs)

        wrapper._patrol_policy = {
            "action": action,
            "roles": tuple(sorted(rule.roles if rule else choices.ROLES)),
            "relations": tuple(sorted(rule.relations)) if rule else (),
        }
        return wrapper

    return decorate


def public(fn):
    """Declare a view that anyone may call (login, health, metadata)."""
    fn._patrol_policy = {"roles": (), "public": True}
    return fn
