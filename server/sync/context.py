"""Between the push engine and its handlers: the read-only Context a handler reads, and the Plan it returns."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Callable

from sqlalchemy import String, any_, bindparam, literal, select, union_all
from sqlalchemy.dialects.postgresql import ARRAY

from .. import policy, sealing, sites
from ..findings import NewFinding
from ..extensions import db
from ..models import ChecklistVersion, Checkpoint, Finding, Membership, PatrolPlan, Photo, Round, Site, Task, User, Visit
from ..photos import HELD_COLUMNS, Held, Link
from .devices import Clock
from .fields import FORBIDDEN_SITE, UNKNOWN_CHECKPOINT, UNKNOWN_TASK, Fields, Rejection


@dataclass(frozen=True)
class Observed:
    """When a mutation happened: the phone's own time, and the same on the server's clock."""

    device: datetime
    at: datetime


@dataclass(frozen=True)
class RoundInfo:
    user_id: int
    site_id: int
    status: str


@dataclass(frozen=True)
class PhotoClaim:
    """A photo a record names, and the record it is to belong to."""

    photo_id: str
    link: Link


@dataclass
class Plan:
    """What one valid mutation does. Handlers only plan; the push engine writes, set-based for a run of plans.

    `call` is for the task kinds: a step of the task domain (its own rules and policy
    checks) that runs alone, in its own savepoint, after the plan's rows, and returns the
    result. The engine checks and writes `claims` (photos.may_link), except under a
    `call`, whose task-domain step claims them itself through the same rule; either way
    the rest of the push knows them.
    """

    result: dict = field(default_factory=dict)
    rounds: list[dict] = field(default_factory=list)  # rows of `rounds` to insert
    visits: list[dict] = field(default_factory=list)
    item_results: list[dict] = field(default_factory=list)
    round_ends: list[dict] = field(default_factory=list)  # {"round_id", column: value, …} to set on a round
    findings: list[NewFinding] = field(default_factory=list)  # recorded with their tasks (findings.record_findings)
    claims: list[PhotoClaim] = field(default_factory=list)
    call: Callable[[], dict] | None = None


@dataclass(frozen=True)
class VersionInfo:
    """What a visit is checked against: a checklist version and its items by id."""

    id: int
    site_id: int
    kind: str
    version: int
    items: dict


_VERSION_ITEMS: dict[tuple, dict] = {}
_VERSION_BODIES = select(ChecklistVersion.id, ChecklistVersion.body).where(ChecklistVersion.id.in_(bindparam("ids", expanding=True)))
_SITE = select(Site).where(Site.id == bindparam("id"))
_SITE_COLUMNS = tuple(Site.__mapper__.column_attrs)


def _version_rows(postgresql: bool):
    return select(ChecklistVersion.id, ChecklistVersion.site_id, ChecklistVersion.kind, ChecklistVersion.version,
                  ChecklistVersion.content_hash).where(ids_in(ChecklistVersion.id, "ids", postgresql))


def version_infos(version_ids) -> dict[int, VersionInfo]:
    """Checklist versions by id (those that exist), without loading and parsing their bodies on
    every push: one query for all the versions a push names, and one for the bodies not seen yet.

    Versions are written once and never changed; the parsed items are kept per process,
    keyed by everything that identifies the row's content (so a test database reusing an
    id with other content, or a restored backup, cannot be served stale items).
    """
    ids = sorted({v for v in version_ids if type(v) is int and 0 < v < 2**31})
    if not ids:
        return {}
    rows = db.session.execute(built("context.versions", _version_rows), {"ids": ids}).all()
    missing = [row.id for row in rows if tuple(row) not in _VERSION_ITEMS]
    if missing:
        if len(_VERSION_ITEMS) >= 1000:
            _VERSION_ITEMS.clear()
        bodies = dict(db.session.execute(_VERSION_BODIES, {"ids": missing}).all())
        for row in rows:
            if row.id in bodies:
                _VERSION_ITEMS[tuple(row)] = {item["id"]: item for item in bodies[row.id]["items"]}
    return {row.id: VersionInfo(row.id, row.site_id, row.kind, row.version, _VERSION_ITEMS[tuple(row)]) for row in rows}


class Known:
    """The records a push's mutations refer to that exist: loaded in one query per kind, then kept
    up to date by the engine as it accepts each plan, so a later mutation sees an earlier one."""

    def __init__(self, mutations: list[dict]):
        self.mutations = mutations
        visit_ids, round_ids, finding_ids, photo_ids = set(), set(), set(), set()
        self.version_ids: set = set()
        for m in mutations:
            _collect(m.get("payload") or {}, visit_ids, round_ids, finding_ids, photo_ids, self.version_ids)
        self.visits, self.findings = _existing_keys((Visit.id, visit_ids), (Finding.id, finding_ids))
        self.rounds: dict[str, RoundInfo] = {
            r.id: RoundInfo(r.user_id, r.site_id, r.status)
            for r in _existing("known.rounds", (Round.id, Round.user_id, Round.site_id, Round.status), round_ids)
        }
        self.photos: dict[str, Held] = {r[0]: Held(*r[1:]) for r in _existing("known.photos", (Photo.id, *HELD_COLUMNS), photo_ids)}
        # As read, before `learn` adds what the push itself makes (Context.reads_again compares it).
        self.as_read = (frozenset(self.visits), frozenset(self.findings), dict(self.rounds), dict(self.photos))

    def learn(self, plan: Plan, user_id: int) -> None:
        """What an accepted plan creates or changes, for the mutations after it."""
        self.visits.update(row["id"] for row in plan.visits)
        self.findings.update(x.finding_id for x in plan.findings)
        for row in plan.rounds:
            self.rounds[row["id"]] = RoundInfo(row["user_id"], row["site_id"], row["status"])
        for row in plan.round_ends:
            self.rounds[row["round_id"]] = replace(self.rounds[row["round_id"]], status=row["status"])
        for claim in plan.claims:
            self.photos[claim.photo_id] = claim.link.held_by(user_id)


def _existing(name: str, columns: tuple, ids: set, chunk: int = 900) -> list:
    """Rows whose key (the first column) is in `ids`: one query (in chunks on SQLite, which caps
    bound parameters), by a statement built once under `name`."""
    if not ids:
        return []
    ids = sorted(ids)
    stmt = built(name, lambda postgresql: select(*columns).where(ids_in(columns[0], "ids", postgresql)))
    if db.session.get_bind().dialect.name == "postgresql":
        return db.session.execute(stmt, {"ids": ids}).all()
    out = []
    for start in range(0, len(ids), chunk):
        out.extend(db.session.execute(stmt, {"ids": ids[start:start + chunk]}).all())
    return out


def ids_in(column, name: str, postgresql: bool):
    """`column IN :name` for a statement built once, the list given when it runs: on PostgreSQL
    `= ANY(:name)` (one array parameter, as `key_in`), elsewhere an expanding parameter."""
    if postgresql:
        return column == any_(bindparam(name, type_=_array_of(column)))
    return column.in_(bindparam(name, expanding=True))


def _array_of(column) -> ARRAY:
    # Text without the column's length: a cast to VARCHAR(36)[] would cut a longer value from
    # a payload down to one that may exist.
    return ARRAY(String() if isinstance(column.type, String) else column.type)


_BUILT: dict[tuple[str, bool], object] = {}


def built(name: str, make):
    """The statement `make(postgresql)` builds, built once per kind of database and kept under
    `name`. Every push runs these: building a statement and computing its cache key cost more
    than running it, and a statement object keeps its key; a list of ids named as literals
    was coerced value by value as well."""
    postgresql = db.session.get_bind().dialect.name == "postgresql"
    stmt = _BUILT.get((name, postgresql))
    if stmt is None:
        stmt = _BUILT[(name, postgresql)] = make(postgresql)
    return stmt


def _existing_keys(*pairs) -> list[set]:
    """For each (key column, ids) pair, the ids that exist: on PostgreSQL in one UNION ALL
    (one round trip for them all), on SQLite a query each (no round trips there)."""
    if db.session.get_bind().dialect.name != "postgresql":
        # By the driver (the ids are plain text keys): a Core IN of a hundred ids is compiled
        # anew for each count.
        conn = db.session.connection()
        found = []
        for column, ids in pairs:
            ids = sorted(ids)
            keys: set = set()
            for start in range(0, len(ids), 900):
                chunk = ids[start : start + 900]
                sql = f"SELECT {column.name} FROM {column.table.name} WHERE {column.name} IN ({', '.join('?' * len(chunk))})"
                keys.update(r[0] for r in conn.exec_driver_sql(sql, tuple(chunk)))
            found.append(keys)
        return found
    found: list[set] = [set() for _ in pairs]
    parts = [select(literal(n), column).where(key_in(column, sorted(ids))) for n, (column, ids) in enumerate(pairs) if ids]
    if parts:
        for n, key in db.session.execute(parts[0] if len(parts) == 1 else union_all(*parts)):
            found[n].add(key)
    return found


def key_in(column, values: list):
    """`column IN values`; on PostgreSQL `column = ANY(:array)`, one parameter whatever the count.

    A 100-element IN is a long statement with 100 bound parameters, compiled by SQLAlchemy
    and split by psycopg on every push; the array form is one short cached statement and
    uses the same index.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=_array_of(column)))
    return column.in_(list(values))


def _collect(p, visit_ids, round_ids, finding_ids, photo_ids, version_ids) -> None:
    """Every id a payload names, for the batch look-ups (bad values are simply skipped).

    Runs for every mutation of a push (100 visits of 8 items each): plain loops, no helpers.
    """
    if not isinstance(p, dict):
        return
    get = p.get
    version_ids.add(get("checklist_version_id"))
    for target, value in ((visit_ids, get("visit_id")), (round_ids, get("round_id"))):
        if isinstance(value, str):
            target.add(value.lower())
    lists = [get("photo_ids"), get("after_photo_ids")]
    signatures, visit = get("signatures"), get("visit")
    if isinstance(signatures, dict):
        lists.append(list(signatures.values()))
    if isinstance(visit, dict) and isinstance(visit.get("visit_id"), str):
        visit_ids.add(visit["visit_id"].lower())
    for key in ("results", "extra_findings"):
        records = get(key)
        if not isinstance(records, list):
            continue
        for r in records[:300]:
            if not isinstance(r, dict):
                continue
            if r.get("photo_ids"):
                lists.append(r["photo_ids"])
            if isinstance(r.get("finding_id"), str):
                finding_ids.add(r["finding_id"].lower())
            finding = r.get("finding")
            if isinstance(finding, dict):
                if isinstance(finding.get("finding_id"), str):
                    finding_ids.add(finding["finding_id"].lower())
                lists.append(finding.get("photo_ids"))
    for values in lists:
        if isinstance(values, list):
            photo_ids.update(v.lower() for v in values[:50] if isinstance(v, str))


# Built once (a statement object keeps its cache key): every push runs them.
_ROLES = select(Membership.site_id, Membership.role).where(Membership.user_id == bindparam("user_id"))
_CHECKPOINTS = select(Checkpoint.id, Checkpoint.kind, Checkpoint.short_code).where(Checkpoint.site_id == bindparam("site_id"))


class Context:
    """What a handler may read: who pushes, their roles per site, the push's clock and device, and
    look-ups cached for the whole push. Nothing here writes."""

    def __init__(self, user: User, device_id: str, clock: Clock, known: Known):
        self._user = user
        self._device_id = device_id
        self._clock = clock
        self._known = known
        self._roles: dict[int, set[str]] = {}
        for site_id, role in db.session.execute(_ROLES, {"user_id": user.id}):
            self._roles.setdefault(site_id, set()).add(role)
        self._sites: dict[int, Site] = {}
        self._site_rows: dict[int, tuple | None] = {}  # each site's columns as read (an ORM object is refreshed later)
        self._checkpoints: dict[int, dict] = {}
        self._checkpoint_rows: dict[int, tuple] = {}
        self._versions: dict[int, VersionInfo] | None = None
        self._sealed: dict[tuple[int, str], bool] = {}
        self._plan_sites: dict[int, int | None] = {}

    @property
    def user(self) -> User:
        return self._user

    @property
    def device_id(self) -> str:
        return self._device_id

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def known(self) -> Known:
        return self._known

    def site(self, site_id: int) -> Site:
        if site_id not in self._sites:
            site = self._sites[site_id] = db.session.execute(_SITE, {"id": site_id}).scalar()
            self._site_rows[site_id] = None if site is None else tuple(getattr(site, c.key) for c in _SITE_COLUMNS)
        return self._sites[site_id]

    def recording_site(self, site_id) -> Site:
        """The site of a patrol record, if the policy lets this user record there (`patrol.record`)."""
        if not isinstance(site_id, int) or not policy.allows("patrol.record", self._roles.get(site_id, ())):
            raise Rejection(FORBIDDEN_SITE, "You have no role at this site that allows recording patrols.")
        return self.site(site_id)

    def checkpoint(self, site_id: int, f: Fields):
        """The checkpoint a payload names by `checkpoint_id`, or by `checkpoint_code` as typed."""
        cps = self._site_checkpoints(site_id)
        if f.has("checkpoint_code") and not f.has("checkpoint_id"):
            cp = cps["code"].get(sites.normalise_code(f.text("checkpoint_code", max_len=16)))
        else:
            cp = cps["id"].get(f.int("checkpoint_id"))
        f.check()
        if cp is None:
            raise Rejection(UNKNOWN_CHECKPOINT, "This checkpoint does not exist at this site.")
        return cp

    def _site_checkpoints(self, site_id: int) -> dict:
        if site_id not in self._checkpoints:
            rows = db.session.execute(_CHECKPOINTS, {"site_id": site_id}).all()
            self._checkpoint_rows[site_id] = tuple(sorted(tuple(r) for r in rows))
            self._checkpoints[site_id] = {"id": {r.id: r for r in rows}, "code": {r.short_code: r for r in rows}}
        return self._checkpoints[site_id]

    def version(self, version_id: int | None) -> VersionInfo | None:
        if self._versions is None:
            # Every version the push names, in one look-up at the first visit that needs one.
            self._versions = version_infos(self._known.version_ids)
        if version_id not in self._versions and version_id not in self._known.version_ids:
            self._versions.update(version_infos([version_id]))  # named somewhere _collect does not look
        return self._versions.get(version_id)

    def addendum(self, site_id: int, month: str) -> bool:
        """A record of a sealed month is still accepted, filed as that month's addendum."""
        key = (site_id, month)
        if key not in self._sealed:
            self._sealed[key] = sealing.is_sealed(site_id, month)
        return self._sealed[key]

    def plan_site(self, plan_id: int) -> int | None:
        if plan_id not in self._plan_sites:
            self._plan_sites[plan_id] = db.session.execute(select(PatrolPlan.site_id).where(PatrolPlan.id == plan_id)).scalar()
        return self._plan_sites[plan_id]

    def _reads(self) -> tuple:
        return (self._roles, self._known.as_read, self._site_rows, self._checkpoint_rows, self._versions, self._sealed, self._plan_sites)

    def reads_again(self) -> bool:
        """Whether reading now everything this context read gives the same: then what the
        handlers planned from it is what they would plan now (Push.draft)."""
        fresh = Context(self._user, self._device_id, self._clock, Known(self._known.mutations))
        for site_id in self._site_rows:
            fresh.site(site_id)
        for site_id in self._checkpoint_rows:
            fresh._site_checkpoints(site_id)
        if self._versions is not None:
            fresh._versions = version_infos(set(self._known.version_ids) | set(self._versions))
        for site_id, month in self._sealed:
            fresh.addendum(site_id, month)
        for plan_id in self._plan_sites:
            fresh.plan_site(plan_id)
        return fresh._reads() == self._reads()

    def task(self, task_id) -> Task:
        """A task at a site where this user may see tasks; what they may do with it is the task domain's to say."""
        task = db.session.get(Task, task_id) if isinstance(task_id, int) else None
        if task is None or not policy.allows("task.read", self._roles.get(task.site_id, ())):
            raise Rejection(UNKNOWN_TASK, "This task does not exist at any of your sites.")
        return task

    def round(self, round_id: str) -> RoundInfo | None:
        return self._known.rounds.get(round_id)

    def has_visit(self, visit_id: str) -> bool:
        return visit_id in self._known.visits

    def has_finding(self, finding_id: str) -> bool:
        return finding_id in self._known.findings
