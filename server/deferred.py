"""Writes that take a global counter, deferred to the moment before commit.

The pull log and the audit chain number their rows from one counter each (changes.py,
audit.py). Taking a counter locks its row until the transaction ends, so taking it at
the first change of a long transaction (a sync push of 500 mutations) would make every
other writer wait for the whole push. Instead, changes and audit events are queued on
the session and written in bulk in `before_commit`: the counters are held for
milliseconds, and the numbering still follows commit order.

The queue follows savepoints: what a rolled-back savepoint queued is dropped with it.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session, scoped_session

KEY = "patrol_deferred"


def queue(session, kind: str, item: dict) -> None:
    queue_many(session, kind, (item,))


def queue_many(session, kind: str, items) -> None:
    """Queue entries of one kind at once (a sync push queues hundreds)."""
    if isinstance(session, scoped_session):
        session = session()
    # Tag each entry with the innermost open savepoint (None outside any), so that a
    # rollback of that savepoint, or of one enclosing it, drops the entry.
    tag = session.get_nested_transaction()
    session.info.setdefault(KEY, []).extend((tag, kind, item) for item in items)


def _inside(tag, rolled_back) -> bool:
    while tag is not None:
        if tag is rolled_back:
            return True
        tag = tag.parent
    return False


_writers: dict[str, callable] = {}


def writer(kind: str):
    """Register the function that writes all queued entries of `kind` at commit."""

    def register(fn):
        _writers[kind] = fn
        return fn

    return register


@event.listens_for(Session, "before_commit")
def _write(session: Session) -> None:
    if session.in_nested_transaction():
        # before_commit fires for a SAVEPOINT's release too; the queue waits for the real
        # commit (a later rollback of an enclosing savepoint still drops its entries).
        return
    entries = session.info.pop(KEY, None)
    if not entries:
        return
    by_kind: dict[str, list[dict]] = {}
    for _tag, kind, item in entries:
        by_kind.setdefault(kind, []).append(item)
    # A fixed order (by name: audit, then change) so two committing transactions take the
    # counter rows in the same order and cannot deadlock.
    for kind in sorted(by_kind):
        _writers[kind](session, by_kind[kind])


@event.listens_for(Session, "after_soft_rollback")
def _drop(session: Session, previous_transaction) -> None:
    entries = session.info.get(KEY)
    if not entries:
        return
    if previous_transaction.parent is None:  # the whole transaction
        session.info.pop(KEY, None)
        return
    session.info[KEY] = [e for e in entries if not _inside(e[0], previous_transaction)]
