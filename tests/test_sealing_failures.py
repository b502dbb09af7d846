"""Sealing is all or nothing: a machine that cannot file a month refuses the seal and leaves the month as it was."""

from __future__ import annotations

import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select

from server import archive, choices, fonts
from server.archive import bundle
from server.extensions import db
from server.models import AuditEvent, MonthArchive

from .support.api import error_of
from .support.records import september

SEAL = "/api/archive/sites/{}/months/2026-09/seal"


def assert_month_untouched(site, folder: Path) -> None:
    """Open, never sealed, no file filed or left in the archive folder, nothing in the audit chain about it."""
    db.session.rollback()
    row = db.session.execute(select(MonthArchive).where(MonthArchive.site_id == site.id, MonthArchive.month == "2026-09")).scalar_one_or_none()
    assert row is None or (row.state == choices.MONTH_OPEN and row.sealed_at is None and not row.files and not row.bundle_path)
    assert archive.describe_month(site, "2026-09")["state"] == choices.MONTH_OPEN
    assert not list(folder.rglob("*.zip")) if folder.exists() else True
    sealed = db.session.execute(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "sealed")).scalar()
    assert sealed == 0


def test_seal_without_the_chinese_font_is_503_and_the_month_stays_open(app, demo, as_role, archive_dir, monkeypatch):
    september(demo)
    # The machine lacks the font: the pip package is not installed and no system font exists.
    monkeypatch.setattr(fonts, "delivered_font", lambda: None)
    monkeypatch.setattr(fonts, "SYSTEM_FONTS", ())
    monkeypatch.delenv("LABEL_FONT", raising=False)
    app.config["LABEL_FONT"] = ""
    r = as_role("archivist").post(SEAL.format(demo.id))
    assert r.status_code == 503 and error_of(r)["code"] == "label_font_missing"
    assert_month_untouched(demo, archive_dir)


@contextmanager
def read_only(folder: Path):
    """Make `folder` unwritable, even for root (who ignores permission bits): chmod, else chattr +i, else a read-only mount."""
    folder.mkdir(parents=True, exist_ok=True)
    undo = None
    if os.geteuid() != 0:
        folder.chmod(0o555)
        undo = lambda: folder.chmod(0o755)  # noqa: E731
    elif shutil.which("chattr") and subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0:
        undo = lambda: subprocess.run(["chattr", "-i", str(folder)], check=True)  # noqa: E731
    elif subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)], capture_output=True).returncode == 0:
        undo = lambda: subprocess.run(["umount", str(folder)], check=True)  # noqa: E731
    else:
        pytest.skip("running as root without chattr or mount: cannot make a folder read-only")
    try:
        yield
    finally:
        undo()


def test_seal_with_a_read_only_archive_dir_is_503_and_the_month_stays_open(app, demo, as_role, archive_dir):
    september(demo)
    with read_only(archive_dir):
        r = as_role("archivist").post(SEAL.format(demo.id))
        assert r.status_code == 503 and error_of(r)["code"] == "archive_dir_unwritable"
        assert_month_untouched(demo, archive_dir)
    # Once the folder is writable again, the same request seals and files the month.
    r = as_role("archivist").post(SEAL.format(demo.id))
    assert r.status_code == 200 and r.get_json()["state"] == choices.MONTH_ARCHIVED


def test_seal_without_enough_free_space_is_503_and_the_month_stays_open(app, demo, as_role, archive_dir):
    september(demo)
    app.config["ARCHIVE_MIN_FREE_BYTES"] = shutil.disk_usage(archive_dir.parent).free * 4
    r = as_role("archivist").post(SEAL.format(demo.id))
    assert r.status_code == 503 and error_of(r)["code"] == "archive_disk_full"
    assert_month_untouched(demo, archive_dir)


def test_a_bundle_that_fails_while_being_written_undoes_the_seal(app, demo, as_role, archive_dir, monkeypatch):
    september(demo)

    def broken_write(job, render):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bundle, "write", broken_write)
    r = as_role("archivist").post(SEAL.format(demo.id))
    assert r.status_code == 500
    db.session.rollback()
    assert archive.describe_month(demo, "2026-09")["state"] == choices.MONTH_OPEN
    actions = db.session.execute(select(AuditEvent.action).where(AuditEvent.entity == "month").order_by(AuditEvent.id)).scalars().all()
    assert actions == ["sealed", "seal_undone"]
    assert not list(archive_dir.rglob("*.zip"))
