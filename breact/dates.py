"""Dates and times as the product writes and reads them: one ISO 8601 formatter and one
whole-days range."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import overload

from django.utils import timezone


@overload
def iso(moment: datetime, *, timespec: str = ...) -> str: ...
@overload
def iso(moment: None, *, timespec: str = ...) -> None: ...
@overload
def iso(moment: datetime | None, *, timespec: str = ...) -> str | None: ...


def iso(moment: datetime | None, *, timespec: str = "auto") -> str | None:
    """ISO 8601 in UTC with a Z (the API's and the CSV exports' format), or None for None.
    `timespec` as datetime.isoformat ("milliseconds" for the CSV exports)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, (end + 1 day) 00:00) in the current time zone: whole days, both included,
    as a half-open range for `created_at__gte` / `created_at__lt`."""
    tz = timezone.get_current_timezone()
    return (
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz),
    )
