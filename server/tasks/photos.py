"""Linking photos to a task's records by id, before or after their bytes arrive."""

from __future__ import annotations

from typing import Iterable

from .. import photos


def claim_photos(photo_ids: Iterable[str], *, purpose: str, site_id: int, user_id: int, task_id: int | None = None, finding_id: str | None = None) -> list[str]:
    """Link photos to a record by id, by the one rule of photo claims (photos.may_link); a photo not uploaded yet is created as expected."""
    return photos.claim(photo_ids, user_id, photos.Link(site_id, purpose, finding_id=finding_id, task_id=task_id))
