"""Another writer holding SQLite's one write lock, and a request run beside it in a thread."""

from __future__ import annotations

import sqlite3
import threading


def held_write_lock(app):
    """Another process's writer, as at a shift change: SQLite's write lock held on a second connection."""
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    other = sqlite3.connect(path, isolation_level=None, timeout=30)
    other.execute("BEGIN IMMEDIATE")
    return other


def in_thread(fn, seconds: float = 5.0):
    """Start `fn` in a thread and wait up to `seconds`; (thread, {"r": its result once done})."""
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("r", fn()), daemon=True)
    t.start()
    t.join(seconds)
    return t, out


def waits_for_the_lock(app, fn):
    """Run `fn` while another writer holds the lock: it must still be waiting half a second
    later; once the lock is let go it finishes, and its result is returned."""
    other = held_write_lock(app)
    try:
        t, out = in_thread(fn, 0.5)
        assert t.is_alive(), "it wrote while another writer held the lock"
    finally:
        other.rollback()
        other.close()
    t.join(30)
    return out["r"]


def answered_while_locked(app, fn):
    """Run `fn` while another writer holds the lock: it must finish without waiting for it
    (within 5 seconds, where the lock is held for as long as the busy timeout's 30); its result."""
    other = held_write_lock(app)
    try:
        t, out = in_thread(fn)
        assert not t.is_alive(), "it waited for the write lock"
        return out["r"]
    finally:
        other.rollback()
        other.close()
        t.join()
