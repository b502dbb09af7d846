"""Sync pull: the change log by cursor, tombstones, access changes and resets (offline-sync.md G3)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from server import choices, sync
from server.accounts import grant, revoke
from server.extensions import db
from server.models import Change, Checkpoint, Task, User, utcnow
from server.demo import demo_checkpoints
from server.sites import create_checkpoint, update_checkpoint

from .support.api import error_of
from .support.phone import Phone
from .support.sqlite_lock import answered_while_locked, held_write_lock, in_thread


def pull_all(api, cursor: int = 0, limit: int = 1000) -> tuple[dict, int, int]:
    """Pull every page from `cursor`; returns (state keyed by (entity, id), final cursor, pages)."""
    state: dict = {}
    pages = 0
    while True:
        r = api.get("/api/sync/pull", query_string={"cursor": cursor, "limit": limit})
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        pages += 1
        cursors = [c["cursor"] for c in body["changes"]]
        assert cursors == sorted(cursors) and all(c > cursor for c in cursors)
        for ch in body["changes"]:
            if ch["op"] == "delete":
                state.pop((ch["entity"], ch["id"]), None)
            else:
                state[(ch["entity"], ch["id"])] = ch["data"]
        cursor = body["cursor"]
        if not body["has_more"]:
            return state, cursor, pages


def test_pull_from_zero_gives_what_a_phone_needs_offline(as_role, demo):
    """Checkpoints with their QR tokens, a checklist per kind, the site, its departments, open tasks."""
    api = as_role("patroller")
    phone = Phone(api, demo.id)
    phone.push_ok([phone.visit("F01", fail=(0,))])
    state, cursor, _ = pull_all(api)
    entities = {e for e, _ in state}
    assert {"site", "department", "checkpoint", "checklist", "task"} <= entities
    cps = [v for (e, _), v in state.items() if e == "checkpoint"]
    assert len(cps) == len(demo_checkpoints()) and all(cp["token"] and cp["short_code"] for cp in cps)
    kinds = {v["kind"] for (e, _), v in state.items() if e == "checklist"}
    assert kinds == set(choices.CHECKPOINT_KINDS)
    checklist = state[("checklist", f"{demo.id}:floor")]
    assert checklist["version"] >= 1 and checklist["body"]["items"]
    task = next(v for (e, _), v in state.items() if e == "task")
    assert task["state"] == "open" and task["finding"]["item_id"] and task["checkpoint_id"] and task["due_at"].endswith("Z")
    assert cursor > 0


def test_interrupted_pull_ends_in_the_same_state_as_an_uninterrupted_one(as_role, demo):
    """G3: pulling in pages of 3 (as if the connection dropped after each) gives exactly the one-page result."""
    api = as_role("patroller")
    whole, cursor_whole, _ = pull_all(api, limit=1000)
    paged, cursor_paged, pages = pull_all(api, limit=3)
    assert pages > 5
    assert paged == whole and cursor_paged == cursor_whole


def test_pull_after_cursor_sends_only_later_changes_and_a_deactivated_checkpoint_as_tombstone(as_role, demo):
    api = as_role("patroller")
    _, cursor, _ = pull_all(api)
    cp = db.session.execute(select(Checkpoint).where(Checkpoint.site_id == demo.id, Checkpoint.short_code == "F10")).scalar_one()
    update_checkpoint(cp, active=False)
    new = create_checkpoint(demo.id, kind="floor", name_zh="11楼", short_code="F11")
    db.session.commit()
    body = api.get("/api/sync/pull", query_string={"cursor": cursor}).get_json()
    by_id = {(c["entity"], c["id"]): c for c in body["changes"]}
    assert set(by_id) == {("checkpoint", str(cp.id)), ("checkpoint", str(new.id))}
    assert by_id[("checkpoint", str(cp.id))]["op"] == "delete" and "data" not in by_id[("checkpoint", str(cp.id))]
    assert by_id[("checkpoint", str(new.id))]["data"]["short_code"] == "F11"
    assert body["has_more"] is False and body["cursor"] > cursor


def test_closed_task_becomes_a_tombstone(as_role, demo):
    api = as_role("patroller")
    phone = Phone(api, demo.id)
    task_id = phone.push_ok([phone.visit("F02", fail=(1,))])[0]["result"]["task_ids"][0]
    state, cursor, _ = pull_all(api)
    assert ("task", str(task_id)) in state
    from server import tasks

    supervisor = db.session.execute(select(User).where(User.username == "supervisor")).scalar_one()
    tasks.transition(db.session.get(Task, task_id), actor=supervisor, to_state=choices.TASK_CANCELLED, note="duplicate report")
    db.session.commit()
    state, _, _ = pull_all(api, cursor=0)
    assert ("task", str(task_id)) not in state
    later = api.get("/api/sync/pull", query_string={"cursor": cursor}).get_json()["changes"]
    # The tombstone says how the task ended, so a screen showing it can say so (issue 13).
    assert {"cursor": later[0]["cursor"], "entity": "task", "id": str(task_id), "op": "delete", "data": {"id": task_id, "state": "cancelled"}} in later


def test_pull_shows_only_my_sites(as_role, demo, other_site):
    state, _, _ = pull_all(as_role("patroller"))
    assert {v["site_id"] for (e, _), v in state.items() if e == "checkpoint"} == {demo.id}
    assert ("site", str(other_site.id)) not in state


def test_access_taken_away_sends_a_site_tombstone(as_role, demo, other_site):
    api = as_role("patroller")
    user = db.session.execute(select(User).where(User.username == "patroller")).scalar_one()
    grant(user, other_site.id, choices.PATROLLER)
    db.session.commit()
    state, cursor, _ = pull_all(api)
    assert ("site", str(other_site.id)) in state
    revoke(user, other_site.id)
    db.session.commit()
    changes = api.get("/api/sync/pull", query_string={"cursor": cursor}).get_json()["changes"]
    assert [(c["entity"], c["id"], c["op"]) for c in changes] == [("site", str(other_site.id), "delete")]


def test_site_given_since_last_pull_arrives_whole_without_a_reset(as_role, demo, other_site):
    """WatermelonDB 1264: access granted later brings the whole site, even what changed long before."""
    api = as_role("patroller")
    state, cursor, _ = pull_all(api)
    user = db.session.execute(select(User).where(User.username == "patroller")).scalar_one()
    grant(user, other_site.id, choices.PATROLLER)
    db.session.commit()
    more, _, _ = pull_all(api, cursor=cursor)
    state.update(more)
    assert {v["site_id"] for (e, _), v in state.items() if e == "checkpoint"} == {demo.id, other_site.id}
    assert ("site", str(other_site.id)) in state and ("checklist", f"{other_site.id}:floor") in state
    fresh, _, _ = pull_all(api, cursor=0)
    assert fresh == state


def test_paging_from_zero_across_a_grant_never_resets(as_role, demo, other_site):
    """A phone pulling from zero in small pages gets everything, with no reset loop, grant or not."""
    user = db.session.execute(select(User).where(User.username == "patroller")).scalar_one()
    grant(user, other_site.id, choices.PATROLLER)
    db.session.commit()
    api = as_role("patroller")
    paged, _, _ = pull_all(api, limit=2)
    whole, _, _ = pull_all(api, limit=1000)
    assert paged == whole


def test_cursor_ahead_of_the_server_answers_cursor_reset(as_role, demo):
    r = as_role("patroller").get("/api/sync/pull", query_string={"cursor": 10**9})
    assert r.status_code == 410 and error_of(r)["code"] == "cursor_reset"
    assert "keep your unsent" in error_of(r)["message"]


def test_cursor_older_than_pruned_tombstones_answers_cursor_reset(as_role, demo):
    api = as_role("patroller")
    _, first, _ = pull_all(api)
    cp = db.session.execute(select(Checkpoint).where(Checkpoint.site_id == demo.id, Checkpoint.short_code == "F09")).scalar_one()
    from server.changes import record_change

    record_change("checkpoint", cp.id, site_id=demo.id, op="delete")
    db.session.commit()
    _, second, _ = pull_all(api, cursor=first)
    db.session.execute(update(Change).values(at=utcnow() - timedelta(days=400)))
    assert sync.prune_tombstones(utcnow() - timedelta(days=90)) == 1
    db.session.commit()
    r = api.get("/api/sync/pull", query_string={"cursor": first})
    assert r.status_code == 410 and error_of(r)["code"] == "cursor_reset"
    assert api.get("/api/sync/pull", query_string={"cursor": second}).status_code == 200


def test_daily_prune_command_drops_old_deletions_and_old_cursors_start_again(as_role, demo, runner):
    api = as_role("patroller")
    _, first, _ = pull_all(api)
    cp = db.session.execute(select(Checkpoint).where(Checkpoint.site_id == demo.id, Checkpoint.short_code == "F09")).scalar_one()
    from server.changes import record_change

    record_change("checkpoint", cp.id, site_id=demo.id, op="delete")
    db.session.commit()
    _, second, _ = pull_all(api, cursor=first)
    result = runner.invoke(args=["sync", "prune"])
    assert result.exit_code == 0 and "dropped 0 deletion record(s) older than 180 days" in result.output, result.output
    db.session.execute(update(Change).where(Change.op == "delete").values(at=utcnow() - timedelta(days=181)))
    db.session.commit()
    result = runner.invoke(args=["sync", "prune"])
    assert result.exit_code == 0 and "dropped 1 deletion record(s)" in result.output, result.output
    assert error_of(api.get("/api/sync/pull", query_string={"cursor": first}))["code"] == "cursor_reset"
    assert api.get("/api/sync/pull", query_string={"cursor": second}).status_code == 200


def test_pull_arguments_are_checked(as_role, demo):
    api = as_role("patroller")
    assert api.get("/api/sync/pull", query_string={"cursor": -1}).status_code == 422
    assert api.get("/api/sync/pull", query_string={"limit": 5000}).status_code == 422
    assert api.get("/api/sync/pull", query_string={"cursor": "abc"}).status_code == 422


# --- pulls read beside the writers (server/db_sqlite.py `reads_first`) ---------------------


def test_a_pull_reads_while_another_writer_holds_sqlite_write_lock(app, as_role, demo):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        import pytest

        pytest.skip("SQLite's one write lock")
    api = as_role("patroller")
    pull_all(api)  # checklist versions made: the pull below only reads
    db.session.rollback()  # the tests' requests share this session: end its transaction
    r = answered_while_locked(app, lambda: api.get("/api/sync/pull", query_string={"cursor": 0, "limit": 1000}))
    assert r.status_code == 200 and r.get_json()["changes"]


def test_a_pull_that_must_write_still_writes_and_slides_the_session(app, as_role, demo):
    """The two writes a pull can make (new checklist versions; the session's sliding expiry) take the lock first."""
    from server.models import AuthSession, ChecklistVersion

    api = as_role("patroller")
    db.session.execute(update(AuthSession).values(last_seen_at=utcnow() - timedelta(minutes=30)))
    db.session.execute(ChecklistVersion.__table__.delete())
    db.session.commit()
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # A writer commits while the pull's read snapshot is open: turning that snapshot into a
        # write would fail at once ("database is locked"); a fresh write transaction waits its turn.
        other = held_write_lock(app)
        t, out = in_thread(lambda: api.get("/api/sync/pull", query_string={"cursor": 0, "limit": 1000}), 0.5)
        other.execute("INSERT INTO login_attempts (username, remote_addr, success, at) VALUES ('x', 'y', 0, '2026-01-01 00:00:00')")
        other.commit()
        other.close()
        t.join(10)
        r = out["r"]
    else:
        r = api.get("/api/sync/pull", query_string={"cursor": 0, "limit": 1000})
    assert r.status_code == 200, r.get_json()
    assert {c["entity"] for c in r.get_json()["changes"]} >= {"checklist"}
    db.session.expire_all()
    assert db.session.execute(select(ChecklistVersion)).first() is not None
    assert db.session.execute(select(AuthSession.last_seen_at)).scalar() > utcnow() - timedelta(minutes=1)
