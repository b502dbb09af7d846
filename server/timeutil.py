"""Time in the domain: site-local months and dates, and clock-offset correction."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo


def iso(dt: datetime | None) -> str | None:
    """Naive UTC from the database → ISO 8601 with Z, the one form the API sends."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        return dt.isoformat() + "Z"  # the same text, without two copies (a pull writes hundreds)
    return dt.replace(tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")


def local_iso(utc_naive: datetime | None, tz: str) -> str | None:
    """Naive UTC → site-local ISO 8601 to the second with its offset (2026-09-19T10:00:00+08:00), as filed records write times."""
    if utc_naive is None:
        return None
    return to_local(utc_naive, tz).replace(microsecond=0).isoformat()


def to_local(utc_naive: datetime, tz: str) -> datetime:
    return utc_naive.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(tz))


def local_minute(utc_naive: datetime, tz: str) -> str:
    """A time as people at the site read it: its local date and time to the minute, YYYY-MM-DD HH:MM."""
    return to_local(utc_naive, tz).strftime("%Y-%m-%d %H:%M")


def month_of(utc_naive: datetime, tz: str) -> str:
    """The year-month a record is filed under: its observation month in the site's timezone."""
    local = to_local(utc_naive, tz)
    return f"{local.year:04d}-{local.month:02d}"  # strftime's "%Y-%m", without its cost (a push files hundreds)


def local_date(utc_naive: datetime, tz: str) -> str:
    return to_local(utc_naive, tz).strftime("%Y-%m-%d")


def corrected(device_time: datetime, offset_ms: int) -> datetime:
    """A phone's timestamp moved onto the server's clock (offset = phone − server)."""
    return device_time - timedelta(milliseconds=offset_ms)


def elapsed_days(observed_at: datetime, until: datetime) -> float:
    """Days from a record's corrected observation time to `until`: every duration a report shows.

    `observed_at` is already on the server's clock (`corrected`), so neither a late sync nor
    a wrong phone clock changes how long something took.
    """
    return (until - observed_at).total_seconds() / 86400
