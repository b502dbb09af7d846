"""Comments on a task, with photos: anyone working at the site may add one."""

from __future__ import annotations

from typing import Iterable

from .. import choices as C
from ..extensions import db
from ..models import Task, TaskComment, User
from ..problems import Invalid
from .photos import claim_photos
from .state import ensure_writable, event, require


def add_comment(task: Task, *, actor: User, body: str, photo_ids: Iterable[str] = ()) -> TaskComment:
    """Anyone working at the site may comment, with photos."""
    require(actor, task, "task.comment")
    if not body.strip():
        raise Invalid.field("body", "empty", "A comment needs some text.", field_code="field_required")
    ensure_writable(task)
    ids = claim_photos(photo_ids, purpose=C.PHOTO_COMMENT, site_id=task.site_id, user_id=actor.id, task_id=task.id)
    comment = TaskComment(task_id=task.id, author_id=actor.id, body=body, photo_ids=ids)
    db.session.add(comment)
    db.session.flush([comment])
    event(task, "commented", actor, {"comment_id": comment.id, "photo_ids": ids})
    return comment
