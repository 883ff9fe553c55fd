"""Customer statistics for the staff console (SPEC §6): counts by status, type, source,
assignee and country; revenue; follow-ups due; new records per month.

Every figure is read from an index, never from the table rows. What it costs on SQLite decides
the query shapes (benchmarks/stats_duplicates.py, 1,000,000 customers):

* `count(*)` of the whole table is a page count (~1 ms).
* An open-ended range (`col >= v`, or `col IS NOT NULL`, nulls sorting first) is walked to the
  end of the index without comparing keys: ~7 ns a row. A closed range or a GROUP BY compares
  every key: 35-70 ns a row. So the closed vocabularies (status, type, source) are counted as
  differences of open-ended counts ("≥ lead" minus "≥ prospect" is "lead"), and follow-ups
  the same way on the `nextFollowUpAt` index.
* Open sets (assignee, country) need GROUP BY, which walks their covering index in order.

PostgreSQL counts a range at the same cost per row either way, so there one GROUP BY serves
each vocabulary.
"""

from __future__ import annotations

import itertools
import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import Column, Connection, case, func, select

from clientbook.access import Principal, require_staff
from clientbook.db.tables import customers, users
from clientbook.domain.customers import check_timezone
from clientbook.domain.enums import CUSTOMER_SOURCES, CUSTOMER_STATUSES, CUSTOMER_TYPES
from clientbook.domain.errors import BadQuery
from clientbook.domain.fields import FieldError
from clientbook.domain.timestamps import format_datetime, utcnow

MONTHS: Final = 12
TOP_COUNTRIES: Final = 50
# The seed's "customers needing follow-up" leaves archived records out; so do these counts.
NOT_FOLLOWED_UP: Final = "archived"

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
    total = conn.execute(select(func.count()).select_from(customers)).scalar_one()
    countries, others = _top(_group_counts(conn, _c.country), TOP_COUNTRIES)
    return {
        "total": total,
        "byStatus": _enum_counts(conn, _c.status, CUSTOMER_STATUSES, total),
        "byCustomerType": _enum_counts(conn, _c.customerType, CUSTOMER_TYPES, total),
        "bySource": _enum_counts(conn, _c.source, CUSTOMER_SOURCES, total),
        "byAssignedTo": _assignees(conn),
        "byCountry": countries,
        "otherCountries": others,
        "revenue": _revenue(conn, total),
        "followUps": _follow_ups(conn, now, zone),
        "newPerMonth": _new_per_month(conn, now, zone),
        "timezone": zone.key,
        "generatedAt": format_datetime(now),
    }


def _zone(tz: str | None) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(check_timezone(tz or "UTC"))
    except FieldError as exc:
        raise BadQuery(f"Unknown time zone {tz!r}", fields={"tz": exc.message}) from None


def _at_least(conn: Connection, column: Column[Any], value: Any) -> int:
    """Rows with `column >= value` (`value` None: rows where it is not null), counted as an
    open-ended range of the column's index."""
    where = column.is_not(None) if value is None else column >= value
    return int(conn.execute(select(func.count()).where(where)).scalar_one())


# --- counts by column ------------------------------------------------------------------------


def _group_counts(conn: Connection, column: Column[Any]) -> list[Count]:
    """`{value, count}` per distinct value (null included), from the column's own index."""
    rows = conn.execute(select(column, func.count()).group_by(column))
    return [{"value": value, "count": count} for value, count in rows]


def _vocabulary_counts(
    conn: Connection, column: Column[Any], values: tuple[str, ...], total: int
) -> dict[str | None, int]:
    """Count per value of a vocabulary the database's CHECK constraint enforces (null too)."""
    if conn.dialect.name != "sqlite":
        return {item["value"]: item["count"] for item in _group_counts(conn, column)}
    # "≥ each value", in index order (ASCII values: Python's order is SQLite's BINARY order).
    # The CHECK constraint allows no other value, so "≥ the first" is every non-null row.
    ordered = sorted(values)
    present = _at_least(conn, column, None) if column.nullable else total
    at_least = [present, *(_at_least(conn, column, value) for value in ordered[1:]), 0]
    counts: dict[str | None, int] = {
        value: at_least[i] - at_least[i + 1] for i, value in enumerate(ordered)
    }
    if column.nullable:
        counts[None] = total - present
    return counts


def _enum_counts(
    conn: Connection, column: Column[Any], values: tuple[str, ...], total: int
) -> list[Count]:
    """Every value of a closed vocabulary in its order, zero-filled; then null if any."""
    found = _vocabulary_counts(conn, column, values, total)
    counts = [{"value": value, "count": found.pop(value, 0)} for value in values]
    return counts + [{"value": value, "count": n} for value, n in found.items() if n]


def _largest_first(items: list[Count]) -> list[Count]:
    return sorted(items, key=lambda item: (-item["count"], item["value"] is None, item["value"]))


def _top(items: list[Count], limit: int) -> tuple[list[Count], Count]:
    """The `limit` largest groups, and how many groups and records the rest hold."""
    ordered = _largest_first(items)
    rest = ordered[limit:]
    return ordered[:limit], {"groups": len(rest), "count": sum(item["count"] for item in rest)}


def _assignees(conn: Connection) -> list[Count]:
    """Counts per assigned rep with the rep's name (null: unassigned), largest first."""
    counts = _largest_first(_group_counts(conn, _c.assignedTo))
    ids = [item["value"] for item in counts if item["value"] is not None]
    names: dict[str, str] = {}
    if ids:
        query = select(users.c.id, users.c.name).where(users.c.id.in_(ids))
        names = {user_id: name for user_id, name in conn.execute(query)}
    return [{**item, "name": names.get(item["value"])} for item in counts]


# --- money and dates -------------------------------------------------------------------------


def _revenue(conn: Connection, total: int) -> dict[str, Any]:
    """Sum and average over every record (zeros included), in the stored amounts: the records
    may be in different currencies and no conversion is made."""
    amount = float(conn.execute(select(func.coalesce(func.sum(_c.totalRevenue), 0.0))).scalar_one())
    # A separate open-ended count: a CASE inside the sum would double the cost of the scan.
    earning = int(conn.execute(select(func.count()).where(_c.totalRevenue > 0)).scalar_one())
    return {
        "total": round(amount, 2),
        "average": round(amount / total, 2) if total else 0.0,
        "customersWithRevenue": earning,
    }


def _local_midnight(day: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def _follow_ups(conn: Connection, now: datetime, zone: zoneinfo.ZoneInfo) -> dict[str, int]:
    """Overdue (before now), due today (now to local midnight) and due this week (now to the
    end of Sunday), over records that are not archived.

    Each is a difference of open-ended counts on the `nextFollowUpAt` index ("scheduled at all",
    "at or after now", ...), less the archived records in the same periods (one closed range of
    the (status, nextFollowUpAt) index, over archived records only)."""
    today = now.astimezone(zone)
    tomorrow = _local_midnight(today + timedelta(days=1), zone)
    next_monday = _local_midnight(today + timedelta(days=7 - today.weekday()), zone)
    due = _c.nextFollowUpAt
    scheduled = _at_least(conn, due, None)
    from_now, from_tomorrow, from_monday = (
        _at_least(conn, due, at) for at in (now, tomorrow, next_monday)
    )
    archived = conn.execute(
        select(
            func.count(case((due < now, 1))),
            func.count(case(((due >= now) & (due < tomorrow), 1))),
            func.count(case((due >= now, 1))),
        ).where(_c.status == NOT_FOLLOWED_UP, due < next_monday)
    ).one()
    return {
        "overdue": scheduled - from_now - archived[0],
        "dueToday": from_now - from_tomorrow - archived[1],
        "dueThisWeek": from_now - from_monday - archived[2],
    }


def month_starts(now: datetime, zone: zoneinfo.ZoneInfo, months: int = MONTHS) -> list[datetime]:
    """The local first-of-month instants (as UTC) of the last `months` months, oldest first,
    followed by the start of next month (the end of the current one)."""
    local = now.astimezone(zone)
    index = local.year * 12 + local.month - 1
    firsts = [divmod(i, 12) for i in range(index - months + 1, index + 2)]
    return [datetime(year, month + 1, 1, tzinfo=zone).astimezone(UTC) for year, month in firsts]


def _new_per_month(conn: Connection, now: datetime, zone: zoneinfo.ZoneInfo) -> list[Count]:
    """Records created in each of the last twelve months, zero-filled: one range count on the
    `createdAt` index per month (no date function over every row)."""
    out = []
    for start, end in itertools.pairwise(month_starts(now, zone)):
        count = conn.execute(
            select(func.count()).where(_c.createdAt >= start, _c.createdAt < end)
        ).scalar_one()
        out.append({"month": start.astimezone(zone).strftime("%Y-%m"), "count": count})
    return out
