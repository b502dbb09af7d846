"""Month-end filing: sealing makes a month read-only, late records become addenda, bundles verify."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from server import archive, audit, choices, sealing
from server.errors import problem_status
from server.extensions import db
from server.models import AuditEvent, MonthArchive, Site, Task, TaskComment, Visit, utcnow
from server.problems import Conflict
from server.timeutil import month_of

from .support.api import error_of
from .support.ids import new_id
from .support.records import SEPT, add_finding, add_photo, add_visit, september, verify_task, zip_manifest
from .support.tasks import checkpoint, user

# --- sealing --------------------------------------------------------------------------------------


def test_sealing_makes_writes_to_the_months_records_fail_with_409(app, demo):
    recs = september(demo)
    sealing.ensure_writable(demo.id, "2026-09")  # open: no error
    archive.seal(demo, "2026-09", actor_id=user("archivist").id)
    db.session.commit()

    with pytest.raises(Conflict) as exc:
        sealing.ensure_writable(demo.id, recs["findings"][0].month)
    assert problem_status(exc.value) == 409 and exc.value.code == "month_sealed"
    assert "sealed" in exc.value.message
    assert exc.value.details == {"site_id": demo.id, "month": "2026-09", "state": choices.MONTH_ARCHIVED}
    # The verified task of a sealed month is part of its record: frozen too.
    with pytest.raises(Conflict):
        sealing.ensure_writable(demo.id, sealing.task_month(recs["task"]))
    # Other months, and the same month elsewhere, stay writable.
    sealing.ensure_writable(demo.id, "2026-10")


def test_an_open_task_of_a_sealed_month_can_still_be_worked(app, demo):
    v = add_visit(demo, "F03", SEPT, results=("fail",))
    f = add_finding(demo, v)
    task = db.session.execute(select(Task).where(Task.finding_id == f.id)).scalar_one()
    archive.seal(demo, "2026-09", actor_id=None)
    db.session.commit()
    assert sealing.task_month(task) is None
    sealing.ensure_writable(demo.id, sealing.task_month(task))  # the repair goes on after month end


def test_a_month_is_sealed_only_after_it_ends_in_the_sites_timezone(app, demo):
    # September ends at midnight in Shanghai: 16:00 UTC on 30 September.
    end = datetime(2026, 9, 30, 16, 0)
    with pytest.raises(Conflict) as exc:
        archive.seal(demo, "2026-09", actor_id=None, now=end - timedelta(minutes=1), build=False)
    assert problem_status(exc.value) == 409 and exc.value.code == "month_not_ended"
    row = archive.seal(demo, "2026-09", actor_id=None, now=end, build=False)
    assert row.state == choices.MONTH_SEALED and sealing.is_sealed(demo.id, "2026-09")


def test_sealing_twice_changes_nothing(app, demo):
    september(demo)
    first = archive.seal(demo, "2026-09", actor_id=None)
    db.session.commit()
    sha, files = first.bundle_sha256, list(first.files)
    again = archive.seal(demo, "2026-09", actor_id=None)
    db.session.commit()
    assert again.bundle_sha256 == sha and again.files == files


def test_archivist_seals_and_the_downloaded_bundles_manifest_hashes_verify(app, demo, as_role):
    recs = september(demo)
    api = as_role("archivist")
    r = api.post(f"/api/archive/sites/{demo.id}/months/2026-09/seal")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["state"] == "archived" and body["sealed_by"] == user("archivist").id

    r = api.get(f"/api/archive/sites/{demo.id}/months/2026-09/bundle")
    assert r.status_code == 200 and r.mimetype == "application/zip"
    data = r.data
    r.close()
    digest = hashlib.sha256(data).hexdigest()
    assert r.headers["X-Content-SHA256"] == digest == body["bundle_sha256"]

    manifest, zf, prefix = zip_manifest(data)
    assert manifest["format"] == "patrol-archive/1" and manifest["month"] == "2026-09" and manifest["kind"] == "bundle"
    paths = {f["path"] for f in manifest["files"]}
    assert {"record.pdf", "record.xlsx", "visits.csv", "findings.csv", "tasks.csv", "verifications.csv"} <= paths
    assert f"photos/{recs['photo']}.jpg" in paths
    for f in manifest["files"]:
        assert hashlib.sha256(zf.read(prefix + f["path"])).hexdigest() == f["sha256"], f["path"]
    assert zf.read(prefix + "record.pdf").startswith(b"%PDF")
    assert archive.verify_zip(io.BytesIO(data)) == []

    # The bundle's own hash is in the audit chain, and the chain is intact.
    events = db.session.execute(select(AuditEvent).where(AuditEvent.entity == "month", AuditEvent.action == "bundle_built")).scalars().all()
    assert [e.data["sha256"] for e in events] == [digest]
    assert audit.verify()[1] is None

    # The CSV holds the month's records, the summary its figures.
    visits_csv = zf.read(prefix + "visits.csv").decode("utf-8-sig")
    assert all(v in visits_csv for v in recs["visit_ids"])
    s = manifest["summary"]
    assert s["visits"] == 3 and s["findings"] == 2 and s["dealt_on_spot"] == 1 and s["tasks_opened"] == 1
    assert s["findings_by_category"]["facilities"] == 1 and s["findings_by_category"]["cleanliness"] == 1
    assert s["visits_by_kind"] == {"floor": 2, "elevator_car": 1}
    assert len(s["major_issues"]) == 1 and s["tasks_closed"] == 1 and s["items_checked"] == 9


def test_patroller_cannot_seal_and_another_sites_archivist_sees_nothing(app, demo, as_role, other_site):
    r = as_role("patroller").post(f"/api/archive/sites/{demo.id}/months/2026-09/seal")
    assert r.status_code == 403 and error_of(r)["code"] == "forbidden"
    other = as_role("other-archivist")
    r = other.get(f"/api/archive/sites/{demo.id}/months")
    assert r.status_code == 404
    r = other.post(f"/api/archive/sites/{demo.id}/months/2026-09/seal")
    assert r.status_code == 404
    assert db.session.execute(select(func.count()).select_from(MonthArchive)).scalar() == 0


def test_a_bad_month_is_422_and_a_current_month_cannot_be_sealed(app, demo, as_role):
    api = as_role("archivist")
    for bad in ("2026-13", "26-09", "x"):
        r = api.post(f"/api/archive/sites/{demo.id}/months/{bad}/seal")
        assert r.status_code == 422, bad
    current = month_of(utcnow(), demo.timezone)
    r = api.post(f"/api/archive/sites/{demo.id}/months/{current}/seal")
    assert r.status_code == 409 and error_of(r)["code"] == "month_not_ended"


def test_months_list_states_per_site(app, demo, as_role):
    september(demo)
    add_visit(demo, "F01", datetime(2026, 8, 5, 3, 0))
    archive.seal(demo, "2026-09", actor_id=None)
    db.session.commit()
    r = as_role("manager").get(f"/api/archive/sites/{demo.id}/months")
    assert r.status_code == 200
    states = {m["month"]: m["state"] for m in r.get_json()}
    assert states["2026-09"] == "archived" and states["2026-08"] == "open"
    assert states[month_of(utcnow(), demo.timezone)] == "open"


# --- late records: the addendum -------------------------------------------------------------------


def _push_late_visit(api, site: Site, scanned_at: datetime) -> str:
    """A phone that was offline since September syncs a September visit now."""
    versions = {v["kind"]: v for v in api.get(f"/api/sites/{site.id}/checklists/").get_json()}
    cp = checkpoint(site, "F05")
    version = versions[cp.kind]
    visit_id = new_id()
    now = datetime.now(timezone.utc)
    body = {
        "device_id": new_id(), "device_time": now.isoformat().replace("+00:00", "Z"), "app_version": "test",
        "mutations": [{
            "mutation_id": new_id(), "seq": 1, "kind": "visit.record", "observed_at": scanned_at.isoformat() + "Z",
            "payload": {
                "visit_id": visit_id, "site_id": site.id, "checkpoint_id": cp.id, "checklist_version_id": version["id"],
                "scanned_at": scanned_at.isoformat() + "Z", "scan_method": "qr",
                "results": [{"item_id": item["id"], "result": "ok"} for item in version["body"]["items"]],
            },
        }],
    }
    r = api.post("/api/sync/push", json=body)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["results"][0]["status"] == "applied", r.get_json()
    return visit_id


def test_a_late_record_for_a_sealed_month_lands_in_an_addendum_and_the_sealed_bundle_is_unchanged(app, demo, as_role):
    september(demo)
    arch = as_role("archivist")
    assert arch.post(f"/api/archive/sites/{demo.id}/months/2026-09/seal").status_code == 200
    row = archive.get_row(demo.id, "2026-09")
    bundle_path, bundle_sha = Path(row.bundle_path), row.bundle_sha256

    late_id = _push_late_visit(as_role("patroller"), demo, datetime(2026, 9, 28, 1, 0))
    late = db.session.get(Visit, late_id)
    assert late is not None and late.month == "2026-09"  # accepted, never lost

    r = arch.post(f"/api/archive/sites/{demo.id}/months/2026-09/build")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["addendum_count"] == 1
    assert [f["kind"] for f in body["files"]] == ["bundle", "addendum"]
    addendum = body["files"][1]
    assert addendum["name"] == "DEMO-2026-09-addendum-01.zip" and addendum["records"]["visits"] == 1

    # The sealed bundle is exactly what was filed.
    assert archive.sha256_file(bundle_path) == bundle_sha
    r = arch.get(f"/api/archive/sites/{demo.id}/months/2026-09/bundle?file={addendum['name']}")
    assert r.status_code == 200
    data = r.data
    r.close()
    manifest, zf, prefix = zip_manifest(data)
    assert manifest["kind"] == "addendum" and manifest["addendum_number"] == 1
    assert manifest["base_bundle_sha256"] == bundle_sha
    visits_csv = zf.read(prefix + "visits.csv").decode("utf-8-sig")
    assert late_id in visits_csv and visits_csv.count("\n") == 2  # header + the late visit only
    assert archive.verify_zip(io.BytesIO(data)) == []

    # Nothing new: no new file.
    r = arch.post(f"/api/archive/sites/{demo.id}/months/2026-09/build")
    assert r.get_json()["addendum_count"] == 1


def test_sync_path_can_ask_whether_a_month_is_sealed(app, demo):
    assert not sealing.is_sealed(demo.id, "2026-09")
    archive.seal(demo, "2026-09", actor_id=None, build=False)
    assert sealing.is_sealed(demo.id, "2026-09") and not sealing.is_sealed(demo.id, "2026-10")


# --- checking bundles ---------------------------------------------------------------------------


def test_a_tampered_bundle_fails_verification(app, demo, runner):
    september(demo)
    archive.seal(demo, "2026-09", actor_id=None)
    db.session.commit()
    result = runner.invoke(args=["archive", "verify"])
    assert result.exit_code == 0 and "DEMO 2026-09: ok" in result.output

    row = archive.get_row(demo.id, "2026-09")
    path = Path(row.bundle_path)
    with zipfile.ZipFile(path) as zf:
        items = {n: zf.read(n) for n in zf.namelist()}
    name = next(n for n in items if n.endswith("visits.csv"))
    items[name] = items[name] + b"forged,row\n"
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in items.items():
            zf.writestr(n, data)
    assert "visits.csv: hash does not match the manifest" in archive.verify_zip(path)
    result = runner.invoke(args=["archive", "verify"])
    assert result.exit_code == 1 and "changed since it was filed" in result.output


# --- the CLI ----------------------------------------------------------------------------------------


def test_flask_archive_seal_seals_every_sites_previous_month(app, demo, runner, other_site):
    prev = archive.previous_month(demo)
    y, m = (int(x) for x in prev.split("-"))
    add_visit(demo, "F01", datetime(y, m, 15, 2, 0))
    result = runner.invoke(args=["archive", "seal"])
    assert result.exit_code == 0, result.output
    assert f"DEMO {prev}: sealed" in result.output and f"OTHER {prev}: sealed" in result.output
    assert sealing.state_of(demo.id, prev) == choices.MONTH_ARCHIVED
    result = runner.invoke(args=["archive", "seal", "--site", "DEMO"])
    assert f"DEMO {prev}: already archived" in result.output


def test_flask_archive_build_files_addenda_of_late_records(app, demo, runner):
    september(demo)
    runner.invoke(args=["archive", "seal", "--site", "DEMO", "--month", "2026-09"])
    add_visit(demo, "F07", SEPT + timedelta(days=3), addendum=True)
    result = runner.invoke(args=["archive", "build"])
    assert result.exit_code == 0, result.output
    assert "DEMO 2026-09: addendum DEMO-2026-09-addendum-01.zip" in result.output
    assert "built 0 file(s)" in runner.invoke(args=["archive", "build"]).output


def test_sealed_months_records_refuse_changes_through_the_api_with_409(app, demo, as_role):
    recs = september(demo)
    archive.seal(demo, "2026-09", actor_id=user("archivist").id)
    db.session.commit()
    task = recs["task"]  # verified in September: part of the filed record
    supervisor = as_role("supervisor")
    before = db.session.execute(select(TaskComment).where(TaskComment.task_id == task.id)).all()
    for url, body in (
        (f"/api/tasks/{task.id}/comments", {"body": "late remark"}),
        (f"/api/tasks/{task.id}/route", {"route": "department_work"}),
    ):
        r = supervisor.post(url, json=body)
        assert r.status_code == 409, (url, r.get_json())
        assert r.get_json()["error"]["code"] == "month_sealed"
    db.session.expire_all()
    assert db.session.execute(select(TaskComment).where(TaskComment.task_id == task.id)).all() == before


def test_a_closed_task_says_it_is_read_only_once_its_month_is_sealed(app, demo, as_role):
    recs = september(demo)
    v = add_visit(demo, "F03", SEPT, results=("fail",))
    still_open = db.session.execute(select(Task).where(Task.finding_id == add_finding(demo, v).id)).scalar_one()
    db.session.commit()
    supervisor = as_role("supervisor")
    closed = recs["task"]
    assert supervisor.get(f"/api/tasks/{closed.id}").get_json()["sealed_month"] is None  # not sealed yet
    archive.seal(demo, "2026-09", actor_id=user("archivist").id)
    db.session.commit()
    assert supervisor.get(f"/api/tasks/{closed.id}").get_json()["sealed_month"] == "2026-09"
    # A task still open carries on after month end: not read-only.
    assert supervisor.get(f"/api/tasks/{still_open.id}").get_json()["sealed_month"] is None


def test_late_synced_findings_of_a_sealed_month_are_addenda_and_still_open_their_tasks(app, demo, as_role):
    """A phone offline since September syncs a failed item and an other problem of that month."""
    from server.models import Finding

    from .support.phone import Phone

    archive.seal(demo, "2026-09", actor_id=None, build=False)
    db.session.commit()
    phone = Phone(as_role("patroller"), demo.id)
    other = {"finding_id": new_id(), "category": "cleanliness", "route": "department_work", "description": "垃圾 rubbish"}
    late = phone.visit("F05", fail=(0,), extra=[other], scanned_at=datetime(2026, 9, 28, 1, 0, tzinfo=timezone.utc))
    result = phone.push_ok([late, phone.visit("F06", fail=(0,))])
    assert [r["status"] for r in result] == ["applied", "applied"]
    sept, now = result[0]["result"], result[1]["result"]
    assert len(sept["task_ids"]) == 2 and len(now["task_ids"]) == 1
    db.session.expire_all()
    for finding_id in sept["finding_ids"]:
        f = db.session.get(Finding, finding_id)
        assert f.month == "2026-09" and f.addendum is True
    assert db.session.get(Finding, now["finding_ids"][0]).addendum is False
    assert {db.session.get(Task, t).finding_id for t in sept["task_ids"]} == set(sept["finding_ids"])


def test_a_phone_moving_a_closed_task_of_a_sealed_month_has_that_mutation_rejected_and_the_rest_applied(app, demo, as_role):
    from .support.phone import Phone

    recs = september(demo)  # its task was verified in September
    archive.seal(demo, "2026-09", actor_id=None)
    db.session.commit()
    phone = Phone(as_role("patroller"), demo.id)
    move = phone.mutation("task.transition", {"task_id": recs["task_id"], "to": "in_progress"})
    results = phone.push_ok([move, phone.visit("F06")])
    assert [r["status"] for r in results] == ["rejected", "applied"]
    assert results[0]["code"] == "month_sealed" and results[0]["details"]["month"] == "2026-09"
    db.session.expire_all()
    assert db.session.get(Task, recs["task_id"]).state == choices.TASK_VERIFIED


def test_a_late_finding_of_a_sealed_month_is_flagged_as_an_addendum(app, demo):
    archive.seal(demo, "2026-09", actor_id=None)
    db.session.commit()
    v = add_visit(demo, "F03", SEPT, results=("fail",))
    f = add_finding(demo, v)
    assert f.month == "2026-09" and f.addendum is True


def test_escalating_an_overdue_task_of_a_sealed_month_files_no_addendum_a_real_change_does(app, demo, as_role):
    # The nightly overdue run only notes that it told people (`last_escalated_on`): that is
    # not a change to the month's record, so it must not make an addendum night after night.
    from server.tasks.escalation import escalate_overdue

    v = add_visit(demo, "F03", SEPT, results=("fail",))
    f = add_finding(demo, v)
    task = db.session.execute(select(Task).where(Task.finding_id == f.id)).scalar_one()
    arch = as_role("archivist")
    assert arch.post(f"/api/archive/sites/{demo.id}/months/2026-09/seal").status_code == 200
    for days in (1, 2):
        assert escalate_overdue(task.due_at + timedelta(days=days)) == 1
        db.session.commit()
        body = arch.post(f"/api/archive/sites/{demo.id}/months/2026-09/build").get_json()
        assert body["addendum_count"] == 0, body["files"]

    # A real change to that task since the bundle (it is assigned) is filed as an addendum.
    sup = as_role("supervisor")
    assert sup.post(f"/api/tasks/{task.id}/assign", json={"assignee_id": user("patroller").id}).status_code == 200
    body = arch.post(f"/api/archive/sites/{demo.id}/months/2026-09/build").get_json()
    assert body["addendum_count"] == 1 and body["files"][1]["records"]["tasks"] == 1
