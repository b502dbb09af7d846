"""Verification on site: a fresh scan of the task's checkpoint, after photos and signatures close or reopen a done task.

`verify_on_site` is the one rule, for sync (which stores the phone's scan as a visit
first) and the web (`verify_on_web`, which makes the scan in the same request from a QR
token or a typed short code).
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy import select

from .. import audit, policy, sites
from .. import choices as C
from ..extensions import db
from ..models import Checkpoint, Site, Task, User, Verification, Visit, utcnow
from ..problems import Conflict, Invalid
from ..timeutil import month_of
from .photos import claim_photos
from .state import lock, move, require


def is_fresh_scan(task: Task, visit: Visit, actor: User) -> str | None:
    """Why a visit is not a fresh scan for verifying this task, or None when it is.

    Fresh means: a visit of purpose "verify", made by the verifier, of the task's own
    checkpoint, whose corrected scan time is at or after the moment the task was last
    marked done, and not already used by another verification.
    """
    if visit.site_id != task.site_id or visit.checkpoint_id != task.checkpoint_id:
        return "the scan is of a different checkpoint than the task's"
    if visit.purpose != C.VISIT_VERIFY:
        return "the scan was not made to verify"
    if visit.user_id != actor.id:
        return "the scan was made by someone else"
    if task.done_at is None or visit.scanned_at < task.done_at:
        return "the scan was made before the work was marked done"
    used = db.session.execute(select(Verification.id).where(Verification.visit_id == visit.id)).first()
    if used:
        return "the scan was already used for another verification"
    return None


def replayed(task: Task, verification_id: str) -> Verification | None:
    """The verification already stored under this id (a replay), or None; an id of another task is refused."""
    existing = db.session.get(Verification, verification_id)
    if existing is not None and existing.task_id != task.id:
        raise Conflict("This verification id was already used for another task.", "verification_id_reused")
    return existing


def verify_on_site(
    task: Task,
    *,
    verification_id: str,
    actor: User,
    visit: Visit,
    result: str,
    note: str = "",
    after_photo_ids: Iterable[str] = (),
    signatures: dict | None = None,
    fixed_by_name: str = "",
    supervisor_id: int | None = None,
) -> Verification:
    """Record the on-site check of finished work: pass closes the task, fail reopens it.

    `verification_id` is the primary key: the same verification is applied once; a
    replay returns the stored one.
    """
    lock(task)
    existing = replayed(task, verification_id)
    if existing is not None:
        return existing
    require(actor, task, "task.verify")
    if result not in C.VERIFY_RESULTS:
        raise Invalid.field("result", "pass or fail", f"A verification is pass or fail, not {result!r}.", field_code="field_one_of",
                            choices=", ".join(C.VERIFY_RESULTS))
    if task.state != C.TASK_DONE:
        raise Conflict(f"Task {task.id} is {task.state}; only work marked done can be verified.", "not_awaiting_verification")
    why = is_fresh_scan(task, visit, actor)
    if why:
        raise Conflict(f"Scan the task's checkpoint again to verify it: {why}.", "no_fresh_scan")
    signatures = {k: v for k, v in (signatures or {}).items() if v}
    unknown = set(signatures) - set(C.SIGNERS)
    if unknown:
        raise Invalid.field("signatures", f"unknown: {', '.join(sorted(unknown))}", "Signatures are fixer, verifier and supervisor.",
                            field_code="field_one_of", choices=", ".join(C.SIGNERS))
    if C.SIGNER_VERIFIER not in signatures:
        raise Invalid.field("signatures", "verifier signature required", "The verifier must sign.", "signature_required")
    after = list(after_photo_ids or ())
    if result == C.VERIFY_PASS and not after:
        raise Invalid.field("after_photo_ids", "at least one", "Take an after photo of the fixed problem.", "after_photo_required")
    if supervisor_id is None and policy.may(actor, "task.sign_as_supervisor", task.site_id):
        supervisor_id = actor.id
    signer = db.session.get(User, supervisor_id) if supervisor_id is not None else None
    if supervisor_id is not None and (signer is None or not policy.may(signer, "task.countersign", task.site_id)):
        raise Invalid.field("supervisor_id", "not a supervisor here", "The signing supervisor must be a supervisor or manager of this site.",
                            field_code="field_not_supervisor")
    claim_photos(after, purpose=C.PHOTO_AFTER, site_id=task.site_id, user_id=actor.id, task_id=task.id)
    claim_photos(list(signatures.values()), purpose=C.PHOTO_SIGNATURE, site_id=task.site_id, user_id=actor.id, task_id=task.id)
    verification = Verification(
        id=verification_id,
        task_id=task.id,
        visit_id=visit.id,
        verifier_id=actor.id,
        result=result,
        note=note,
        fixed_by_name=fixed_by_name,
        supervisor_id=supervisor_id,
        signatures=signatures,
        after_photo_ids=after,
        verified_at=visit.scanned_at,
    )
    db.session.add(verification)
    db.session.flush([verification])
    audit.record(
        "verification",
        verification.id,
        "recorded",
        actor_id=actor.id,
        site_id=task.site_id,
        data={"task_id": task.id, "visit_id": visit.id, "result": result, "note": note, "after_photo_ids": after, "signatures": signatures, "fixed_by_name": fixed_by_name, "supervisor_id": supervisor_id},
    )
    move(task, actor, C.TASK_VERIFIED if result == C.VERIFY_PASS else C.TASK_IN_PROGRESS, note)
    return verification


def record_verify_visit(*, visit_id: str, task: Task, checkpoint: Checkpoint, user: User, scanned_at: datetime, scan_method: str, device_id: str = "web") -> Visit:
    """Store the scan a web verification is made with (the sync layer stores its own)."""
    if db.session.get(Visit, visit_id) is not None:
        raise Conflict("This visit id is already used.", "visit_id_reused")
    site = db.session.get(Site, task.site_id)
    visit = Visit(
        id=visit_id,
        site_id=checkpoint.site_id,
        checkpoint_id=checkpoint.id,
        user_id=user.id,
        device_id=device_id,
        purpose=C.VISIT_VERIFY,
        scanned_at=scanned_at,
        scanned_at_device=scanned_at,
        scan_method=scan_method,
        month=month_of(scanned_at, site.timezone),
    )
    db.session.add(visit)
    db.session.flush([visit])
    return visit


def scanned_checkpoint(task: Task, *, token: str | None = None, code: str | None = None) -> Checkpoint:
    """The checkpoint a web verifier just scanned, from its QR token or typed short code."""
    if token:
        cp, retired = sites.find_by_token(token)
        if cp is None or retired:
            raise Conflict("This label is not a current checkpoint label; scan the task's checkpoint.", "no_fresh_scan")
        return cp
    if code:
        cp = db.session.execute(
            select(Checkpoint).where(Checkpoint.site_id == task.site_id, Checkpoint.short_code == sites.normalise_code(code))
        ).scalar_one_or_none()
        if cp is None:
            raise Conflict("No checkpoint of this site has that code; scan the task's checkpoint.", "no_fresh_scan")
        return cp
    raise Conflict("Scan the task's checkpoint (send its QR token or short code) to verify.", "no_fresh_scan")


def verify_on_web(
    task: Task,
    *,
    actor: User,
    verification_id: str,
    visit_id: str,
    token: str | None = None,
    code: str | None = None,
    scan_method: str = C.SCAN_QR,
    **outcome,
) -> Verification:
    """Verify from the web: the scan is made now, at the server's clock, and stored only if the verification is accepted.

    `outcome` is what `verify_on_site` takes beside the scan (result, note, photos,
    signatures, fixer, supervisor). A replay returns the stored verification and scans nothing.
    """
    existing = replayed(task, verification_id)
    if existing is not None:
        return existing
    checkpoint = scanned_checkpoint(task, token=token, code=code)
    with db.session.begin_nested():
        visit = record_verify_visit(visit_id=visit_id, task=task, checkpoint=checkpoint, user=actor, scanned_at=utcnow(), scan_method=scan_method)
        return verify_on_site(task, verification_id=verification_id, actor=actor, visit=visit, **outcome)
