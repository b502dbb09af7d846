"""The `flask` commands: checklists, users, demo data, audit, tasks, webhooks, archive, retention, checkpoints, sync, storage.

A command commits the work of the domain functions it calls; the few domain functions
that commit on their own say why in their module's docstring. The scheduled ones may be
started on every app node at once (docs/deploy.md): each runs under its job's advisory
lock (`joblock.single_run`), except `webhooks deliver`, whose runs share the queue.
"""

from __future__ import annotations

from datetime import timedelta

import functools

import click
from flask import Flask, current_app
from sqlalchemy import select

from . import archive, audit, checklists, choices, labels, photos, sealing, webhooks
from .accounts import create_user, grant
from .checkpoint_csv import export_csv, import_csv
from .demo import seed
from .extensions import db
from .fonts import font_setting
from .joblock import single_run
from .models import Checkpoint, MonthArchive, Site, User, utcnow
from .months import parse_month
from .problems import Problem
from .retention import purge
from .sites import open_site
from .storage import AREAS, StorageError, get_store, local_store, sweep_all
from .sync import prune_tombstones
from .tasks import escalate_overdue


def init_app(app: Flask) -> None:
    app.cli.add_command(checklists_group)
    app.cli.add_command(users_group)
    app.cli.add_command(seed_demo)
    app.cli.add_command(audit_group)
    app.cli.add_command(checkpoints_group)
    app.cli.add_command(tasks_group)
    app.cli.add_command(webhooks_group)
    app.cli.add_command(archive_group)
    app.cli.add_command(retention_group)
    app.cli.add_command(sync_group)
    app.cli.add_command(complaints_group)
    app.cli.add_command(sites_group)
    app.cli.add_command(storage_group)
    app.cli.add_command(photos_group)


def once_across_nodes(job: str):
    """Run the command only if no other process (on any node) runs the same job now; otherwise say so and succeed."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with single_run(job) as mine:
                if not mine:
                    click.echo(f"skipped: {job} is running on another node")
                    return None
                return fn(*args, **kwargs)

        return wrapper

    return decorate


@click.group("checklists")
def checklists_group():
    """Checklist files in checklists/."""


@checklists_group.command("validate")
@click.option("--dir", "directory", default=None, help="Folder to check (default: the app's checklists/).")
def checklists_validate(directory):
    """Check every checklist file; name the file, item and field of each problem."""
    try:
        loaded = checklists.load_dir(directory or current_app.config["CHECKLIST_DIR"])
    except checklists.ChecklistError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        raise SystemExit(1)
    for kind, checklist in loaded.items():
        click.echo(f"ok: {kind}.toml: {len(checklist.items)} items")


@click.group("users")
def users_group():
    """User accounts."""


@users_group.command("create")
@click.argument("username")
@click.option("--site", "site_code", required=True, help="Site code the roles apply to.")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(choices.ROLES))
@click.option("--name", "display_name", default="", help="Display name.")
@click.password_option(help="Password (asked for when not given).")
def users_create(username, site_code, roles, display_name, password):
    """Create a user with roles at a site."""
    site = db.session.execute(select(Site).where(Site.code == site_code)).scalar_one_or_none()
    if site is None:
        raise click.ClickException(f"no site with code {site_code!r}")
    try:
        user = create_user(username, password, display_name)
        for role in roles:
            grant(user, site.id, role)
    except Problem as exc:
        db.session.rollback()
        raise click.ClickException(exc.message)
    db.session.commit()
    click.echo(f"created {username} ({', '.join(roles)} at {site_code})")


@click.command("seed-demo")
def seed_demo():
    """Create the demo site, its checkpoints and one user per role (idempotent)."""
    site, created = seed()
    click.echo(f"demo site {site.code}: {'created' if created else 'already there, checked'}")
    from .demo import seed_complaints

    made = seed_complaints(site)
    if made:
        click.echo(f"demo complaints: {made}")


@click.group("sites")
def sites_group():
    """Sites: open a new one."""


@sites_group.command("create")
@click.argument("code")
@click.option("--name-zh", required=True, help="Chinese name, e.g. 滨江花园.")
@click.option("--name-en", default="", help="English name.")
@click.option("--timezone", default=None, help="IANA timezone (default: DEFAULT_TIMEZONE).")
@click.option("--admin", "admin_name", default=None, help="Username of an existing user who becomes the site's admin.")
def sites_create(code, name_zh, name_en, timezone, admin_name):
    """Open a site with the default departments (all or nothing)."""
    admin = None
    if admin_name:
        admin = db.session.execute(select(User).where(User.username == admin_name)).scalar_one_or_none()
        if admin is None:
            raise click.ClickException(f"no user {admin_name!r}: create one with `flask users create`")
    try:
        site = open_site(code, name_zh, name_en, timezone, admin=admin)
        db.session.commit()
    except Problem as exc:
        db.session.rollback()
        raise click.ClickException(exc.message)
    who = f", admin {admin.username}" if admin else "; give it people with `flask users create NAME --site CODE --role ROLE`"
    click.echo(f"created site {site.code} ({site.name_zh}, {site.timezone}){who}")


@click.group("audit")
def audit_group():
    """The audit trail."""


@audit_group.command("verify")
def audit_verify():
    """Check the audit chain; name the first broken event."""
    checked, broken, reason = audit.verify()
    if broken is None:
        click.echo(f"ok: {checked} events, chain intact")
        return
    click.echo(f"BROKEN at event {broken}: {reason} ({checked} events before it are intact)", err=True)
    raise SystemExit(1)


@click.group("tasks")
def tasks_group():
    """Repair tasks."""


@tasks_group.command("escalate")
@once_across_nodes("tasks escalate")
def tasks_escalate():
    """Escalate overdue tasks to supervisors and managers (run daily; once a day per task)."""
    count = escalate_overdue()
    db.session.commit()
    click.echo(f"escalated {count} overdue task(s)")


@click.group("sync")
def sync_group():
    """The phones' pull log."""


@sync_group.command("prune")
@click.option("--older-than-days", "days", type=click.IntRange(min=1), default=None, help="default: SYNC_TOMBSTONE_DAYS")
@once_across_nodes("sync prune")
def sync_prune(days):
    """Drop deletion records older than N days (run daily); phones behind them start again."""
    days = days or current_app.config["SYNC_TOMBSTONE_DAYS"]
    count = prune_tombstones(utcnow() - timedelta(days=days))
    db.session.commit()
    click.echo(f"dropped {count} deletion record(s) older than {days} days")


@click.group("photos")
def photos_group():
    """Photos received but not yet turned into their display copy and thumbnail."""


@photos_group.command("copies")
@click.option("--watch", is_flag=True, help="Keep running: look again every --interval seconds (the photo worker process).")
@click.option("--interval", type=click.FloatRange(min=0.1), default=1.0, show_default=True)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Photos per pass.")
def photos_copies(watch, interval, limit):
    """Make the display copy and thumbnail of received photos (docs/deploy.md, "The photo worker")."""
    import time

    total = 0
    while True:
        done = photos.make_pending_copies(limit)
        total += done
        if not watch:
            break
        db.session.remove()  # no connection held while idle
        if done < limit:
            time.sleep(interval)
    click.echo(f"made the copies of {total} photo(s)")


@click.group("webhooks")
def webhooks_group():
    """Outbound webhooks."""


@webhooks_group.command("deliver")
@click.option("--limit", default=200, show_default=True, help="Most deliveries to try in this run.")
def webhooks_deliver(limit):
    """Send due webhook deliveries, retrying failures with backoff (run every minute)."""
    counts = webhooks.deliver_pending(limit=limit)
    click.echo(f"sent {counts['sent']}, retrying {counts['retrying']}, failed {counts['failed']}")


@click.group("archive")
def archive_group():
    """Month-end filing: seal months, build bundles and addenda, verify them."""


def _site_months(site_code, month):
    sites = db.session.execute(select(Site).order_by(Site.code)).scalars().all()
    if site_code:
        sites = [s for s in sites if s.code == site_code]
        if not sites:
            raise click.ClickException(f"no site with code {site_code!r}")
    if month:
        try:
            parse_month(month)
        except Exception:
            raise click.ClickException("--month is written YYYY-MM")
    return [(s, month or archive.previous_month(s)) for s in sites]


@archive_group.command("seal")
@click.option("--site", "site_code", default=None, help="Site code (default: every site).")
@click.option("--month", default=None, help="YYYY-MM (default: each site's previous month, once it has ended there).")
@once_across_nodes("archive filing")
def archive_seal(site_code, month):
    """Seal a month and file its bundle (run daily; sealing again is harmless)."""
    failed = False
    for site, m in _site_months(site_code, month):
        state = sealing.state_of(site.id, m)
        try:
            archive.seal(site, m, actor_id=None)
            db.session.commit()
        except Problem as exc:
            db.session.rollback()
            click.echo(f"{site.code} {m}: not sealed: {exc.message}", err=True)
            failed = failed or exc.code != "month_not_ended"
            continue
        row = archive.get_row(site.id, m)
        if state == "open":
            click.echo(f"{site.code} {m}: sealed, bundle {row.bundle_sha256 or '(not built)'}")
        else:
            click.echo(f"{site.code} {m}: already {state}")
    if failed:
        raise SystemExit(1)


@archive_group.command("build")
@once_across_nodes("archive filing")
def archive_build():
    """Build missing bundles, and an addendum for each sealed month with late records."""
    built = archive.build_pending()
    db.session.commit()
    for site, month, entry in built:
        click.echo(f"{site.code} {month}: {entry['kind']} {entry['name']} sha256 {entry['sha256']}")
    click.echo(f"built {len(built)} file(s)")


@archive_group.command("verify")
@click.option("--site", "site_code", default=None, help="Site code (default: every site).")
def archive_verify(site_code):
    """Check every filed bundle and addendum against its manifest and its recorded hash."""
    stmt = select(MonthArchive, Site).join(Site, Site.id == MonthArchive.site_id).order_by(Site.code, MonthArchive.month)
    if site_code:
        stmt = stmt.where(Site.code == site_code)
    bad = 0
    for row, site in db.session.execute(stmt).all():
        if not row.files or row.state == "purged":
            continue
        problems = archive.verify_filed(row)
        for p in problems:
            click.echo(f"{site.code} {row.month}: {p}", err=True)
        if not problems:
            click.echo(f"{site.code} {row.month}: ok ({len(row.files)} file(s))")
        bad += len(problems)
    if bad:
        raise SystemExit(1)


@click.group("retention")
def retention_group():
    """Two-year retention: purge old records (legal holds keep them)."""


@retention_group.command("purge")
@click.option("--apply", "apply_", is_flag=True, help="Really delete (default: a dry run that only prints).")
@click.option("--site", "site_code", default=None, help="Only this site.")
@once_across_nodes("retention purge")
def retention_purge(apply_, site_code):
    """Remove records older than RETENTION_MONTHS after their month's end (dry run by default)."""
    plans = purge(apply=apply_, site_code=site_code, by_name="flask retention purge")
    verb = "purged" if apply_ else "would purge"
    for p in plans:
        if p["action"] == "purge":
            counts = ", ".join(f"{k} {v}" for k, v in p["counts"].items() if v)
            held = f"; kept under hold: {p['held']}" if p["held"] else ""
            click.echo(f"{p['site']} {p['month']}: {verb} {counts}{held}")
        else:
            click.echo(f"{p['site']} {p['month']}: kept ({p['reason']})")
    if not plans:
        click.echo("nothing is past the retention period")
    if not apply_ and any(p["action"] == "purge" for p in plans):
        click.echo("dry run: nothing was changed; run with --apply to delete")


@click.group("checkpoints")
def checkpoints_group():
    """A site's checkpoints: CSV import and export, printable QR labels."""


def _site_by_code(code: str):
    site = db.session.execute(select(Site).where(Site.code == code)).scalar_one_or_none()
    if site is None:
        raise click.ClickException(f"no site with code {code!r}")
    return site


@checkpoints_group.command("import")
@click.option("--site", "site_code", required=True, help="Site code.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def checkpoints_import(site_code, path):
    """Import checkpoints from a CSV file, all rows or none (docs/checkpoints.md)."""
    site = _site_by_code(site_code)
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        result = import_csv(site, data)
    except Problem as exc:
        db.session.rollback()
        for row in exc.details.get("rows", []):
            for problem in row["errors"]:
                click.echo(f"line {row['line']}: {problem}", err=True)
        raise click.ClickException(exc.message)
    db.session.commit()
    click.echo(f"created {result['created']}, updated {result['updated']}, unchanged {result['unchanged']}")


@checkpoints_group.command("export")
@click.option("--site", "site_code", required=True, help="Site code.")
@click.option("--building", default=None, help="Only this building.")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
def checkpoints_export(site_code, building, path):
    """Write a site's checkpoints to a CSV file (UTF-8 with BOM, for Excel)."""
    with open(path, "wb") as fh:
        fh.write(export_csv(_site_by_code(site_code), building))
    click.echo(f"wrote {path}")


@checkpoints_group.command("labels")
@click.option("--site", "site_code", required=True, help="Site code.")
@click.option("--base-url", default=None, help="URL the QR codes point to (default: PUBLIC_URL).")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
def checkpoints_labels(site_code, base_url, path):
    """Write the A4 PDF of QR labels for every active checkpoint of a site."""
    base = base_url or current_app.config.get("PUBLIC_URL")
    if not base:
        raise click.ClickException("give --base-url or set PUBLIC_URL: the QR codes must point at the server")
    site = _site_by_code(site_code)
    stmt = select(Checkpoint).where(Checkpoint.site_id == site.id, Checkpoint.active.is_(True)).order_by(Checkpoint.position, Checkpoint.id)
    chosen = db.session.execute(stmt).scalars().all()
    try:
        pdf = labels.labels_pdf(site, chosen, base, checklists.kind_names(), font_setting(current_app.config))
    except Problem as exc:
        raise click.ClickException(exc.message)
    with open(path, "wb") as fh:
        fh.write(pdf)
    click.echo(f"wrote {len(chosen)} labels to {path}")


@click.group("complaints")
def complaints_group():
    """Residents' complaints."""


@complaints_group.command("escalate")
@once_across_nodes("complaints escalate")
def complaints_escalate():
    """Raise complaints past their deadline level by level (run hourly; each level once per complaint)."""
    from .complaints import escalate_due

    count = escalate_due()
    db.session.commit()
    click.echo(f"raised {count} complaint level(s)")


@click.group("storage")
def storage_group():
    """The file store of photos and month bundles (local disk or S3-compatible bucket)."""


@storage_group.command("check")
def storage_check():
    """Say where files are kept and whether the store can be reached."""
    for area in AREAS:
        store = get_store(area)
        try:
            store.check()
        except (StorageError, OSError) as exc:
            raise click.ClickException(f"{area}: {store.describe()}: {exc}")
        click.echo(f"{area}: {store.backend} {store.describe()}: ok")


@storage_group.command("sweep")
@click.option("--older-than-hours", "hours", type=click.IntRange(min=0), default=None, help="default: STORAGE_TEMP_HOURS")
@once_across_nodes("storage sweep")
def storage_sweep(hours):
    """Remove temporaries that interrupted uploads left behind (run daily)."""
    age = timedelta(hours=hours if hours is not None else current_app.config["STORAGE_TEMP_HOURS"])
    for area, count in sweep_all(age).items():
        click.echo(f"{area}: removed {count} stale temporar{'y' if count == 1 else 'ies'}")


CONTENT_TYPES = {".jpg": "image/jpeg", ".zip": "application/zip"}


@storage_group.command("migrate")
@click.option("--verify", is_flag=True, help="Also re-read every object the bucket already holds and compare its SHA-256.")
def storage_migrate(verify):
    """Copy the local store (PHOTO_DIR, ARCHIVE_DIR) into the bucket; resumable, every object checked by SHA-256.

    Run with STORAGE_BACKEND=s3 and the S3_* settings while the old folders are still
    mounted. An object the bucket already holds with the same SHA-256 is skipped, so a
    run that was interrupted is simply started again. The local files are left in place.
    """
    if current_app.config["STORAGE_BACKEND"] != "s3":
        raise click.ClickException("set STORAGE_BACKEND=s3 and the S3_* settings: migrate copies the local folders into the bucket")
    failed = 0
    for area in AREAS:
        source, target = local_store(area), get_store(area)
        keys = sorted(source.keys())
        copied = skipped = 0
        with click.progressbar(keys, label=f"{area} ({len(keys)} files)", show_pos=True, show_percent=True) as bar:
            for key in bar:
                digest = source.sha256(key)
                held = target.recorded_sha256(key)
                if held == digest and (not verify or target.sha256(key) == digest):
                    skipped += 1
                    continue
                try:
                    suffix = key[key.rfind("."):]
                    target.put_file(key, source.local_path(key), digest, CONTENT_TYPES.get(suffix, "application/octet-stream"))
                    copied += 1
                except StorageError as exc:
                    failed += 1
                    click.echo(f"\n{area}/{key}: {exc}", err=True)
        click.echo(f"{area}: copied {copied}, already there {skipped}, from {source.describe()} to {target.describe()}")
    if failed:
        raise click.ClickException(f"{failed} file(s) not copied; run the command again")
