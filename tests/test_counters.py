"""The counters that number the pull log and the audit chain, at their first use by two writers at once."""

from __future__ import annotations

import threading

from sqlalchemy import delete, select

from server.changes import take
from server.extensions import db
from server.models import Counter


def test_two_transactions_creating_the_same_counter_take_turns(app):
    """A fresh database: the first two pushes at once both find no counter row."""
    db.session.execute(delete(Counter).where(Counter.name == "fresh"))
    db.session.commit()
    assert take("fresh") == 1  # this transaction creates the row and keeps it uncommitted
    taken, errors = [], []
    started = threading.Event()

    def other():
        with app.app_context():
            try:
                started.set()
                taken.append(take("fresh"))  # waits for the first transaction's row
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 - the test reports whatever broke
                errors.append(repr(exc))
                db.session.rollback()
            finally:
                db.session.remove()

    t = threading.Thread(target=other)
    t.start()
    started.wait()
    t.join(timeout=0.5)  # give the other writer time to reach the row and wait on it
    db.session.commit()
    t.join(timeout=30)
    assert not t.is_alive()
    assert errors == [] and taken == [2]
    assert db.session.execute(select(Counter.value).where(Counter.name == "fresh")).scalar() == 2
