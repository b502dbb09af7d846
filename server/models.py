"""The data model: every table of the product, SQLAlchemy 2 style.

Conventions: times are naive UTC (`utcnow()`); records made on a phone (rounds, visits,
findings, photos, mutations) carry the phone's UUID as their primary key, so a replay
can never create a second copy; records made on the server have integer keys.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from . import choices
from .extensions import db


def utcnow() -> datetime:
    """Now, as naive UTC: the one time representation stored in the database."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


UUID = String(36)


# --- Sites, people, access ---------------------------------------------------------


class Site(db.Model):
    __tablename__ = "sites"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200), default="")
    timezone: Mapped[str] = mapped_column(String(64))
    task_due_days: Mapped[int] = mapped_column(Integer, default=7)
    # Minimum walking time between two checkpoints before a pair of scans looks suspicious.
    min_scan_gap_seconds: Mapped[int] = mapped_column(Integer, default=20)
    # Complaint deadlines in site-local business days (docs/complaints.md "Deadlines"), and which weekend.
    complaint_business_days: Mapped[bool] = mapped_column(Boolean, default=False)
    complaint_weekend: Mapped[str] = mapped_column(String(16), default=choices.WEEKEND_SAT_SUN)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    @property
    def site_id(self) -> int:
        """A site belongs to itself, so the same scoping check applies to it."""
        return self.id


class User(db.Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str] = mapped_column(String(8), default="zh")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    memberships: Mapped[list["Membership"]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    def roles_by_site(self) -> dict[int, set[str]]:
        out: dict[int, set[str]] = {}
        for m in self.memberships:
            out.setdefault(m.site_id, set()).add(m.role)
        return out


class Membership(db.Model):
    """A user's role at a site; a user may hold several roles at several sites."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "site_id", "role"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")


class AuthSession(db.Model):
    """A server-side login session; the cookie carries a random token whose hash is the key."""

    __tablename__ = "auth_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    user_agent: Mapped[str] = mapped_column(String(300), default="")


class LoginAttempt(db.Model):
    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_username_at", "username", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    remote_addr: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    success: Mapped[bool] = mapped_column(Boolean, default=False)


class Department(db.Model):
    __tablename__ = "departments"
    __table_args__ = (UniqueConstraint("site_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name_zh: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


# --- Places and checklists ---------------------------------------------------------


class Checkpoint(db.Model):
    __tablename__ = "checkpoints"
    __table_args__ = (UniqueConstraint("site_id", "short_code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200), default="")
    building: Mapped[str] = mapped_column(String(64), default="")
    floor: Mapped[str] = mapped_column(String(16), default="")
    unit: Mapped[str] = mapped_column(String(32), default="")
    # Typed by hand when a QR will not scan: short, no ambiguous characters.
    short_code: Mapped[str] = mapped_column(String(16))
    # In the QR's URL: unguessable, replaced when a label is reissued.
    token: Mapped[str] = mapped_column(String(64), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class RetiredToken(db.Model):
    """A QR token replaced by a reprinted label; scanning it gets a clear message."""

    __tablename__ = "retired_tokens"
    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id", ondelete="CASCADE"))
    retired_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SiteChecklistItem(db.Model):
    """An item a site adds to a shipped checklist, without editing checklists/."""

    __tablename__ = "site_checklist_items"
    __table_args__ = (UniqueConstraint("site_id", "item_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[str] = mapped_column(String(80))
    text_zh: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text, default="")
    methods: Mapped[list] = mapped_column(JSON)
    category: Mapped[str] = mapped_column(String(32))
    route: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ChecklistVersion(db.Model):
    """The effective checklist of one kind at one site, frozen by content hash.

    Records keep the version they were made with; any change to a shipped file or to a
    site's own items yields a new row with the next version number.
    """

    __tablename__ = "checklist_versions"
    __table_args__ = (
        UniqueConstraint("site_id", "kind", "content_hash"),
        UniqueConstraint("site_id", "kind", "version"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    body: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class PatrolPlan(db.Model):
    """The manager's patrol work plan: who patrols which places, when, with what focus."""

    __tablename__ = "patrol_plans"
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200), default="")
    assignee_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # {"days": [0..6] (Monday=0), "windows": [["09:00", "11:00"], ...]} in the site's timezone.
    schedule: Mapped[dict] = mapped_column(JSON)
    focus_zh: Mapped[str] = mapped_column(Text, default="")
    focus_en: Mapped[str] = mapped_column(Text, default="")
    checkpoint_ids: Mapped[list] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


# --- Sync ---------------------------------------------------------------------------


class Device(db.Model):
    __tablename__ = "devices"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Phone clock minus server clock at the last sync, in milliseconds.
    clock_offset_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    clock_flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    max_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    user_agent: Mapped[str] = mapped_column(String(300), default="")


class SyncRequest(db.Model):
    """One push as received: when, from which device, and how far off its clock was."""

    __tablename__ = "sync_requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    device_time: Mapped[Optional[datetime]] = mapped_column(DateTime)
    clock_offset_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    mutations: Mapped[int] = mapped_column(Integer, default=0)
    applied: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)


class Mutation(db.Model):
    """Every mutation a phone sent, keyed by its own id: the idempotency record.

    Stored in the same transaction as its effect, so a replay finds it and is answered
    `duplicate` with the first result instead of being applied again.
    """

    __tablename__ = "mutations"
    __table_args__ = (UniqueConstraint("device_id", "seq"),)
    id: Mapped[str] = mapped_column(UUID, primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    payload_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    result: Mapped[dict] = mapped_column(JSON)
    observed_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Counter(db.Model):
    """Named counters; `change_cursor` numbers the change log in commit order."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class Change(db.Model):
    """The pull log: the latest change of each entity a phone keeps offline.

    One row per entity: a newer change replaces the row under a new, higher cursor, so a
    pull from zero returns exactly the current set and an interrupted pull can resume.
    """

    __tablename__ = "changes"
    __table_args__ = (UniqueConstraint("entity", "entity_id"),)
    cursor: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    site_id: Mapped[Optional[int]] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    # Set when only one user should see the change (their access to a site).
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(80))
    op: Mapped[str] = mapped_column(String(8))  # upsert | delete | grant | revoke
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# --- Patrol records ------------------------------------------------------------------


class Round(db.Model):
    __tablename__ = "rounds"
    id: Mapped[str] = mapped_column(UUID, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    device_id: Mapped[str] = mapped_column(String(64))
    plan_id: Mapped[Optional[int]] = mapped_column(ForeignKey("patrol_plans.id", ondelete="SET NULL"))
    started_at: Mapped[datetime] = mapped_column(DateTime)  # corrected by the clock offset
    started_at_device: Mapped[datetime] = mapped_column(DateTime)
    ended_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    ended_at_device: Mapped[Optional[datetime]] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16), default=choices.ROUND_OPEN)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class MissedReason(db.Model):
    """Why a checkpoint of a round's plan was not visited, as the patroller said when ending the round."""

    __tablename__ = "missed_reasons"
    __table_args__ = (
        UniqueConstraint("round_id", "checkpoint_id"),
        Index("ix_missed_reasons_plan_given", "plan_id", "given_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[str] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    plan_id: Mapped[Optional[int]] = mapped_column(ForeignKey("patrol_plans.id", ondelete="SET NULL"))
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(32))  # choices.MISSED_REASONS
    note: Mapped[str] = mapped_column(Text, default="")
    given_at: Mapped[datetime] = mapped_column(DateTime)  # corrected by the clock offset
    given_at_device: Mapped[datetime] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Visit(db.Model):
    """One checkpoint visit: the scan and one result per checklist item."""

    __tablename__ = "visits"
    __table_args__ = (Index("ix_visits_site_scanned", "site_id", "scanned_at"),)
    id: Mapped[str] = mapped_column(UUID, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    round_id: Mapped[Optional[str]] = mapped_column(ForeignKey("rounds.id", ondelete="SET NULL"), index=True)
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    device_id: Mapped[str] = mapped_column(String(64))
    checklist_version_id: Mapped[Optional[int]] = mapped_column(ForeignKey("checklist_versions.id"))
    purpose: Mapped[str] = mapped_column(String(16), default=choices.VISIT_PATROL)  # choices.VISIT_PURPOSES
    scanned_at: Mapped[datetime] = mapped_column(DateTime)  # corrected by the clock offset
    scanned_at_device: Mapped[datetime] = mapped_column(DateTime)
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    scan_method: Mapped[str] = mapped_column(String(8), default=choices.SCAN_QR)
    note: Mapped[str] = mapped_column(Text, default="")
    resident_note: Mapped[str] = mapped_column(Text, default="")
    # Year-month in the site's timezone: the month it is filed under.
    month: Mapped[str] = mapped_column(String(7), index=True)
    addendum: Mapped[bool] = mapped_column(Boolean, default=False)


class ItemResult(db.Model):
    __tablename__ = "item_results"
    __table_args__ = (UniqueConstraint("visit_id", "item_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[str] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"))
    item_id: Mapped[str] = mapped_column(String(80))
    result: Mapped[str] = mapped_column(String(8))
    note: Mapped[str] = mapped_column(Text, default="")


class Finding(db.Model):
    """A problem seen on patrol: a failed item, or one reported outside the checklist."""

    __tablename__ = "findings"
    __table_args__ = (
        Index("ix_findings_site_observed", "site_id", "observed_at"),
        # Repeat detection (tasks/repeats.py) reads one checkpoint's item's failures in a window.
        Index("ix_findings_checkpoint_item_observed", "checkpoint_id", "item_id", "observed_at"),
    )
    id: Mapped[str] = mapped_column(UUID, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    visit_id: Mapped[Optional[str]] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    # Looked up by ix_findings_checkpoint_item_observed, whose first column it is.
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id"))
    item_id: Mapped[Optional[str]] = mapped_column(String(80))
    category: Mapped[str] = mapped_column(String(32))
    route: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[str] = mapped_column(String(8), default=choices.SEVERITY_NORMAL)
    dealt_on_spot: Mapped[bool] = mapped_column(Boolean, default=False)
    spot_note: Mapped[str] = mapped_column(Text, default="")
    reported_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    observed_at: Mapped[datetime] = mapped_column(DateTime)  # corrected by the clock offset
    observed_at_device: Mapped[datetime] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    month: Mapped[str] = mapped_column(String(7), index=True)
    addendum: Mapped[bool] = mapped_column(Boolean, default=False)


class Photo(db.Model):
    """A photo's evidence record. A record may name it before its bytes arrive."""

    __tablename__ = "photos"
    # Each push answers with the photos its user still owes (sync.expected_photos).
    __table_args__ = (Index("ix_photos_uploaded_by_status", "uploaded_by", "status"),)
    id: Mapped[str] = mapped_column(UUID, primary_key=True)
    site_id: Mapped[Optional[int]] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    uploaded_by: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    visit_id: Mapped[Optional[str]] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    finding_id: Mapped[Optional[str]] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[Optional[int]] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    # A resident's complaint the photo was taken for (docs/complaints.md "Photos").
    complaint_id: Mapped[Optional[int]] = mapped_column(ForeignKey("complaints.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16), default=choices.PHOTO_FINDING)  # choices.PHOTO_PURPOSES
    status: Mapped[str] = mapped_column(String(16), default=choices.PHOTO_EXPECTED)
    sha256: Mapped[Optional[str]] = mapped_column(String(64))  # of the original bytes
    content_type: Mapped[str] = mapped_column(String(32), default="")
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    received_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    # A circle or arrow the patroller drew over the photo (server/drawings.py): vector shapes in
    # 0..1 coordinates of the photo, shown over the original, whose bytes stay as they were taken.
    annotation: Mapped[Optional[dict]] = mapped_column(JSON)
    # Received, but the display copy and thumbnail are still to be made from the kept
    # original (photos.make_copies; docs/sync.md "Photos"). Never served until they are.
    copies_pending: Mapped[bool] = mapped_column(Boolean, default=False)


class ResidentNote(db.Model):
    """What a resident said to the patroller at a checkpoint ("ask"), made on the phone (its UUID makes it once).

    The unit and contact are kept only with the resident's consent (server/residents.py);
    a note may be turned into a finding of the same visit (`finding_id`).
    """

    __tablename__ = "resident_notes"
    __table_args__ = (Index("ix_resident_notes_site_observed", "site_id", "observed_at"),)
    id: Mapped[str] = mapped_column(UUID, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id"), index=True)
    # The visit it was heard in: it goes with the visit (retention's purge deletes visits).
    visit_id: Mapped[str] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    finding_id: Mapped[Optional[str]] = mapped_column(ForeignKey("findings.id", ondelete="SET NULL"), index=True)
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    said: Mapped[str] = mapped_column(Text)
    consent: Mapped[bool] = mapped_column(Boolean, default=False)
    unit: Mapped[str] = mapped_column(String(64), default="")
    contact: Mapped[str] = mapped_column(String(120), default="")
    observed_at: Mapped[datetime] = mapped_column(DateTime)  # corrected by the clock offset
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    month: Mapped[str] = mapped_column(String(7), index=True)


# --- From finding to verified fix ------------------------------------------------------


class Task(db.Model):
    """A repair task: opened by exactly one finding, in the same transaction."""

    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_site_state", "site_id", "state"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    finding_id: Mapped[str] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"), unique=True)
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id"), index=True)
    route: Mapped[str] = mapped_column(String(32))
    route_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    severity: Mapped[str] = mapped_column(String(8), default=choices.SEVERITY_NORMAL)
    department_id: Mapped[Optional[int]] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))
    assignee_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    state: Mapped[str] = mapped_column(String(16), default=choices.TASK_OPEN)
    due_at: Mapped[datetime] = mapped_column(DateTime)
    original_due_at: Mapped[datetime] = mapped_column(DateTime)
    repeat_flag: Mapped[bool] = mapped_column(Boolean, default=False)
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
    # Residents'-convention case details: notice given, rectification deadline, outcome.
    case: Mapped[dict] = mapped_column(JSON, default=dict)
    last_escalated_on: Mapped[Optional[str]] = mapped_column(String(10))  # site-local date
    # When the task was last marked done: a verification scan must be made after it.
    done_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    closed_at: Mapped[Optional[datetime]] = mapped_column(DateTime)


class TaskComment(db.Model):
    __tablename__ = "task_comments"
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    photo_ids: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Extension(db.Model):
    """A request to move a task's due date; only a manager decides it."""

    __tablename__ = "extensions"
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_due_at: Mapped[datetime] = mapped_column(DateTime)
    previous_due_at: Mapped[datetime] = mapped_column(DateTime)
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=choices.EXTENSION_PENDING)
    decided_by: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    decision_note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Verification(db.Model):
    """The on-site check of finished work, with its sign-off."""

    __tablename__ = "verifications"
    id: Mapped[str] = mapped_column(UUID, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    visit_id: Mapped[str] = mapped_column(ForeignKey("visits.id"))  # the fresh scan
    verifier_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    result: Mapped[str] = mapped_column(String(8))
    note: Mapped[str] = mapped_column(Text, default="")
    fixed_by_name: Mapped[str] = mapped_column(String(120), default="")
    supervisor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    # Photo ids of the drawn signatures: {"fixer": id, "verifier": id, "supervisor": id}.
    signatures: Mapped[dict] = mapped_column(JSON, default=dict)
    after_photo_ids: Mapped[list] = mapped_column(JSON, default=list)
    verified_at: Mapped[datetime] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Notification(db.Model):
    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("user_id", "dedupe_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    # Indexed: a decided extension's request notices are found by their task (notifications.settle),
    # and a task purged with its month takes its notices with it.
    task_id: Mapped[Optional[int]] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    dedupe_key: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    read_at: Mapped[Optional[datetime]] = mapped_column(DateTime)


class Webhook(db.Model):
    __tablename__ = "webhooks"
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    preset: Mapped[str] = mapped_column(String(16), default=choices.WEBHOOK_GENERIC)
    secret: Mapped[str] = mapped_column(String(128), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class WebhookDelivery(db.Model):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("webhook_id", "dedupe_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"), index=True)
    dedupe_key: Mapped[str] = mapped_column(String(120))
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=choices.WEBHOOK_PENDING)  # choices.WEBHOOK_STATES
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[Optional[datetime]] = mapped_column(DateTime)


class AuditEvent(db.Model):
    """Append-only history of every change to findings, tasks, extensions, verifications.

    Each row's hash covers its content and the previous row's hash, so an edit or a
    deletion anywhere breaks the chain at that row (`flask audit verify`).
    """

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    site_id: Mapped[Optional[int]] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"), index=True)
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


Index("ix_audit_events_entity", AuditEvent.entity, AuditEvent.entity_id)


# --- Month-end filing and retention (issue 7) --------------------------------------------


class MonthArchive(db.Model):
    """One site's month as filed: open → sealed (read-only) → archived (bundle built) → purged."""

    __tablename__ = "month_archives"
    __table_args__ = (UniqueConstraint("site_id", "month"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    month: Mapped[str] = mapped_column(String(7))
    state: Mapped[str] = mapped_column(String(16), default=choices.MONTH_OPEN)
    sealed_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    # None when the scheduled command sealed it.
    sealed_by: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    bundle_path: Mapped[str] = mapped_column(String(500), default="")
    bundle_sha256: Mapped[str] = mapped_column(String(64), default="")
    built_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    addendum_count: Mapped[int] = mapped_column(Integer, default=0)
    # Every file filed for the month, in order: [{"kind": "bundle"|"addendum", "path", "sha256", "bytes", "built_at", "records"}].
    files: Mapped[list] = mapped_column(JSON, default=list)
    purged_at: Mapped[Optional[datetime]] = mapped_column(DateTime)


class LegalHold(db.Model):
    """Keeps a whole site, one month of it, or one task (and its records) from purge."""

    __tablename__ = "legal_holds"
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    month: Mapped[Optional[str]] = mapped_column(String(7))
    task_id: Mapped[Optional[int]] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    released_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    released_by: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class PurgeLog(db.Model):
    """What a purge removed: one row per site and month, kept after the records are gone."""

    __tablename__ = "purge_logs"
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[Optional[int]] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"), index=True)
    month: Mapped[str] = mapped_column(String(7))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # None when the scheduled command ran it; `by_name` says who or what in words.
    by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    by_name: Mapped[str] = mapped_column(String(120), default="")
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    held: Mapped[dict] = mapped_column(JSON, default=dict)
    archive_sha256: Mapped[str] = mapped_column(String(64), default="")
    audit_hash: Mapped[str] = mapped_column(String(64), default="")


def as_dict(obj: Any, *fields: str) -> dict:
    return {f: getattr(obj, f) for f in fields}


# --- Residents' complaints and return visits (issue 15, docs/complaints.md) --------------------


class Complaint(db.Model):
    """A resident's complaint (《顾客投诉登记表》), from receiving to the return visit."""

    __tablename__ = "complaints"
    __table_args__ = (Index("ix_complaints_site_state", "site_id", "state"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    # A phone may take a complaint offline during a patrol: its UUID makes a resend a no-op.
    client_id: Mapped[Optional[str]] = mapped_column(UUID, unique=True)
    channel: Mapped[str] = mapped_column(String(16))  # choices.COMPLAINT_CHANNELS
    reply_channel: Mapped[str] = mapped_column(String(16))  # the resident's channel unless they asked otherwise
    complainant: Mapped[str] = mapped_column(String(120))
    # Stored with the resident's consent only, and shown only to the site's staff.
    contact: Mapped[str] = mapped_column(String(200), default="")
    contact_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    unit: Mapped[str] = mapped_column(String(64), default="")
    checkpoint_id: Mapped[Optional[int]] = mapped_column(ForeignKey("checkpoints.id", ondelete="SET NULL"), index=True)
    item_id: Mapped[Optional[str]] = mapped_column(String(80))  # the checklist item the complaint is about
    finding_id: Mapped[Optional[str]] = mapped_column(ForeignKey("findings.id", ondelete="SET NULL"))
    visit_id: Mapped[Optional[str]] = mapped_column(ForeignKey("visits.id", ondelete="SET NULL"))  # taken during this patrol visit
    task_id: Mapped[Optional[int]] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))  # the linked repair task
    category: Mapped[str] = mapped_column(String(32), default="")  # choices.CATEGORIES, or empty
    content: Mapped[str] = mapped_column(Text)
    photo_ids: Mapped[list] = mapped_column(JSON, default=list)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    received_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16), default=choices.COMPLAINT_ORDINARY)
    valid: Mapped[Optional[bool]] = mapped_column(Boolean)  # None until judged
    validity_reason: Mapped[str] = mapped_column(Text, default="")
    judged_by: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    judged_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    department_id: Mapped[Optional[int]] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))
    handler_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    state: Mapped[str] = mapped_column(String(16), default=choices.COMPLAINT_RECEIVED)
    due_at: Mapped[datetime] = mapped_column(DateTime)
    level: Mapped[str] = mapped_column(String(16), default=choices.LEVEL_RECEIVER)  # choices.ESCALATION_LEVELS
    cause: Mapped[str] = mapped_column(Text, default="")
    solution: Mapped[str] = mapped_column(Text, default="")
    approved_by: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    accepted_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    accepted_by_name: Mapped[str] = mapped_column(String(120), default="")  # who signed for the resident
    reply_text: Mapped[str] = mapped_column(Text, default="")
    replied_by: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    replied_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    return_due_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    return_scheduled_at: Mapped[Optional[datetime]] = mapped_column(DateTime)  # a time agreed with the resident
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    closed_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    # Year-month received, in the site's timezone: the month it is filed under.
    month: Mapped[str] = mapped_column(String(7), index=True)
    addendum: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class ReturnVisit(db.Model):
    """One return visit (回访) to a complaint's resident, with its result."""

    __tablename__ = "return_visits"
    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    visitor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    result: Mapped[str] = mapped_column(String(16))  # choices.SATISFACTION
    improve: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    visited_at: Mapped[datetime] = mapped_column(DateTime)
    on_time: Mapped[bool] = mapped_column(Boolean, default=True)  # within the three days (or the agreed time)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
