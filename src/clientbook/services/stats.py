"""Customer statistics for the staff console (SPEC §6): counts by status, type, source,
assignee and country; revenue; follow-ups due; new records per month.

No figure walks the table: everything is read from `customer_counts`, which triggers on
`customers` keep in step with every write (migration 0002): the counts by value, the total and
the revenue, and per UTC day the records created and the follow-ups due (archived records left
out). A period (a month, "today", "this week", "before now"), in any time zone, is the whole
UTC days inside it, added from the day counters, plus the partial days at its ends, counted as
closed ranges of the `createdAt` / `nextFollowUpAt` indexes (at most a day of rows each):
see `query/periods.py`, which the list totals share.
Counting the periods on the indexes alone took 40 ms of CPU on SQLite and 620 ms (busy
machine) on PostgreSQL at 1,000,000 customers (benchmarks/stats_duplicates.py).
"""

from __future__ import annotations

import itertools
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection, func, select

from clientbook.access import Principal, require_staff
from clientbook.db.tables import customer_counts, customers, users
from clientbook.domain.customers import check_timezone
from clientbook.domain.enums import CUSTOMER_SOURCES, CUSTOMER_STATUSES, CUSTOMER_TYPES
from clientbook.domain.errors import BadQuery
from clientbook.domain.fields import FieldError
from clientbook.domain.timestamps import format_datetime, utcnow
from clientbook.query.periods import period

MONTHS: Final = 12
TOP_COUNTRIES: Final = 50
# The `customer_counts` row that holds the number of customers and the revenue.
TOTAL: Final = "total"

Count = dict[str, Any]
_c = customers.c


def customer_stats(
    conn: Connection,
    principal: Principal | None,
    *,
    tz: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Every statistic of the console's panel (staff only), read in the caller's transaction
    (one snapshot on SQLite). "Today", "this week" (Monday to Sunday) and the months are
    calendar periods in `tz` (an IANA zone, default UTC)."""
    require_staff(principal)
    zone = _zone(tz)
    now = now or utcnow()
    counts = read_counts(conn)
    total = counts.total
    countries, others = _top(counts.items("country"), TOP_COUNTRIES)
    follow_ups, new_per_month = _dated(conn, counts, now, zone)
    return {
        "total": total,
        "byStatus": _enum_counts(counts, "status", CUSTOMER_STATUSES),
        "byCustomerType": _enum_counts(counts, "customerType", CUSTOMER_TYPES),
        "bySource": _enum_counts(counts, "source", CUSTOMER_SOURCES),
        "byAssignedTo": _assignees(conn, counts),
        "byCountry": countries,
        "otherCountries": others,
        "revenue": {
            "total": round(counts.revenue, 2),
            "average": round(counts.revenue / total, 2) if total else 0.0,
            "customersWithRevenue": counts.earning,
        },
        "followUps": follow_ups,
        "newPerMonth": new_per_month,
        "timezone": zone.key,
        "generatedAt": format_datetime(now),
    }


def _zone(tz: str | None) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(check_timezone(tz or "UTC"))
    except FieldError as exc:
        raise BadQuery(f"Unknown time zone {tz!r}", fields={"tz": exc.message}) from None


# --- counts by column ------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    """`customer_counts` summed per key: customers per (dimension, value), nulls left out."""

    total: int
    revenue: float
    earning: int
    by_value: dict[str, dict[str, int]]

    def of(self, dimension: str) -> dict[str | None, int]:
        """Count per value of `dimension` (zero counts dropped), null being the remainder."""
        found: dict[str | None, int] = {
            value: n for value, n in self.by_value.get(dimension, {}).items() if n
        }
        missing = self.total - sum(found.values())
        if missing:
            found[None] = missing
        return found

    def items(self, dimension: str) -> list[Count]:
        return [{"value": value, "count": n} for value, n in self.of(dimension).items()]


def read_counts(conn: Connection) -> Counts:
    """The counters, one row per key (on PostgreSQL the deltas not yet compacted are summed)."""
    k = customer_counts.c
    rows = conn.execute(
        select(
            k.dimension, k.value, func.sum(k["count"]), func.sum(k.revenue), func.sum(k.earning)
        ).group_by(k.dimension, k.value)
    )
    total, revenue, earning = 0, 0.0, 0
    by_value: dict[str, dict[str, int]] = {}
    for dimension, value, count, amount, earners in rows:
        if dimension == TOTAL:
            total, revenue, earning = int(count), float(amount), int(earners)
        else:
            by_value.setdefault(dimension, {})[value] = int(count)
    return Counts(total, revenue, earning, by_value)


def _enum_counts(counts: Counts, dimension: str, values: tuple[str, ...]) -> list[Count]:
    """Every value of a closed vocabulary in its order, zero-filled; then null if any."""
    found = counts.of(dimension)
    ordered = [{"value": value, "count": found.pop(value, 0)} for value in values]
    return ordered + [{"value": value, "count": n} for value, n in found.items()]


def _largest_first(items: list[Count]) -> list[Count]:
    return sorted(items, key=lambda item: (-item["count"], item["value"] is None, item["value"]))


def _top(items: list[Count], limit: int) -> tuple[list[Count], Count]:
    """The `limit` largest groups, and how many groups and records the rest hold."""
    ordered = _largest_first(items)
    rest = ordered[limit:]
    return ordered[:limit], {"groups": len(rest), "count": sum(item["count"] for item in rest)}


def _assignees(conn: Connection, counts: Counts) -> list[Count]:
    """Counts per assigned rep with the rep's name (null: unassigned), largest first."""
    items = _largest_first(counts.items("assignedTo"))
    ids = [item["value"] for item in items if item["value"] is not None]
    names: dict[str, str] = {}
    if ids:
        query = select(users.c.id, users.c.name).where(users.c.id.in_(ids))
        names = {user_id: name for user_id, name in conn.execute(query)}
    return [{**item, "name": names.get(item["value"])} for item in items]


# --- dates -----------------------------------------------------------------------------------


def _local_midnight(day: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def _dated(
    conn: Connection, counts: Counts, now: datetime, zone: zoneinfo.ZoneInfo
) -> tuple[dict[str, int], list[Count]]:
    """Follow-ups due and new records per month. Every partial day is counted by one query
    (a scalar subquery per range): one round trip, however many periods have edges."""
    today = now.astimezone(zone)
    tomorrow = _local_midnight(today + timedelta(days=1), zone)
    next_monday = _local_midnight(today + timedelta(days=7 - today.weekday()), zone)
    due_days = counts.by_value.get("followUpDay", {})
    due = _c.nextFollowUpAt
    follow_ups = {
        # Overdue (before now), due today (now to local midnight) and due this week (now to
        # the end of Sunday), over records that are not archived.
        "overdue": period(due_days, due, None, now, leave_out_archived=True),
        "dueToday": period(due_days, due, now, tomorrow, leave_out_archived=True),
        "dueThisWeek": period(due_days, due, now, next_monday, leave_out_archived=True),
    }
    created_days = counts.by_value.get("createdDay", {})
    months = [
        (start.astimezone(zone).strftime("%Y-%m"), period(created_days, _c.createdAt, start, end))
        for start, end in itertools.pairwise(month_starts(now, zone))
    ]
    periods = [*follow_ups.values(), *(counted for _, counted in months)]
    subqueries = [subquery for _, terms in periods for _, subquery in terms]
    values = iter(conn.execute(select(*subqueries)).one() if subqueries else ())
    totals = [whole + sum(sign * next(values) for sign, _ in terms) for whole, terms in periods]
    follow_up_counts = dict(zip(follow_ups, totals[: len(follow_ups)], strict=True))
    month_counts = [
        {"month": month, "count": n}
        for (month, _), n in zip(months, totals[len(follow_ups) :], strict=True)
    ]
    return follow_up_counts, month_counts


def month_starts(now: datetime, zone: zoneinfo.ZoneInfo, months: int = MONTHS) -> list[datetime]:
    """The local first-of-month instants (as UTC) of the last `months` months, oldest first,
    followed by the start of next month (the end of the current one)."""
    local = now.astimezone(zone)
    index = local.year * 12 + local.month - 1
    firsts = [divmod(i, 12) for i in range(index - months + 1, index + 2)]
    return [datetime(year, month + 1, 1, tzinfo=zone).astimezone(UTC) for year, month in firsts]
