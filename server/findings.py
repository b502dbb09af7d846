"""Findings: the one way a problem enters the system, from sync or from the web API.

`record_finding` stores the finding and, unless it was dealt with on the spot, opens its
repair task in the same transaction (tasks.open_task_for).
"""

from __future__ import annotations

from datetime import datetime

from . import audit, choices
from .extensions import db
from .models import Checkpoint, Finding, Site
from .timeutil import month_of


def record_finding(
    *,
    finding_id: str,
    site: Site,
    checkpoint: Checkpoint,
    reported_by: int,
    observed_at: datetime,
    observed_at_device: datetime | None = None,
    visit_id: str | None = None,
    item_id: str | None = None,
    category: str,
    route: str,
    description: str = "",
    severity: str = choices.SEVERITY_NORMAL,
    dealt_on_spot: bool = False,
    spot_note: str = "",
    addendum: bool = False,
) -> Finding:
    from .tasks import open_task_for

    finding = Finding(
        id=finding_id,
        site_id=site.id,
        visit_id=visit_id,
        checkpoint_id=checkpoint.id,
        item_id=item_id,
        category=category,
        route=route,
        description=description,
        severity=severity,
        dealt_on_spot=dealt_on_spot,
        spot_note=spot_note,
        reported_by=reported_by,
        observed_at=observed_at,
        observed_at_device=observed_at_device or observed_at,
        month=month_of(observed_at, site.timezone),
        addendum=addendum,
    )
    db.session.add(finding)
    db.session.flush([finding])
    audit.record(
        "finding",
        finding.id,
        "dealt_on_spot" if dealt_on_spot else "reported",
        actor_id=reported_by,
        site_id=site.id,
        data={"checkpoint_id": checkpoint.id, "item_id": item_id, "severity": severity, "category": category, "route": route},
    )
    if not dealt_on_spot:
        open_task_for(finding, site)
    return finding
