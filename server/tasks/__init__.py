"""Repair tasks, from a finding to a verified fix (DOMAIN.md § 14): the names sync, the API and the CLI call.

Each rule lives in one function of one module, and every caller goes through it:

- `state`: the state machine (`MOVES`, `transition`, `cancel`), overdue, and the steps
  every change of a task shares (row lock, sealed month, policy, audit event, pull log);
- `opening`: a finding's task, its due date and department (`open_tasks_for`,
  `due_date`, `route_for`);
- `assignment`: a supervisor's routing and assignment (`set_route`, `assign`);
- `extensions`: a later due date, asked for and decided by a manager;
- `verification`: verification on site (`verify_on_site`, `is_fresh_scan`, `verify_on_web`);
- `comments`, `cases`: comments with photos, and the residents'-convention case;
- `photos`: linking photos to a task's records by id (`claim_photos`);
- `repeats`: the same item failing 3 times in 30 days (`plan_repeats` then `apply_repeats`, `repeat_groups`);
- `escalation`: overdue tasks to supervisors, managers and the assignee, daily;
- `reading`: a task's summary and detail, the supervisor's list, the dashboard counts.
"""

from .assignment import assign, set_route
from .cases import update_case
from .comments import add_comment
from .escalation import escalate_overdue
from .extensions import MAX_EXTENSION, decide_extension, request_extension
from .opening import CATEGORY_DEPARTMENTS, department_by_code, due_date, open_tasks_for, route_for
from .photos import claim_photos
from .reading import comments_of, dashboard, extensions_of, task_detail, task_list, task_summary
from .repeats import REPEAT_COUNT, REPEAT_WINDOW, apply_repeats, plan_repeats, repeat_groups
from .state import MOVES, VIA_VERIFICATION, cancel, check_move, is_overdue, overdue_clause, transition
from .verification import is_fresh_scan, record_verify_visit, replayed, verify_on_site, verify_on_web

__all__ = [
    "CATEGORY_DEPARTMENTS", "MAX_EXTENSION", "MOVES", "REPEAT_COUNT", "REPEAT_WINDOW", "VIA_VERIFICATION",
    "add_comment", "assign", "cancel", "check_move", "claim_photos", "comments_of", "dashboard", "decide_extension",
    "department_by_code", "due_date", "escalate_overdue", "extensions_of", "apply_repeats", "is_fresh_scan", "is_overdue",
    "open_tasks_for", "overdue_clause", "record_verify_visit", "plan_repeats", "repeat_groups", "replayed", "request_extension", "route_for",
    "set_route", "task_detail", "task_list", "task_summary", "transition", "update_case", "verify_on_site", "verify_on_web",
]
