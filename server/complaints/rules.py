"""The complaint rules that are pure arithmetic: deadlines, the escalation ladder, the return-visit due date.

Each rule lives here once; the process (process.py), the scheduled escalation
(escalation.py) and the screens (through the API) all call these functions.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from .. import choices as C
from ..timeutil import to_local

# Days after the day of receipt by which a complaint must be handled (业主投诉处理规定 6, 第十七条):
# an ordinary complaint within customer service's own scope the same day; one transferred
# to another department, or a special or urgent one, within three days.
HANDLING_DAYS = {C.COMPLAINT_ORDINARY: 0, C.COMPLAINT_TRANSFERRED: 3, C.COMPLAINT_SPECIAL: 3}
# Past its deadline a complaint rises one level at once, and one more each further day.
LADDER = (C.LEVEL_RECEIVER, C.LEVEL_SUPERVISOR, C.LEVEL_MANAGER, C.LEVEL_GENERAL_MANAGER)
# Who is told when a complaint reaches a level (the policy table names the roles).
LEVEL_ACTIONS = {
    C.LEVEL_SUPERVISOR: "complaint.notice_supervisor",
    C.LEVEL_MANAGER: "complaint.notice_manager",
    C.LEVEL_GENERAL_MANAGER: "complaint.notice_general_manager",
}


def _end_of(day: date, tz: str) -> datetime:
    """Midnight at the end of the site-local `day`, as naive UTC."""
    midnight = datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=ZoneInfo(tz))
    return midnight.astimezone(timezone.utc).replace(tzinfo=None)


def end_of_local_day(utc_naive: datetime, tz: str, days_after: int = 0) -> datetime:
    """Midnight at the end of the site-local day `days_after` days after `utc_naive`'s day, as naive UTC."""
    return _end_of(to_local(utc_naive, tz).date() + timedelta(days=days_after), tz)


def weekend_of(site) -> tuple[int, ...] | None:
    """The weekdays a site's complaint deadlines skip, or None when the site counts calendar days."""
    return C.WEEKEND_DAYS[site.complaint_weekend] if site.complaint_business_days else None


def end_of_business_day(utc_naive: datetime, tz: str, days_after: int, weekend: tuple[int, ...]) -> datetime:
    """The end of the `days_after`-th site-local business day after `utc_naive`'s day.

    A complaint received on a weekend day is taken as received on the next business day;
    each further day counted skips the weekend.
    """
    day = to_local(utc_naive, tz).date()
    while day.weekday() in weekend:
        day += timedelta(days=1)
    for _ in range(days_after):
        day += timedelta(days=1)
        while day.weekday() in weekend:
            day += timedelta(days=1)
    return _end_of(day, tz)


def effective_kind(kind: str, department_code: str | None) -> str:
    """An ordinary complaint routed outside customer service is a transferred one."""
    if kind == C.COMPLAINT_ORDINARY and department_code and department_code != C.DEPT_CUSTOMER_SERVICE:
        return C.COMPLAINT_TRANSFERRED
    return kind


def deadline(start: datetime, kind: str, department_code: str | None, site) -> datetime:
    """The one deadline rule: the end of the site-local day of `start`, plus three days unless ordinary.

    `start` is when the complaint was received (or reopened). Days are calendar days, or
    business days when the site says so (`Site.complaint_business_days`, `weekend_of`).
    """
    days = HANDLING_DAYS[effective_kind(kind, department_code)]
    weekend = weekend_of(site)
    if weekend is None:
        return end_of_local_day(start, site.timezone, days)
    return end_of_business_day(start, site.timezone, days, weekend)


def starting_level(kind: str) -> str:
    """A special or urgent complaint goes to the department manager at once (业主投诉处理规定 5B)."""
    return C.LEVEL_MANAGER if kind == C.COMPLAINT_SPECIAL else C.LEVEL_RECEIVER


def level_due(due_at: datetime, now: datetime) -> str:
    """The level a complaint should have reached by `now`: one step at its deadline, one more each further day."""
    if now < due_at:
        return C.LEVEL_RECEIVER
    steps = 1 + int((now - due_at) / timedelta(days=1))
    return LADDER[min(steps, len(LADDER) - 1)]


def rank(level: str) -> int:
    return LADDER.index(level)


def return_visit_due(replied_at: datetime, tz: str) -> datetime:
    """Every complaint gets its return visit within three days of closing (回访规范): end of the third site-local day."""
    return end_of_local_day(replied_at, tz, C.RETURN_VISIT_DUE_DAYS)


def day_ending_at(utc_naive: datetime | None, tz: str) -> str | None:
    """The site-local day a deadline is the end of ("2026-12-03" for midnight starting the 4th), or None if not a day's end.

    Deadlines are the end of a day (rules.deadline), stored as the next midnight; screens
    show them as that day's end, not as the next day's 00:00.
    """
    if utc_naive is None:
        return None
    local = to_local(utc_naive, tz)
    if (local.hour, local.minute, local.second, local.microsecond) != (0, 0, 0, 0):
        return None
    return (local.date() - timedelta(days=1)).isoformat()
