"""A month's bundle on disk: which records go in, the tables, photos and manifest, the zip and its hashes, and checking them.

A bundle is planned inside the caller's transaction (`plan`, which reads the filing row's
state, the records' selection and the summary) and written outside it (`write`, which
reads the rows through a connection of its own and touches no session). Every file in
the zip is hashed into its manifest; the zip's own hash is recorded by filing.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

from flask import current_app
from sqlalchemy import and_, create_engine, func, or_, select
from sqlalchemy.pool import NullPool

from .. import choices
from ..exports import ROWS, SHEET_TITLES, reading, write_csv, write_xlsx
from ..extensions import db
from ..models import Finding, MonthArchive, Photo, Site, Task, Visit
from ..photos import photo_path
from ..sounds import sniff, sound_path
from ..problems import Gone, NotFound
from .state import get_row
from .summary import summary

MANIFEST_FORMAT = "patrol-archive/1"
BUNDLE = "bundle"
ADDENDUM = "addendum"


def stamp(dt: datetime | None) -> str | None:
    """Naive UTC → ISO 8601 to the second with Z, as manifests and file entries write it."""
    return dt.isoformat(timespec="seconds") + "Z" if dt else None


def archive_dir(site: Site, month: str) -> Path:
    return Path(current_app.config["ARCHIVE_DIR"]) / site.code / month


SOUND_EXT = {"webm": "webm", "ogg": "ogg", "mp4": "m4a"}


def photo_file(photo_id: str) -> Path | None:
    """The display copy of a received photo, if its file is there."""
    path = photo_path(photo_id, "display")
    return path if path.is_file() else None


def _sha256(fh) -> str:
    h = hashlib.sha256()
    while chunk := fh.read(1 << 16):
        h.update(chunk)
    return h.hexdigest()


def sha256_file(path) -> str:
    with open(path, "rb") as fh:
        return _sha256(fh)


def set_aside(path: Path, now: datetime) -> None:
    """Rename a zip that must not stand under its filed name; a filed file is never overwritten."""
    path.rename(path.with_suffix(f".orphan-{now:%Y%m%d%H%M%S%f}.zip"))


# --- planning: inside the caller's transaction -----------------------------------------------


@dataclass(frozen=True)
class Job:
    """One file to write, with everything read for it while the transaction was open."""

    site: SimpleNamespace  # a plain copy: writing must not touch the session's objects
    month: str
    kind: str  # BUNDLE or ADDENDUM
    number: int  # the addendum's number; 0 for the bundle
    since: datetime | None  # an addendum holds what arrived after this
    sealed_at: datetime
    built_at: datetime
    filed: tuple  # the month's files when planned: filing.py refuses to record over a change
    summary: dict
    visit_where: Callable
    finding_where: Callable
    counts: dict
    photos: tuple
    path: Path


def _selection(site: Site, month: str, since: datetime | None) -> tuple[Callable, Callable]:
    """`where` builders for visits and findings: the whole month, or what arrived after `since`.

    An addendum holds what reached the server after the previous file was built: late
    visits and findings (by arrival time), and the month's findings whose task changed
    since (closed, verified, extended).
    """
    if since is None:
        return (lambda m: m.month == month), (lambda m: m.month == month)
    late_visits = lambda m: and_(m.month == month, m.received_at > since)  # noqa: E731
    late_findings = lambda m: and_(m.month == month, or_(m.created_at > since, m.id.in_(  # noqa: E731
        select(Task.finding_id).where(Task.site_id == site.id, Task.updated_at > since)
    )))
    return late_visits, late_findings


def plan(site: Site, month: str, row: MonthArchive, now: datetime) -> Job | None:
    """The next file of a sealed month: its bundle, or else an addendum; None when nothing is new."""
    filed = tuple(row.files or [])
    since = max((datetime.fromisoformat(f["cutoff"]) for f in filed), default=None)
    kind = BUNDLE if since is None else ADDENDUM
    visit_where, finding_where = _selection(site, month, since)
    visit_ids = select(Visit.id).where(Visit.site_id == site.id, visit_where(Visit))
    finding_ids = select(Finding.id).where(Finding.site_id == site.id, finding_where(Finding))
    task_ids = select(Task.id).where(Task.finding_id.in_(finding_ids))
    counts = {name: db.session.execute(select(func.count()).select_from(ids.subquery())).scalar()
              for name, ids in (("visits", visit_ids), ("findings", finding_ids), ("tasks", task_ids))}
    if kind == ADDENDUM and not any(counts.values()):
        return None
    photos = db.session.execute(
        select(Photo.id, Photo.purpose, Photo.sha256)
        .where(
            Photo.status == choices.PHOTO_RECEIVED,
            or_(Photo.visit_id.in_(visit_ids), Photo.finding_id.in_(finding_ids), Photo.task_id.in_(task_ids)),
        )
        .order_by(Photo.id)
    ).all()
    number = row.addendum_count + 1 if kind == ADDENDUM else 0
    stem = f"{site.code}-{month}" + (f"-addendum-{number:02d}" if number else "")
    return Job(
        site=SimpleNamespace(id=site.id, code=site.code, name_zh=site.name_zh, name_en=site.name_en, timezone=site.timezone),
        month=month, kind=kind, number=number, since=since, sealed_at=row.sealed_at, built_at=now, filed=filed,
        summary=summary(site, month, now), visit_where=visit_where, finding_where=finding_where, counts=counts,
        photos=tuple(tuple(p) for p in photos), path=archive_dir(site, month) / f"{stem}.zip",
    )


# --- writing: outside any transaction ----------------------------------------------------------


_plain_engines: dict = {}


@contextmanager
def _read_connection():
    """A connection for reading a month while the bundle is rendered.

    SQLite: an engine of its own without the app's BEGIN IMMEDIATE, so the reads take
    no write lock (WAL lets phones keep syncing meanwhile). PostgreSQL: a pooled
    connection; reads never block writers there.
    """
    engine = db.engine
    if engine.dialect.name == "sqlite":
        key = str(engine.url)
        engine = _plain_engines.get(key) or _plain_engines.setdefault(key, create_engine(engine.url, poolclass=NullPool))
    conn = engine.connect()
    try:
        yield conn
    finally:
        conn.close()


def _write_tables(job: Job, work: Path) -> list[str]:
    """CSV per table and one XLSX with a sheet per table; returns the relative paths, the XLSX first."""
    wheres = {"visits": job.visit_where, "findings": job.finding_where, "tasks": job.finding_where, "verifications": job.finding_where}
    out = ["record.xlsx"]
    for name, where in wheres.items():
        write_csv(work / f"{name}.csv", name, ROWS[name](job.site, where))
        out.append(f"{name}.csv")
    write_xlsx(work / "record.xlsx", [(SHEET_TITLES[name], name, ROWS[name](job.site, where)) for name, where in wheres.items()])
    return out


def _copy_photos(job: Job, work: Path) -> list[dict]:
    entries = []
    for photo_id, purpose, original_sha in job.photos:
        src = photo_file(photo_id)
        rel = f"photos/{photo_id}.jpg"
        if src is None:
            # A sound clip ("listen"), kept as recorded: filed under sounds/ with its container's extension.
            src = sound_path(photo_id)
            if not src.is_file():
                continue
            with open(src, "rb") as fh:
                clip = sniff(fh.read())
            rel = f"sounds/{photo_id}.{SOUND_EXT.get(clip.container if clip else '', 'bin')}"
        (work / rel.split("/")[0]).mkdir(exist_ok=True)
        shutil.copyfile(src, work / rel)
        entries.append({"id": photo_id, "purpose": purpose, "path": rel, "original_sha256": original_sha})
    return entries


def write(job: Job, render_pdf: Callable[[Path, Job], None]) -> tuple[str, dict]:
    """Write the job's zip under its final name; returns its SHA-256 and the manifest's counts.

    The files are written to a temporary folder and zipped; the zip is moved into place
    under its final name only when complete, so a crash never leaves a half bundle.
    """
    job.path.parent.mkdir(parents=True, exist_ok=True)
    if job.path.exists():
        # A leftover of a build whose transaction failed: it was never recorded as filed.
        set_aside(job.path, job.built_at)
    stem = job.path.stem
    work = Path(tempfile.mkdtemp(prefix=f"{stem}-", dir=job.path.parent))
    try:
        with _read_connection() as conn, reading(conn):
            written = _write_tables(job, work)
            render_pdf(work / "record.pdf", job)
        photos = _copy_photos(job, work)
        manifest = {
            "format": MANIFEST_FORMAT,
            "kind": job.kind,
            "addendum_number": job.number or None,
            "site": job.summary["site"],
            "month": job.month,
            "sealed_at": stamp(job.sealed_at),
            "built_at": stamp(job.built_at),
            "records_received_after": stamp(job.since),
            "base_bundle_sha256": job.filed[0]["sha256"] if job.filed else None,
            "counts": {**job.counts, "photos": len(photos)},
            "summary": job.summary if job.kind == BUNDLE else None,
            "files": [{"path": rel, "sha256": sha256_file(work / rel), "bytes": (work / rel).stat().st_size}
                      for rel in ["record.pdf", *written, *(p["path"] for p in photos)]],
            "photos": photos,
        }
        (work / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
        tmp_zip = work / "bundle.zip"
        with zipfile.ZipFile(tmp_zip, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for rel in ["manifest.json"] + [f["path"] for f in manifest["files"]]:
                # Photos are JPEGs already: storing them saves time and gains nothing.
                zf.write(work / rel, f"{stem}/{rel}", compress_type=zipfile.ZIP_STORED if rel.startswith("photos/") else zipfile.ZIP_DEFLATED)
        digest = sha256_file(tmp_zip)
        os.replace(tmp_zip, job.path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return digest, manifest["counts"]


# --- the filed files ----------------------------------------------------------------------------


def file_for(site_id: int, month: str, name: str | None) -> dict:
    """A filed file of a month by name (the sealed bundle when no name is given)."""
    row = get_row(site_id, month)
    if row is None or not row.files:
        raise NotFound("This month has no filed bundle yet.")
    for f in row.files:
        if (name is None and f["kind"] == BUNDLE) or f["name"] == name:
            if not Path(f["path"]).is_file():
                raise Gone("This file was removed (the month was purged).", "bundle_removed")
            return f
    raise NotFound("No such file filed for this month.")


def verify_zip(path) -> list[str]:
    """Problems found in a bundle zip (empty when every file matches its manifest hash)."""
    problems = []
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            manifests = [n for n in names if n.endswith("/manifest.json") and n.count("/") == 1]
            if len(manifests) != 1:
                return ["no manifest.json at the top of the bundle"]
            prefix = manifests[0][: -len("manifest.json")]
            manifest = json.loads(zf.read(manifests[0]))
            listed = set()
            for f in manifest.get("files", []):
                name = prefix + f["path"]
                listed.add(name)
                if name not in names:
                    problems.append(f"{f['path']}: missing")
                    continue
                with zf.open(name) as fh:
                    if _sha256(fh) != f["sha256"]:
                        problems.append(f"{f['path']}: hash does not match the manifest")
            for extra in sorted(set(names) - listed - {manifests[0]}):
                problems.append(f"{extra[len(prefix):]}: not in the manifest")
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        problems.append(f"not a readable bundle: {exc}")
    return problems


def verify_filed(row: MonthArchive) -> list[str]:
    """Check every filed file of a month against the hash recorded when it was filed."""
    problems = []
    for f in row.files or []:
        path = Path(f["path"])
        if not path.is_file():
            problems.append(f"{f['name']}: missing")
            continue
        if sha256_file(path) != f["sha256"]:
            problems.append(f"{f['name']}: changed since it was filed")
        problems.extend(f"{f['name']}: {p}" for p in verify_zip(path))
    return problems
