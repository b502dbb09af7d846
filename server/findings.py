"""Findings: the one way a problem enters the system, from sync or from the web API.

`record_finding` stores the finding and, unless it was dealt with on the spot, opens its
repair task in the same transaction (tasks.open_task_for); it also flags repeat problems
and escalates a major finding at once. Sync and the web API both call it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from . import audit, choices
from .errors import ApiError
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
    photo_ids: Iterable[str] = (),
) -> Finding:
    from .notifications import escalate_major
    from .tasks import claim_photos, flag_repeats, open_task_for

    check_finding(category=category, route=route, severity=severity)
    if checkpoint.site_id != site.id:
        raise ApiError(422, "The checkpoint is not at this site.", "validation_error", {"fields": {"checkpoint_id": ["not at this site"]}})
    if db.session.get(Finding, finding_id) is not None:
        raise ApiError(409, "This finding id is already used.", "finding_id_reused")

    month = month_of(observed_at, site.timezone)
    # A finding of a sealed month is accepted all the same, filed as that month's addendum.
    from .archive import is_sealed

    addendum = addendum or is_sealed(site.id, month)
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
        month=month,
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
        data={
            "checkpoint_id": checkpoint.id,
            "visit_id": visit_id,
            "item_id": item_id,
            "severity": severity,
            "category": category,
            "route": route,
            "description": description,
            "spot_note": spot_note,
            "observed_at": observed_at.isoformat(),
        },
    )
    claim_photos(photo_ids, purpose="finding", site_id=site.id, user_id=reported_by, finding_id=finding.id)
    task = None if dealt_on_spot else open_task_for(finding, site)
    flag_repeats(finding)
    if severity == choices.SEVERITY_MAJOR:
        escalate_major(finding, task, site)
    return finding


def check_finding(*, category: str, route: str, severity: str) -> None:
    """The values a finding may take; anything else is the client's mistake (422)."""
    problems = {}
    if category not in choices.CATEGORIES:
        problems["category"] = [f"one of {', '.join(choices.CATEGORIES)}"]
    if route not in choices.ROUTES:
        problems["route"] = [f"one of {', '.join(choices.ROUTES)}"]
    if severity not in choices.SEVERITIES:
        problems["severity"] = ["normal or major"]
    if problems:
        raise ApiError(422, "Some fields of the finding are not valid: " + ", ".join(sorted(problems)), "validation_error", {"fields": problems})


# A problem reported outside the checklist is routed by its category until a supervisor confirms.
CATEGORY_ROUTES = {"facilities": choices.ROUTE_FACILITY_REPAIR, "renovation_violation": choices.ROUTE_RESIDENT_VIOLATION}


def default_route(category: str) -> str:
    return CATEGORY_ROUTES.get(category, choices.ROUTE_DEPARTMENT_WORK)
