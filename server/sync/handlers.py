"""One handler per mutation kind: it reads the payload, checks it against the Context, and returns a Plan."""

from __future__ import annotations

from dataclasses import dataclass

from .. import choices, tasks
from ..findings import NewFinding, classify
from ..extensions import db
from ..field_errors import DUPLICATE, FINDING_NOT_FAILED, ONE_OF
from ..models import Visit
from ..photos import Link
from ..timeutil import month_of
from .context import Context, Observed, PhotoClaim, Plan, RoundInfo
from .resident_handlers import handle_resident_note
from .fields import (
    FORBIDDEN_SITE,
    MISSING_FINDING,
    PHOTO_CONFLICT,
    RECORD_EXISTS,
    ROUND_ENDED,
    UNKNOWN_CHECKLIST_VERSION,
    UNKNOWN_ITEM,
    UNKNOWN_PLAN,
    UNKNOWN_ROUND,
    Fields,
    Rejection,
    parse_time,
    plain_id,
    plain_item_finding,
    plain_result,
    plain_text,
    plain_uuid,
)
from .round_handlers import handle_round_missed


def handle_round_start(ctx: Context, payload, observed: Observed) -> Plan:
    f = Fields(payload)
    round_id, site_id, plan_id = f.uuid("round_id"), f.int("site_id"), f.int("plan_id", required=False)
    note = f.text("note")
    f.check()
    site = ctx.recording_site(site_id)
    if ctx.round(round_id) is not None:
        raise Rejection(RECORD_EXISTS, "A round with this id already exists.")
    if plan_id is not None and ctx.plan_site(plan_id) != site.id:
        raise Rejection(UNKNOWN_PLAN, "This patrol plan does not exist at this site.")
    row = {
        "id": round_id, "site_id": site.id, "user_id": ctx.user.id, "device_id": ctx.device_id, "plan_id": plan_id,
        "started_at": observed.at, "started_at_device": observed.device,
        "ended_at": None, "ended_at_device": None, "status": choices.ROUND_OPEN, "note": note, "created_at": ctx.clock.received_at,
    }
    return Plan(result={"round_id": round_id}, rounds=[row])


def handle_round_end(ctx: Context, payload, observed: Observed) -> Plan:
    f = Fields(payload)
    round_id = f.uuid("round_id")
    note = f.text("note")
    f.check()
    known: RoundInfo | None = ctx.round(round_id)
    if known is None or known.user_id != ctx.user.id:
        raise Rejection(UNKNOWN_ROUND, "This round is not known; it may have been rejected when it started.")
    if known.status == choices.ROUND_ENDED:
        raise Rejection(ROUND_ENDED, "This round was already ended.")
    end = {"round_id": round_id, "ended_at": observed.at, "ended_at_device": observed.device, "status": choices.ROUND_ENDED}
    if note:
        end["note"] = note
    return Plan(result={"round_id": round_id}, round_ends=[end])


@dataclass
class FindingIn:
    finding_id: str
    item_id: str | None
    category: str | None
    route: str | None
    description: str
    severity: str
    dealt_on_spot: bool
    spot_note: str
    photo_ids: list


def _read_finding(f: Fields, of_item: bool) -> FindingIn | None:
    """A finding's fields; a failed item's finding is classified by its item once that is known."""
    finding_id = f.uuid("finding_id")
    severity = f.choice("severity", choices.SEVERITIES, default=choices.SEVERITY_NORMAL)
    dealt = f.flag("dealt_on_spot")
    spot_note = f.text("spot_note")
    photo_ids = f.uuids("photo_ids")
    category = route = None
    if of_item:
        description = f.text("description")
    else:
        category = f.choice("category", choices.CATEGORIES)
        route = f.choice("route", choices.ROUTES)
        description = f.text("description", required=True)
    if finding_id is None:
        return None
    return FindingIn(finding_id, None, category, route, description, severity, dealt, spot_note, photo_ids)


VISIT_KEYS = frozenset((
    "visit_id", "site_id", "round_id", "checklist_version_id", "checkpoint_id", "checkpoint_code", "scanned_at", "scan_method",
    "note", "resident_note", "photo_ids", "results", "extra_findings",
))


def _plain_visit(payload) -> tuple | None:
    """What _read_visit returns, for the usual visit that it would read without a problem, else None.

    A push is mostly these (100 visits of 8 items): checked here in plain loops, without a
    field reader per item. Anything unusual (photos, extra findings, an unknown key, any
    bad value) goes through _read_visit, which names each problem; tests/test_sync.py holds
    the two to the same answers.
    """
    if type(payload) is not dict or not payload.keys() <= VISIT_KEYS:
        return None
    get = payload.get
    visit_id, round_id = plain_uuid(get("visit_id")), get("round_id")
    site_id, version_id, scan_method = get("site_id"), get("checklist_version_id"), get("scan_method")
    note, resident_note, raw_results = get("note"), get("resident_note"), get("results")
    if (visit_id is None or not plain_id(site_id) or not plain_id(version_id) or type(scan_method) is not str
            or scan_method not in choices.SCAN_METHODS or not plain_text(note) or not plain_text(resident_note)
            or get("photo_ids") not in (None, []) or get("extra_findings") not in (None, [])):
        return None
    if round_id is not None:
        round_id = plain_uuid(round_id)
        if round_id is None:
            return None
    scanned_device = parse_time(get("scanned_at"))
    if scanned_device is None:
        return None
    if raw_results is None:
        raw_results = []
    elif type(raw_results) is not list or len(raw_results) > 200:
        return None
    parsed = []
    for n, raw in enumerate(raw_results):
        plain = plain_result(raw)
        if plain is not None:
            parsed.append((n, *plain, [], None))
            continue
        # A failed item with its finding: its fields as Fields reads them, else the slow path.
        if type(raw) is not dict or raw.get("result") != choices.RESULT_FAIL:
            return None
        plain = plain_result({k: v for k, v in raw.items() if k != "finding"})
        finding = plain_item_finding(raw.get("finding"))
        if plain is None or finding is None:
            return None
        finding_id, description, severity, dealt, spot_note = finding
        parsed.append((n, *plain, [], FindingIn(finding_id, None, None, None, description, severity, dealt, spot_note, [])))
    return (visit_id, site_id, round_id, version_id, scanned_device, scan_method, note or "", resident_note or "", [], raw_results, parsed, [])


def _read_visit(f: Fields, payload) -> tuple:
    """A visit's fields through the field reader, every problem named (f.check() raises them)."""
    visit_id = f.uuid("visit_id")
    site_id = f.int("site_id")
    round_id = f.uuid("round_id", required=False)
    version_id = f.int("checklist_version_id")
    scanned_device = f.time("scanned_at")
    scan_method = f.choice("scan_method", choices.SCAN_METHODS)
    note = f.text("note")
    resident_note = f.text("resident_note")
    visit_photos = f.uuids("photo_ids")
    raw_results = f.objects("results")
    raw_extra = f.objects("extra_findings", limit=50)
    # First the shape of everything, so that one answer names every bad field.
    parsed = []
    for n, raw in enumerate(raw_results):
        plain = plain_result(raw)
        if plain is not None:  # most items: checked without building a field reader
            parsed.append((n, *plain, [], None))
            continue
        r = f.sub(raw, f"results.{n}.")
        item_id = r.text("item_id", required=True, max_len=80)
        outcome = r.choice("result", choices.RESULTS)
        item_note = r.text("note")
        photos = r.uuids("photo_ids")
        finding = None
        if isinstance(raw, dict) and raw.get("finding") is not None:
            if outcome != choices.RESULT_FAIL:
                r.fail("finding", "only a failed item has a finding", FINDING_NOT_FAILED)
            else:
                finding = _read_finding(r.sub(raw["finding"], "finding."), of_item=True)
        parsed.append((n, item_id, outcome, item_note, photos, finding))
    extra_findings = [x for x in (_read_finding(f.sub(raw, f"extra_findings.{n}."), of_item=False) for n, raw in enumerate(raw_extra)) if x]
    f.check()
    return (visit_id, site_id, round_id, version_id, scanned_device, scan_method, note, resident_note, visit_photos, raw_results, parsed, extra_findings)


def handle_visit_record(ctx: Context, payload, observed: Observed) -> Plan:
    f = Fields(payload)
    read = _plain_visit(payload) or _read_visit(f, payload)
    (visit_id, site_id, round_id, version_id, scanned_device, scan_method, note, resident_note,
     visit_photos, raw_results, parsed, extra_findings) = read
    site = ctx.recording_site(site_id)
    site_id, user_id = site.id, ctx.user.id  # ORM attributes, read once
    cp = ctx.checkpoint(site_id, f)
    version = ctx.version(version_id)
    if version is None or version.site_id != site_id or version.kind != cp.kind:
        raise Rejection(UNKNOWN_CHECKLIST_VERSION, "This checklist version does not belong to this checkpoint's kind at this site.")
    items = version.items
    results, item_photos, seen_items, findings = [], [], set(), []
    for n, item_id, outcome, item_note, photos, finding in parsed:
        if item_id not in items:
            raise Rejection(UNKNOWN_ITEM, f"The item {item_id!r} is not on checklist version {version.version} of this checkpoint.")
        if item_id in seen_items:
            f.sub(raw_results[n], f"results.{n}.").fail("item_id", "each item may have one result only", DUPLICATE)
            continue
        seen_items.add(item_id)
        results.append({"visit_id": visit_id, "item_id": item_id, "result": outcome, "note": item_note})
        if outcome == choices.RESULT_FAIL:
            if finding is None:
                raise Rejection(MISSING_FINDING, f"The failed item {item_id!r} needs a finding (what is wrong, how serious, dealt with on the spot or not).")
            finding.item_id = item_id
            finding.category, finding.route = classify(items[item_id])
            finding.photo_ids = list(dict.fromkeys(finding.photo_ids + photos))
            findings.append(finding)
        else:
            if photos:
                item_photos.extend(p for p in photos if p not in item_photos)
    for x in extra_findings:
        x.category, x.route = classify(None, x.category, x.route)
    findings += extra_findings
    f.check()
    if round_id is not None:
        known = ctx.round(round_id)
        if known is None or known.user_id != user_id or known.site_id != site_id:
            raise Rejection(UNKNOWN_ROUND, "This visit names a round that is not known at this site.")
    if ctx.has_visit(visit_id):
        raise Rejection(RECORD_EXISTS, "A visit with this id already exists.")
    finding_ids = [x.finding_id for x in findings]
    if len(set(finding_ids)) != len(finding_ids) or any(ctx.has_finding(x) for x in finding_ids):
        raise Rejection(RECORD_EXISTS, "A finding with one of these ids already exists.")
    all_photos = visit_photos + [p for p in item_photos if p not in visit_photos]
    named = all_photos + [p for x in findings for p in x.photo_ids]
    if len(set(named)) != len(named):
        raise Rejection(PHOTO_CONFLICT, "The same photo is named twice in this visit.")

    scanned_at = ctx.clock.correct(scanned_device)
    month = month_of(scanned_at, site.timezone)
    visit_row = {
        "id": visit_id, "site_id": site_id, "round_id": round_id, "checkpoint_id": cp.id, "user_id": user_id,
        "device_id": ctx.device_id, "checklist_version_id": version.id, "purpose": choices.VISIT_PATROL, "scanned_at": scanned_at,
        "scanned_at_device": scanned_device, "received_at": ctx.clock.received_at, "scan_method": scan_method,
        "note": note, "resident_note": resident_note, "month": month, "addendum": ctx.addendum(site_id, month),
    }
    claims = []
    if all_photos:
        visit_link = Link(site_id, choices.PHOTO_VISIT, visit_id=visit_id)
        claims += [PhotoClaim(p, visit_link) for p in all_photos]
    for x in findings:
        if x.photo_ids:
            finding_link = Link(site_id, choices.PHOTO_FINDING, visit_id=visit_id, finding_id=x.finding_id)
            claims += [PhotoClaim(p, finding_link) for p in x.photo_ids]
    return Plan(
        result={"visit_id": visit_id, "finding_ids": finding_ids, "task_ids": []},
        visits=[visit_row],
        item_results=results,
        findings=[
            NewFinding(
                finding_id=x.finding_id, site=site, checkpoint_id=cp.id, reported_by=user_id, observed_at=scanned_at,
                observed_at_device=scanned_device, visit_id=visit_id, item_id=x.item_id, category=x.category, route=x.route,
                description=x.description, severity=x.severity, dealt_on_spot=x.dealt_on_spot, spot_note=x.spot_note,
            )
            for x in findings
        ],
        claims=claims,
    )


def handle_task_transition(ctx: Context, payload, observed: Observed) -> Plan:
    f = Fields(payload)
    task_id = f.int("task_id")
    to_state = f.choice("to", (choices.TASK_IN_PROGRESS, choices.TASK_DONE))
    note = f.text("note")
    f.check()
    task = ctx.task(task_id)

    def move() -> dict:
        was = task.state
        tasks.transition(task, actor=ctx.user, to_state=to_state, note=note)
        if to_state == choices.TASK_DONE and was != choices.TASK_DONE and task.done_at and observed.at < task.done_at:
            # Marked done offline: the work was done when the phone says (corrected), not
            # when it synced, so a verification scanned offline after it counts as fresh.
            task.done_at = observed.at
        db.session.flush()
        return {"task_id": task.id, "state": task.state}

    return Plan(call=move)


def handle_task_extend(ctx: Context, payload, observed: Observed) -> Plan:
    """The assignee (or a supervisor) asks for a later due date from the phone, offline too.

    `requested_due_at` is a date chosen against the task's due date as the server gave it, not
    something observed on the phone's clock, so it is not corrected by the clock offset. The
    rules (who may, later than now, one waiting at a time, a reason) are `tasks.request_extension`'s.
    """
    f = Fields(payload)
    task_id = f.int("task_id")
    requested_due_at = f.time("requested_due_at")
    # An empty reason is the domain's refusal (extension_reason_required), as on the web.
    reason = f.text("reason", max_len=2000)
    f.check()
    task = ctx.task(task_id)

    def extend() -> dict:
        ext = tasks.request_extension(task, actor=ctx.user, requested_due_at=requested_due_at, reason=reason)
        db.session.flush()
        return {"task_id": task.id, "extension_id": ext.id, "extension_state": ext.state}

    return Plan(call=extend)


SIGNERS = ("fixer", "verifier", "supervisor")


def handle_task_verify(ctx: Context, payload, observed: Observed) -> Plan:
    f = Fields(payload)
    verification_id = f.uuid("verification_id")
    task_id = f.int("task_id")
    v = f.sub(payload.get("visit") if isinstance(payload, dict) else None, "visit.")
    visit_id = v.uuid("visit_id")
    scanned_device = v.time("scanned_at")
    scan_method = v.choice("scan_method", choices.SCAN_METHODS)
    result = f.choice("result", choices.VERIFY_RESULTS)
    note = f.text("note")
    after_ids = f.uuids("after_photo_ids")
    fixed_by_name = f.text("fixed_by_name", max_len=120)
    raw_sigs = payload.get("signatures") if isinstance(payload, dict) else None
    signatures = {}
    if raw_sigs is not None:
        s = f.sub(raw_sigs, "signatures.")
        for role in SIGNERS:
            sig = s.uuid(role, required=role == "verifier")
            if sig:
                signatures[role] = sig
        if isinstance(raw_sigs, dict) and set(raw_sigs) - set(SIGNERS):
            s.fail("", "only fixer, verifier and supervisor", ONE_OF, choices=", ".join(SIGNERS))
    f.check()
    task = ctx.task(task_id)
    site = ctx.site(task.site_id)
    cp = ctx.checkpoint(site.id, v)
    if ctx.has_visit(visit_id):
        raise Rejection(RECORD_EXISTS, "A visit with this id already exists.")
    scanned_at = ctx.clock.correct(scanned_device)
    month = month_of(scanned_at, site.timezone)
    visit_row = {
        "id": visit_id, "site_id": site.id, "round_id": None, "checkpoint_id": cp.id, "user_id": ctx.user.id,
        "device_id": ctx.device_id, "checklist_version_id": None, "purpose": choices.VISIT_VERIFY, "scanned_at": scanned_at,
        "scanned_at_device": scanned_device, "received_at": ctx.clock.received_at, "scan_method": scan_method,
        "note": note, "resident_note": "", "month": month, "addendum": ctx.addendum(site.id, month),
    }

    def verify() -> dict:
        # verify_on_site checks the scan is fresh and of the task's checkpoint, and who may verify, and claims the photos.
        tasks.verify_on_site(
            task, verification_id=verification_id, actor=ctx.user, visit=db.session.get(Visit, visit_id), result=result,
            note=note, after_photo_ids=after_ids, signatures=signatures, fixed_by_name=fixed_by_name,
        )
        db.session.flush()
        return {"verification_id": verification_id, "visit_id": visit_id, "task_id": task.id, "state": task.state}

    claims = [PhotoClaim(p, Link(site.id, choices.PHOTO_AFTER, task_id=task.id)) for p in after_ids]
    claims += [PhotoClaim(p, Link(site.id, choices.PHOTO_SIGNATURE, task_id=task.id)) for p in signatures.values()]
    return Plan(visits=[visit_row], claims=claims, call=verify)


def handle_complaint_receive(ctx: Context, payload, observed: Observed) -> Plan:
    """A complaint a resident made to the patroller, taken on the phone (offline too); its id makes it once."""
    from .. import complaints
    from ..problems import Forbidden

    f = Fields(payload)
    complaint_id = f.uuid("complaint_id")
    site_id = f.int("site_id")
    checkpoint_id = f.int("checkpoint_id", required=False)
    visit_id = f.uuid("visit_id", required=False)
    channel = f.choice("channel", choices.COMPLAINT_CHANNELS, default=choices.CHANNEL_VISIT)
    reply_channel = f.choice("reply_channel", choices.COMPLAINT_CHANNELS, default=channel) if f.has("reply_channel") else None
    kind = f.choice("kind", choices.COMPLAINT_KINDS, default=choices.COMPLAINT_ORDINARY)
    complainant = f.text("complainant", required=True, max_len=120)
    unit = f.text("unit", max_len=64)
    content = f.text("content", required=True, max_len=5000)
    f.check()
    site = ctx.site(site_id) if isinstance(site_id, int) else None
    if site is None:
        raise Rejection(FORBIDDEN_SITE, "You have no role at this site that allows taking complaints.")

    def receive() -> dict:
        try:
            c, _created = complaints.receive(
                site, actor=ctx.user, channel=channel, reply_channel=reply_channel, kind=kind, complainant=complainant, unit=unit,
                content=content, checkpoint_id=checkpoint_id, visit_id=visit_id, received_at=min(observed.at, ctx.clock.received_at),
                client_id=complaint_id,
            )
        except Forbidden as exc:
            raise Rejection(FORBIDDEN_SITE, exc.message) from None
        db.session.flush()
        return {"complaint_id": c.id, "state": c.state}

    return Plan(call=receive)


HANDLERS = {
    "round.start": handle_round_start,
    "visit.record": handle_visit_record,
    "round.end": handle_round_end,
    "round.missed": handle_round_missed,
    "task.transition": handle_task_transition,
    "task.verify": handle_task_verify,
    "task.extend": handle_task_extend,
    "complaint.receive": handle_complaint_receive,
    "resident.note": handle_resident_note,
}
KINDS = tuple(HANDLERS)
