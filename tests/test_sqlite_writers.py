"""SQLite's one writer (server/db_sqlite.py): a push and a photo upload take the write lock
only to write.

At a shift change a hundred phones push and upload at once, and SQLite has one writer.
What a request does before it writes (the login check, reading and validating the body,
reading the image) must not queue behind the other writers; a resent photo that writes
nothing takes no lock at all.
"""

from __future__ import annotations

import hashlib

import pytest

from server.extensions import db
from server.models import Photo

from .support.api import error_of
from .support.ids import new_id
from .support.phone import Phone
from .support.records import jpeg
from .support.sqlite_lock import answered_while_locked, held_write_lock, in_thread, waits_for_the_lock


@pytest.fixture(autouse=True)
def _sqlite_only(app):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite's one write lock")


def test_a_bad_push_is_answered_while_another_writer_holds_the_lock(app, as_role, demo):
    """Validation comes before the write lock: a malformed push does not queue behind the crowd."""
    api = as_role("patroller")
    db.session.rollback()
    r = answered_while_locked(app, lambda: api.post("/api/sync/push", json={"device_id": "phone-0001", "mutations": "nope"}))
    assert r.status_code == 422
    assert error_of(r)["code"] == "validation_error"


def test_a_push_waits_for_the_lock_then_applies(app, as_role, demo):
    api = as_role("patroller")
    phone = Phone(api, demo.id)
    visit = phone.visit("F01", fail=(0,))
    db.session.rollback()
    r = waits_for_the_lock(app, lambda: phone.push([visit]))
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["results"][0]["status"] == "applied" and r.get_json()["results"][0]["result"]["task_ids"]


def _photo(api, phone, code: str) -> tuple[str, bytes, dict]:
    pid = new_id()
    phone.push_ok([phone.visit(code, photo_ids=[pid])])
    data = jpeg()
    return pid, data, {"Content-Type": "image/jpeg", "X-Content-SHA256": hashlib.sha256(data).hexdigest()}


def test_a_photo_sent_again_is_answered_while_another_writer_holds_the_lock(app, as_role, demo):
    """A resent upload of bytes already received writes nothing, so it takes no lock."""
    api = as_role("patroller")
    pid, data, headers = _photo(api, Phone(api, demo.id), "F01")
    assert api.put(f"/api/photos/{pid}", data=data, headers=headers).status_code == 201
    db.session.rollback()
    r = answered_while_locked(app, lambda: api.put(f"/api/photos/{pid}", data=data, headers=headers))
    assert r.status_code == 200


def test_a_new_photo_waits_for_the_lock_then_is_stored(app, as_role, demo):
    api = as_role("patroller")
    pid, data, headers = _photo(api, Phone(api, demo.id), "F02")
    db.session.rollback()
    r = waits_for_the_lock(app, lambda: api.put(f"/api/photos/{pid}", data=data, headers=headers))
    assert r.status_code == 201, r.get_json()
    db.session.expire_all()
    assert db.session.get(Photo, pid).status == "received"


def test_the_photo_worker_looks_for_work_while_another_writer_holds_the_lock(app, as_role, demo):
    """The worker looks every half second: with nothing to do it takes no write lock, so the
    pushes of a shift change never queue behind its looking."""
    from server import photos

    db.session.rollback()
    assert answered_while_locked(app, lambda: _as_the_worker(app, photos.make_pending_copies)) == 0


def test_the_photo_worker_renders_while_another_writer_holds_the_lock_then_records_after(app, as_role, demo, monkeypatch):
    """It reads the pending photos and renders them without the lock; only recording their
    copies waits for it, all of a batch in one transaction."""
    from server import photos

    api = as_role("patroller")
    phone = Phone(api, demo.id)
    pids = []
    for code in ("F01", "F02", "F03"):
        pid, data, headers = _photo(api, phone, code)
        assert api.put(f"/api/photos/{pid}", data=data, headers=headers).status_code == 201
        pids.append(pid)
    rendered = []
    real = photos.render
    monkeypatch.setattr(photos, "render", lambda data, max_pixels: rendered.append(1) or real(data, max_pixels))
    db.session.rollback()
    done = waits_for_the_lock(app, lambda: _as_the_worker(app, photos.make_pending_copies))
    # All three were rendered while the other writer still held the lock; recorded after it let go.
    assert done == 3 and len(rendered) == 3
    db.session.expire_all()
    assert [db.session.get(Photo, pid).copies_pending for pid in pids] == [False, False, False]


def _as_the_worker(app, fn):
    """`fn` as the photo worker runs it: in its own app context, outside any request."""
    with app.app_context():
        try:
            return fn()
        finally:
            db.session.remove()


def test_a_photo_refused_under_the_lock_leaves_no_file_behind(app, as_role, demo):
    """The bytes are written before the lock and named only if the upload stands: when other
    bytes for the same id were received while this upload waited, it is refused (409) and
    neither its file nor a temporary is left; the stored photo keeps the first bytes."""
    import sqlite3
    import threading
    from pathlib import Path

    from server.photos import original_key
    from server.storage import get_store

    api = as_role("patroller")
    pid, data, headers = _photo(api, Phone(api, demo.id), "F04")
    first = jpeg((20, 120, 40))
    first_sha = hashlib.sha256(first).hexdigest()
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    db.session.rollback()
    other = sqlite3.connect(path, isolation_level=None, timeout=30)
    other.execute("BEGIN IMMEDIATE")
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("r", api.put(f"/api/photos/{pid}", data=data, headers=headers)), daemon=True)
    t.start()
    t.join(0.5)
    assert t.is_alive(), "it wrote while another writer held the lock"
    # Meanwhile the other writer receives different bytes under the same id, file first.
    get_store("photos").put(original_key(pid), first, "image/jpeg")
    other.execute("UPDATE photos SET status = 'received', sha256 = ?, copies_pending = 1 WHERE id = ?", (first_sha, pid))
    other.execute("COMMIT")
    other.close()
    t.join(30)
    assert out["r"].status_code == 409 and error_of(out["r"])["code"] == "photo_conflict"
    root = Path(app.config["PHOTO_DIR"])
    assert [p.name for p in root.rglob("*") if p.is_file() and p.name.startswith(".upload-")] == []
    assert get_store("photos").read(original_key(pid)) == first


def _statements_by_phase(app):
    """Every statement the app sends, with where it falls: before the write lock, inside it, or after the commit."""
    from sqlalchemy import event

    with app.app_context():
        engine = db.engine
    seen: list[tuple[str, str]] = []
    phase = {"now": "before"}

    def before(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("BEGIN IMMEDIATE"):
            phase["now"] = "locked"
        seen.append((phase["now"], statement))

    def after_commit(conn):
        if phase["now"] == "locked":
            phase["now"] = "after"

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "commit", after_commit)
    return seen, phase, lambda: (event.remove(engine, "before_cursor_execute", before), event.remove(engine, "commit", after_commit))


def test_inside_the_write_lock_a_push_and_an_upload_do_not_read_the_user_again(app, as_role, demo):
    """The write lock is held only for what needs it: the logged-in user read before it (by the
    login check) is not read again inside it, and an upload's answer reads nothing after its commit."""
    import re

    api = as_role("patroller")
    phone = Phone(api, demo.id)
    pid = new_id()
    visit = phone.visit("F01", fail=(0,), photo_ids=[pid])
    db.session.rollback()
    seen, phase, stop = _statements_by_phase(app)
    try:
        r = phone.push([visit])
        assert r.status_code == 200 and r.get_json()["results"][0]["status"] == "applied", r.get_json()
        pushed = list(seen)
        seen.clear()
        phase["now"] = "before"
        data = jpeg()
        r = api.put(f"/api/photos/{pid}", data=data, headers={"Content-Type": "image/jpeg", "X-Content-SHA256": hashlib.sha256(data).hexdigest()})
        uploaded = list(seen)
    finally:
        stop()
    assert r.status_code == 201 and r.get_json()["id"] == pid and r.get_json()["status"] == "received", r.get_json()
    user_row = re.compile(r"FROM users\s+WHERE users\.id = \?")
    for name, statements in (("push", pushed), ("upload", uploaded)):
        assert any(phase == "locked" for phase, _ in statements), name  # it did write under the lock
        assert any(phase == "before" and "JOIN users" in s for phase, s in statements), name  # the login check read the user
        assert not [s for phase, s in statements if phase == "locked" and user_row.search(s)], name
    assert [s for phase, s in uploaded if phase == "after"] == []
    with app.app_context():
        assert db.session.get(Photo, pid).status == "received"


# --- a push planned before the lock (server/sync/push.py Push.draft) ---------------------------


def _between_draft_and_lock(monkeypatch, change):
    """Run `change` (on a connection of its own, committed) after the push has planned its
    records in its read snapshot and before it takes the write lock; count the drafts kept."""
    import importlib

    push_module = importlib.import_module("server.sync.push")  # `server.sync.push` is also the function
    real_start, real_holds = push_module.start_writing, push_module.Push.holds
    kept = []

    def start_writing(session):
        change()
        return real_start(session)

    def holds(self):
        answer = real_holds(self)
        kept.append(answer)
        return answer

    monkeypatch.setattr(push_module, "start_writing", start_writing)
    monkeypatch.setattr(push_module.Push, "holds", holds)
    return kept


def test_a_role_taken_away_between_the_draft_and_the_lock_rejects_the_visit(app, as_role, demo, monkeypatch):
    """The draft read the patroller's role; under the lock it reads again, sees it gone, and plans
    anew: the visit is refused as if it had arrived after the change (nothing recorded)."""
    from server.models import Membership, User, Visit

    api = as_role("patroller")
    phone = Phone(api, demo.id)
    visit = phone.visit("F01", fail=(0,))
    user_id = db.session.query(User.id).filter_by(username="patroller").scalar()
    site_id = demo.id
    db.session.rollback()

    def revoke():
        other = held_write_lock(app)
        other.execute("DELETE FROM memberships WHERE user_id = ? AND site_id = ?", (user_id, site_id))
        other.commit()
        other.close()

    kept = _between_draft_and_lock(monkeypatch, revoke)
    result = phone.push_ok([visit])[0]
    assert kept == [False]
    assert result["status"] == "rejected" and result["code"] == "forbidden_site", result
    with app.app_context():
        assert db.session.get(Visit, visit["payload"]["visit_id"]) is None
        assert db.session.query(Membership).filter_by(user_id=user_id, site_id=site_id).count() == 0


def test_the_same_push_landing_between_the_draft_and_the_lock_is_answered_duplicate(app, as_role, demo, monkeypatch):
    """Another request stores the very same records while this one was planning: under the lock
    the stored mutations read differently, so it plans again and answers duplicate; one copy kept."""
    from server.models import Finding, Mutation, Task, Visit

    api = as_role("patroller")
    phone = Phone(api, demo.id)
    batch = [phone.visit("F01", fail=(0,)), phone.visit("F02")]
    db.session.rollback()
    first = {}

    def same_push_elsewhere():
        if not first:  # the nested push must not trigger itself again
            first["r"] = "running"
            t, out = in_thread(lambda: phone.push(batch), 30)
            first["r"] = out["r"]

    kept = _between_draft_and_lock(monkeypatch, same_push_elsewhere)
    r = phone.push(batch)
    assert r.status_code == 200, r.get_json()
    assert first["r"].status_code == 200 and [x["status"] for x in first["r"].get_json()["results"]] == ["applied", "applied"]
    assert [x["status"] for x in r.get_json()["results"]] == ["duplicate", "duplicate"]
    assert kept[-1] is False  # this push's draft, checked after the other push had landed
    with app.app_context():
        ids = [m["mutation_id"] for m in batch]
        assert db.session.query(Mutation).filter(Mutation.id.in_(ids)).count() == 2
        assert db.session.query(Visit).filter(Visit.id.in_([m["payload"]["visit_id"] for m in batch])).count() == 2
        finding_id = batch[0]["payload"]["results"][0]["finding"]["finding_id"]
        assert db.session.query(Finding).filter_by(id=finding_id).count() == 1
        assert db.session.query(Task).filter_by(finding_id=finding_id).count() == 1


def test_a_draft_with_no_commit_since_its_snapshot_is_written_without_reading_again(app, as_role, demo, monkeypatch):
    """Nobody wrote between the draft and the lock: the plans are written without a second look-up."""
    from sqlalchemy import event

    phone = Phone(as_role("patroller"), demo.id)
    visit = phone.visit("F01", fail=(0,))
    db.session.rollback()
    phase = {"now": "draft"}
    reads_under_lock = []

    def note(conn, cursor, statement, parameters, context, executemany):
        if phase["now"] == "locked" and statement.lstrip().upper().startswith("SELECT"):
            reads_under_lock.append(statement)

    def lock_taken():
        phase["now"] = "locked"

    kept = _between_draft_and_lock(monkeypatch, lock_taken)
    event.listen(db.engine, "before_cursor_execute", note)
    try:
        result = phone.push_ok([visit])[0]
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert kept == [True]
    assert result["status"] == "applied" and result["result"]["task_ids"], result
    # Not read again: the stored mutations, the user's roles, the site's checkpoints.
    again = [s for s in reads_under_lock if "FROM mutations" in s or "SELECT memberships.site_id, memberships.role" in s or "FROM checkpoints" in s]
    assert not again, again


def test_a_draft_that_still_holds_is_written_as_planned(app, as_role, demo, monkeypatch):
    """Nothing it read changed (another site's data did): the draft is kept and written."""
    phone = Phone(as_role("patroller"), demo.id)
    visit = phone.visit("F01", fail=(0,))
    site_id = demo.id
    db.session.rollback()

    def unrelated():
        other = held_write_lock(app)
        other.execute("UPDATE sites SET name_en = name_en || ' (renamed)' WHERE id <> ?", (site_id,))
        other.commit()
        other.close()

    kept = _between_draft_and_lock(monkeypatch, unrelated)
    result = phone.push_ok([visit])[0]
    assert kept == [True]
    assert result["status"] == "applied" and result["result"]["task_ids"], result


# --- the writers' gate (server/db_sqlite.py GatedConnection) ---------------------------------


def _gate_taken(app) -> bool:
    """Whether some writer holds the gate now (tried on a descriptor of our own)."""
    import fcntl
    import os

    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///") + "-writers"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing lets go of a lock this probe took


def _hold_gate(app):
    """Another writer in the gate, as another gunicorn worker: the open descriptor holding it."""
    import fcntl
    import os

    fd = os.open(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///") + "-writers", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def test_a_write_transaction_holds_the_gate_until_it_commits_or_rolls_back_and_a_read_never_takes_it(app, demo):
    from sqlalchemy import text

    from server.db_sqlite import lock_free

    db.session.rollback()
    assert not _gate_taken(app)
    db.session.execute(text("UPDATE sites SET name_en = name_en"))
    assert _gate_taken(app)
    db.session.commit()
    assert not _gate_taken(app)
    db.session.execute(text("UPDATE sites SET name_en = name_en"))
    assert _gate_taken(app)
    db.session.rollback()
    assert not _gate_taken(app)
    with lock_free():
        db.session.execute(text("SELECT count(*) FROM sites")).scalar()
        assert not _gate_taken(app)
        db.session.commit()


def test_a_push_waits_at_the_gate_while_another_writer_is_in_it_then_applies(app, as_role, demo):
    import os

    phone = Phone(as_role("patroller"), demo.id)
    visit = phone.visit("F01", fail=(0,))
    db.session.rollback()
    fd = _hold_gate(app)
    try:
        t, out = in_thread(lambda: phone.push([visit]), 0.5)
        assert t.is_alive(), "it wrote while another writer was in the gate"
    finally:
        os.close(fd)
    t.join(30)
    r = out["r"]
    assert r.status_code == 200 and r.get_json()["results"][0]["status"] == "applied", r.get_json()


def test_a_gate_held_past_the_busy_timeout_is_passed_by_and_sqlites_own_lock_decides(app, demo, monkeypatch):
    """A writer stuck in the gate (a hung process) holds up the others no longer than the busy
    timeout: then they go on to SQLite's own lock, which here is free."""
    import os

    from sqlalchemy import text

    import server.db_sqlite as db_sqlite

    monkeypatch.setattr(db_sqlite, "BUSY_TIMEOUT_MS", 200)
    db.session.rollback()
    fd = _hold_gate(app)
    try:
        db.session.execute(text("UPDATE sites SET name_en = name_en || '!' WHERE id = :id"), {"id": demo.id})
        db.session.commit()
    finally:
        os.close(fd)
    assert db.session.execute(text("SELECT name_en FROM sites WHERE id = :id"), {"id": demo.id}).scalar().endswith("!")
