"""Offline sync: push with an exactly-once effect, pull from the change log, devices and clocks.

Push (docs/sync.md): every mutation is stored in `mutations` under its phone-made id, in
the same transaction as its effect, so a replay is answered `duplicate` with the first
result and never applied twice (offline-sync.md G1, G7). Each mutation is applied inside
its own SAVEPOINT, so an invalid one is rejected alone and the rest apply (G8). One push
is one transaction: a crash mid-push leaves every mutation either applied with its record
or not at all.

The hot path (plain visits, rounds) is buffered and written with Core `executemany`,
one statement per table for a run of mutations; visits with findings, round ends and task
kinds go through the domain functions one by one. If a buffered run hits a constraint
(a concurrent push of the same batch), it is undone and replayed mutation by mutation.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from flask import current_app
from sqlalchemy import String, and_, cast, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from . import choices, policy
from .changes import current_cursor
from .errors import ApiError
from .findings import NewFinding, record_findings
from .extensions import db
from .models import (
    Change,
    ChecklistVersion,
    Checkpoint,
    Counter,
    Department,
    Device,
    Finding,
    ItemResult,
    Membership,
    Mutation,
    PatrolPlan,
    Photo,
    Round,
    Site,
    SyncRequest,
    Task,
    User,
    Visit,
    utcnow,
)
from .problems import Problem
from .timeutil import corrected, iso, month_of

# Who may record patrol data at a site: everyone but the archivist, who only files.
RECORDERS = tuple(policy.roles_for("patrol.record"))
RECORDER_ROLES, NO_ROLES = frozenset(RECORDERS), frozenset()

KINDS = ("round.start", "visit.record", "round.end", "task.transition", "task.verify")

# Rejection codes of single mutations (docs/sync.md lists each with an example).
INVALID_PAYLOAD = "invalid_payload"
UNKNOWN_KIND = "unknown_kind"
ID_CONFLICT = "id_conflict"
SEQ_CONFLICT = "seq_conflict"
FORBIDDEN_SITE = "forbidden_site"
UNKNOWN_CHECKPOINT = "unknown_checkpoint"
UNKNOWN_CHECKLIST_VERSION = "unknown_checklist_version"
UNKNOWN_ITEM = "unknown_item"
MISSING_FINDING = "missing_finding"
RECORD_EXISTS = "record_exists"
UNKNOWN_ROUND = "unknown_round"
ROUND_ENDED = "round_ended"
UNKNOWN_PLAN = "unknown_plan"
PHOTO_CONFLICT = "photo_conflict"
UNKNOWN_TASK = "unknown_task"
REJECTION_CODES = (
    INVALID_PAYLOAD, UNKNOWN_KIND, ID_CONFLICT, SEQ_CONFLICT, FORBIDDEN_SITE, UNKNOWN_CHECKPOINT,
    UNKNOWN_CHECKLIST_VERSION, UNKNOWN_ITEM, MISSING_FINDING, RECORD_EXISTS, UNKNOWN_ROUND,
    ROUND_ENDED, UNKNOWN_PLAN, PHOTO_CONFLICT, UNKNOWN_TASK,
)

# Below this cursor the change log was pruned (tombstones dropped): such a phone starts again.
HORIZON = "change_horizon"
MAX_TEXT = 4000
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class Rejection(Exception):
    """One mutation is refused; the others of the push go on."""

    def __init__(self, code: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}

    def as_result(self) -> dict:
        out = {"code": self.code, "message": self.message}
        if self.details:
            out["details"] = self.details
        return out


def parse_time(value) -> datetime | None:
    """An ISO 8601 time with an offset (or Z) → naive UTC; None when it is not one."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        return None
    return dt.astimezone(timezone.utc).replace(tzinfo=None)


def content_hash(mutation: dict) -> str:
    """What "same content" means: seq, kind, observed_at and payload, as canonical JSON."""
    canon = json.dumps(
        [mutation.get("seq"), mutation.get("kind"), mutation.get("observed_at"), mutation.get("payload")],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canon.encode()).hexdigest()


# --- reading payloads ---------------------------------------------------------------


class Fields:
    """Reads one payload's fields, collecting every problem before rejecting once.

    Unknown keys are ignored so that a newer app can add fields without its records
    being refused by an older server.
    """

    def __init__(self, data, prefix: str = "", errors: dict | None = None):
        self.data = data if isinstance(data, dict) else {}
        self.prefix = prefix
        self.errors = {} if errors is None else errors
        if not isinstance(data, dict):
            self.fail("", "must be an object")

    def fail(self, key: str, message: str) -> None:
        self.errors.setdefault(f"{self.prefix}{key}" or "payload", []).append(message)

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def uuid(self, key: str, required: bool = True) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                self.fail(key, "required")
            return None
        if not isinstance(value, str) or not UUID_RE.match(value.lower()):
            self.fail(key, "must be a UUID")
            return None
        return value.lower()

    def int(self, key: str, required: bool = True) -> int | None:
        value = self.data.get(key)
        if value is None:
            if required:
                self.fail(key, "required")
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not (0 < value < 2**53):
            self.fail(key, "must be a positive whole number")
            return None
        return value

    def text(self, key: str, required: bool = False, max_len: int = MAX_TEXT) -> str:
        value = self.data.get(key)
        if value is None:
            if required:
                self.fail(key, "required")
            return ""
        if not isinstance(value, str):
            self.fail(key, "must be text")
            return ""
        if len(value) > max_len:
            self.fail(key, f"at most {max_len} characters")
            return ""
        if required and not value.strip():
            self.fail(key, "must not be empty")
        return value

    def choice(self, key: str, options, default=None):
        value = self.data.get(key)
        if value is None:
            if default is None:
                self.fail(key, "required")
            return default
        if value not in options:
            self.fail(key, f"must be one of {list(options)}")
            return default
        return value

    def flag(self, key: str) -> bool:
        value = self.data.get(key, False)
        if not isinstance(value, bool):
            self.fail(key, "must be true or false")
            return False
        return value

    def time(self, key: str) -> datetime | None:
        value = self.data.get(key)
        if value is None:
            self.fail(key, "required")
            return None
        dt = parse_time(value)
        if dt is None:
            self.fail(key, "must be an ISO 8601 time with an offset, e.g. 2026-05-01T08:30:00Z")
        return dt

    def uuids(self, key: str, limit: int = 20) -> list[str]:
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or len(value) > limit:
            self.fail(key, f"must be a list of at most {limit} UUIDs")
            return []
        out = []
        for v in value:
            if not isinstance(v, str) or not UUID_RE.match(v.lower()):
                self.fail(key, "must be a list of UUIDs")
                return []
            if v.lower() not in out:
                out.append(v.lower())
        return out

    def objects(self, key: str, limit: int = 200) -> list:
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or len(value) > limit:
            self.fail(key, f"must be a list of at most {limit} objects")
            return []
        return value

    def sub(self, data, prefix: str) -> "Fields":
        return Fields(data, self.prefix + prefix, self.errors)

    def check(self) -> None:
        if self.errors:
            names = ", ".join(sorted(self.errors))
            raise Rejection(INVALID_PAYLOAD, f"Some fields of this record are not valid: {names}.", {"fields": self.errors})


# --- clocks and devices --------------------------------------------------------------


@dataclass
class Clock:
    """One push's view of the phone clock: offset = phone − server, in milliseconds."""

    received_at: datetime
    device_time: datetime | None
    offset_ms: int

    @classmethod
    def measure(cls, device_time: datetime | None, received_at: datetime) -> "Clock":
        offset = 0 if device_time is None else round((device_time - received_at).total_seconds() * 1000)
        return cls(received_at, device_time, offset)

    def correct(self, device_dt: datetime) -> datetime:
        """Device time on the server clock; nothing can have happened after we received it."""
        return min(corrected(device_dt, self.offset_ms), self.received_at)


def register_device(user: User, device_id: str, user_agent: str) -> Device:
    """The device row, locked for this push; created on first sight, 409 if another user owns it."""
    device = db.session.execute(select(Device).where(Device.id == device_id).with_for_update()).scalar_one_or_none()
    if device is None:
        now = utcnow()
        try:
            with db.session.begin_nested():
                db.session.execute(
                    insert(Device).values(
                        id=device_id, user_id=user.id, first_seen_at=now, last_seen_at=now, clock_offset_ms=0,
                        clock_flagged=False, max_seq=0, user_agent=user_agent[:300],
                    )
                )
        except IntegrityError:
            pass  # registered by a concurrent push a moment ago
        device = db.session.execute(select(Device).where(Device.id == device_id).with_for_update()).scalar_one()
    if device.user_id != user.id:
        raise ApiError(
            409,
            "This device id is registered to another user. Sign out and in again so the app makes a new one.",
            "device_owned",
        )
    return device


# --- push ------------------------------------------------------------------------------


@dataclass
class Pending:
    """A validated mutation whose rows wait in the buffer for one executemany per table."""

    index: int
    rows: dict  # table name → list of row dicts
    after: list = field(default_factory=list)  # callables run once the rows are stored
    findings: list = field(default_factory=list)  # NewFinding, recorded for the whole buffer after the visit rows
    finding_ids: list = field(default_factory=list)  # their tasks' ids go into the result


TABLES = {"rounds": Round.__table__, "visits": Visit.__table__, "item_results": ItemResult.__table__, "photos": Photo.__table__, "mutations": Mutation.__table__}


class Push:
    """Applies one push: caches what the batch refers to, then each mutation in order."""

    def __init__(self, user: User, device: Device, clock: Clock, mutations: list[dict]):
        self.user = user
        self.device = device
        self.clock = clock
        self.mutations = mutations
        self.results: list[dict | None] = [None] * len(mutations)
        self.pending: list[Pending] = []
        self.roles = {}
        for site_id, role in db.session.execute(select(Membership.site_id, Membership.role).where(Membership.user_id == user.id)):
            self.roles.setdefault(site_id, set()).add(role)
        self._sites: dict[int, Site] = {}
        self._checkpoints: dict[int, dict] = {}
        self._versions: dict[int, VersionInfo | None] = {}
        self._sealed: dict[tuple[int, str], bool] = {}
        self._preload()

    def addendum(self, site_id: int, month: str) -> bool:
        """A record of a sealed month is still accepted, filed as that month's addendum."""
        key = (site_id, month)
        if key not in self._sealed:
            from .archive import is_sealed

            self._sealed[key] = is_sealed(site_id, month)
        return self._sealed[key]

    # Batch look-ups: one query each instead of one per mutation.
    def _preload(self) -> None:
        ids = [m["mutation_id"] for m in self.mutations]
        self.known: dict[str, tuple] = {}
        for row in db.session.execute(
            select(Mutation.id, Mutation.user_id, Mutation.payload_hash, Mutation.status, Mutation.result).where(Mutation.id.in_(ids))
        ):
            self.known[row.id] = (row.user_id, row.payload_hash, row.status, row.result)
        seqs = [m["seq"] for m in self.mutations]
        self.seq_owner: dict[int, str] = dict(
            db.session.execute(select(Mutation.seq, Mutation.id).where(Mutation.device_id == self.device.id, Mutation.seq.in_(seqs))).all()
        )
        visit_ids, round_ids, finding_ids, photo_ids = set(), set(), set(), set()
        for m in self.mutations:
            p = m.get("payload") or {}
            _collect(p, visit_ids, round_ids, finding_ids, photo_ids)
        self.visits = {r.id for r in _existing((Visit.id,), visit_ids)}
        self.findings = {r.id for r in _existing((Finding.id,), finding_ids)}
        self.rounds: dict[str, dict] = {}
        for r in _existing((Round.id, Round.user_id, Round.site_id, Round.status), round_ids):
            self.rounds[r.id] = {"user_id": r.user_id, "site_id": r.site_id, "status": r.status}
        self.photos: dict[str, dict] = {}
        cols = (Photo.id, Photo.uploaded_by, Photo.status, Photo.site_id, Photo.visit_id, Photo.finding_id, Photo.task_id)
        for ph in _existing(cols, photo_ids):
            self.photos[ph.id] = dict(ph._mapping)

    def site(self, site_id) -> Site:
        if not isinstance(site_id, int) or not (self.roles.get(site_id, NO_ROLES) & RECORDER_ROLES):
            raise Rejection(FORBIDDEN_SITE, "You have no role at this site that allows recording patrols.")
        if site_id not in self._sites:
            self._sites[site_id] = db.session.get(Site, site_id)
        return self._sites[site_id]

    def checkpoint(self, site_id: int, f: Fields):
        if site_id not in self._checkpoints:
            rows = db.session.execute(
                select(Checkpoint.id, Checkpoint.kind, Checkpoint.short_code).where(Checkpoint.site_id == site_id)
            ).all()
            self._checkpoints[site_id] = {"id": {r.id: r for r in rows}, "code": {r.short_code: r for r in rows}}
        cps = self._checkpoints[site_id]
        if f.has("checkpoint_code") and not f.has("checkpoint_id"):
            code = f.text("checkpoint_code", max_len=16).strip().upper().replace(" ", "").replace("-", "")
            cp = cps["code"].get(code)
        else:
            cp = cps["id"].get(f.int("checkpoint_id"))
        f.check()
        if cp is None:
            raise Rejection(UNKNOWN_CHECKPOINT, "This checkpoint does not exist at this site.")
        return cp

    def version(self, version_id: int | None) -> "VersionInfo | None":
        if version_id not in self._versions:
            self._versions[version_id] = version_info(version_id) if version_id else None
        return self._versions[version_id]

    # --- the loop ---

    def run(self) -> list[dict]:
        seen: dict[str, tuple] = {}  # mutation id → (hash, index) within this batch
        seqs_here: dict[int, str] = {}
        for i, m in enumerate(self.mutations):
            mid, seq = m["mutation_id"], m["seq"]
            digest = content_hash(m)
            base = {"mutation_id": mid, "seq": seq}
            if mid in seen:
                first_hash, first = seen[mid]
                self.flush()  # the first copy's final answer must be known
                if first_hash == digest:
                    self.results[i] = {**base, **_as_duplicate(self.results[first])}
                else:
                    self.results[i] = {**base, **_rejected(ID_CONFLICT, "This record id was already used for different content; it was not applied.")}
                continue
            seen[mid] = (digest, i)
            if mid in self.known:
                self.results[i] = {**base, **self._answer_known(mid, digest)}
                continue
            owner = self.seq_owner.get(seq) or seqs_here.get(seq)
            if owner and owner != mid:
                self.results[i] = {**base, **_rejected(SEQ_CONFLICT, f"Sequence number {seq} of this device was already used by another record.")}
                continue
            seqs_here[seq] = mid
            self.results[i] = base
            self._apply(i, m, digest)
        self.flush()
        return self.results  # type: ignore[return-value]

    def _answer_known(self, mid: str, digest: str) -> dict:
        user_id, stored_hash, status, result = self.known[mid]
        if user_id != self.user.id or stored_hash != digest:
            return _rejected(ID_CONFLICT, "This record id was already used for different content; it was not applied.")
        if status == choices.SYNC_REJECTED:
            return {"status": choices.SYNC_REJECTED, **result}
        return {"status": choices.SYNC_DUPLICATE, "result": result}

    def _mutation_row(self, m: dict, digest: str, status: str, result: dict, observed_at: datetime | None) -> dict:
        return {
            "id": m["mutation_id"], "device_id": self.device.id, "user_id": self.user.id, "seq": m["seq"], "kind": m["kind"],
            "payload_hash": digest, "status": status, "result": result, "observed_at": observed_at,
            "received_at": self.clock.received_at,
        }

    def _apply(self, i: int, m: dict, digest: str) -> None:
        handler = HANDLERS.get(m["kind"])
        observed_device = parse_time(m.get("observed_at"))
        observed_at = self.clock.correct(observed_device) if observed_device else None
        try:
            if handler is None:
                raise Rejection(UNKNOWN_KIND, f"This server does not know the record kind {m['kind']!r}; update the server or the app.")
            if observed_device is None:
                raise Rejection(INVALID_PAYLOAD, "observed_at must be an ISO 8601 time with an offset.", {"fields": {"observed_at": ["invalid"]}})
            self.observed_device = observed_device  # the phone's own time, kept beside the corrected one
            plan = handler(self, m.get("payload"), observed_at)
        except Rejection as rej:
            self._reject(i, m, digest, rej, observed_at)
            return
        if plan.get("inline") is None:
            rows = plan["rows"]
            rows.setdefault("mutations", []).append(self._mutation_row(m, digest, choices.SYNC_APPLIED, plan["result"], observed_at))
            self.pending.append(Pending(i, rows, plan.get("after", []), plan.get("findings", []), plan["result"].get("finding_ids", [])))
            self.results[i].update(status=choices.SYNC_APPLIED, result=plan["result"])
            for fn in plan.get("after", []):
                fn()
            return
        self.flush()
        try:
            with db.session.begin_nested():
                result = plan["inline"]()
                db.session.execute(insert(Mutation.__table__).values(**self._mutation_row(m, digest, choices.SYNC_APPLIED, result, observed_at)))
            self.results[i].update(status=choices.SYNC_APPLIED, result=result)
            for fn in plan.get("after", []):
                fn()
        except Rejection as rej:
            self._reject(i, m, digest, rej, observed_at)
        except (ApiError, Problem) as exc:
            self._reject(i, m, digest, Rejection(exc.code, exc.message, exc.details), observed_at)
        except IntegrityError:
            self.results[i] = {"mutation_id": m["mutation_id"], "seq": m["seq"], **self._after_integrity_error(m, digest, observed_at)}

    def _reject(self, i: int, m: dict, digest: str, rej: Rejection, observed_at) -> None:
        """Store the rejection too, so a replay gets the same answer."""
        result = rej.as_result()
        self.results[i].update(status=choices.SYNC_REJECTED, **result)
        self.pending.append(Pending(i, {"mutations": [self._mutation_row(m, digest, choices.SYNC_REJECTED, result, observed_at)]}))

    def _after_integrity_error(self, m: dict, digest: str, observed_at) -> dict:
        """A unique key was taken: by this very mutation in a concurrent push, or by another record."""
        row = db.session.execute(
            select(Mutation.user_id, Mutation.payload_hash, Mutation.status, Mutation.result).where(Mutation.id == m["mutation_id"])
        ).first()
        if row is not None:
            self.known[m["mutation_id"]] = tuple(row)
            return self._answer_known(m["mutation_id"], digest)
        rej = Rejection(RECORD_EXISTS, "A record with one of these ids already exists; it was not applied.")
        try:
            with db.session.begin_nested():
                db.session.execute(insert(Mutation.__table__).values(**self._mutation_row(m, digest, choices.SYNC_REJECTED, rej.as_result(), observed_at)))
        except IntegrityError:
            pass  # the seq was taken concurrently: answer without storing
        return {"status": choices.SYNC_REJECTED, **rej.as_result()}

    def flush(self) -> None:
        """Write the buffered mutations in one SAVEPOINT; one by one if anything in it fails."""
        while self.pending:
            pending, self.pending = self.pending, []
            try:
                with db.session.begin_nested():
                    self._write(pending)
                continue
            except (IntegrityError, ApiError, Problem):
                pass
            for p in pending:
                m = self.mutations[p.index]
                row = p.rows["mutations"][0]
                try:
                    with db.session.begin_nested():
                        self._write([p])
                except IntegrityError:
                    self.results[p.index] = {
                        "mutation_id": m["mutation_id"], "seq": m["seq"],
                        **self._after_integrity_error(m, row["payload_hash"], row["observed_at"]),
                    }
                except (ApiError, Problem) as exc:
                    self.results[p.index] = {"mutation_id": m["mutation_id"], "seq": m["seq"]}
                    self._reject(p.index, m, row["payload_hash"], Rejection(exc.code, exc.message, exc.details), row["observed_at"])

    def _write(self, pending: list[Pending]) -> None:
        """Rows by executemany per table; findings through the domain between visits and photos."""
        for table in ("rounds", "visits", "item_results"):
            rows = [r for p in pending for r in p.rows.get(table, ())]
            if rows:
                db.session.execute(insert(TABLES[table]), rows)
        new_findings = [x for p in pending for x in p.findings]
        if new_findings:
            task_of = record_findings(new_findings, sealed=self.addendum)
            for p in pending:
                if p.finding_ids:
                    # The same dict is the answer and the stored mutation result.
                    p.rows["mutations"][0]["result"]["task_ids"] = [task_of[f] for f in p.finding_ids if task_of.get(f)]
        for table in ("photos", "mutations"):
            rows = [r for p in pending for r in p.rows.get(table, ())]
            if rows:
                db.session.execute(insert(TABLES[table]), rows)

    # --- photos named by records ---

    def claim_photos(self, photo_ids: list[str], rows: list | None, **link) -> list:
        """Link named photos to their record; return the updates for photos already uploaded.

        A new id becomes an `expected` photo row (expected from this user). A photo already
        uploaded by this user and not yet linked is linked; anything else is a conflict.
        """
        updates = []
        for pid in photo_ids:
            known = self.photos.get(pid)
            if known is None:
                row = {
                    "id": pid, "site_id": link["site_id"], "uploaded_by": self.user.id, "visit_id": link.get("visit_id"),
                    "finding_id": link.get("finding_id"), "task_id": link.get("task_id"), "purpose": link["purpose"],
                    "status": choices.PHOTO_EXPECTED, "sha256": None, "content_type": "", "size_bytes": 0, "width": 0,
                    "height": 0, "created_at": self.clock.received_at, "received_at": None,
                }
                if rows is not None:
                    rows.append(row)
                else:
                    updates.append(("insert", row))
            elif known["uploaded_by"] == self.user.id and not (known["visit_id"] or known["finding_id"] or known["task_id"]):
                updates.append(("link", pid))
            else:
                raise Rejection(PHOTO_CONFLICT, f"Photo {pid} already belongs to another record or person.")
        return updates

    def note_photos(self, photo_ids: list[str], **link) -> None:
        for pid in photo_ids:
            self.photos[pid] = {"uploaded_by": self.user.id, "visit_id": link.get("visit_id"), "finding_id": link.get("finding_id"), "task_id": link.get("task_id")}


def _existing(columns: tuple, ids: set, chunk: int = 900) -> list:
    """Rows whose key (the first column) is in `ids`, in chunks: SQLite caps bound parameters."""
    ids = sorted(ids)
    out = []
    for start in range(0, len(ids), chunk):
        out.extend(db.session.execute(select(*columns).where(columns[0].in_(ids[start:start + chunk]))).all())
    return out


def _collect(p, visit_ids, round_ids, finding_ids, photo_ids) -> None:
    """Every id a payload names, for the batch look-ups (bad values are simply skipped)."""
    if not isinstance(p, dict):
        return

    def add(target, value):
        if isinstance(value, str):
            target.add(value.lower())

    def add_all(target, values):
        if isinstance(values, list):
            for v in values[:50]:
                add(target, v)

    add(visit_ids, p.get("visit_id"))
    add(round_ids, p.get("round_id"))
    add_all(photo_ids, p.get("photo_ids"))
    add_all(photo_ids, p.get("after_photo_ids"))
    if isinstance(p.get("signatures"), dict):
        add_all(photo_ids, list(p["signatures"].values()))
    if isinstance(p.get("visit"), dict):
        add(visit_ids, p["visit"].get("visit_id"))
    for key in ("results", "extra_findings"):
        if isinstance(p.get(key), list):
            for r in p[key][:300]:
                if not isinstance(r, dict):
                    continue
                add_all(photo_ids, r.get("photo_ids"))
                add(finding_ids, r.get("finding_id"))
                if isinstance(r.get("finding"), dict):
                    add(finding_ids, r["finding"].get("finding_id"))
                    add_all(photo_ids, r["finding"].get("photo_ids"))


def _rejected(code: str, message: str) -> dict:
    return {"status": choices.SYNC_REJECTED, "code": code, "message": message}


def _as_duplicate(first: dict) -> dict:
    if first.get("status") == choices.SYNC_REJECTED:
        return {k: v for k, v in first.items() if k in ("status", "code", "message", "details")}
    return {"status": choices.SYNC_DUPLICATE, "result": first.get("result", {})}


# --- handlers: validate in Python, then either buffer rows or apply inline ------------


def handle_round_start(push: Push, payload, observed_at: datetime) -> dict:
    f = Fields(payload)
    round_id = f.uuid("round_id")
    site_id = f.int("site_id")
    plan_id = f.int("plan_id", required=False)
    note = f.text("note")
    f.check()
    site = push.site(site_id)
    if round_id in push.rounds:
        raise Rejection(RECORD_EXISTS, "A round with this id already exists.")
    if plan_id is not None:
        plan_site = db.session.execute(select(PatrolPlan.site_id).where(PatrolPlan.id == plan_id)).scalar()
        if plan_site != site.id:
            raise Rejection(UNKNOWN_PLAN, "This patrol plan does not exist at this site.")
    row = {
        "id": round_id, "site_id": site.id, "user_id": push.user.id, "device_id": push.device.id, "plan_id": plan_id,
        "started_at": observed_at, "started_at_device": push.observed_device,
        "ended_at": None, "ended_at_device": None, "status": choices.ROUND_OPEN, "note": note, "created_at": push.clock.received_at,
    }
    return {
        "rows": {"rounds": [row]},
        "result": {"round_id": round_id},
        "after": [lambda: push.rounds.__setitem__(round_id, {"user_id": push.user.id, "site_id": site.id, "status": choices.ROUND_OPEN})],
    }


def handle_round_end(push: Push, payload, observed_at: datetime) -> dict:
    f = Fields(payload)
    round_id = f.uuid("round_id")
    note = f.text("note")
    f.check()
    known = push.rounds.get(round_id)
    if known is None or known["user_id"] != push.user.id:
        raise Rejection(UNKNOWN_ROUND, "This round is not known; it may have been rejected when it started.")
    if known["status"] == choices.ROUND_ENDED:
        raise Rejection(ROUND_ENDED, "This round was already ended.")
    device_observed = push.observed_device

    def apply():
        values = {"ended_at": observed_at, "ended_at_device": device_observed, "status": choices.ROUND_ENDED}
        if note:
            values["note"] = note
        db.session.execute(update(Round).where(Round.id == round_id).values(**values))
        return {"round_id": round_id}

    return {"inline": apply, "after": [lambda: known.__setitem__("status", choices.ROUND_ENDED)]}


@dataclass
class FindingIn:
    finding_id: str
    item_id: str | None
    category: str
    route: str
    description: str
    severity: str
    dealt_on_spot: bool
    spot_note: str
    photo_ids: list


def _read_finding(f: Fields, item: dict | None) -> FindingIn | None:
    finding_id = f.uuid("finding_id")
    severity = f.choice("severity", choices.SEVERITIES, default=choices.SEVERITY_NORMAL)
    dealt = f.flag("dealt_on_spot")
    spot_note = f.text("spot_note")
    photo_ids = f.uuids("photo_ids")
    if item is None:
        category = f.choice("category", choices.CATEGORIES)
        route = f.choice("route", choices.ROUTES)
        description = f.text("description", required=True)
        item_id = None
    else:
        category, route, item_id = item.get("category"), item.get("route"), item.get("id")
        description = f.text("description")
    if finding_id is None:
        return None
    return FindingIn(finding_id, item_id, category, route, description, severity, dealt, spot_note, photo_ids)


PLAIN_RESULT_KEYS = frozenset(("item_id", "result", "note", "photo_ids", "finding"))


def _plain_result(raw) -> tuple[str, str, str] | None:
    """(item_id, result, note) of a valid item result without photos or finding, else None.

    The fast path for the usual item (8 per visit, 100 visits per push); anything else
    goes through Fields, which names each problem.
    """
    if type(raw) is not dict or not raw.keys() <= PLAIN_RESULT_KEYS or raw.get("finding") is not None or raw.get("photo_ids") not in (None, []):
        return None
    item_id, outcome, note = raw.get("item_id"), raw.get("result"), raw.get("note")
    if type(item_id) is not str or not 0 < len(item_id) <= 80 or not item_id.strip() or outcome not in choices.RESULTS:
        return None
    if note is None:
        note = ""
    elif type(note) is not str or len(note) > MAX_TEXT:
        return None
    return item_id, outcome, note


def handle_visit_record(push: Push, payload, observed_at: datetime) -> dict:
    f = Fields(payload)
    visit_id = f.uuid("visit_id")
    site_id = f.int("site_id")
    round_id = f.uuid("round_id", required=False)
    version_id = f.int("checklist_version_id")
    scanned_device = f.time("scanned_at")
    scan_method = f.choice("scan_method", choices.SCAN_METHODS)
    note = f.text("note")
    resident_note = f.text("resident_note")
    visit_photos = f.uuids("photo_ids")
    raw_results = f.objects("results")
    raw_extra = f.objects("extra_findings", limit=50)
    # First the shape of everything, so that one answer names every bad field.
    parsed = []
    for n, raw in enumerate(raw_results):
        plain = _plain_result(raw)
        if plain is not None:  # most items: checked without building a field reader
            parsed.append((n, *plain, [], None))
            continue
        r = f.sub(raw, f"results.{n}.")
        item_id = r.text("item_id", required=True, max_len=80)
        outcome = r.choice("result", choices.RESULTS)
        item_note = r.text("note")
        photos = r.uuids("photo_ids")
        finding = None
        if isinstance(raw, dict) and raw.get("finding") is not None:
            if outcome != choices.RESULT_FAIL:
                r.fail("finding", "only a failed item has a finding")
            else:
                finding = _read_finding(r.sub(raw["finding"], "finding."), {})
        parsed.append((n, item_id, outcome, item_note, photos, finding))
    extra_findings = [x for x in (_read_finding(f.sub(raw, f"extra_findings.{n}."), None) for n, raw in enumerate(raw_extra)) if x]
    f.check()
    site = push.site(site_id)
    cp = push.checkpoint(site.id, f)
    version = push.version(version_id)
    if version is None or version.site_id != site.id or version.kind != cp.kind:
        raise Rejection(UNKNOWN_CHECKLIST_VERSION, "This checklist version does not belong to this checkpoint's kind at this site.")
    items = version.items
    results, item_photos, seen_items, findings = [], [], set(), []
    for n, item_id, outcome, item_note, photos, finding in parsed:
        if item_id not in items:
            raise Rejection(UNKNOWN_ITEM, f"The item {item_id!r} is not on checklist version {version.version} of this checkpoint.")
        if item_id in seen_items:
            f.sub(raw_results[n], f"results.{n}.").fail("item_id", "each item may have one result only")
            continue
        seen_items.add(item_id)
        results.append({"visit_id": visit_id, "item_id": item_id, "result": outcome, "note": item_note})
        if outcome == choices.RESULT_FAIL:
            if finding is None:
                raise Rejection(MISSING_FINDING, f"The failed item {item_id!r} needs a finding (what is wrong, how serious, dealt with on the spot or not).")
            item = items[item_id]
            finding.item_id, finding.category, finding.route = item_id, item.get("category"), item.get("route")
            finding.photo_ids = list(dict.fromkeys(finding.photo_ids + photos))
            findings.append(finding)
        else:
            if photos:
                item_photos.extend(p for p in photos if p not in item_photos)
    findings += extra_findings
    f.check()
    if round_id is not None:
        known = push.rounds.get(round_id)
        if known is None or known["user_id"] != push.user.id or known["site_id"] != site.id:
            raise Rejection(UNKNOWN_ROUND, "This visit names a round that is not known at this site.")
    if visit_id in push.visits:
        raise Rejection(RECORD_EXISTS, "A visit with this id already exists.")
    finding_ids = [x.finding_id for x in findings]
    if len(set(finding_ids)) != len(finding_ids) or any(x in push.findings for x in finding_ids):
        raise Rejection(RECORD_EXISTS, "A finding with one of these ids already exists.")
    all_photos = visit_photos + [p for p in item_photos if p not in visit_photos]
    named = all_photos + [p for x in findings for p in x.photo_ids]
    if len(set(named)) != len(named):
        raise Rejection(PHOTO_CONFLICT, "The same photo is named twice in this visit.")

    scanned_at = push.clock.correct(scanned_device)
    month = month_of(scanned_at, site.timezone)
    visit_row = {
        "id": visit_id, "site_id": site.id, "round_id": round_id, "checkpoint_id": cp.id, "user_id": push.user.id,
        "device_id": push.device.id, "checklist_version_id": version.id, "purpose": "patrol", "scanned_at": scanned_at,
        "scanned_at_device": scanned_device, "received_at": push.clock.received_at, "scan_method": scan_method,
        "note": note, "resident_note": resident_note, "month": month, "addendum": push.addendum(site.id, month),
    }
    link = {"site_id": site.id, "visit_id": visit_id}

    def new_finding(x: FindingIn) -> NewFinding:
        return NewFinding(
            finding_id=x.finding_id, site=site, checkpoint_id=cp.id, reported_by=push.user.id, observed_at=scanned_at,
            observed_at_device=scanned_device, visit_id=visit_id, item_id=x.item_id, category=x.category, route=x.route,
            description=x.description, severity=x.severity, dealt_on_spot=x.dealt_on_spot, spot_note=x.spot_note,
        )

    def remember():
        push.visits.add(visit_id)
        push.findings.update(finding_ids)
        push.note_photos(all_photos, **link)
        for x in findings:
            push.note_photos(x.photo_ids, finding_id=x.finding_id, **link)

    if all(p not in push.photos for p in named):
        # The hot path: rows buffered for executemany, findings recorded right after them.
        photo_rows: list = []
        push.claim_photos(all_photos, photo_rows, purpose="visit", **link)
        for x in findings:
            push.claim_photos(x.photo_ids, photo_rows, purpose="finding", finding_id=x.finding_id, **link)

        rows = {"visits": [visit_row], "item_results": results, "photos": photo_rows}
        return {
            "rows": rows,
            "result": {"visit_id": visit_id, "finding_ids": finding_ids, "task_ids": []},
            "findings": [new_finding(x) for x in findings],
            "after": [remember],
        }

    plans = [(p, push.claim_photos([p], None, purpose="visit", **link)) for p in all_photos]
    finding_plans = [(x, push.claim_photos(x.photo_ids, None, purpose="finding", finding_id=x.finding_id, **link)) for x in findings]

    def apply():
        db.session.execute(insert(Visit.__table__).values(**visit_row))
        if results:
            db.session.execute(insert(ItemResult.__table__), results)
        for _pid, ops in plans:
            _photo_ops(ops, purpose="visit", **link)
        task_of = record_findings([new_finding(x) for x in findings], sealed=push.addendum)
        for x, ops in finding_plans:
            _photo_ops(ops, purpose="finding", finding_id=x.finding_id, **link)
        return {"visit_id": visit_id, "finding_ids": finding_ids, "task_ids": [task_of[x] for x in finding_ids if task_of.get(x)]}

    return {"inline": apply, "after": [remember]}


@dataclass(frozen=True)
class VersionInfo:
    """What a visit is checked against: a checklist version and its items by id."""

    id: int
    site_id: int
    kind: str
    version: int
    items: dict


_VERSION_ITEMS: dict[tuple, dict] = {}


def version_info(version_id: int) -> VersionInfo | None:
    """A checklist version without loading and parsing its body on every push.

    Versions are written once and never changed; the parsed items are kept per process,
    keyed by everything that identifies the row's content (so a test database reusing an
    id with other content, or a restored backup, cannot be served stale items).
    """
    row = db.session.execute(
        select(ChecklistVersion.site_id, ChecklistVersion.kind, ChecklistVersion.version, ChecklistVersion.content_hash)
        .where(ChecklistVersion.id == version_id)
    ).first()
    if row is None:
        return None
    key = (version_id, *row)
    items = _VERSION_ITEMS.get(key)
    if items is None:
        body = db.session.execute(select(ChecklistVersion.body).where(ChecklistVersion.id == version_id)).scalar()
        items = {item["id"]: item for item in body["items"]}
        if len(_VERSION_ITEMS) >= 1000:
            _VERSION_ITEMS.clear()
        _VERSION_ITEMS[key] = items
    return VersionInfo(version_id, row.site_id, row.kind, row.version, items)


def _photo_ops(ops: list, **link) -> None:
    for op, value in ops:
        if op == "insert":
            db.session.execute(insert(Photo.__table__).values(**value))
        else:
            db.session.execute(
                update(Photo).where(Photo.id == value).values(
                    site_id=link["site_id"], visit_id=link.get("visit_id"), finding_id=link.get("finding_id"),
                    task_id=link.get("task_id"), purpose=link["purpose"],
                )
            )


def _task_for(push: Push, task_id) -> Task:
    task = db.session.get(Task, task_id) if isinstance(task_id, int) else None
    if task is None or not push.roles.get(task.site_id):
        raise Rejection(UNKNOWN_TASK, "This task does not exist at any of your sites.")
    return task


def handle_task_transition(push: Push, payload, observed_at: datetime) -> dict:
    f = Fields(payload)
    task_id = f.int("task_id")
    to_state = f.choice("to", (choices.TASK_IN_PROGRESS, choices.TASK_DONE))
    note = f.text("note")
    f.check()
    task = _task_for(push, task_id)

    def apply():
        from . import tasks

        was = task.state
        tasks.transition(task, actor=push.user, to_state=to_state, note=note)
        if to_state == choices.TASK_DONE and was != choices.TASK_DONE and task.done_at and observed_at < task.done_at:
            # Marked done offline: the work was done when the phone says (corrected), not
            # when it synced, so a verification scanned offline after it counts as fresh.
            task.done_at = observed_at
        db.session.flush()
        return {"task_id": task.id, "state": task.state}

    return {"inline": apply}


def handle_task_verify(push: Push, payload, observed_at: datetime) -> dict:
    f = Fields(payload)
    verification_id = f.uuid("verification_id")
    task_id = f.int("task_id")
    v = f.sub(payload.get("visit") if isinstance(payload, dict) else None, "visit.")
    visit_id = v.uuid("visit_id")
    scanned_device = v.time("scanned_at")
    scan_method = v.choice("scan_method", choices.SCAN_METHODS)
    result = f.choice("result", choices.VERIFY_RESULTS)
    note = f.text("note")
    after_ids = f.uuids("after_photo_ids")
    fixed_by_name = f.text("fixed_by_name", max_len=120)
    raw_sigs = payload.get("signatures") if isinstance(payload, dict) else None
    signatures = {}
    if raw_sigs is not None:
        s = f.sub(raw_sigs, "signatures.")
        for role in ("fixer", "verifier", "supervisor"):
            sig = s.uuid(role, required=role == "verifier")
            if sig:
                signatures[role] = sig
        if isinstance(raw_sigs, dict) and set(raw_sigs) - {"fixer", "verifier", "supervisor"}:
            s.fail("", "only fixer, verifier and supervisor")
    f.check()
    task = _task_for(push, task_id)
    site = push.site(task.site_id)
    cp = push.checkpoint(site.id, v)
    if visit_id in push.visits:
        raise Rejection(RECORD_EXISTS, "A visit with this id already exists.")
    scanned_at = push.clock.correct(scanned_device)

    def apply():
        from . import tasks

        visit = Visit(
            id=visit_id, site_id=site.id, round_id=None, checkpoint_id=cp.id, user_id=push.user.id, device_id=push.device.id,
            checklist_version_id=None, purpose="verify", scanned_at=scanned_at, scanned_at_device=scanned_device,
            received_at=push.clock.received_at, scan_method=scan_method, note=note, resident_note="",
            month=month_of(scanned_at, site.timezone), addendum=push.addendum(site.id, month_of(scanned_at, site.timezone)),
        )
        db.session.add(visit)
        db.session.flush([visit])
        # verify_on_site checks the scan is fresh and of the task's checkpoint, and links the photos.
        tasks.verify_on_site(
            task, verification_id=verification_id, actor=push.user, visit=visit, result=result, note=note,
            after_photo_ids=after_ids, signatures=signatures, fixed_by_name=fixed_by_name,
        )
        db.session.flush()
        return {"verification_id": verification_id, "visit_id": visit_id, "task_id": task.id, "state": task.state}

    def remember():
        push.visits.add(visit_id)
        for pid in after_ids + list(signatures.values()):
            push.photos[pid] = {"uploaded_by": push.user.id, "visit_id": visit_id, "finding_id": None, "task_id": task.id}

    return {"inline": apply, "after": [remember]}


HANDLERS = {
    "round.start": handle_round_start,
    "visit.record": handle_visit_record,
    "round.end": handle_round_end,
    "task.transition": handle_task_transition,
    "task.verify": handle_task_verify,
}


def push(user: User, body: dict, user_agent: str = "") -> dict:
    """Apply one push and commit it; the answer has one result per mutation, in order."""
    received_at = utcnow()
    mutations = body["mutations"]
    limit = current_app.config["SYNC_MAX_MUTATIONS"]
    if len(mutations) > limit:
        raise ApiError(413, f"At most {limit} records per push; send the rest in the next one.", "too_many_mutations", {"limit": limit})
    device_time = parse_time(body["device_time"])
    if device_time is None:
        raise ApiError(422, "device_time must be an ISO 8601 time with an offset.", "validation_error", {"fields": {"device_time": ["invalid"]}})
    for m in mutations:
        m["mutation_id"] = m["mutation_id"].lower()
    clock = Clock.measure(device_time, received_at)
    if not mutations:
        # Nothing to record: answer the clock and the expected photos, register nothing.
        owner = db.session.execute(select(Device.user_id).where(Device.id == body["device_id"])).scalar()
        if owner is not None and owner != user.id:
            register_device(user, body["device_id"], user_agent)  # raises device_owned
        return {"server_time": received_at, "clock_offset_ms": clock.offset_ms, "results": [], "expected_photos": expected_photos(user)}
    device = register_device(user, body["device_id"], user_agent)
    results = Push(user, device, clock, mutations).run()

    counts = {s: 0 for s in (choices.SYNC_APPLIED, choices.SYNC_DUPLICATE, choices.SYNC_REJECTED)}
    for r in results:
        counts[r["status"]] += 1
    flagged = abs(clock.offset_ms) > current_app.config["CLOCK_SKEW_FLAG_SECONDS"] * 1000
    max_seq = max([device.max_seq] + [m["seq"] for m, r in zip(mutations, results) if r.get("code") != SEQ_CONFLICT])
    db.session.execute(
        update(Device).where(Device.id == device.id).values(
            last_seen_at=received_at, clock_offset_ms=clock.offset_ms, clock_flagged=flagged, max_seq=max_seq,
            user_agent=user_agent[:300],
        )
    )
    db.session.execute(
        insert(SyncRequest).values(
            device_id=device.id, user_id=user.id, received_at=received_at, device_time=device_time,
            clock_offset_ms=clock.offset_ms, mutations=len(mutations), applied=counts[choices.SYNC_APPLIED],
            duplicates=counts[choices.SYNC_DUPLICATE], rejected=counts[choices.SYNC_REJECTED],
        )
    )
    db.session.commit()
    return {
        "server_time": received_at,
        "clock_offset_ms": clock.offset_ms,
        "results": results,
        "expected_photos": expected_photos(user),
    }


def expected_photos(user: User, limit: int = 1000) -> list[str]:
    """Photos this user's records name whose bytes have not arrived yet (G6)."""
    return list(
        db.session.execute(
            select(Photo.id)
            .where(Photo.uploaded_by == user.id, Photo.status == choices.PHOTO_EXPECTED)
            .order_by(Photo.created_at, Photo.id)
            .limit(limit)
        ).scalars()
    )


# --- devices ---------------------------------------------------------------------------


def seq_gaps(device_id: str, limit: int = 100) -> list[list[int]]:
    """Missing ranges [first, last] of a device's sequence numbers: records it never sent."""
    ordered = select(
        Mutation.seq.label("seq"), func.lag(Mutation.seq).over(order_by=Mutation.seq).label("prev")
    ).where(Mutation.device_id == device_id).subquery()
    rows = db.session.execute(
        select(ordered.c.prev, ordered.c.seq)
        .where(or_(and_(ordered.c.prev.is_(None), ordered.c.seq > 1), ordered.c.seq - ordered.c.prev > 1))
        .order_by(ordered.c.seq)
        .limit(limit)
    ).all()
    return [[(prev or 0) + 1, seq - 1] for prev, seq in rows]


def devices_for_sites(site_ids: list[int]) -> list[dict]:
    """Devices of everyone working at these sites, with their clock flag and seq gaps."""
    if not site_ids:
        return []
    users = select(Membership.user_id).where(Membership.site_id.in_(site_ids))
    rows = db.session.execute(
        select(Device, User.username, User.display_name)
        .join(User, User.id == Device.user_id)
        .where(Device.user_id.in_(users))
        .order_by(Device.last_seen_at.desc())
    ).all()
    out = []
    for device, username, display_name in rows:
        out.append(
            {
                "id": device.id, "user_id": device.user_id, "username": username, "display_name": display_name,
                "first_seen_at": device.first_seen_at, "last_seen_at": device.last_seen_at,
                "clock_offset_ms": device.clock_offset_ms, "clock_flagged": device.clock_flagged,
                "max_seq": device.max_seq, "seq_gaps": seq_gaps(device.id), "user_agent": device.user_agent,
            }
        )
    return out


# --- pull --------------------------------------------------------------------------------


def _reset(message: str):
    return ApiError(410, message + " Pull again from cursor 0; keep your unsent records.", "cursor_reset")


def pull(user: User, cursor: int, limit: int) -> dict:
    """One page of the change log for this user's sites, with each entity's current data."""
    head = current_cursor()
    if cursor > head:
        raise _reset("This cursor is ahead of the server (its data was restored from a backup).")
    horizon = db.session.execute(select(Counter.value).where(Counter.name == HORIZON)).scalar() or 0
    if 0 < cursor < horizon:
        raise _reset("This cursor is older than the oldest change the server still keeps.")
    sites = [s for s in db.session.execute(select(Membership.site_id).where(Membership.user_id == user.id).distinct()).scalars()]
    if sites:
        _ensure_checklists(sites)
    rows = db.session.execute(
        select(Change)
        .where(
            Change.cursor > cursor,
            or_(and_(Change.site_id.in_(sites), Change.user_id.is_(None)), Change.user_id == user.id),
        )
        .order_by(Change.cursor)
        .limit(limit + 1)
    ).scalars().all()
    has_more = len(rows) > limit
    rows = rows[:limit]
    changes = _materialise(rows, set(sites))
    if cursor > 0:
        changes = _with_granted_sites(changes, rows, cursor, set(sites))
    return {
        "changes": changes,
        "cursor": rows[-1].cursor if rows else cursor,
        "has_more": has_more,
        "server_time": utcnow(),
    }


def _with_granted_sites(changes: list[dict], rows: list[Change], cursor: int, sites: set[int]) -> list[dict]:
    """A site given to the user after `cursor` arrives whole (WatermelonDB 1264).

    Its entities changed at or before `cursor` were not this user's then, so the phone
    never saw them: they are sent right after the grant, under the grant's cursor. This
    needs no reset, so a phone paging from zero while access changes never loops; a phone
    that already had them just receives the same upserts again.
    """
    grants = {ch.cursor: ch.site_id for ch in rows if ch.entity == "access" and ch.op == "grant" and ch.site_id in sites}
    if not grants:
        return changes
    out = []
    for change in changes:
        out.append(change)
        site_id = grants.pop(change["cursor"], None) if change["entity"] == "site" else None
        if site_id is None:
            continue
        missed = db.session.execute(
            select(Change)
            .where(Change.site_id == site_id, Change.user_id.is_(None), Change.cursor <= cursor)
            .order_by(Change.cursor)
        ).scalars().all()
        for entry in _materialise(missed, sites):
            if entry["op"] == "upsert":
                out.append({**entry, "cursor": change["cursor"]})
    return out


def _ensure_checklists(sites: list[int]) -> None:
    """A phone needs a checklist version for every kind at each of its sites, new ones included."""
    from .checklists import current_version

    have = set(db.session.execute(select(ChecklistVersion.site_id, ChecklistVersion.kind).where(ChecklistVersion.site_id.in_(sites))).all())
    missing = [(s, k) for s in sites for k in choices.CHECKPOINT_KINDS if (s, k) not in have]
    if missing:
        for s, k in missing:
            current_version(s, k)
        db.session.commit()


def _materialise(rows: list[Change], sites: set[int]) -> list[dict]:
    """Load every entity of the page in bulk and turn each change into upsert or delete."""
    ids: dict[str, set] = {}
    for ch in rows:
        if ch.entity == "access":
            ids.setdefault("site", set()).add(ch.site_id)
        else:
            ids.setdefault(ch.entity, set()).add(ch.entity_id)
    data: dict[str, dict] = {name: LOADERS[name](keys) for name, keys in ids.items() if name in LOADERS}
    out = []
    for ch in rows:
        if ch.entity == "access":
            if ch.op == "revoke" or ch.site_id not in sites:
                out.append({"cursor": ch.cursor, "entity": "site", "id": str(ch.site_id), "op": "delete"})
            elif ch.site_id in data.get("site", {}):
                out.append({"cursor": ch.cursor, "entity": "site", "id": str(ch.site_id), "op": "upsert", "data": data["site"][ch.site_id]})
            continue
        if ch.entity not in LOADERS:
            continue  # not kept offline; the cursor still moves past it
        key = ch.entity_id if ch.entity in ("checklist",) else _int_or(ch.entity_id)
        current = data[ch.entity].get(key)
        if ch.op == "delete" or current is None:
            out.append({"cursor": ch.cursor, "entity": ch.entity, "id": ch.entity_id, "op": "delete"})
        else:
            out.append({"cursor": ch.cursor, "entity": ch.entity, "id": ch.entity_id, "op": "upsert", "data": current})
    return out


def _int_or(value: str):
    try:
        return int(value)
    except ValueError:
        return value


def _ints(keys) -> list[int]:
    return [k for k in (_int_or(str(x)) for x in keys) if isinstance(k, int)]


def load_sites(keys) -> dict:
    rows = db.session.execute(select(Site).where(Site.id.in_(_ints(keys)))).scalars()
    return {
        s.id: {"id": s.id, "code": s.code, "name_zh": s.name_zh, "name_en": s.name_en, "timezone": s.timezone,
               "task_due_days": s.task_due_days, "min_scan_gap_seconds": s.min_scan_gap_seconds}
        for s in rows
    }


def load_departments(keys) -> dict:
    rows = db.session.execute(select(Department).where(Department.id.in_(_ints(keys)), Department.active)).scalars()
    return {d.id: {"id": d.id, "site_id": d.site_id, "code": d.code, "name_zh": d.name_zh, "name_en": d.name_en} for d in rows}


def load_checkpoints(keys) -> dict:
    """Active checkpoints; a deactivated one becomes a delete tombstone."""
    rows = db.session.execute(select(Checkpoint).where(Checkpoint.id.in_(_ints(keys)), Checkpoint.active)).scalars()
    return {
        c.id: {"id": c.id, "site_id": c.site_id, "kind": c.kind, "name_zh": c.name_zh, "name_en": c.name_en,
               "building": c.building, "floor": c.floor, "unit": c.unit, "short_code": c.short_code, "token": c.token,
               "position": c.position}
        for c in rows
    }


def load_checklists(keys) -> dict:
    """The newest version of each (site, kind), keyed "<site_id>:<kind>"."""
    wanted = set()
    for key in keys:
        site, _, kind = str(key).partition(":")
        if site.isdigit():
            wanted.add((int(site), kind))
    if not wanted:
        return {}
    newest = (
        select(ChecklistVersion.site_id, ChecklistVersion.kind, func.max(ChecklistVersion.version).label("v"))
        .where(ChecklistVersion.site_id.in_({s for s, _ in wanted}))
        .group_by(ChecklistVersion.site_id, ChecklistVersion.kind)
        .subquery()
    )
    rows = db.session.execute(
        select(ChecklistVersion).join(
            newest,
            and_(ChecklistVersion.site_id == newest.c.site_id, ChecklistVersion.kind == newest.c.kind, ChecklistVersion.version == newest.c.v),
        )
    ).scalars()
    return {
        f"{v.site_id}:{v.kind}": {"id": v.id, "site_id": v.site_id, "kind": v.kind, "version": v.version, "content_hash": v.content_hash, "body": v.body}
        for v in rows
        if (v.site_id, v.kind) in wanted
    }


def load_plans(keys) -> dict:
    """Active plans as the phone keeps them (plans.plan_payloads is the one shape)."""
    from .plans import plan_payloads

    rows = db.session.execute(select(PatrolPlan).where(PatrolPlan.id.in_(_ints(keys)), PatrolPlan.active)).scalars().all()
    return plan_payloads(rows)


def load_tasks(keys) -> dict:
    """Open tasks with what the phone shows; a closed task becomes a delete tombstone."""
    rows = db.session.execute(
        select(
            Task.id, Task.site_id, Task.checkpoint_id, Task.state, Task.due_at, Task.assignee_id, User.display_name,
            Task.severity, Task.route, Task.department_id, Finding.id.label("finding_id"), Finding.item_id, Finding.category,
            Finding.description, Finding.observed_at, Finding.reported_by,
        )
        .join(Finding, Finding.id == Task.finding_id)
        .outerjoin(User, User.id == Task.assignee_id)
        .where(Task.id.in_(_ints(keys)), Task.state.not_in(choices.TASK_CLOSED_STATES))
    ).all()
    finding_ids = [r.finding_id for r in rows]
    photos: dict[str, list] = {}
    if finding_ids:
        for pid, fid in db.session.execute(
            select(Photo.id, Photo.finding_id).where(Photo.finding_id.in_(finding_ids), Photo.status == choices.PHOTO_RECEIVED).order_by(Photo.created_at)
        ):
            photos.setdefault(fid, []).append(pid)
    out = {}
    for r in rows:
        out[r.id] = {
            "id": r.id, "site_id": r.site_id, "checkpoint_id": r.checkpoint_id, "state": r.state,
            "due_at": iso(r.due_at), "assignee_id": r.assignee_id, "assignee_name": r.display_name,
            "severity": r.severity, "route": r.route, "department_id": r.department_id,
            "finding": {
                "id": r.finding_id, "item_id": r.item_id, "category": r.category, "description": r.description,
                "observed_at": iso(r.observed_at), "reported_by": r.reported_by,
            },
            "photos": photos.get(r.finding_id, []),
        }
    return out


LOADERS = {
    "site": load_sites,
    "department": load_departments,
    "checkpoint": load_checkpoints,
    "checklist": load_checklists,
    "plan": load_plans,
    "task": load_tasks,
}


def prune_tombstones(before: datetime) -> int:
    """Drop change rows that only say "gone" (deletes, revokes, closed tasks) older than `before`.

    Phones whose cursor is below the newest dropped row may have missed a deletion, so
    the horizon moves up to it and they are told to start again (410 cursor_reset).
    """
    closed = select(cast(Task.id, String)).where(Task.state.in_(choices.TASK_CLOSED_STATES))
    gone = or_(
        Change.op.in_(("delete", "revoke")),
        and_(Change.entity == "task", Change.entity_id.in_(closed)),
    )
    newest = db.session.execute(select(func.max(Change.cursor)).where(gone, Change.at < before)).scalar()
    if newest is None:
        return 0
    count = db.session.execute(delete(Change).where(gone, Change.at < before, Change.cursor <= newest)).rowcount
    current = db.session.execute(select(Counter.value).where(Counter.name == HORIZON)).scalar()
    if current is None:
        db.session.execute(insert(Counter).values(name=HORIZON, value=newest))
    elif newest > current:
        db.session.execute(update(Counter).where(Counter.name == HORIZON).values(value=newest))
    return count
