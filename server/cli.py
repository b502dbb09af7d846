"""The `flask` commands: checklists, users, demo data, audit."""

from __future__ import annotations

import click
from flask import Flask, current_app
from sqlalchemy import select

from . import choices


def init_app(app: Flask) -> None:
    app.cli.add_command(checklists_group)
    app.cli.add_command(users_group)
    app.cli.add_command(seed_demo)
    app.cli.add_command(audit_group)
    app.cli.add_command(tasks_group)
    app.cli.add_command(webhooks_group)


@click.group("checklists")
def checklists_group():
    """Checklist files in checklists/."""


@checklists_group.command("validate")
@click.option("--dir", "directory", default=None, help="Folder to check (default: the app's checklists/).")
def checklists_validate(directory):
    """Check every checklist file; name the file, item and field of each problem."""
    from .checklists import ChecklistError, load_dir

    try:
        loaded = load_dir(directory or current_app.config["CHECKLIST_DIR"])
    except ChecklistError as exc:
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
    from .accounts import create_user, grant
    from .errors import ApiError
    from .extensions import db
    from .models import Site

    site = db.session.execute(select(Site).where(Site.code == site_code)).scalar_one_or_none()
    if site is None:
        raise click.ClickException(f"no site with code {site_code!r}")
    try:
        user = create_user(username, password, display_name)
        for role in roles:
            grant(user, site.id, role)
    except ApiError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message)
    db.session.commit()
    click.echo(f"created {username} ({', '.join(roles)} at {site_code})")


@click.command("seed-demo")
def seed_demo():
    """Create the demo site, its checkpoints and one user per role (idempotent)."""
    from .demo import seed

    site, created = seed()
    click.echo(f"demo site {site.code}: {'created' if created else 'already there, checked'}")


@click.group("audit")
def audit_group():
    """The audit trail."""


@audit_group.command("verify")
def audit_verify():
    """Check the audit chain; name the first broken event."""
    from .audit import verify

    checked, broken, reason = verify()
    if broken is None:
        click.echo(f"ok: {checked} events, chain intact")
        return
    click.echo(f"BROKEN at event {broken}: {reason} ({checked} events before it are intact)", err=True)
    raise SystemExit(1)


@click.group("tasks")
def tasks_group():
    """Repair tasks."""


@tasks_group.command("escalate")
def tasks_escalate():
    """Escalate overdue tasks to supervisors and managers (run daily; once a day per task)."""
    from .extensions import db
    from .notifications import escalate_overdue

    count = escalate_overdue()
    db.session.commit()
    click.echo(f"escalated {count} overdue task(s)")


@click.group("webhooks")
def webhooks_group():
    """Outbound webhooks."""


@webhooks_group.command("deliver")
@click.option("--limit", default=200, show_default=True, help="Most deliveries to try in this run.")
def webhooks_deliver(limit):
    """Send due webhook deliveries, retrying failures with backoff (run every minute)."""
    from .webhooks import deliver_pending

    counts = deliver_pending(limit=limit)
    click.echo(f"sent {counts['sent']}, retrying {counts['retrying']}, failed {counts['failed']}")
