"""Residents' complaints and return visits (业主投诉处理规定, docs/complaints.md): the names the API and the CLI call.

- `rules`: deadlines, the escalation ladder, the return visit's due date (pure functions);
- `process`: every step from receiving to the return visit (policy, row lock, sealed month, audit, pull log);
- `escalation`: the scheduled, idempotent level-by-level escalation;
- `reading`: summaries, details, lists, the return-visit queue, patrols of the place, the
  patrolled-as-fine signal and the month's statistics;
- `letter`: the reply letter as a PDF with the site's heading.
"""

from .escalation import escalate_due
from .process import (
    accept, approve, assign, get_site, judge, link_task, open_duplicates, propose, receive, record_return_visit, reopen, reply,
    schedule_return_visit, start,
)
from .reading import (
    complaint_detail, complaint_list, complaint_summary, deadline_met, is_overdue, month_stats, patrolled_as_fine, place_patrols,
    return_visit_dict, return_visit_queue, summaries,
)
from .letter import letter_pdf
from .rules import deadline, effective_kind, end_of_local_day, level_due, return_visit_due, starting_level

__all__ = [
    "accept", "approve", "assign", "complaint_detail", "complaint_list", "complaint_summary", "deadline", "deadline_met", "effective_kind",
    "end_of_local_day", "escalate_due", "get_site", "is_overdue", "judge", "letter_pdf", "level_due", "link_task", "month_stats", "open_duplicates",
    "patrolled_as_fine", "place_patrols", "propose", "receive", "record_return_visit", "reopen", "reply", "return_visit_dict",
    "return_visit_queue", "schedule_return_visit", "start", "starting_level", "summaries",
]
