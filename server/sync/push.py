"""The push engine: idempotency per mutation, one savepoint per run of records, and the handlers' plans written set-based.

Push (docs/sync.md): every mutation is stored in `mutations` under its phone-made id, in
the same transaction as its effect, so a replay is answered `duplicate` with the first
result and never applied twice (offline-sync.md G1, G7). An invalid mutation is rejected
alone and the rest apply (G8). One push is one transaction, which the caller (the push
view) commits: a crash mid-push leaves every mutation either applied with its record or
not at all.

Handlers only plan (server/sync/handlers.py). The plans of a run of mutations are
buffered and written with Core `executemany`, one statement per table, and their
findings go through `findings.record_findings` at once, all in one SAVEPOINT. A plan
with a task-domain step is applied alone in its own savepoint. If a buffered run hits a
constraint (a concurrent push of the same batch), it is undone and replayed mutation by
mutation.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import and_, bindparam, insert, or_, select, union_all, update
from sqlalchemy.exc import IntegrityError

from .. import choices, field_errors, photos
from ..db_sqlite import reading, start_writing
from ..extensions import db, insert_rows, insert_tuples
from ..findings import record_findings
from ..models import ItemResult, Mutation, Photo, Round, User, Visit, utcnow
from ..problems import Invalid, Problem, TooLarge
from .context import Context, Known, Observed, Plan, built, ids_in
from .devices import Clock, note_push, refuse_if_owned_by_another, register_device
from .fields import ID_CONFLICT, INVALID_PAYLOAD, PHOTO_CONFLICT, RECORD_EXISTS, SEQ_CONFLICT, UNKNOWN_KIND, Rejection, parse_time
from .handlers import HANDLERS

# What a domain step raises to refuse one mutation: a problem (server/problems.py); the
# HTTP layer's ApiError is one too.
REFUSALS = (Problem,)

ROUNDS, VISITS, ITEM_RESULTS, PHOTOS, MUTATIONS = (m.__table__ for m in (Round, Visit, ItemResult, Photo, Mutation))


def _stored_statement(postgresql: bool):
    """The stored copies of a batch's mutation ids, and which mutations of this device hold its sequence numbers."""
    return (
        select(Mutation.id, Mutation.device_id, Mutation.seq, Mutation.user_id, Mutation.payload_hash, Mutation.status, Mutation.result)
        .where(or_(ids_in(Mutation.id, "ids", postgresql),
                   and_(Mutation.device_id == bindparam("device_id"), ids_in(Mutation.seq, "seqs", postgresql))))
    )


def content_hash(mutation: dict) -> str:
    """What "same content" means: seq, kind, observed_at and payload, as canonical JSON."""
    canon = json.dumps(
        [mutation.get("seq"), mutation.get("kind"), mutation.get("observed_at"), mutation.get("payload")],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canon.encode()).hexdigest()


# The kinds a draft plans without writing (the bulk of a patroller's outbox).
DRAFTABLE = frozenset(("round.start", "visit.record", "round.end"))


class _WritesFirst(Exception):
    """A draft met a record that needs earlier ones written first: plan it all under the lock."""


@dataclass
class Pending:
    """A mutation waiting in the buffer: its idempotency record and, unless it was rejected, its plan."""

    index: int
    mutation: dict  # the row of `mutations`
    plan: Plan | None = None
    new_photos: list[dict] = field(default_factory=list)  # expected photo rows to insert
    photo_links: list[dict] = field(default_factory=list)  # photos already known, linked to the record


class Push:
    """Applies one push: caches what the batch refers to, then each mutation in order."""

    def __init__(self, user: User, device_id: str, clock: Clock, mutations: list[dict],
                 stored: tuple[dict[str, tuple], dict[int, str]] | None = None):
        self.user = user
        self.device_id = device_id
        self.mutations = mutations
        self.results: list[dict | None] = [None] * len(mutations)
        self.pending: list[Pending] = []
        self.clock = clock
        self._ctx: Context | None = None
        self._drafting = False
        # `stored`: the idempotency look-up already made under the write lock (a draft that did not hold).
        self.stored, self.seq_owner = stored if stored is not None else self._read_stored()
        self.stored_now: tuple[dict[str, tuple], dict[int, str]] | None = None

    def _read_stored(self) -> tuple[dict[str, tuple], dict[int, str]]:
        """Idempotency look-ups in one query for the whole batch: the stored copies of its
        mutation ids, and which mutations of this device hold its sequence numbers."""
        ids, seqs = {m["mutation_id"] for m in self.mutations}, {m["seq"] for m in self.mutations}
        stored: dict[str, tuple] = {}
        seq_owner: dict[int, str] = {}
        params = {"ids": sorted(ids), "device_id": self.device_id, "seqs": sorted(seqs)}
        for row in db.session.execute(built("push.stored", _stored_statement), params):
            if row.id in ids:
                stored[row.id] = (row.user_id, row.payload_hash, row.status, row.result)
            if row.device_id == self.device_id and row.seq in seqs:
                seq_owner[row.seq] = row.id
        return stored, seq_owner

    # --- planning before the write lock (SQLite) ---

    def draft(self) -> "Push | None":
        """Plan every record from the read snapshot, before the write lock; None if this push
        cannot be planned ahead. Nothing is written: `holds` then checks under the lock that
        what the plans were made from still reads the same, and `finish` writes them.

        On SQLite writers take one lock in turn, and a push's planning (checking each visit
        against its checklist, building its rows) was most of the time it held it. Only the
        patroller's records (round.start, visit.record, round.end) are planned ahead: the
        others are applied one by one in their own savepoints, under the lock. A mutation id
        sent twice in one batch needs its first copy written first: planned under the lock.
        """
        if any(m["kind"] not in DRAFTABLE for m in self.mutations):
            return None
        self._drafting = True
        try:
            self._plan_all()
        except _WritesFirst:
            return None
        finally:
            self._drafting = False
        self._snapshot = _data_version()
        return self

    def holds(self) -> bool:
        """Under the write lock: the stored mutations, and every look-up the plans were made
        from (the records they name, roles, sites, checkpoints, checklists, sealed months),
        read again, are the same as in the draft. Nothing needs reading again if no other
        connection has committed since the draft's snapshot (a push alone on the server)."""
        if _data_version().same_as(self._snapshot):
            return True
        self.stored_now = self._read_stored()
        if self.stored_now != (self.stored, self.seq_owner):
            return False
        return self._ctx is None or self._ctx.reads_again()

    def finish(self) -> list[dict]:
        """Write what the draft planned (the same as the end of `run`)."""
        self.flush()
        return self.results  # type: ignore[return-value]

    @property
    def ctx(self) -> Context:
        """What the handlers read (the records the batch names, roles, sites, checklists), looked
        up at the first record this push applies: a resend of records already stored, the most
        common push after a lost answer, needs none of it."""
        if self._ctx is None:
            self._ctx = Context(self.user, self.device_id, self.clock, Known(self.mutations))
        return self._ctx

    @property
    def known(self) -> Known:
        return self.ctx.known

    # --- the loop ---

    def run(self) -> list[dict]:
        self._plan_all()
        return self.finish()

    def _plan_all(self) -> None:
        seen: dict[str, tuple] = {}  # mutation id → (hash, index) within this batch
        seqs_here: dict[int, str] = {}
        for i, m in enumerate(self.mutations):
            mid, seq = m["mutation_id"], m["seq"]
            digest = content_hash(m)
            base = {"mutation_id": mid, "seq": seq}
            if mid in seen:
                if self._drafting:
                    raise _WritesFirst
                first_hash, first = seen[mid]
                self.flush()  # the first copy's final answer must be known
                if first_hash == digest:
                    self.results[i] = {**base, **_as_duplicate(self.results[first])}
                else:
                    self.results[i] = {**base, **_rejected(ID_CONFLICT, "This record id was already used for different content; it was not applied.")}
                continue
            seen[mid] = (digest, i)
            if mid in self.stored:
                self.results[i] = {**base, **self._answer_stored(mid, digest)}
                continue
            owner = self.seq_owner.get(seq) or seqs_here.get(seq)
            if owner and owner != mid:
                self.results[i] = {**base, **_rejected(SEQ_CONFLICT, f"Sequence number {seq} of this device was already used by another record.")}
                continue
            seqs_here[seq] = mid
            self.results[i] = base
            self._apply(i, m, digest)

    def _answer_stored(self, mid: str, digest: str) -> dict:
        user_id, stored_hash, status, result = self.stored[mid]
        if user_id != self.user.id or stored_hash != digest:
            return _rejected(ID_CONFLICT, "This record id was already used for different content; it was not applied.")
        if status == choices.SYNC_REJECTED:
            return {"status": choices.SYNC_REJECTED, **result}
        return {"status": choices.SYNC_DUPLICATE, "result": result}

    def _mutation_row(self, m: dict, digest: str, status: str, result: dict, observed_at: datetime | None) -> dict:
        return {
            "id": m["mutation_id"], "device_id": self.device_id, "user_id": self.user.id, "seq": m["seq"], "kind": m["kind"],
            "payload_hash": digest, "status": status, "result": result, "observed_at": observed_at,
            "received_at": self.clock.received_at,
        }

    def _apply(self, i: int, m: dict, digest: str) -> None:
        handler = HANDLERS.get(m["kind"])
        device_time = parse_time(m.get("observed_at"))
        observed = Observed(device_time, self.ctx.clock.correct(device_time)) if device_time else None
        observed_at = observed.at if observed else None
        try:
            if handler is None:
                raise Rejection(UNKNOWN_KIND, f"This server does not know the record kind {m['kind']!r}; update the server or the app.")
            if observed is None:
                raise Rejection(INVALID_PAYLOAD, "observed_at must be an ISO 8601 time with an offset.",
                                {"fields": {"observed_at": ["invalid"]}, "field_errors": {"observed_at": [field_errors.entry(field_errors.INVALID, "invalid", type="datetime")]}})
            plan = handler(self.ctx, m.get("payload"), observed)
            pending = Pending(i, self._mutation_row(m, digest, choices.SYNC_APPLIED, plan.result, observed_at), plan)
            if plan.call is None:
                self._claim(pending)
        except Rejection as rej:
            self._reject(i, m, digest, rej, observed_at)
            return
        except REFUSALS as exc:
            self._reject(i, m, digest, Rejection.of(exc), observed_at)
            return
        if self._drafting and plan.call is not None:
            raise _WritesFirst
        if plan.call is None:
            # The usual case: buffered, written with the run it belongs to.
            self.pending.append(pending)
            self.results[i].update(status=choices.SYNC_APPLIED, result=plan.result)
            self.known.learn(plan, self.user.id)
            return
        self.flush()
        try:
            with db.session.begin_nested():
                self._effects([pending])
                result = plan.call()
                db.session.execute(insert(MUTATIONS).values(**self._mutation_row(m, digest, choices.SYNC_APPLIED, result, observed_at)))
            self.results[i].update(status=choices.SYNC_APPLIED, result=result)
            self.known.learn(plan, self.user.id)
        except Rejection as rej:
            self._reject(i, m, digest, rej, observed_at)
        except REFUSALS as exc:
            self._reject(i, m, digest, Rejection.of(exc), observed_at)
        except IntegrityError:
            self.results[i] = {"mutation_id": m["mutation_id"], "seq": m["seq"], **self._after_integrity_error(m, digest, observed_at)}

    def _claim(self, pending: Pending) -> None:
        """The plan's photos, by the one rule (photos.may_link): new ones expected from this user, known ones linked."""
        for claim in pending.plan.claims:
            held = self.known.photos.get(claim.photo_id)
            if not photos.may_link(held, self.user.id, claim.link):
                raise Rejection(PHOTO_CONFLICT, photos.taken(claim.photo_id).message)
            if held is None:
                pending.new_photos.append(photos.expected_row(claim.photo_id, self.user.id, claim.link, self.clock.received_at))
            else:
                pending.photo_links.append({"photo_id": claim.photo_id, **claim.link.columns()})

    def _reject(self, i: int, m: dict, digest: str, rej: Rejection, observed_at) -> None:
        """Store the rejection too, so a replay gets the same answer."""
        result = rej.as_result()
        self.results[i].update(status=choices.SYNC_REJECTED, **result)
        self.pending.append(Pending(i, self._mutation_row(m, digest, choices.SYNC_REJECTED, result, observed_at)))

    def _after_integrity_error(self, m: dict, digest: str, observed_at) -> dict:
        """A unique key was taken: by this very mutation in a concurrent push, or by another record."""
        row = db.session.execute(
            select(Mutation.user_id, Mutation.payload_hash, Mutation.status, Mutation.result).where(Mutation.id == m["mutation_id"])
        ).first()
        if row is not None:
            self.stored[m["mutation_id"]] = tuple(row)
            return self._answer_stored(m["mutation_id"], digest)
        rej = Rejection(RECORD_EXISTS, "A record with one of these ids already exists; it was not applied.")
        try:
            with db.session.begin_nested():
                db.session.execute(insert(MUTATIONS).values(**self._mutation_row(m, digest, choices.SYNC_REJECTED, rej.as_result(), observed_at)))
        except IntegrityError:
            pass  # the seq was taken concurrently: answer without storing
        return {"status": choices.SYNC_REJECTED, **rej.as_result()}

    # --- writing the buffer ---

    def flush(self) -> None:
        """Write the buffered mutations in one SAVEPOINT; one by one if anything in it fails."""
        while self.pending:
            pending, self.pending = self.pending, []
            try:
                with db.session.begin_nested():
                    self._write(pending)
                continue
            except (IntegrityError, *REFUSALS):
                pass
            for p in pending:
                m = self.mutations[p.index]
                row = p.mutation
                try:
                    with db.session.begin_nested():
                        self._write([p])
                except IntegrityError:
                    self.results[p.index] = {
                        "mutation_id": m["mutation_id"], "seq": m["seq"],
                        **self._after_integrity_error(m, row["payload_hash"], row["observed_at"]),
                    }
                except REFUSALS as exc:
                    self.results[p.index] = {"mutation_id": m["mutation_id"], "seq": m["seq"]}
                    self._reject(p.index, m, row["payload_hash"], Rejection.of(exc), row["observed_at"])

    def _write(self, pending: list[Pending]) -> None:
        self._effects(pending)
        insert_rows(MUTATIONS, [p.mutation for p in pending])

    def _effects(self, pending: list[Pending]) -> None:
        """The plans' rows, one executemany per table, parents first; findings between visits and photos."""
        plans = [p.plan for p in pending if p.plan is not None]
        for table, rows in ((ROUNDS, [r for plan in plans for r in plan.rounds]),
                            (VISITS, [r for plan in plans for r in plan.visits])):
            insert_rows(table, rows)
        item_results = [r for plan in plans for r in plan.item_results]
        if item_results:
            insert_tuples(ITEM_RESULTS, ITEM_RESULT_COLUMNS, [(r["visit_id"], r["item_id"], r["result"], r["note"]) for r in item_results])
        new_findings = [x for plan in plans for x in plan.findings]
        if new_findings:
            task_of = record_findings(new_findings, sealed=self.ctx.addendum, ids_checked=True)
            for plan in plans:
                if plan.findings:
                    # The same dict is the answer and the stored mutation result.
                    plan.result["task_ids"] = [task_of[x.finding_id] for x in plan.findings if task_of.get(x.finding_id)]
        new_photos = [r for p in pending for r in p.new_photos]
        if new_photos:
            db.session.execute(insert(PHOTOS), new_photos)
        _update_by_id(PHOTOS, [r for p in pending for r in p.photo_links], "photo_id")
        _update_by_id(ROUNDS, [r for plan in plans for r in plan.round_ends], "round_id")


# Item results are most of a push's rows (8 per visit) and all plain text: written through
# the driver's executemany with tuples, without SQLAlchemy's per-row parameter processing.
ITEM_RESULT_COLUMNS = ("visit_id", "item_id", "result", "note")


def _update_by_id(table, rows: list[dict], key: str) -> None:
    """Set columns on rows by primary key (`key` in each row holds it): one executemany per set of columns."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    for group in groups.values():
        db.session.execute(update(table).where(table.c.id == bindparam(key)), group)


def _rejected(code: str, message: str) -> dict:
    return {"status": choices.SYNC_REJECTED, "code": code, "message": message}


def _as_duplicate(first: dict) -> dict:
    if first.get("status") == choices.SYNC_REJECTED:
        return {k: v for k, v in first.items() if k in ("status", "code", "message", "details")}
    return {"status": choices.SYNC_DUPLICATE, "result": first.get("result", {})}


@dataclass(frozen=True, eq=False)
class _Version:
    """SQLite's data_version as read on one driver connection: two readings match only if they
    were taken on the very same connection (data_version is per connection) and are equal."""

    connection: object
    value: int

    def same_as(self, other: "_Version") -> bool:
        return self.connection is other.connection and self.value == other.value


def _data_version() -> _Version:
    """SQLite's data_version on this connection: it moves when another connection commits, and
    within a read transaction it stays that of the transaction's snapshot (so two equal
    readings on one connection, the first in the snapshot, mean nobody wrote in between)."""
    conn = db.session.connection()
    return _Version(conn.connection.dbapi_connection, conn.exec_driver_sql("PRAGMA data_version").scalar())


def _sqlite() -> bool:
    return db.session.get_bind().dialect.name == "sqlite"


def push(user: User, body: dict, user_agent: str = "") -> dict:
    """Apply one push; the answer has one result per mutation, in order. The caller commits."""
    received_at = utcnow()
    mutations = body["mutations"]
    limit = current_app.config["SYNC_MAX_MUTATIONS"]
    if len(mutations) > limit:
        raise TooLarge(f"At most {limit} records per push; send the rest in the next one.", "too_many_mutations", {"limit": limit})
    device_time = parse_time(body["device_time"])
    if device_time is None:
        raise Invalid.field("device_time", "invalid", "device_time must be an ISO 8601 time with an offset.", field_code="field_invalid", type="datetime")
    for m in mutations:
        m["mutation_id"] = m["mutation_id"].lower()
    clock = Clock.measure(device_time, received_at)
    if not mutations:
        # Nothing to record: answer the clock and the expected photos, register nothing.
        refuse_if_owned_by_another(user, body["device_id"])
        expected, unreadable = photos_to_send(user)
        return {"server_time": received_at, "clock_offset_ms": clock.offset_ms, "results": [], "expected_photos": expected,
                "unreadable_photos": unreadable}
    # A `reads_first` push on SQLite plans in its read snapshot, then takes the write lock.
    draft = Push(user, body["device_id"], clock, mutations).draft() if reading() and _sqlite() else None
    start_writing(db.session)
    device = register_device(user, body["device_id"], user_agent)
    if draft is not None and draft.holds():
        results = draft.finish()
    else:
        # Planned again under the lock; the stored mutations `holds` read under it are reused.
        results = Push(user, device.id, clock, mutations, stored=draft.stored_now if draft is not None else None).run()
    statuses = [r["status"] for r in results]
    note_push(
        device, user, clock, user_agent,
        applied=statuses.count(choices.SYNC_APPLIED), duplicates=statuses.count(choices.SYNC_DUPLICATE),
        rejected=statuses.count(choices.SYNC_REJECTED),
        seqs=[m["seq"] for m, r in zip(mutations, results) if r.get("code") != SEQ_CONFLICT],
    )
    expected, unreadable = photos_to_send(user)
    return {
        "server_time": received_at,
        "clock_offset_ms": clock.offset_ms,
        "results": results,
        "expected_photos": expected,
        "unreadable_photos": unreadable,
    }


def photos_to_send(user: User, limit: int = 1000) -> tuple[list[str], list[str]]:
    """(expected, unreadable), oldest first, at most `limit` of each, in one query: the photos
    this user's records name whose bytes have not arrived yet (G6), and those whose upload
    could not be read, to be taken again."""
    out: dict[str, list[str]] = {choices.PHOTO_EXPECTED: [], choices.PHOTO_UNREADABLE: []}
    for photo_id, status in db.session.execute(_PHOTOS_TO_SEND, {"user_id": user.id, "limit": limit}):
        out[status].append(photo_id)
    return out[choices.PHOTO_EXPECTED], out[choices.PHOTO_UNREADABLE]


def _photos_to_send_statement():
    # Built once: every push runs it, and a statement object keeps its cache key.
    kinds = [
        select(Photo.id, Photo.status, Photo.created_at).where(Photo.uploaded_by == bindparam("user_id"), Photo.status == status)
        .order_by(Photo.created_at, Photo.id).limit(bindparam("limit")).subquery()
        for status in (choices.PHOTO_EXPECTED, choices.PHOTO_UNREADABLE)
    ]
    both = union_all(*(select(k.c.id, k.c.status, k.c.created_at) for k in kinds)).subquery()
    return select(both.c.id, both.c.status).order_by(both.c.created_at, both.c.id)


_PHOTOS_TO_SEND = _photos_to_send_statement()
