"""Time in the domain: site-local months and dates, and clock-offset correction."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo


def to_local(utc_naive: datetime, tz: str) -> datetime:
    return utc_naive.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(tz))


def month_of(utc_naive: datetime, tz: str) -> str:
    """The year-month a record is filed under: its observation month in the site's timezone."""
    return to_local(utc_naive, tz).strftime("%Y-%m")


def local_date(utc_naive: datetime, tz: str) -> str:
    return to_local(utc_naive, tz).strftime("%Y-%m-%d")


def corrected(device_time: datetime, offset_ms: int) -> datetime:
    """A phone's timestamp moved onto the server's clock (offset = phone − server)."""
    return device_time - timedelta(milliseconds=offset_ms)
