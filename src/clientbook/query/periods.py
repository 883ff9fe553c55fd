"""How many customers have a timestamp in a range, from the day counters of `customer_counts`.

Migration 0002 counts, per UTC day ('YYYY-MM-DD'), the customers created on it (`createdDay`)
and the customers not archived with a follow-up on it (`followUpDay`). A range is the sum of
the whole UTC days inside it, read from those counters, plus the partial days at its ends,
counted as closed ranges of the column's index (at most a day of rows each). The statistics
(`services/stats.py`) count their periods this way, and so do the list totals
(`walking.counted_total`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, ScalarSelect, func, select

from clientbook.db.tables import customer_counts, customers

# The records `followUpDay` leaves out (migration 0002), as the seed's "needing follow-up" does.
NOT_FOLLOWED_UP: Final = "archived"
# A term of a count: (sign, a scalar subquery that counts one partial day).
Term = tuple[int, ScalarSelect[Any]]
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Bound:
    """One end of a range: the instant, and whether the instant itself is inside."""

    at: datetime
    inclusive: bool


def utc_day(at: datetime) -> datetime:
    """The UTC midnight at or before `at`."""
    at = at.astimezone(UTC)
    return datetime(at.year, at.month, at.day, tzinfo=UTC)


def period(
    days: dict[str, int],
    column: ColumnElement[Any],
    start: datetime | Bound | None,
    end: datetime | Bound | None,
    *,
    leave_out_archived: bool = False,
) -> tuple[int, list[Term]]:
    """Records with `column` from `start` to `end` (a datetime: start inclusive, end exclusive;
    a `Bound` says; None: unbounded), as (whole, terms): `whole` the sum of the whole UTC days
    inside, from the day counters (`days`: 'YYYY-MM-DD' -> records), and `terms` signed counts
    of the partial days at the ends, on the column's index (less the archived records, on the
    (status, column) index, when asked). The count is `whole` + sum(sign * term)."""
    split = _split(column, start, end, leave_out_archived)
    if split.whole_days is None:
        return 0, split.partial
    first_day, last_day = split.whole_days
    whole = sum(
        n
        for day, n in days.items()
        if (first_day is None or first_day <= day) and (last_day is None or day < last_day)
    )
    return whole, split.partial


def period_terms(
    dimension: str,
    column: ColumnElement[Any],
    start: datetime | Bound | None,
    end: datetime | Bound | None,
    *,
    leave_out_archived: bool = False,
) -> list[Term]:
    """`period`'s count as terms alone: its whole days summed on their counters of `dimension`
    by a subquery too, so that one row of one statement counts a single period (a list's total)
    without reading every day's counter into Python first."""
    split = _split(column, start, end, leave_out_archived)
    if split.whole_days is None:
        return split.partial
    first_day, last_day = split.whole_days
    k = customer_counts.c
    where = [k.dimension == dimension]
    if first_day is not None:
        where.append(k.value >= first_day)
    if last_day is not None:
        where.append(k.value < last_day)
    whole = select(func.coalesce(func.sum(k["count"]), 0)).where(*where)
    return [(1, whole.scalar_subquery()), *split.partial]


@dataclass(frozen=True)
class _Split:
    # The whole UTC days inside: ('YYYY-MM-DD' of the first, of the first day after them; None
    # for an unbounded end), or None when both ends fall in one UTC day (`partial` counts it).
    whole_days: tuple[str | None, str | None] | None
    partial: list[Term]


def _split(
    column: ColumnElement[Any],
    start: datetime | Bound | None,
    end: datetime | Bound | None,
    leave_out_archived: bool,
) -> _Split:
    low = Bound(start, True) if isinstance(start, datetime) else start
    high = Bound(end, False) if isinstance(end, datetime) else end
    # Whole days are those from midnight `first` (included) to midnight `last` (excluded).
    first = None if low is None else _first_whole_day(low)
    last = None if high is None else utc_day(high.at)
    if first is not None and last is not None and first > last:
        # Both ends fall in one UTC day: no whole day, one range.
        return _Split(None, _terms(column, low, high, leave_out_archived))
    terms: list[Term] = []
    if low is not None and first is not None:
        terms += _terms(column, low, Bound(first, False), leave_out_archived)
    if high is not None and last is not None:
        terms += _terms(column, Bound(last, True), high, leave_out_archived)
    first_day = None if first is None else first.date().isoformat()
    last_day = None if last is None else last.date().isoformat()
    return _Split((first_day, last_day), terms)


def _first_whole_day(low: Bound) -> datetime:
    day = utc_day(low.at)
    return day if low.inclusive and day == low.at else day + _DAY


def _terms(
    column: ColumnElement[Any], low: Bound | None, high: Bound | None, leave_out_archived: bool
) -> list[Term]:
    if _empty(low, high):
        return []
    where: list[ColumnElement[bool]] = []
    if low is not None:
        where.append(column >= low.at if low.inclusive else column > low.at)
    if high is not None:
        where.append(column <= high.at if high.inclusive else column < high.at)
    query = select(func.count()).where(*where)
    terms: list[Term] = [(1, query.scalar_subquery())]
    if leave_out_archived:
        archived = query.where(customers.c.status == NOT_FOLLOWED_UP)
        terms.append((-1, archived.scalar_subquery()))
    return terms


def _empty(low: Bound | None, high: Bound | None) -> bool:
    if low is None or high is None:
        return False
    return low.at > high.at or (low.at == high.at and not (low.inclusive and high.inclusive))
