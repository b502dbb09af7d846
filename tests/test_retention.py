"""Two-year retention: purge removes exactly what is past the period, holds keep, dry runs change nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from server import archive, audit, choices, retention, sealing, tasks
from server.extensions import db
from server.models import (
    AuditEvent,
    Extension,
    Finding,
    ItemResult,
    LegalHold,
    MonthArchive,
    Photo,
    PurgeLog,
    Task,
    TaskComment,
    Verification,
    Visit,
)
from server.photos import photo_path

from .support.api import error_of
from .support.records import add_finding, add_photo, add_visit, verify_task
from .support.retention import NOW, OCT_2024, SEPT_2024, build_month, seal_both
from .support.tasks import user

def snapshot() -> dict:
    return {
        "visits": db.session.execute(select(func.count()).select_from(Visit)).scalar(),
        "item_results": db.session.execute(select(func.count()).select_from(ItemResult)).scalar(),
        "findings": db.session.execute(select(func.count()).select_from(Finding)).scalar(),
        "tasks": db.session.execute(select(func.count()).select_from(Task)).scalar(),
        "extensions": db.session.execute(select(func.count()).select_from(Extension)).scalar(),
        "verifications": db.session.execute(select(func.count()).select_from(Verification)).scalar(),
        "comments": db.session.execute(select(func.count()).select_from(TaskComment)).scalar(),
        "photos": db.session.execute(select(func.count()).select_from(Photo)).scalar(),
        "audit": db.session.execute(select(func.count()).select_from(AuditEvent)).scalar(),
        "purge_logs": db.session.execute(select(func.count()).select_from(PurgeLog)).scalar(),
        "states": dict(db.session.execute(select(MonthArchive.month, MonthArchive.state)).all()),
    }


def files_of(photo_ids) -> list[Path]:
    return [photo_path(pid, size) for pid in photo_ids for size in ("display", "thumb")]


def test_purge_removes_exactly_what_is_older_than_the_retention_period_and_deletes_the_files(app, demo):
    sept = build_month(demo, SEPT_2024)
    octo = build_month(demo, OCT_2024)
    seal_both(demo)
    sept_bundle = Path(archive.get_row(demo.id, "2024-09").bundle_path)
    assert all(p.exists() for p in files_of(sept["photos"])) and sept_bundle.exists()

    done = retention.purge(apply=True, now=NOW, by_name="test")
    assert [(p["month"], p["action"]) for p in done] == [("2024-09", "purge")]
    # September's records and everything hanging off them are gone, with their files.
    for model, ids in ((Visit, sept["visits"]), (Finding, sept["findings"]), (Photo, sept["photos"])):
        assert db.session.execute(select(func.count()).select_from(model).where(model.id.in_(ids))).scalar() == 0
    assert db.session.get(Task, sept["task"]) is None
    for model in (Extension, Verification, TaskComment):
        assert db.session.execute(select(func.count()).select_from(model).where(model.task_id == sept["task"])).scalar() == 0
    assert db.session.execute(select(func.count()).select_from(ItemResult).where(ItemResult.visit_id.in_(sept["visits"]))).scalar() == 0
    assert not any(p.exists() for p in files_of(sept["photos"]))
    assert not sept_bundle.exists()
    assert sealing.state_of(demo.id, "2024-09") == choices.MONTH_PURGED

    # October, one minute short of its retention period, is whole.
    assert db.session.execute(select(func.count()).select_from(Visit).where(Visit.id.in_(octo["visits"]))).scalar() == 2
    assert db.session.get(Task, octo["task"]) is not None
    assert all(p.exists() for p in files_of(octo["photos"]))
    assert sealing.state_of(demo.id, "2024-10") == choices.MONTH_ARCHIVED

    # A minute later it is due too.
    later = retention.purge(apply=True, now=NOW + timedelta(minutes=1), by_name="test")
    assert [(p["month"], p["action"]) for p in later] == [("2024-10", "purge")]
    assert db.session.execute(select(func.count()).select_from(Visit).where(Visit.month.in_(["2024-09", "2024-10"]))).scalar() == 0
    assert audit.verify()[1] is None


def test_dry_run_changes_nothing_and_counts_what_apply_removes(app, demo):
    sept = build_month(demo, SEPT_2024)
    seal_both(demo)
    before = snapshot()
    plan = retention.purge(apply=False, now=NOW)
    assert snapshot() == before
    assert all(p.exists() for p in files_of(sept["photos"]))
    [p] = plan
    assert p["action"] == "purge"
    assert p["counts"]["visits"] == 2 and p["counts"]["findings"] == 2 and p["counts"]["tasks"] == 1
    assert p["counts"]["photos"] == len(sept["photos"]) and p["counts"]["item_results"] == 5
    assert p["counts"]["extensions"] == 1 and p["counts"]["verifications"] == 1 and p["counts"]["task_comments"] == 1

    done = retention.purge(apply=True, now=NOW)
    after = snapshot()
    assert before["visits"] - after["visits"] == p["counts"]["visits"]
    assert before["findings"] - after["findings"] == p["counts"]["findings"]
    assert before["photos"] - after["photos"] == p["counts"]["photos"]
    assert before["item_results"] - after["item_results"] == p["counts"]["item_results"]
    assert done[0]["counts"]["visits"] == p["counts"]["visits"]


def test_a_hold_on_a_task_keeps_the_task_its_finding_visits_and_photos(app, demo):
    sept = build_month(demo, SEPT_2024)
    seal_both(demo)
    retention.add_hold(demo, reason="业主诉讼，保全证据", actor_id=user("archivist").id, task_id=sept["task"])
    db.session.commit()
    [p] = retention.purge(apply=True, now=NOW)
    assert p["action"] == "purge" and p["held"]["tasks"] == 1
    held_finding, other_finding = sept["findings"]
    assert db.session.get(Task, sept["task"]) is not None
    assert db.session.get(Finding, held_finding) is not None
    assert db.session.get(Finding, other_finding) is None
    assert db.session.get(Visit, sept["visits"][0]) is not None  # where the held problem was found
    assert db.session.get(Visit, sept["visits"][1]) is None
    assert db.session.get(Photo, sept["photo_finding"]) is not None and photo_path(sept["photo_finding"], "display").exists()
    assert db.session.get(Photo, sept["photo_visit"]) is None and not photo_path(sept["photo_visit"], "display").exists()
    assert db.session.execute(select(func.count()).select_from(Verification).where(Verification.task_id == sept["task"])).scalar() == 1
    # The month's filed bundle stays while part of it is held.
    assert Path(archive.get_row(demo.id, "2024-09").bundle_path).exists()


@pytest.mark.parametrize("scope", ["site", "month"])
def test_a_hold_on_the_site_or_the_month_keeps_the_whole_month_until_released(app, demo, scope):
    sept = build_month(demo, SEPT_2024)
    seal_both(demo)
    hold = retention.add_hold(demo, reason="审计", actor_id=user("archivist").id, month="2024-09" if scope == "month" else None)
    db.session.commit()
    before = snapshot()
    [p] = retention.purge(apply=True, now=NOW)
    assert p["action"] == "skip" and "legal hold" in p["reason"]
    assert snapshot() == before
    assert all(path.exists() for path in files_of(sept["photos"]))

    retention.release_hold(hold, actor_id=user("archivist").id)
    db.session.commit()
    [p] = retention.purge(apply=True, now=NOW)
    assert p["action"] == "purge"
    assert db.session.execute(select(func.count()).select_from(Visit).where(Visit.id.in_(sept["visits"]))).scalar() == 0


@pytest.mark.parametrize("sealed", [False, True])
def test_an_old_month_not_yet_archived_is_reported_and_not_purged(app, demo, sealed):
    build_month(demo, SEPT_2024)
    if sealed:
        archive.seal(demo, "2024-09", actor_id=None, now=NOW, build=False)
        db.session.commit()
    before = snapshot()
    [p] = retention.purge(apply=True, now=NOW)
    assert p["action"] == "skip"
    assert ("never built" in p["reason"]) if sealed else ("not sealed" in p["reason"])
    assert snapshot() == before


def test_the_purge_log_says_what_when_who_counts_and_the_archives_hash(app, demo):
    build_month(demo, SEPT_2024)
    seal_both(demo)
    sha = archive.get_row(demo.id, "2024-09").bundle_sha256
    retention.purge(apply=True, now=NOW, actor=user("admin"))
    log = db.session.execute(select(PurgeLog)).scalar_one()
    assert log.month == "2024-09" and log.site_id == demo.id and log.by_id == user("admin").id and log.by_name == "admin"
    assert log.archive_sha256 == sha and log.counts["visits"] == 2 and log.counts["archive_files"] == 1
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "purged")).scalar_one()
    assert event.hash == log.audit_hash and event.data["archive_sha256"] == sha
    assert audit.verify()[1] is None


def test_flask_retention_purge_is_a_dry_run_unless_told_to_apply(app, demo, runner):
    build_month(demo, SEPT_2024)
    archive.seal(demo, "2024-09", actor_id=None)
    db.session.commit()
    before = snapshot()
    result = runner.invoke(args=["retention", "purge"])
    assert result.exit_code == 0, result.output
    assert "DEMO 2024-09: would purge visits 2" in result.output and "dry run: nothing was changed" in result.output
    assert snapshot() == before
    result = runner.invoke(args=["retention", "purge", "--apply"])
    assert result.exit_code == 0, result.output
    assert "DEMO 2024-09: purged visits 2" in result.output
    assert db.session.execute(select(func.count()).select_from(Visit).where(Visit.month == "2024-09")).scalar() == 0
    assert db.session.execute(select(PurgeLog.by_name)).scalar_one() == "flask retention purge"


def test_archivists_place_and_release_holds_others_may_not(app, demo, as_role, other_site):
    arch = as_role("archivist")
    r = arch.post(f"/api/archive/sites/{demo.id}/holds", json={"month": "2024-09", "reason": "审计"})
    assert r.status_code == 201, r.get_json()
    hold = r.get_json()
    assert hold["month"] == "2024-09" and hold["released_at"] is None
    r = arch.post(f"/api/archive/sites/{demo.id}/holds", json={"reason": "  "})
    assert r.status_code == 422
    r = arch.post(f"/api/archive/sites/{demo.id}/holds", json={"month": "2024-13", "reason": "x"})
    assert r.status_code == 422 and "month" in error_of(r)["details"]["fields"]
    r = arch.post(f"/api/archive/sites/{demo.id}/holds", json={"task_id": 999999, "reason": "x"})
    assert r.status_code == 422
    assert as_role("patroller").post(f"/api/archive/sites/{demo.id}/holds", json={"reason": "x"}).status_code == 403
    assert as_role("other-archivist").post(f"/api/archive/holds/{hold['id']}/release").status_code == 404
    r = arch.post(f"/api/archive/holds/{hold['id']}/release")
    assert r.status_code == 200 and r.get_json()["released_at"]
    assert as_role("manager").get(f"/api/archive/sites/{demo.id}/holds").status_code == 200
    assert db.session.execute(select(func.count()).select_from(LegalHold)).scalar() == 1


def test_the_retention_preview_and_purge_log_are_readable_through_the_api(app, demo, as_role):
    build_month(demo, SEPT_2024)
    archive.seal(demo, "2024-09", actor_id=None)
    db.session.commit()
    r = as_role("archivist").get(f"/api/archive/sites/{demo.id}/retention")
    assert r.status_code == 200
    assert [(p["month"], p["action"]) for p in r.get_json()] == [("2024-09", "purge")]
    retention.purge(apply=True)
    r = as_role("archivist").get(f"/api/archive/sites/{demo.id}/purges")
    assert r.status_code == 200 and r.get_json()[0]["counts"]["visits"] == 2
