"""Follow-ups due as list filters: the console's "overdue / today / this week" filter.

The periods are those of `services.stats` (its follow-up counts), so a figure on the console's
home and the list it links to agree: records not archived whose `nextFollowUpAt` is before now
(overdue), from now to the end of today, or from now to the end of Sunday, days taken in the
time zone `tz` (default UTC).
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Final

from clientbook.domain.errors import BadQuery
from clientbook.domain.timestamps import format_datetime, utcnow

WINDOWS: Final = ("overdue", "today", "week")
NOT_FOLLOWED_UP: Final = "archived"


def _midnight(day: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def due_params(
    window: str, *, now: datetime | None = None, tz: str = "UTC", param: str = "due"
) -> list[tuple[str, str]]:
    """The native list-query parameters (SPEC §7) that select the records of `window`."""
    if window not in WINDOWS:
        message = f"must be one of {', '.join(WINDOWS)}"
        raise BadQuery(message, fields={param: message})
    now = now or utcnow()
    zone = zoneinfo.ZoneInfo(tz)
    local = now.astimezone(zone)
    text = format_datetime(now) or ""
    params = [("status[ne]", NOT_FOLLOWED_UP)]
    if window == "overdue":
        return [*params, ("nextFollowUpAt[lt]", text)]
    days = 1 if window == "today" else 7 - local.weekday()
    end = _midnight(local + timedelta(days=days), zone)
    return [
        *params,
        ("nextFollowUpAt[gte]", text),
        ("nextFollowUpAt[lt]", format_datetime(end) or ""),
    ]
