"""Fault injection through the API: every server-side failure mode of offline-sync.md
("Failure modes seen in the wild") breaks a real request with tests/support/faults.py, and the
phone's ordinary retry must converge on exactly the state an unbroken sync gives."""

from __future__ import annotations

import copy
import hashlib
import io
import threading
from datetime import datetime, timedelta, timezone

import pytest
from PIL import Image
from sqlalchemy import func, select, update

from server.extensions import db
from server.models import AuthSession, Checkpoint, Finding, Mutation, Photo, Round, Task, Visit

from .support import faults
from .support.api import ApiClient, error_of
from .support.faults import ConnectionDropped, Rule
from .support.ids import iso, new_id
from .support.phone import Phone


def jpeg(colour=(10, 120, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(out, "JPEG")
    return out.getvalue()


def state() -> dict:
    db.session.expire_all()
    return {m.__tablename__: db.session.execute(select(func.count()).select_from(m)).scalar() for m in (Visit, Finding, Task, Round, Mutation, Photo)}


@pytest.fixture
def injector(app):
    app.config["FAULT_INJECTION"] = True
    return faults.install(app)


@pytest.fixture
def phone(as_role, demo, injector):
    return Phone(as_role("patroller"), demo.id)


def statuses(answer: dict) -> list[str]:
    return [r["status"] for r in answer["results"]]


# --- the harness itself ---------------------------------------------------------------


def test_fault_injection_is_refused_without_the_flag_and_in_production(app, monkeypatch):
    with pytest.raises(faults.FaultInjectionRefused):
        faults.install(app)
    app.config["FAULT_INJECTION"] = True
    monkeypatch.setenv("PATROL_ENV", "production")
    with pytest.raises(faults.FaultInjectionRefused):
        faults.install(app)
    monkeypatch.delenv("PATROL_ENV")
    app.config["PATROL_ENV"] = "production"
    with pytest.raises(faults.FaultInjectionRefused):
        faults.install(app)


def test_control_endpoint_adds_rules_only_from_loopback(app, injector, client):
    r = client.post(faults.CONTROL_PATH, json={"mode": "error", "path": "/api/health", "times": 1})
    assert r.status_code == 200 and r.get_json()["rules"][0]["mode"] == "error"
    assert client.get("/api/health").status_code == 500
    assert client.get("/api/health").status_code == 200  # fired once
    assert client.post(faults.CONTROL_PATH, json={"mode": "explode"}).status_code == 400
    outside = client.get(faults.CONTROL_PATH, environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert outside.status_code == 404
    assert client.delete(faults.CONTROL_PATH).get_json() == {"rules": []}


def test_the_app_without_the_flag_has_no_control_endpoint(client):
    assert client.get(faults.CONTROL_PATH).status_code == 404


# --- response lost after commit ------------------------------------------------------------


@pytest.mark.parametrize("mode", ["commit_then_drop", "commit_then_502"])
def test_push_answer_lost_after_commit_retry_gives_one_effect_and_one_task_per_finding(phone, injector, mode):
    rid = new_id()
    phone.record("round.start", {"round_id": rid, "site_id": phone.site_id})
    phone.queue(phone.visit("F01", fail=(0,), round_id=rid))
    phone.queue(phone.visit("F02", fail=(1, 2), round_id=rid))
    phone.record("round.end", {"round_id": rid})
    injector.add(Rule(mode=mode, method="POST", path="/api/sync/push"))
    if mode == "commit_then_drop":
        with pytest.raises(ConnectionDropped):
            phone.send()
    else:
        assert phone.send().status_code == 502
    assert len(phone.outbox) == 4, "the phone never heard, so it keeps everything"
    committed = state()
    assert committed["visits"] == 2 and committed["tasks"] == 3
    answers = phone.sync()
    assert statuses(answers[-1]) == ["duplicate"] * 4
    assert state() == committed
    for finding_id in db.session.execute(select(Finding.id)).scalars():
        assert db.session.execute(select(func.count()).select_from(Task).where(Task.finding_id == finding_id)).scalar() == 1


def test_request_dropped_before_the_server_saw_it_is_applied_by_the_retry(phone, injector):
    phone.queue(phone.visit("F01", fail=(0,)))
    injector.add(Rule(mode="drop", path="/api/sync/push"))
    with pytest.raises(ConnectionDropped):
        phone.send()
    assert state()["visits"] == 0
    assert statuses(phone.sync()[-1]) == ["applied"]


# --- server errors ----------------------------------------------------------------------------


def test_server_500_between_batches_then_retry_converges(phone, injector, as_role, demo):
    for n in range(1, 7):
        phone.queue(phone.visit(f"F{n:02d}", fail=(0,)))
    batches = [phone.outbox[:2], phone.outbox[2:4], phone.outbox[4:]]
    injector.add(Rule(mode="error", path="/api/sync/push", skip=1))
    assert phone.send(batches[0]).status_code == 200
    failed = phone.send(batches[1])
    assert failed.status_code == 500 and error_of(failed)["code"] == "server_error"
    assert phone.send(batches[2]).status_code == 200
    assert len(phone.outbox) == 2
    phone.sync()
    after = state()
    assert after["visits"] == 6 and after["tasks"] == 6 and after["mutations"] == 6


def test_app_crash_in_the_middle_of_a_batch_saves_none_of_it_and_the_retry_applies_all(phone, monkeypatch):
    import server.audit as audit

    real = audit.record_many
    calls = {"n": 0}

    def crash_on_second(*a, **kw):
        # The push's second set of audit events (its tasks', after its findings'): the
        # visits, findings and tasks rows are written by then.
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return real(*a, **kw)

    monkeypatch.setattr(audit, "record_many", crash_on_second)
    for code in ("F01", "F02", "F03"):
        phone.queue(phone.visit(code, fail=(0,)))
    before = state()
    r = phone.send()
    assert r.status_code == 500 and error_of(r)["code"] == "server_error"
    assert state() == before, "half a batch was saved"
    answers = phone.sync()
    assert statuses(answers[-1]) == ["applied"] * 3
    assert state()["tasks"] == 3


# --- slow server, phone gives up and retries while the first request is still running -----


def test_slow_push_and_its_retry_racing_have_one_effect(app, phone, injector):
    for n in (1, 2, 3):
        phone.queue(phone.visit(f"F{n:02d}", fail=(0,)))
    batch = copy.deepcopy(phone.outbox)
    injector.add(Rule(mode="delay", path="/api/sync/push", delay=0.5))
    db.session.commit()  # release this test's own transaction (SQLite's write lock)
    answers = {}

    def send(name):
        # Each request in its own app context, as in a server: the test's own context would
        # keep the session (and SQLite's write lock) open after its request.
        with app.app_context():
            answers[name] = phone.send(batch)

    slow = threading.Thread(target=send, args=("slow",))
    slow.start()
    # The phone timed out on the slow request and sends the same records again.
    retry = threading.Thread(target=send, args=("retry",))
    retry.start()
    slow.join()
    retry.join()
    both = statuses(answers["slow"].get_json()) + statuses(answers["retry"].get_json())
    assert sorted(both) == ["applied"] * 3 + ["duplicate"] * 3
    assert state()["visits"] == 3 and state()["tasks"] == 3


# --- pull interrupted ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["drop", "error", "commit_then_drop", "commit_then_502"])
def test_pull_interrupted_mid_way_resumes_to_the_same_state_as_an_unbroken_pull(app, as_role, demo, injector, mode):
    interrupted = Phone(as_role("patroller"), demo.id)
    injector.add(Rule(mode=mode, path="/api/sync/pull", skip=2, times=2))
    # Page through part of the log, then the server dies under the third page.
    with pytest.raises(AssertionError):
        interrupted.pull_all(limit=3, attempts=3)
    assert interrupted.cursor > 0
    # Meanwhile the office renames a checkpoint the phone may already have.
    admin = as_role("admin")
    cp = db.session.execute(select(Checkpoint).where(Checkpoint.site_id == demo.id)).scalars().first()
    assert admin.patch(f"/api/checkpoints/{cp.id}", json={"name_en": "Renamed while offline"}).status_code == 200
    resumed = interrupted.pull_all(limit=3)
    unbroken = Phone(as_role("patroller"), demo.id).pull_all(limit=1000)
    assert resumed == unbroken
    assert resumed[("checkpoint", str(cp.id))]["name_en"] == "Renamed while offline"
    assert len(injector.log) == 2


# --- clocks ---------------------------------------------------------------------------------


def test_phone_clock_a_day_fast_loses_nothing_across_a_lost_answer(as_role, demo, injector):
    phone = Phone(as_role("patroller"), demo.id, clock_off=timedelta(days=1))
    phone.pull_all(limit=1000)
    phone.queue(phone.visit("F01", fail=(0,)))
    injector.add(Rule(mode="commit_then_drop", path="/api/sync/push"))
    phone.sync()
    task = db.session.execute(select(Task)).scalar_one()
    # Due seven days after the corrected observation time, not the phone's wrong clock.
    assert abs((task.due_at - datetime.now(timezone.utc).replace(tzinfo=None)) - timedelta(days=7)) < timedelta(hours=1)
    # The cursor comes from the server's log, not the clock: the new task still arrives.
    assert any(entity == "task" for entity, _ in phone.pull_all(limit=1000))


# --- same id, different content; one bad item -------------------------------------------------


def test_id_reused_with_different_content_after_a_lost_answer_is_refused_and_the_original_kept(phone, injector):
    m = phone.queue(phone.visit("F01", fail=(0,)))
    injector.add(Rule(mode="commit_then_drop", path="/api/sync/push"))
    with pytest.raises(ConnectionDropped):
        phone.send()
    changed = copy.deepcopy(m)
    changed["payload"]["note"] = "edited after sending"
    answer = phone.send([changed]).get_json()
    assert answer["results"][0]["status"] == "rejected" and answer["results"][0]["code"]
    assert db.session.execute(select(Visit.note)).scalar_one() in (None, "")


def test_one_invalid_item_mid_batch_keeps_its_rejection_across_a_lost_answer(phone, injector):
    phone.queue(phone.visit("F01"))
    bad = phone.queue(phone.visit("F02"))
    bad["payload"]["checkpoint_id"] = 999999
    phone.queue(phone.visit("F03"))
    injector.add(Rule(mode="commit_then_drop", path="/api/sync/push"))
    answers = phone.sync()
    assert statuses(answers[-1]) == ["duplicate", "rejected", "duplicate"]
    assert answers[-1]["results"][1]["message"]
    assert state()["visits"] == 2


# --- photos -----------------------------------------------------------------------------------


def put_photo(api: ApiClient, photo_id: str, data: bytes):
    return api.put(f"/api/photos/{photo_id}", data=data, headers={"Content-Type": "image/jpeg", "X-Content-SHA256": hashlib.sha256(data).hexdigest()})


def test_photo_before_its_record_is_linked_and_never_expected(phone):
    pid = new_id()
    assert put_photo(phone.api, pid, jpeg()).status_code == 201
    phone.queue(phone.visit("F01", photo_ids=(pid,)))
    answer = phone.sync()[-1]
    assert pid not in answer["expected_photos"]
    assert db.session.get(Photo, pid).visit_id == answer["results"][0]["result"]["visit_id"]


def test_photo_upload_answer_lost_retry_is_200_and_one_copy(phone, injector):
    pid, data = new_id(), jpeg()
    injector.add(Rule(mode="commit_then_drop", method="PUT", path="/api/photos/"))
    with pytest.raises(ConnectionDropped):
        put_photo(phone.api, pid, data)
    again = put_photo(phone.api, pid, data)
    assert again.status_code == 200
    assert db.session.execute(select(func.count()).select_from(Photo)).scalar() == 1


def test_photo_dropped_in_transit_leaves_nothing_and_the_retry_stores_it(app, phone, injector):
    pid = new_id()
    injector.add(Rule(mode="drop", method="PUT", path="/api/photos/"))
    with pytest.raises(ConnectionDropped):
        put_photo(phone.api, pid, jpeg())
    assert db.session.get(Photo, pid) is None
    assert put_photo(phone.api, pid, jpeg()).status_code == 201


def test_different_bytes_under_the_same_photo_id_are_refused(phone):
    pid = new_id()
    assert put_photo(phone.api, pid, jpeg()).status_code == 201
    r = put_photo(phone.api, pid, jpeg((250, 0, 0)))
    assert r.status_code == 409 and error_of(r)["code"] == "photo_conflict"


def test_photo_that_never_arrives_stays_expected_until_uploaded(phone):
    pid = new_id()
    phone.queue(phone.visit("F01", photo_ids=(pid,)))
    assert pid in phone.sync()[-1]["expected_photos"]
    assert pid in phone.api.get("/api/sync/expected").get_json()["photo_ids"]
    assert put_photo(phone.api, pid, jpeg()).status_code == 201
    assert pid not in phone.api.get("/api/sync/expected").get_json()["photo_ids"]


# --- session expired with records queued -------------------------------------------------------


def test_session_expired_with_records_queued_then_login_and_resend_applies_once(app, phone):
    phone.queue(phone.visit("F01", fail=(0,)))
    phone.queue(phone.visit("F02"))
    db.session.execute(update(AuthSession).values(expires_at=datetime(2000, 1, 1)))
    db.session.commit()
    r = phone.send()
    assert r.status_code == 401 and error_of(r)["code"] == "unauthenticated"
    assert state()["visits"] == 0 and len(phone.outbox) == 2
    phone.api.login("patroller")  # a new session and a new CSRF token
    assert statuses(phone.sync()[-1]) == ["applied", "applied"]
    assert state()["visits"] == 2


# --- two syncs of the same device at once ------------------------------------------------------


def test_two_tabs_of_one_device_pushing_different_records_at_once_lose_nothing(app, as_role, demo, injector):
    phone = Phone(as_role("patroller"), demo.id)
    other_tab = as_role("patroller")
    for n in range(1, 9):
        phone.queue(phone.visit(f"F{n:02d}", fail=(0,)))
    first, second = copy.deepcopy(phone.outbox[:4]), copy.deepcopy(phone.outbox[4:])
    # Hold the first tab's request so that both are in the server at the same time.
    injector.add(Rule(mode="delay", path="/api/sync/push", delay=0.3))
    db.session.commit()
    answers = {}

    def tab(name, api, batch):
        with app.app_context():
            body = {"device_id": phone.device_id, "device_time": iso(phone.now()), "app_version": "faults", "mutations": batch}
            answers[name] = api.post("/api/sync/push", json=body)

    threads = [threading.Thread(target=tab, args=("a", phone.api, first)), threading.Thread(target=tab, args=("b", other_tab, second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers["a"].status_code == answers["b"].status_code == 200
    assert statuses(answers["a"].get_json()) + statuses(answers["b"].get_json()) == ["applied"] * 8
    assert state()["visits"] == 8 and state()["tasks"] == 8
