"""Linking photos to a task's records by id, before or after their bytes arrive."""

from __future__ import annotations

from typing import Iterable

from .. import choices as S
from ..errors import ApiError
from ..extensions import db
from ..models import Photo


def claim_photos(photo_ids: Iterable[str], *, purpose: str, site_id: int, user_id: int, task_id: int | None = None, finding_id: str | None = None) -> list[str]:
    """Link photos to a record by id; a photo not uploaded yet is created as expected."""
    ids = list(dict.fromkeys(photo_ids or ()))
    for pid in ids:
        if not isinstance(pid, str) or not 1 <= len(pid) <= 36:
            raise ApiError(422, "A photo id must be a UUID string.", "validation_error", {"fields": {"photo_ids": ["not a photo id"]}})
    for pid in ids:
        photo = db.session.get(Photo, pid)
        if photo is None:
            db.session.add(Photo(id=pid, site_id=site_id, uploaded_by=user_id, purpose=purpose, status=S.PHOTO_EXPECTED, task_id=task_id, finding_id=finding_id))
            continue
        # Like sync: a photo is linked only by the person who took it, and to one record.
        taken_by_other = photo.uploaded_by not in (None, user_id)
        linked_elsewhere = (photo.finding_id and finding_id and photo.finding_id != finding_id) or (photo.task_id and task_id and photo.task_id != task_id)
        if photo.site_id not in (None, site_id) or taken_by_other or linked_elsewhere:
            raise ApiError(409, f"Photo {pid} already belongs to another record or person.", "photo_conflict")
        photo.site_id = site_id
        photo.purpose = purpose
        photo.task_id = photo.task_id or task_id
        photo.finding_id = photo.finding_id or finding_id
    db.session.flush()
    return ids
