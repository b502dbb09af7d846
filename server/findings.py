"""Findings: the one way a problem enters the system, from sync or from the web API.

`record_findings` stores a list of findings and, for each not dealt with on the spot,
opens its repair task in the same transaction (tasks.open_tasks_for); it also flags
repeat problems and escalates a major finding at once. It works on the whole list in a
few statements, because a sync push brings a hundred visits at a time (issue 3's ingest
target); `record_finding` is the same for one finding, as the web API reports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable

from sqlalchemy import select

from . import audit, choices, sealing, webhooks
from .extensions import db, insert_rows
from .models import Checkpoint, Finding, Site, utcnow
from .notifications import Recipients, add_notices, major_notices, new_task_notices
from .problems import Conflict, FieldMessage, Invalid
from .tasks import apply_repeats, claim_photos, due_date, open_tasks_for, plan_repeats
from .timeutil import month_of


@dataclass
class NewFinding:
    """One finding to store. `observed_at` is already on the server's clock."""

    finding_id: str
    site: Site
    checkpoint_id: int
    reported_by: int
    observed_at: datetime
    category: str
    route: str
    observed_at_device: datetime | None = None
    visit_id: str | None = None
    item_id: str | None = None
    description: str = ""
    severity: str = choices.SEVERITY_NORMAL
    dealt_on_spot: bool = False
    spot_note: str = ""
    addendum: bool = False
    photo_ids: Iterable[str] = ()


def record_findings(new: list[NewFinding], *, sealed: Callable[[int, str], bool] | None = None,
                    ids_checked: bool = False) -> dict[str, int | None]:
    """Store the findings with their tasks; returns each finding's task id (None if dealt on the spot).

    `sealed(site_id, month)` answers whether a month is sealed (a caller with its own
    cache passes it); a finding of a sealed month is accepted all the same, filed as that
    month's addendum. `ids_checked`: the caller has looked the ids up already, in the same
    transaction (a sync push, for its whole batch); one taken since by a concurrent writer
    still fails the INSERT on the primary key.
    """
    if not new:
        return {}
    for x in new:
        check_finding(category=x.category, route=x.route, severity=x.severity)
    ids = [x.finding_id for x in new]
    if len(set(ids)) != len(ids):
        raise Conflict("The same finding id is used twice.", "finding_id_reused")
    db.session.flush()  # objects the caller added (a visit) must exist before rows that point at them
    if not ids_checked and db.session.execute(select(Finding.id).where(Finding.id.in_(ids)).limit(1)).first() is not None:
        raise Conflict("This finding id is already used.", "finding_id_reused")
    if sealed is None:
        cache: dict[tuple[int, str], bool] = {}

        def sealed(site_id: int, month: str) -> bool:
            if (site_id, month) not in cache:
                cache[(site_id, month)] = sealing.is_sealed(site_id, month)
            return cache[(site_id, month)]

    now = utcnow()
    rows = []
    for x in new:
        month = month_of(x.observed_at, x.site.timezone)
        rows.append({
            "id": x.finding_id, "site_id": x.site.id, "visit_id": x.visit_id, "checkpoint_id": x.checkpoint_id, "item_id": x.item_id,
            "category": x.category, "route": x.route, "description": x.description, "severity": x.severity,
            "dealt_on_spot": x.dealt_on_spot, "spot_note": x.spot_note, "reported_by": x.reported_by, "observed_at": x.observed_at,
            "observed_at_device": x.observed_at_device or x.observed_at, "created_at": now, "month": month,
            "addendum": x.addendum or sealed(x.site.id, month),
        })
    insert_rows(Finding.__table__, rows)
    audit.record_many(
        ("finding", x.finding_id, "dealt_on_spot" if x.dealt_on_spot else "reported", x.reported_by, x.site.id, {
            "checkpoint_id": x.checkpoint_id, "visit_id": x.visit_id, "item_id": x.item_id, "severity": x.severity,
            "category": x.category, "route": x.route, "description": x.description, "spot_note": x.spot_note,
            "observed_at": x.observed_at.isoformat(),
        })
        for x in new
    )
    for x in new:
        if x.photo_ids:  # the web's path; a sync push's claims go through its plan
            claim_photos(x.photo_ids, purpose=choices.PHOTO_FINDING, site_id=x.site.id, user_id=x.reported_by, finding_id=x.finding_id)
    sites = {x.site.id: x.site for x in new}
    # Repeat groups first, so that a new task in one opens flagged (no UPDATE of what was just
    # inserted); then the stored tasks of those groups are flagged and every flag audited.
    repeats = plan_repeats(rows)
    task_of = open_tasks_for([row for row in rows if not row["dealt_on_spot"]], sites, repeats=set(repeats.involved))
    apply_repeats(repeats, {row["id"]: (task_of[row["id"]], row["site_id"]) for row in rows if row["id"] in repeats.involved and row["id"] in task_of})
    # The notices, as sets: a major finding to its site's people and webhooks at once, every
    # other new task to its site's supervisors; one INSERT for all of the push's notices.
    majors = [(row, _opened(task_of.get(row["id"]), row, x.site), x.site) for x, row in zip(new, rows) if x.severity == choices.SEVERITY_MAJOR]
    people = Recipients()  # each site's members read once for both kinds of notice
    notices, events = major_notices(majors, people=people)
    notices += new_task_notices([(task_of[x.finding_id], x.site.id) for x in new if task_of.get(x.finding_id)],
                                {task_of.get(x.finding_id) for x in new if x.severity == choices.SEVERITY_MAJOR}, people)
    add_notices(notices)
    webhooks.queue_all(events)
    return {x.finding_id: task_of.get(x.finding_id) for x in new}


def _opened(task_id: int | None, finding: dict, site: Site) -> dict | None:
    """What a major notice says of a task just opened for `finding` (tasks.open_tasks_for)."""
    return {"id": task_id, "state": choices.TASK_OPEN, "due_at": due_date(finding["observed_at"], site)} if task_id else None


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
    """One finding (the web API's report, tests); the same rules as `record_findings`."""
    if checkpoint.site_id != site.id:
        raise Invalid.field("checkpoint_id", "not at this site", "The checkpoint is not at this site.", field_code="field_not_at_site")
    record_findings([
        NewFinding(
            finding_id=finding_id, site=site, checkpoint_id=checkpoint.id, reported_by=reported_by, observed_at=observed_at,
            observed_at_device=observed_at_device, visit_id=visit_id, item_id=item_id, category=category, route=route,
            description=description, severity=severity, dealt_on_spot=dealt_on_spot, spot_note=spot_note, addendum=addendum,
            photo_ids=photo_ids,
        )
    ])
    return db.session.get(Finding, finding_id)


def check_finding(*, category: str, route: str, severity: str) -> None:
    """The values a finding may take; anything else is the client's mistake (422)."""
    wrong = {}
    if category not in choices.CATEGORIES:
        wrong["category"] = [FieldMessage(f"one of {', '.join(choices.CATEGORIES)}", "field_one_of", choices=", ".join(choices.CATEGORIES))]
    if route not in choices.ROUTES:
        wrong["route"] = [FieldMessage(f"one of {', '.join(choices.ROUTES)}", "field_one_of", choices=", ".join(choices.ROUTES))]
    if severity not in choices.SEVERITIES:
        wrong["severity"] = [FieldMessage("normal or major", "field_one_of", choices=", ".join(choices.SEVERITIES))]
    if wrong:
        raise Invalid("Some fields of the finding are not valid: " + ", ".join(sorted(wrong)), None, {"fields": wrong})


# A problem reported outside the checklist is routed by its category until a supervisor confirms.
CATEGORY_ROUTES = {choices.CAT_FACILITIES: choices.ROUTE_FACILITY_REPAIR, choices.CAT_RENOVATION_VIOLATION: choices.ROUTE_RESIDENT_VIOLATION}


def default_route(category: str) -> str:
    return CATEGORY_ROUTES.get(category, choices.ROUTE_DEPARTMENT_WORK)


def default_routes() -> dict[str, str]:
    """Every category's usual route, as the phone shows it before the patroller picks one."""
    return {c: default_route(c) for c in choices.CATEGORIES}


def classify(item: dict | None, category: str | None = None, route: str | None = None) -> tuple[str, str]:
    """A finding's category and route, the one rule for the phone (sync) and the web alike.

    A failed checklist item is what the item checks: its category and usual route, and
    a different one sent with it is refused (a supervisor re-routes the task instead,
    DOMAIN.md § 14.2). A problem outside the checklist needs a category, and takes the
    route sent or its category's usual one.
    """
    if item is not None:
        for name, sent, own in (("category", category, item["category"]), ("route", route, item["route"])):
            if sent is not None and sent != own:
                raise Invalid.field(
                    name, f"comes from the checklist item ({own})",
                    f"A checklist item's {name} is {own}; a supervisor can re-route its task.", field_code="field_from_checklist",
                )
        return item["category"], item["route"]
    if category is None:
        raise Invalid.field("category", "required without item_id", "Say what kind of problem it is (category).", field_code="field_required")
    return category, route or default_route(category)
