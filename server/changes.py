"""The pull log: numbering changes in commit order and recording them.

A cursor is never a clock (offline-sync.md, WatermelonDB 1219): every change takes the
next value of one counter row. Taking it locks that row until the transaction commits,
so cursors become visible in the order they were handed out and a pull can never step
over a change that commits later with a lower number.
"""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update

from .extensions import db
from .models import Change, Counter, utcnow

CURSOR = "change_cursor"


def next_value(name: str) -> int:
    """Take the next value of a named counter; the row stays locked until commit."""
    result = db.session.execute(
        update(Counter).where(Counter.name == name).values(value=Counter.value + 1).returning(Counter.value)
    ).scalar()
    if result is None:
        db.session.execute(insert(Counter).values(name=name, value=0))
        result = db.session.execute(
            update(Counter).where(Counter.name == name).values(value=Counter.value + 1).returning(Counter.value)
        ).scalar()
    return int(result)


def record_change(entity: str, entity_id, *, site_id: int | None = None, user_id: int | None = None, op: str = "upsert") -> int:
    """Note that `entity` changed; it replaces that entity's previous change row."""
    cursor = next_value(CURSOR)
    db.session.execute(delete(Change).where(Change.entity == entity, Change.entity_id == str(entity_id)))
    db.session.execute(
        insert(Change).values(
            cursor=cursor, entity=entity, entity_id=str(entity_id), site_id=site_id, user_id=user_id, op=op, at=utcnow()
        )
    )
    return cursor


def current_cursor() -> int:
    return db.session.execute(select(Counter.value).where(Counter.name == CURSOR)).scalar() or 0
