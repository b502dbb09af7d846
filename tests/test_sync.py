"""Sync push: exactly-once effect, rejections one by one, clocks, devices (offline-sync.md G1-G8)."""

from __future__ import annotations

import copy
import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text

from server import choices
from server.extensions import db
from server.models import (
    AuditEvent,
    Change,
    Device,
    Finding,
    ItemResult,
    Mutation,
    Photo,
    Round,
    SyncRequest,
    Task,
    Visit,
)

from .conftest import PG_URL
from .support.api import ApiClient, error_of
from .support.ids import iso, new_id
from .support.phone import Phone, statuses


def counts() -> dict:
    """Row counts of every table a push can touch."""
    return {
        m.__tablename__: db.session.execute(select(func.count()).select_from(m)).scalar()
        for m in (Visit, ItemResult, Finding, Task, Round, Photo, Mutation, AuditEvent, Change)
    }


# --- G1 exactly-once effect ---------------------------------------------------------


def test_batch_replayed_five_times_leaves_database_as_after_first(phone):
    """G1: the same push five more times changes nothing and answers duplicate with the first result."""
    rid = new_id()
    batch = [
        phone.mutation("round.start", {"round_id": rid, "site_id": phone.site_id}),
        phone.visit("F01", round_id=rid),
        phone.visit("F02", fail=(0, 2), round_id=rid, photo_ids=[new_id()]),
        phone.visit("EL1", extra=[{"finding_id": new_id(), "category": "security_hazard", "route": "department_work",
                                   "description": "door wedged open", "severity": "major", "dealt_on_spot": False}]),
        phone.mutation("round.end", {"round_id": rid, "note": "all done"}),
    ]
    first = phone.push_ok(batch)
    assert statuses(first) == ["applied"] * 5
    db.session.expire_all()
    after_first = counts()
    assert after_first["tasks"] == 3 and after_first["findings"] == 3 and after_first["visits"] == 3
    for _ in range(5):
        again = phone.push_ok(copy.deepcopy(batch))
        assert statuses(again) == ["duplicate"] * 5
        assert [r["result"] for r in again] == [r["result"] for r in first]
    db.session.expire_all()
    assert counts() == after_first


def test_response_lost_after_commit_retry_is_duplicate_with_one_task_per_finding(phone):
    """G1, G2: the server committed but the phone never heard; its retry converges, one task per finding."""
    m = phone.visit("F03", fail=(1,))
    phone.push_ok([m])  # the answer is "lost": the phone still has m in its outbox
    retry = phone.push_ok([copy.deepcopy(m)])
    assert retry[0]["status"] == "duplicate"
    finding_ids = retry[0]["result"]["finding_ids"]
    assert len(finding_ids) == 1 and len(retry[0]["result"]["task_ids"]) == 1
    tasks = db.session.execute(select(Task).where(Task.finding_id == finding_ids[0])).scalars().all()
    assert len(tasks) == 1


def test_same_batch_on_two_connections_at_once_has_one_effect(app, as_role, demo):
    """G1: two connections push the same batch at the same moment; one applies it, the other gets duplicates.

    On PostgreSQL the two transactions really overlap (the device row lock and the unique
    keys decide); on SQLite the write lock makes them queue. Either way: one effect.
    """
    a, b = as_role("patroller"), as_role("patroller")
    phone = Phone(a, demo.id)
    batch = [phone.visit(f"F{n:02d}", fail=(0,)) for n in range(1, 11)]
    answers = {}
    start = threading.Barrier(2)
    db.session.commit()  # this test's own session must not hold SQLite's write lock

    def send(name, api):
        with app.app_context():
            start.wait()
            answers[name] = phone.push(copy.deepcopy(batch), api=api)

    threads = [threading.Thread(target=send, args=(n, api)) for n, api in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers["a"].status_code == 200 and answers["b"].status_code == 200
    both = [r["status"] for r in answers["a"].get_json()["results"] + answers["b"].get_json()["results"]]
    assert both.count("applied") == 10 and both.count("duplicate") == 10
    db.session.expire_all()
    assert db.session.execute(select(func.count()).select_from(Visit)).scalar() == 10
    assert db.session.execute(select(func.count()).select_from(Task)).scalar() == 10
    assert db.session.execute(select(func.count()).select_from(Mutation)).scalar() == 10


@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL: SQLite's write lock makes the other writer finish first")
def test_visit_refused_while_its_run_is_written_is_rejected_alone_and_its_neighbours_findings_apply(app, phone, demo, runner):
    """The buffered run of visits hits a constraint only at the write (another writer took a
    photo id the middle visit names); the run is undone and replayed one by one. The other
    visits' findings each get one task, named in the answer and in a replay's answer, one
    escalation each, one audit trail and one pull-log entry; the middle visit is rejected.
    """
    from server.models import Notification, User, WebhookDelivery, Webhook

    db.session.add(Webhook(site_id=demo.id, url="http://127.0.0.1:9/hook", preset="generic"))
    now = phone.now()
    taken = new_id()
    batch = [phone.visit("F01", fail=(0,), scanned_at=now - timedelta(hours=h)) for h in (4, 3, 2, 1)]
    for m in batch[:3]:
        m["payload"]["results"][0]["finding"]["severity"] = "major"
    batch[1]["payload"]["results"][0]["finding"]["photo_ids"] = [taken]
    supervisor = db.session.execute(select(User.id).where(User.username == "supervisor")).scalar()
    db.session.commit()

    # Another connection inserts that photo and holds it uncommitted until the push waits on it.
    other = db.engine.connect()
    other_tx = other.begin()
    other.execute(Photo.__table__.insert().values(
        id=taken, site_id=demo.id, uploaded_by=supervisor, purpose="finding", status="expected", content_type="", size_bytes=0, width=0, height=0,
    ))
    answer = {}

    def send():
        with app.app_context():
            answer["push"] = phone.push(copy.deepcopy(batch))

    sender = threading.Thread(target=send)
    sender.start()
    watch = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    for _ in range(600):
        if watch.execute(text(waiting)).scalar():
            break
        sender.join(timeout=0.05)
    else:
        pytest.fail("the push never waited on the other writer's photo")
    watch.close()
    other_tx.commit()
    other.close()
    sender.join()

    assert answer["push"].status_code == 200, answer["push"].get_json()
    results = answer["push"].get_json()["results"]
    assert statuses(results) == ["applied", "rejected", "applied", "applied"]
    assert results[1]["code"] == "record_exists"
    db.session.expire_all()
    tasks = dict(db.session.execute(select(Task.finding_id, Task.id)).all())
    applied = [results[n]["result"] for n in (0, 2, 3)]
    assert sorted(tasks) == sorted(r["finding_ids"][0] for r in applied)
    assert all(r["task_ids"] == [tasks[r["finding_ids"][0]]] for r in applied)
    assert db.session.get(Finding, batch[1]["payload"]["results"][0]["finding"]["finding_id"]) is None
    # The two major findings that applied reach the supervisor and the manager once each, with their own task.
    majors = {tasks[r["finding_ids"][0]] for r in applied[:2]}
    from server.notifications import site_recipients

    notified = db.session.execute(select(Notification.user_id, Notification.task_id).where(Notification.kind == "major_finding")).all()
    assert sorted(notified) == sorted((u, t) for u in site_recipients(demo.id) for t in majors)
    hooked = db.session.execute(select(WebhookDelivery.payload)).scalars().all()
    assert sorted(p["task_id"] for p in hooked) == sorted(majors)
    # Three failures of one item within 30 days: the applied ones are a repeat.
    assert all(db.session.get(Task, t).repeat_flag for t in tasks.values())
    # Nothing of the undone first attempt is left in the audit trail or the pull log.
    opened = db.session.execute(select(AuditEvent.entity_id).where(AuditEvent.entity == "task", AuditEvent.action == "opened")).scalars().all()
    assert sorted(int(t) for t in opened) == sorted(tasks.values())
    logged = db.session.execute(select(Change.entity_id).where(Change.entity == "task")).scalars().all()
    assert sorted(int(t) for t in logged) == sorted(tasks.values())
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "chain intact" in result.output, result.output
    # The phone did not hear the answer and sends the batch again: the same answers.
    again = phone.push_ok(copy.deepcopy(batch))
    assert statuses(again) == ["duplicate", "rejected", "duplicate", "duplicate"]
    assert [again[n]["result"] for n in (0, 2, 3)] == applied


def test_same_mutation_twice_in_one_batch_applies_once(phone):
    """G1: an outbox that holds a record twice still creates it once."""
    m = phone.visit("F04", fail=(0,))
    results = phone.push_ok([m, copy.deepcopy(m)])
    assert statuses(results) == ["applied", "duplicate"]
    assert results[1]["result"] == results[0]["result"]
    assert db.session.execute(select(func.count()).select_from(Task)).scalar() == 1


# --- G7 no silent overwrite ---------------------------------------------------------


def test_same_id_with_different_content_is_rejected_and_never_applied(phone):
    """G7: a mutation id reused for other content is refused; the first record stands."""
    m = phone.visit("F05")
    phone.push_ok([m])
    changed = copy.deepcopy(m)
    changed["payload"]["note"] = "edited afterwards"
    results = phone.push_ok([changed])
    assert results[0]["status"] == "rejected" and results[0]["code"] == "id_conflict"
    visit = db.session.get(Visit, m["payload"]["visit_id"])
    db.session.refresh(visit)
    assert visit.note == ""


def test_mutation_id_of_another_user_is_rejected_without_revealing_it(phone, as_role, demo):
    """G7: another user's id is a conflict even with identical content; nothing of theirs is shown."""
    m = phone.visit("F06")
    phone.push_ok([m])
    other = Phone(as_role("supervisor"), demo.id)
    results = other.push_ok([copy.deepcopy(m)])
    assert results[0]["code"] == "id_conflict" and "result" not in results[0]


def test_visit_id_reused_by_a_new_mutation_is_rejected_record_exists(phone):
    """G7: a new mutation may not overwrite an existing visit by naming its id."""
    m = phone.visit("F07")
    phone.push_ok([m])
    again = phone.visit("F07", visit_id=m["payload"]["visit_id"], note="second")
    results = phone.push_ok([again])
    assert results[0]["code"] == "record_exists"


# --- G8 nothing dropped -----------------------------------------------------------------


def test_invalid_item_in_middle_of_batch_is_rejected_alone_and_rest_apply(phone):
    """G8: one bad visit in the middle is rejected with a reason; those before and after apply."""
    good1 = phone.visit("F01", fail=(0,))
    bad = phone.visit("F02")
    bad["payload"]["results"][1]["item_id"] = "floor.no_such_item"
    good2 = phone.visit("F03", fail=(1,))
    results = phone.push_ok([good1, bad, good2])
    assert statuses(results) == ["applied", "rejected", "applied"]
    assert results[1]["code"] == "unknown_item" and "floor.no_such_item" in results[1]["message"]
    assert db.session.get(Visit, bad["payload"]["visit_id"]) is None
    assert db.session.execute(select(func.count()).select_from(ItemResult).where(ItemResult.visit_id == bad["payload"]["visit_id"])).scalar() == 0
    assert db.session.execute(select(func.count()).select_from(Task)).scalar() == 2


def test_push_mixing_rejections_and_majors_applies_the_valid_set_with_its_notices_and_audit(phone, demo, runner):
    """G8 with the set-based writes: the rejected visits of a push reject alone, each with its
    reason and nothing of theirs stored, while the valid ones land together with their tasks,
    their major escalations (to every supervisor and manager, and the site's webhook), the
    new-task notices of the others, and their audit events; the audit chain verifies, and a
    replay of the push changes nothing."""
    from server.models import Notification, Webhook, WebhookDelivery
    from server.notifications import site_recipients

    db.session.add(Webhook(site_id=demo.id, url="http://127.0.0.1:9/hook", preset="generic"))
    db.session.commit()
    major_a = phone.visit("F01", fail=(0,), severity="major")
    unknown_item = phone.visit("F02", fail=(0,), severity="major")
    unknown_item["payload"]["results"][1]["item_id"] = "floor.no_such_item"
    normal = phone.visit("F03", fail=(1,))
    major_b = phone.visit("F04", fail=(2,), severity="major")
    no_finding = phone.visit("F05", severity="major")
    no_finding["payload"]["results"][0]["result"] = "fail"
    reused = phone.visit("F06", fail=(0,), severity="major")
    reused["payload"]["results"][0]["finding"]["finding_id"] = major_a["payload"]["results"][0]["finding"]["finding_id"]
    on_spot = phone.visit("F07", fail=(3,), severity="major", dealt_on_spot=True)
    batch = [major_a, unknown_item, normal, major_b, no_finding, reused, on_spot]

    results = phone.push_ok(copy.deepcopy(batch))

    assert statuses(results) == ["applied", "rejected", "applied", "applied", "rejected", "rejected", "applied"]
    assert results[1]["code"] == "unknown_item" and "floor.no_such_item" in results[1]["message"]
    assert results[4]["code"] == "missing_finding" and results[4]["message"]
    assert results[5]["code"] == "record_exists" and results[5]["message"]
    for m in (unknown_item, no_finding, reused):
        assert db.session.get(Visit, m["payload"]["visit_id"]) is None
    assert db.session.get(Finding, unknown_item["payload"]["results"][0]["finding"]["finding_id"]) is None
    assert db.session.get(Finding, major_a["payload"]["results"][0]["finding"]["finding_id"]).visit_id == major_a["payload"]["visit_id"]

    def finding_of(m):
        return next(r["finding"]["finding_id"] for r in m["payload"]["results"] if "finding" in r)

    tasks = dict(db.session.execute(select(Task.finding_id, Task.id)).all())
    assert sorted(tasks) == sorted(finding_of(m) for m in (major_a, normal, major_b))
    for n, m in ((0, major_a), (2, normal), (3, major_b)):
        assert results[n]["result"]["task_ids"] == [tasks[finding_of(m)]]
    assert results[6]["result"]["task_ids"] == []

    # Majors: every supervisor and manager at once, with the task (none for the one dealt with on the spot).
    people = site_recipients(demo.id)
    assert people
    majors = db.session.execute(select(Notification.user_id, Notification.task_id, Notification.data).where(Notification.kind == "major_finding")).all()
    expected = {(u, tasks[finding_of(m)], finding_of(m)) for u in people for m in (major_a, major_b)} | {(u, None, finding_of(on_spot)) for u in people}
    assert {(u, t, d["finding_id"]) for u, t, d in majors} == expected and len(majors) == len(expected)
    major_task = next(d for u, t, d in majors if t == tasks[finding_of(major_a)])
    assert major_task["state"] == "open" and major_task["checkpoint_name"] and major_task["due_at_local"]
    hooked = db.session.execute(select(WebhookDelivery.payload)).scalars().all()
    assert sorted(p["finding_id"] for p in hooked) == sorted(finding_of(m) for m in (major_a, major_b, on_spot))
    # The normal task goes to the supervisors as a new task; the majors' tasks do not (their notice went).
    opened = db.session.execute(select(Notification.task_id).where(Notification.kind == "task_opened")).scalars().all()
    assert set(opened) == {tasks[finding_of(normal)]} and len(opened) == len(site_recipients(demo.id, "notice.receive_new_task"))

    # Audit: each applied finding reported (or dealt with on the spot) and each task opened; nothing of the rejected.
    events = db.session.execute(select(AuditEvent.entity, AuditEvent.entity_id, AuditEvent.action)).all()
    findings_logged = sorted((e[1], e[2]) for e in events if e[0] == "finding")
    assert findings_logged == sorted([(finding_of(m), "reported") for m in (major_a, normal, major_b)] + [(finding_of(on_spot), "dealt_on_spot")])
    assert sorted(int(e[1]) for e in events if e[0] == "task" and e[2] == "opened") == sorted(tasks.values())
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "chain intact" in result.output, result.output

    # The phone did not hear the answer: the same answers, and nothing new anywhere.
    before = counts() | {"notifications": db.session.execute(select(func.count()).select_from(Notification)).scalar(),
                         "deliveries": db.session.execute(select(func.count()).select_from(WebhookDelivery)).scalar()}
    again = phone.push_ok(copy.deepcopy(batch))
    assert statuses(again) == ["duplicate", "rejected", "duplicate", "duplicate", "rejected", "rejected", "duplicate"]
    assert [a.get("code") for a in again] == [r.get("code") for r in results]
    after = counts() | {"notifications": db.session.execute(select(func.count()).select_from(Notification)).scalar(),
                        "deliveries": db.session.execute(select(func.count()).select_from(WebhookDelivery)).scalar()}
    assert after == before


def test_rejected_mutation_replayed_gets_the_same_rejection(phone):
    """G8: a rejection is stored, so a resend is answered the same way and still not applied."""
    bad = phone.visit("F02")
    bad["payload"]["results"][0]["result"] = "fail"  # no finding given
    first = phone.push_ok([bad])
    again = phone.push_ok([copy.deepcopy(bad)])
    assert first[0]["code"] == again[0]["code"] == "missing_finding"
    assert again[0]["message"] == first[0]["message"]
    assert db.session.get(Visit, bad["payload"]["visit_id"]) is None


def _cases(phone, other_site):
    """(mutation builder, expected code) for every rejection code of a single mutation."""
    def unknown_checkpoint():
        return phone.visit("F01", checkpoint_id=999999)

    def by_code():
        m = phone.visit("F01")
        del m["payload"]["checkpoint_id"]
        m["payload"]["checkpoint_code"] = "nope9"
        return m

    def forbidden():
        return phone.visit("F01", site_id=other_site.id)

    def wrong_version():
        return phone.visit("F01", checklist_version_id=phone.version("elevator_car")["id"])

    def unknown_item():
        m = phone.visit("F01")
        m["payload"]["results"][0]["item_id"] = "floor.made_up"
        return m

    def missing_finding():
        m = phone.visit("F01")
        m["payload"]["results"][0]["result"] = "fail"
        return m

    def invalid():
        m = phone.visit("F01", scan_method="telepathy")
        m["payload"]["results"][0]["result"] = "maybe"
        return m

    def unknown_kind():
        return phone.mutation("visit.teleport", {})

    def unknown_round():
        return phone.visit("F01", round_id=new_id())

    def round_end_unknown():
        return phone.mutation("round.end", {"round_id": new_id()})

    def bad_time():
        m = phone.visit("F01")
        m["observed_at"] = "yesterday"
        return m

    def unknown_task():
        return phone.mutation("task.transition", {"task_id": 987654, "to": "done"})

    def unknown_plan():
        return phone.mutation("round.start", {"round_id": new_id(), "site_id": phone.site_id, "plan_id": 4242})

    return [
        (unknown_checkpoint, "unknown_checkpoint"), (by_code, "unknown_checkpoint"), (forbidden, "forbidden_site"),
        (wrong_version, "unknown_checklist_version"), (unknown_item, "unknown_item"), (missing_finding, "missing_finding"),
        (invalid, "invalid_payload"), (unknown_kind, "unknown_kind"), (unknown_round, "unknown_round"),
        (round_end_unknown, "unknown_round"), (bad_time, "invalid_payload"), (unknown_task, "unknown_task"),
        (unknown_plan, "unknown_plan"),
    ]


def test_every_rejection_code_comes_with_a_readable_message_and_nothing_saved(phone, other_site):
    """G8: each kind of bad record is rejected with its code and a sentence; nothing of it is stored."""
    before = None
    for build, code in _cases(phone, other_site):
        m = build()
        db.session.expire_all()
        before = counts()
        results = phone.push_ok([m])
        assert results[0]["status"] == "rejected", (code, results[0])
        assert results[0]["code"] == code, (code, results[0])
        assert len(results[0]["message"]) > 10
        db.session.expire_all()
        after = counts()
        # Only the rejection's own record is added.
        assert {k: v for k, v in after.items() if v != before[k]} == {"mutations": before["mutations"] + 1}, code


def test_invalid_payload_names_each_bad_field(phone):
    m = phone.visit("F01", scan_method="telepathy")
    m["payload"]["results"][2]["result"] = "maybe"
    result = phone.push_ok([m])[0]
    assert result["code"] == "invalid_payload"
    assert set(result["details"]["fields"]) == {"scan_method", "results.2.result"}


def test_an_invalid_payloads_field_problems_have_the_apis_codes_to_say_them_in_the_readers_language(phone):
    """Beside details.fields (path -> English messages, unchanged), details.field_errors has the
    API's shape and codes ({code, message, params}), in a first answer and in a replay."""
    from server import field_errors, i18n

    m = phone.visit("F01", fail=(0,), scan_method="telepathy")
    payload = m["payload"]
    payload["results"][2]["result"] = "maybe"
    payload["results"][1]["finding"] = {"finding_id": new_id(), "description": "x", "severity": "normal"}  # on an ok item
    payload["note"] = "长" * 4001
    payload["results"][0]["note"] = "门\x00锁"
    payload["results"][0]["finding"]["finding_id"] = "not-a-uuid"
    payload["photo_ids"] = [new_id() for _ in range(21)]
    del payload["results"][3]["item_id"]
    first = phone.push_ok([m])[0]
    assert first["code"] == "invalid_payload"
    details = first["details"]
    assert set(details["field_errors"]) == set(details["fields"])
    for path, messages in details["fields"].items():
        assert [e["message"] for e in details["field_errors"][path]] == messages
    coded = {path: [(e["code"], e["params"]) for e in entries] for path, entries in details["field_errors"].items()}
    assert coded == {
        "scan_method": [("field_one_of", {"choices": "qr, code, url"})],
        "results.2.result": [("field_one_of", {"choices": "ok, fail, na"})],
        "results.1.finding": [("field_finding_not_failed", {})],
        "note": [("field_too_long", {"max": "4000"})],
        "results.0.note": [("field_nul", {})],
        "results.0.finding.finding_id": [("field_invalid", {"type": "uuid"})],
        "photo_ids": [("field_too_many", {"max": "20"})],
        "results.3.item_id": [("field_required", {})],
    }
    # Every code has its sentence in both languages.
    for entries in details["field_errors"].values():
        for e in entries:
            assert e["code"] in field_errors.CODES and len(i18n.table()[f"err_{e['code']}"]) == 2
    assert phone.push_ok([m])[0] == {**first, "status": "rejected"}  # the replay says the same


def test_a_nul_in_typed_text_rejects_that_record_alone_on_either_database(phone):
    """PostgreSQL cannot store a NUL: it used to refuse the whole push there (and SQLite stored
    it). Now the record is rejected alone, naming each field, and its neighbours apply."""
    before = phone.visit("F01", fail=(0,))
    bad = phone.visit("F02", fail=(1,))
    bad["payload"]["note"] = "门\x00锁"
    bad["payload"]["results"][0]["note"] = "\x00"
    bad["payload"]["results"][1]["finding"]["description"] = "灯\x00"
    after = phone.visit("F03")
    results = phone.push_ok([before, bad, after])
    assert statuses(results) == ["applied", "rejected", "applied"]
    assert results[1]["code"] == "invalid_payload"
    assert set(results[1]["details"]["fields"]) == {"note", "results.0.note", "results.1.finding.description"}
    assert db.session.get(Visit, bad["payload"]["visit_id"]) is None
    assert db.session.get(Visit, after["payload"]["visit_id"]) is not None


def test_checkpoint_may_be_given_by_its_short_code(phone):
    m = phone.visit("F01")
    del m["payload"]["checkpoint_id"]
    m["payload"]["checkpoint_code"] = "f-01"
    assert phone.push_ok([m])[0]["status"] == "applied"
    assert db.session.get(Visit, m["payload"]["visit_id"]).checkpoint_id == phone.checkpoint("F01").id


def test_seq_used_by_another_record_is_rejected_seq_conflict(phone):
    first = phone.visit("F01")
    phone.push_ok([first])
    clash = phone.visit("F02")
    clash["seq"] = first["seq"]
    result = phone.push_ok([clash])[0]
    assert result["code"] == "seq_conflict"
    assert db.session.get(Visit, clash["payload"]["visit_id"]) is None


def test_one_push_sorts_stored_ids_and_taken_seqs_of_this_device_from_those_of_another(phone):
    """The batch's idempotency look-up is one query for ids and this device's seqs: each row
    counts only for what it matched. Another device's record met again by its id is a
    duplicate, and its seq does not block this device's own record with the same number."""
    other = Phone(phone.api, phone.site_id)
    other.seq = 50  # its seqs are not this phone's
    theirs = other.visit("F01")
    other.push_ok([theirs])
    mine_first = phone.visit("F02")
    phone.push_ok([mine_first])
    clash = phone.visit("F03")
    clash["seq"] = mine_first["seq"]
    same_seq_as_theirs = phone.visit("F04")
    same_seq_as_theirs["seq"] = theirs["seq"]  # free on this device, taken on the other
    taken_visit = phone.visit("F05", visit_id=mine_first["payload"]["visit_id"])
    results = phone.push_ok([copy.deepcopy(theirs), copy.deepcopy(mine_first), clash, same_seq_as_theirs, taken_visit])
    assert statuses(results) == ["duplicate", "duplicate", "rejected", "applied", "rejected"]
    assert [r.get("code") for r in results] == [None, None, "seq_conflict", None, "record_exists"]
    assert db.session.get(Visit, same_seq_as_theirs["payload"]["visit_id"]) is not None


def test_second_round_end_is_rejected_round_ended(phone):
    rid = new_id()
    results = phone.push_ok([
        phone.mutation("round.start", {"round_id": rid, "site_id": phone.site_id}),
        phone.mutation("round.end", {"round_id": rid}),
        phone.mutation("round.end", {"round_id": rid}),
    ])
    assert statuses(results) == ["applied", "applied", "rejected"]
    assert results[2]["code"] == "round_ended"
    rnd = db.session.get(Round, rid)
    assert rnd.status == choices.ROUND_ENDED and rnd.ended_at is not None


def test_photo_named_twice_is_rejected_photo_conflict(phone):
    pid = new_id()
    phone.push_ok([phone.visit("F01", photo_ids=[pid])])
    result = phone.push_ok([phone.visit("F02", photo_ids=[pid])])[0]
    assert result["code"] == "photo_conflict"


# --- findings and tasks ------------------------------------------------------------------


def test_failed_item_opens_task_with_item_category_and_route(phone):
    m = phone.visit("EL1", fail=(0,))
    result = phone.push_ok([m])[0]["result"]
    finding = db.session.get(Finding, result["finding_ids"][0])
    item = phone.version("elevator_car")["body"]["items"][0]
    assert (finding.item_id, finding.category, finding.route) == (item["id"], item["category"], item["route"])
    task = db.session.get(Task, result["task_ids"][0])
    assert task.finding_id == finding.id and task.state == choices.TASK_OPEN


def test_finding_dealt_with_on_the_spot_opens_no_task(phone):
    m = phone.visit("F01", fail=(0,))
    m["payload"]["results"][0]["finding"].update(dealt_on_spot=True, spot_note="switched the light back on")
    result = phone.push_ok([m])[0]["result"]
    assert len(result["finding_ids"]) == 1 and result["task_ids"] == []
    assert db.session.get(Finding, result["finding_ids"][0]).dealt_on_spot


def test_extra_finding_keeps_its_own_category_and_route(phone):
    extra = {"finding_id": new_id(), "category": "renovation_violation", "route": "resident_violation",
             "description": "unauthorised wall removal in 8-03", "severity": "major", "dealt_on_spot": False}
    result = phone.push_ok([phone.visit("F08", extra=[extra])])[0]["result"]
    finding = db.session.get(Finding, extra["finding_id"])
    assert finding.route == "resident_violation" and finding.severity == "major" and finding.item_id is None
    assert len(result["task_ids"]) == 1


def test_visit_is_filed_under_the_site_local_month(phone):
    """Shanghai is UTC+8: 20:00 UTC on 31 May is already 1 June on site."""
    when = datetime(2026, 5, 31, 20, 0, tzinfo=timezone.utc)
    m = phone.visit("F01", scanned_at=when)
    phone.push_ok([m])
    assert db.session.get(Visit, m["payload"]["visit_id"]).month == "2026-06"


# --- G4 clock independence ---------------------------------------------------------------


def test_phone_clock_one_day_off_changes_no_deadline(as_role, demo):
    """G4: two phones see the same problem at the same moment, one with its clock a day fast.

    Both findings get the same corrected observation time and so the same due date.
    """
    right = Phone(as_role("patroller"), demo.id)
    fast = Phone(as_role("supervisor"), demo.id, clock_off=timedelta(days=1))
    a = right.push_ok([right.visit("F01", fail=(0,))])[0]["result"]
    b = fast.push_ok([fast.visit("F02", fail=(0,))])[0]["result"]
    due_a = db.session.get(Task, a["task_ids"][0]).due_at
    due_b = db.session.get(Task, b["task_ids"][0]).due_at
    assert abs(due_a - due_b) < timedelta(minutes=1)
    finding = db.session.get(Finding, b["finding_ids"][0])
    assert finding.observed_at_device - finding.observed_at > timedelta(hours=23)


def test_clock_offset_is_measured_recorded_and_a_skewed_device_flagged(as_role, demo):
    """G4: the server keeps each push's receive time and offset, and flags a phone more than 5 min off."""
    fast = Phone(as_role("patroller"), demo.id, clock_off=timedelta(days=1))
    r = fast.push([fast.visit("F01")])
    body = r.get_json()
    assert abs(body["clock_offset_ms"] - 86_400_000) < 60_000
    device = db.session.get(Device, fast.device_id)
    assert device.clock_flagged
    req = db.session.execute(select(SyncRequest).where(SyncRequest.device_id == fast.device_id)).scalar_one()
    assert abs(req.clock_offset_ms - 86_400_000) < 60_000 and req.applied == 1
    ok = Phone(as_role("supervisor"), demo.id)
    ok.push_ok([ok.visit("F02")])
    assert not db.session.get(Device, ok.device_id).clock_flagged


def test_records_made_offline_keep_their_order_whatever_the_clock(as_role, demo):
    """G4: visits made an hour apart on a slow phone keep their order and spacing after correction."""
    slow = Phone(as_role("patroller"), demo.id, clock_off=-timedelta(hours=5))
    t0 = slow.now() - timedelta(hours=2)
    m1 = slow.visit("F01", scanned_at=t0)
    m2 = slow.visit("F02", scanned_at=t0 + timedelta(hours=1))
    slow.push_ok([m1, m2])
    v1, v2 = db.session.get(Visit, m1["payload"]["visit_id"]), db.session.get(Visit, m2["payload"]["visit_id"])
    assert v2.scanned_at - v1.scanned_at == timedelta(hours=1)
    true_t0 = (t0 - slow.clock_off).astimezone(timezone.utc).replace(tzinfo=None)
    assert abs(v1.scanned_at - true_t0) < timedelta(minutes=1)


# --- G5 loss detection, devices ---------------------------------------------------------


def test_seq_gap_is_shown_to_supervisors(as_role, demo):
    """G5: a phone that never sent seq 3-4 shows the gap [3, 4] in the device list."""
    phone = Phone(as_role("patroller"), demo.id)
    ms = [phone.visit(f"F0{n}") for n in range(1, 7)]
    phone.push_ok([ms[0], ms[1], ms[4], ms[5]])
    sup = as_role("supervisor")
    r = sup.get("/api/devices/")
    assert r.status_code == 200
    dev = next(d for d in r.get_json() if d["id"] == phone.device_id)
    assert dev["seq_gaps"] == [[3, 4]] and dev["max_seq"] == 6 and dev["username"] == "patroller"
    phone.push_ok([ms[2], ms[3]])  # found later: the gap closes
    dev = next(d for d in sup.get("/api/devices/").get_json() if d["id"] == phone.device_id)
    assert dev["seq_gaps"] == []


def test_device_list_is_for_supervisors_and_admins_of_the_site(as_role, other_site):
    assert as_role("patroller").get("/api/devices/").status_code == 403
    other = ApiClient(as_role("patroller").client)
    other.login("other-supervisor")
    r = other.get("/api/devices/", query_string={"site_id": 1})
    assert r.status_code == 404


def test_device_registered_to_another_user_is_refused(as_role, demo):
    phone = Phone(as_role("patroller"), demo.id)
    phone.push_ok([phone.visit("F01")])
    thief = Phone(as_role("supervisor"), demo.id, device_id=phone.device_id)
    r = thief.push([thief.visit("F02")])
    assert r.status_code == 409 and error_of(r)["code"] == "device_owned"
    assert db.session.execute(select(func.count()).select_from(Visit)).scalar() == 1


# --- limits and envelope -------------------------------------------------------------------


def test_too_many_mutations_in_one_push_is_413(app, phone):
    app.config["SYNC_MAX_MUTATIONS"] = 3
    r = phone.push([phone.visit("F01") for _ in range(4)])
    assert r.status_code == 413 and error_of(r)["code"] == "too_many_mutations"
    assert db.session.execute(select(func.count()).select_from(Visit)).scalar() == 0


def test_request_body_too_large_is_413(app, phone):
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    m = phone.visit("F01", note="x" * 20_000)
    r = phone.push([m])
    assert r.status_code == 413 and error_of(r)["status"] == 413


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"device_id": "abc", "device_time": "2026-01-01T00:00:00Z", "mutations": []},
        {"device_id": "device-0001", "device_time": "soon", "mutations": []},
        {"device_id": "device-0001", "device_time": "2026-01-01T00:00:00Z", "mutations": [{"mutation_id": "x", "seq": 1, "kind": "a", "observed_at": "b", "payload": {}}]},
        {"device_id": "device-0001", "device_time": "2026-01-01T00:00:00Z", "mutations": [{"mutation_id": str(uuid.uuid4()), "seq": 0, "kind": "a", "observed_at": "b", "payload": {}}]},
        {"device_id": "device-0001", "device_time": "2026-01-01T00:00:00Z", "mutations": "nope"},
    ],
)
def test_malformed_push_envelope_is_a_422_and_saves_nothing(phone, body):
    r = phone.api.post("/api/sync/push", json=body)
    assert r.status_code == 422, r.get_json()
    assert error_of(r)["code"] == "validation_error"
    assert db.session.execute(select(func.count()).select_from(Device)).scalar() == 0


def test_push_needs_login_and_csrf(client, phone):
    body = {"device_id": phone.device_id, "device_time": iso(phone.now()), "mutations": []}
    assert client.post("/api/sync/push", json=body).status_code == 401
    phone.api.csrf = "wrong"
    assert phone.api.post("/api/sync/push", json=body).status_code == 403


def test_archivist_cannot_record_patrols(as_role, demo):
    archivist = Phone(as_role("archivist"), demo.id)
    result = archivist.push_ok([archivist.visit("F01")])[0]
    assert result["code"] == "forbidden_site"


def test_empty_push_answers_clock_and_expected_photos_and_registers_nothing(phone):
    r = phone.push([])
    assert r.status_code == 200
    body = r.get_json()
    assert body["results"] == [] and body["expected_photos"] == [] and abs(body["clock_offset_ms"]) < 60_000
    assert db.session.get(Device, phone.device_id) is None


def test_push_naming_thousands_of_ids_is_answered_not_a_server_error(phone):
    """Ten visits naming 40,000 photo ids (over SQLite's bound-parameter cap) get clean rejections."""
    m = phone.visit("F01")
    item = m["payload"]["results"][0]["item_id"]
    m["payload"]["results"] = [{"item_id": item, "result": "ok", "photo_ids": [new_id() for _ in range(20)]} for _ in range(199)]
    batch = [m] + [copy.deepcopy(m) | {"mutation_id": new_id(), "seq": m["seq"] + n} for n in range(1, 10)]
    results = phone.push_ok(batch)
    assert {r["status"] for r in results} == {"rejected"}
    assert results[0]["code"] == "invalid_payload"
