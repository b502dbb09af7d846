"""A month's bundle: which records go in, the tables, photos and manifest, the zip and its hashes, and checking them.

A bundle is planned inside the caller's transaction (`plan`, which reads the filing row's
state, the records' selection and the summary) and written outside it (`write`, which
reads the rows through a connection of its own and touches no session). Every file in
the zip is hashed into its manifest; the zip's own hash is recorded by filing.py.

The zip is made in a scratch folder on this machine and then stored in the `archives`
area of the file store (server/storage: ARCHIVE_DIR, or the bucket's archives/ prefix)
under `<SITE>/<YYYY-MM>/<name>.zip`, all or nothing and verified by SHA-256. Checking a
filed month (`verify_filed`) reads each file back from the store.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
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
from ..exports import ROWS, SHEET_TITLES, complaint_stat_rows, reading, write_csv, write_xlsx
from ..extensions import db
from ..models import Finding, MonthArchive, Photo, Site, Task, Visit
from ..fonts import font_setting, register_font
from ..photos import make_copies_where, photo_key
from ..sounds import sniff, sound_key
from ..problems import Gone, NotFound, Unavailable
from ..storage import MissingObject, StorageError, Store, get_store
from ..timeutil import local_iso
from .state import get_row
from .summary import summary

MANIFEST_FORMAT = "patrol-archive/1"
BUNDLE = "bundle"
ADDENDUM = "addendum"


def stamp(dt: datetime | None) -> str | None:
    """Naive UTC → ISO 8601 to the second with Z, as the filing row's file entries write it."""
    return dt.isoformat(timespec="seconds") + "Z" if dt else None


def archive_key(site_code: str, month: str, name: str) -> str:
    return f"{site_code}/{month}/{name}"


def file_key(entry: dict) -> str:
    """The store key of a filed file; files filed before the store existed recorded only a path ending <SITE>/<month>/<name>."""
    return entry.get("key") or "/".join(Path(entry["path"]).parts[-3:])


def locate(store: Store, key: str) -> str:
    """Where a filed file is, for people: the local path, or s3://bucket/key."""
    path = store.local_path(key)
    return str(path) if path is not None else store.describe() + key


SOUND_EXT = {"webm": "webm", "ogg": "ogg", "mp4": "m4a"}


def photo_file(photo_id: str, scratch: Path | None = None, key: str | None = None) -> Path | None:
    """A local file with the display copy of a received photo (or the object `key`), if the store has it.

    The local store's own file; from a bucket, a copy fetched into `scratch/photos/`
    (where the zip takes it from), once per build.
    """
    store = get_store("photos")
    key = key or photo_key(photo_id, "display")
    path = store.local_path(key)
    if path is not None or scratch is None:
        return path
    target = scratch / "photos" / key.rsplit("/", 1)[-1]
    if target.is_file():
        return target
    target.parent.mkdir(exist_ok=True)
    try:
        with store.open(key) as src, open(target, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
    except MissingObject:
        target.unlink(missing_ok=True)
        return None
    return target


def _sha256(fh) -> str:
    h = hashlib.sha256()
    while chunk := fh.read(1 << 16):
        h.update(chunk)
    return h.hexdigest()


def sha256_file(path) -> str:
    with open(path, "rb") as fh:
        return _sha256(fh)


def set_aside(key: str, now: datetime) -> None:
    """Move a zip that must not stand under its filed name; a filed file is never overwritten."""
    store = get_store("archives")
    orphan = key.removesuffix(".zip") + f".orphan-{now:%Y%m%d%H%M%S%f}.zip"
    with tempfile.TemporaryDirectory(prefix="patrol-orphan-") as tmp:
        copy = Path(tmp) / "orphan.zip"
        try:
            with store.open(key) as src, open(copy, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
        except MissingObject:
            return
        store.put_file(orphan, copy, content_type="application/zip")
    store.delete(key)


# --- before anything changes: what filing needs -------------------------------------------------


def preflight(site: Site, month: str, photo_bytes: int = 0) -> None:
    """Unavailable (503) unless a bundle can be filed now: the font, a store that takes it, free space.

    Sealing calls this before it changes the month's state, so a machine that cannot file
    refuses the seal and leaves the month open, rather than sealing it without a bundle.
    The zip is made in a scratch folder on this machine (tempfile's), so that folder needs
    room for the month's photos too; a local store needs the same room under ARCHIVE_DIR.
    """
    register_font(font_setting(current_app.config))
    store = get_store("archives")
    folder = None
    if store.backend == "local":
        folder = Path(current_app.config["ARCHIVE_DIR"]) / site.code / month
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
                pass
        except OSError as exc:
            raise Unavailable(
                f"The archive folder {folder} cannot be written ({exc.strerror or exc}). "
                "Make ARCHIVE_DIR a folder the server may write to.",
                "archive_dir_unwritable",
            ) from exc
    else:
        try:
            store.check()
        except (StorageError, OSError) as exc:
            raise Unavailable(f"The archive store {store.describe()} cannot be reached ({exc}).", "storage_unavailable") from exc
    need = current_app.config.get("ARCHIVE_MIN_FREE_BYTES", 0) + photo_bytes
    for where in ([folder] if folder is not None else []) + [Path(tempfile.gettempdir())]:
        free = shutil.disk_usage(where).free
        if free < need:
            raise Unavailable(
                f"{where} has {free // 2**20} MiB free; filing this month needs {need // 2**20 + 1} MiB "
                "(ARCHIVE_MIN_FREE_MB plus the month's photos).",
                "archive_disk_full",
            )


def photo_bytes(job: "Job") -> int:
    """What the month's photos take: the bundle copies them (sizes from the store, nothing fetched)."""
    store = get_store("photos")
    total = 0
    for photo_id, _purpose, _sha in job.photos:
        try:
            total += store.size(photo_key(photo_id, "display"))
        except MissingObject:
            pass
    return total


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
    name: str  # the zip's file name, <SITE>-<YYYY-MM>[-addendum-NN].zip
    key: str  # its key in the archives store
    scratch: Path | None = None  # the folder the zip is made in, while `write` runs


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
    linked = or_(Photo.visit_id.in_(visit_ids), Photo.finding_id.in_(finding_ids), Photo.task_id.in_(task_ids))
    # Copies the photo worker has not made yet are made now: the bundle files display copies only.
    make_copies_where(linked)
    photos = db.session.execute(
        select(Photo.id, Photo.purpose, Photo.sha256)
        .where(
            Photo.status == choices.PHOTO_RECEIVED,
            linked,
        )
        .order_by(Photo.id)
    ).all()
    number = row.addendum_count + 1 if kind == ADDENDUM else 0
    stem = f"{site.code}-{month}" + (f"-addendum-{number:02d}" if number else "")
    return Job(
        site=SimpleNamespace(id=site.id, code=site.code, name_zh=site.name_zh, name_en=site.name_en, timezone=site.timezone),
        month=month, kind=kind, number=number, since=since, sealed_at=row.sealed_at, built_at=now, filed=filed,
        summary=summary(site, month, now), visit_where=visit_where, finding_where=finding_where, counts=counts,
        photos=tuple(tuple(p) for p in photos), name=f"{stem}.zip", key=archive_key(site.code, month, f"{stem}.zip"),
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
    wheres = {"visits": job.visit_where, "findings": job.finding_where, "tasks": job.finding_where, "verifications": job.finding_where,
              "resident_notes": job.visit_where}
    out = ["record.xlsx"]
    for name, where in wheres.items():
        write_csv(work / f"{name}.csv", name, ROWS[name](job.site, where))
        out.append(f"{name}.csv")
    sheets = [(SHEET_TITLES[name], name, ROWS[name](job.site, where)) for name, where in wheres.items()]
    if job.kind == BUNDLE:
        # The month's complaint classification statistics, from the summary read with the job: a file and a sheet.
        stats = job.summary.get("complaints")
        write_csv(work / "complaint_stats.csv", "complaint_stats", complaint_stat_rows(stats))
        out.append("complaint_stats.csv")
        sheets.append((SHEET_TITLES["complaint_stats"], "complaint_stats", complaint_stat_rows(stats)))
    write_xlsx(work / "record.xlsx", sheets)
    return out


def _copy_photos(job: Job, work: Path) -> list[dict]:
    entries = []
    for photo_id, purpose, original_sha in job.photos:
        rel = f"photos/{photo_id}.jpg"
        src = photo_file(photo_id, work)
        if src is None:
            # A sound clip ("listen"), kept as recorded: filed under sounds/ with its container's extension.
            src = photo_file(photo_id, work, sound_key(photo_id))
            if src is None:
                continue
            with open(src, "rb") as fh:
                clip = sniff(fh.read())
            rel = f"sounds/{photo_id}.{SOUND_EXT.get(clip.container if clip else '', 'bin')}"
        if src != work / rel:
            (work / rel.split("/")[0]).mkdir(exist_ok=True)
            shutil.copyfile(src, work / rel)
        entries.append({"id": photo_id, "purpose": purpose, "path": rel, "original_sha256": original_sha})
    return entries


def write(job: Job, render_pdf: Callable[[Path, Job], None]) -> tuple[str, dict, int]:
    """Store the job's zip under its final key; returns its SHA-256, the manifest's counts and its size.

    The files are written to a scratch folder and zipped; the zip is stored under its
    final key only when complete and verified (server/storage), so a crash never leaves
    a half bundle.
    """
    store = get_store("archives")
    if store.exists(job.key):
        # A leftover of a build whose transaction failed: it was never recorded as filed.
        set_aside(job.key, job.built_at)
    stem = job.name.removesuffix(".zip")
    work = Path(tempfile.mkdtemp(prefix=f"patrol-{stem}-"))
    job = dataclasses.replace(job, scratch=work)
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
            # Times in the manifest: site-local ISO 8601 with the offset, as the records read.
            "timezone": job.site.timezone,
            "sealed_at": local_iso(job.sealed_at, job.site.timezone),
            "built_at": local_iso(job.built_at, job.site.timezone),
            "records_received_after": local_iso(job.since, job.site.timezone),
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
        size = tmp_zip.stat().st_size
        store.put_file(job.key, tmp_zip, digest, "application/zip")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return digest, manifest["counts"], size


# --- the filed files ----------------------------------------------------------------------------


def file_for(site_id: int, month: str, name: str | None) -> dict:
    """A filed file of a month by name (the sealed bundle when no name is given)."""
    row = get_row(site_id, month)
    if row is None or not row.files:
        raise NotFound("This month has no filed bundle yet.")
    for f in row.files:
        if (name is None and f["kind"] == BUNDLE) or f["name"] == name:
            if not get_store("archives").exists(file_key(f)):
                raise Gone("This file was removed (the month was purged).", "bundle_removed")
            return f
    raise NotFound("No such file filed for this month.")


def record_pdf(site_id: int, month: str, name: str | None) -> tuple[bytes, str]:
    """(the bytes, a file name) of the record.pdf inside a filed bundle or addendum, read from its zip."""
    f = file_for(site_id, month, name)
    stem = Path(f["name"]).stem
    store = get_store("archives")
    key = file_key(f)
    with tempfile.TemporaryDirectory(prefix="patrol-record-") as tmp:
        path = store.local_path(key)
        if path is None:  # a bucket: the zip's directory is at its end, so fetch it whole
            path = Path(tmp) / "bundle.zip"
            with store.open(key) as src, open(path, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
        with zipfile.ZipFile(path) as zf:
            try:
                data = zf.read(f"{stem}/record.pdf")
            except KeyError:
                raise NotFound("This filed file holds no record.pdf.") from None
    return data, f"{stem}.pdf"


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
    """Check every filed file of a month, as the store holds it now, against the hash recorded when it was filed and its manifest."""
    problems = []
    store = get_store("archives")
    for f in row.files or []:
        key = file_key(f)
        with tempfile.TemporaryDirectory(prefix="patrol-verify-") as tmp:
            path = store.local_path(key)
            if path is None:
                path = Path(tmp) / "filed.zip"
                try:
                    with store.open(key) as src, open(path, "wb") as out:
                        shutil.copyfileobj(src, out, 1 << 20)
                except MissingObject:
                    problems.append(f"{f['name']}: missing")
                    continue
            if sha256_file(path) != f["sha256"]:
                problems.append(f"{f['name']}: changed since it was filed")
            problems.extend(f"{f['name']}: {p}" for p in verify_zip(path))
    return problems
