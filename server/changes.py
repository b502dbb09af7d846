"""The pull log: numbering changes in commit order and recording them.

A cursor is never a clock (offline-sync.md, WatermelonDB 1219): every change takes the
next value of one counter row. The changes of a transaction are queued and numbered
just before it commits (server/deferred.py); taking the counter locks its row until
that commit, so cursors become visible in the order they were handed out and a pull can
never step over a change that commits later with a lower number.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from . import deferred
from .extensions import db, insert_rows
from .models import Change, Counter, utcnow

CURSOR = "change_cursor"


def take(name: str, count: int = 1) -> int:
    """Take `count` values of a named counter; returns the last. The row stays locked until commit."""
    params = {"counter": name, "count": count}
    result = db.session.execute(_TAKE, params).scalar()
    if result is None:
        # The counter's first use. Another transaction may be creating it at this moment:
        # ON CONFLICT DO NOTHING waits for that one and leaves its row, which the UPDATE
        # then takes in turn (a plain INSERT failed the whole push with a unique violation).
        dialect_insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
        db.session.execute(dialect_insert(Counter).values(name=name, value=0).on_conflict_do_nothing(index_elements=["name"]))
        result = db.session.execute(_TAKE, params).scalar()
    return int(result)


# Built once (a statement object keeps its cache key), on the table: every commit that audits
# or logs a change runs it, and no Counter object is kept in a session to synchronise.
_COUNTERS = Counter.__table__
_TAKE = (update(_COUNTERS).where(_COUNTERS.c.name == bindparam("counter"))
         .values(value=_COUNTERS.c.value + bindparam("count", type_=BigInteger)).returning(_COUNTERS.c.value))


def record_change(entity: str, entity_id, *, site_id: int | None = None, user_id: int | None = None, op: str = "upsert") -> None:
    """Note that `entity` changed; at commit it replaces that entity's previous change row."""
    deferred.queue(db.session, "change", {"entity": entity, "entity_id": str(entity_id), "site_id": site_id, "user_id": user_id, "op": op})


def record_changes(changes) -> None:
    """`record_change` for many: (entity, entity_id, site_id, op) each (a sync push's tasks)."""
    deferred.queue_many(db.session, "change", [
        {"entity": entity, "entity_id": str(entity_id), "site_id": site_id, "user_id": None, "op": op} for entity, entity_id, site_id, op in changes
    ])


# Built once, the ids one expanding parameter: every commit that logs a change runs it, and a
# list of ids named as literals was coerced value by value.
_DELETE_PREVIOUS = delete(Change).where(Change.entity == bindparam("entity"), Change.entity_id.in_(bindparam("ids", expanding=True)))


@deferred.writer("change")
def _write_changes(session, items: list[dict]) -> None:
    latest: dict[tuple[str, str], dict] = {}
    for item in items:  # the last change of an entity in this transaction wins
        latest.pop((item["entity"], item["entity_id"]), None)
        latest[(item["entity"], item["entity_id"])] = item
    # Each entity's previous change row goes, found along the unique index on (entity,
    # entity_id): one DELETE per kind of entity with its ids IN a list (SQLite scans the whole
    # log for a row-value IN, and the log holds a row for every entity ever changed).
    ids_of: dict[str, list[str]] = {}
    for entity, entity_id in latest:
        ids_of.setdefault(entity, []).append(entity_id)
    for entity, ids in sorted(ids_of.items()):
        for i in range(0, len(ids), 500):
            session.execute(_DELETE_PREVIOUS, {"entity": entity, "ids": ids[i : i + 500]})
    last = take(CURSOR, len(latest))
    now = utcnow()
    rows = [dict(item, cursor=last - len(latest) + 1 + n, at=now) for n, item in enumerate(latest.values())]
    insert_rows(Change.__table__, rows)


def current_cursor() -> int:
    return db.session.execute(select(Counter.value).where(Counter.name == CURSOR)).scalar() or 0
