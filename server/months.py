"""Site-local months and days: the one format and range of every month and date parameter, and their arithmetic.

A month is 'YYYY-MM' and a day 'YYYY-MM-DD', ASCII digits only, with a year from
FIRST_YEAR to LAST_YEAR: `parse_month` and `parse_day` are the one check, used by the
API's parameters (server/api/params.py), the domain and the CLI alike, and they raise
`problems.Invalid` naming the field. Times are naive UTC, as the database keeps them;
"local" means the site's timezone.
"""

from __future__ import annotations

import re
from calendar import monthrange
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from .problems import Invalid

# Patrol records start in this century and are kept two years; a year outside these is a
# typing slip. The bounds also keep every sum below far from datetime's years 1 and 9999.
FIRST_YEAR, LAST_YEAR = 2000, 2999
MONTH_RE = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
DAY_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MONTH_RULE = f"YYYY-MM with a year from {FIRST_YEAR} to {LAST_YEAR}"
DAY_RULE = f"YYYY-MM-DD with a year from {FIRST_YEAR} to {LAST_YEAR}"


def parse_month(value: object, field: str = "month") -> str:
    """The month 'YYYY-MM' as given, or Invalid naming `field`."""
    if isinstance(value, str) and MONTH_RE.fullmatch(value) and FIRST_YEAR <= int(value[:4]) <= LAST_YEAR:
        return value
    raise Invalid.field(field, MONTH_RULE, f"`{field}` is a month written {MONTH_RULE}, e.g. 2026-10.", field_code="field_month",
                        min=FIRST_YEAR, max=LAST_YEAR)


def parse_day(value: object, field: str) -> date:
    """The day of 'YYYY-MM-DD' (a date is checked as it is), or Invalid naming `field`."""
    day = value if isinstance(value, date) and not isinstance(value, datetime) else None
    if isinstance(value, str) and DAY_RE.fullmatch(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:  # 2026-02-30
            day = None
    if day is not None and FIRST_YEAR <= day.year <= LAST_YEAR:
        return day
    raise Invalid.field(field, DAY_RULE, f"`{field}` is a day written {DAY_RULE}, e.g. 2026-10-01.", field_code="field_day",
                        min=FIRST_YEAR, max=LAST_YEAR)


# --- arithmetic --------------------------------------------------------------------------------


def add_months(month: str, n: int) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    total = year * 12 + (mon - 1) + n
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


def month_days(month: str) -> tuple[date, date]:
    """The first and the last day of a month."""
    year, mon = int(month[:4]), int(month[5:7])
    return date(year, mon, 1), date(year, mon, monthrange(year, mon)[1])


def day_start(day: date, tz: str) -> datetime:
    """Midnight at the start of a local day, as naive UTC."""
    local = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz))
    return local.astimezone(timezone.utc).replace(tzinfo=None)


def month_start(month: str, tz: str) -> datetime:
    """The first instant of a local month, as naive UTC."""
    return day_start(month_days(month)[0], tz)


def month_end(month: str, tz: str) -> datetime:
    """The first instant after a local month, as naive UTC."""
    return month_start(add_months(month, 1), tz)


def day_range(first: date, last: date, tz: str, max_days: int) -> tuple[datetime, datetime]:
    """Local days `from`..`to`, both included, as [start, end) in naive UTC.

    Invalid when a day is out of range, `to` is before `from`, or the range holds more
    than `max_days` days.
    """
    parse_day(first, "from")
    parse_day(last, "to")
    if last < first:
        raise Invalid.field("to", "must not be before from", "`to` is before `from`.", field_code="field_day_order")
    if (last - first).days + 1 > max_days:
        raise Invalid.field("to", f"at most {max_days} days from `from`, both included", f"Ask for at most {max_days} days at a time.",
                            field_code="field_days_at_most", max=max_days)
    return day_start(first, tz), day_start(last + timedelta(days=1), tz)
