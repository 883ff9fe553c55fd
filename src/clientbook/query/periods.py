"""How many customers have a timestamp in a range, from the day counters of `customer_counts`.

Migration 0002 counts, per UTC day ('YYYY-MM-DD'), the customers created on it (`createdDay`)
and the customers not archived with a follow-up on it (`followUpDay`). A range is the sum of
the whole UTC days inside it, read from those counters, plus the partial days at its ends,
counted as closed ranges of the column's index (at most a day of rows each). The statistics
(`services/stats.py`) count their periods this way, and so do the list totals
(`walking.counted_total`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Final, NamedTuple

from sqlalchemy import ColumnElement, ScalarSelect, Select, bindparam, func, select

from clientbook.db.tables import customer_counts, customers
from clientbook.query.prepared import Prepared

# The records `followUpDay` leaves out (migration 0002), as the seed's "needing follow-up" does.
NOT_FOLLOWED_UP: Final = "archived"
# A term of a count: (sign, a scalar subquery that counts one partial day).
Term = tuple[int, ScalarSelect[Any]]
# A partial range's ends as its SQL depends on them: for each, inclusive or not (None: open).
Ends = tuple[bool | None, bool | None]
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
    split = _split(start, end)
    ends, instants = _ends(split.partial)
    terms = _terms(column, ends, leave_out_archived, instants.__getitem__)
    if split.whole_days is None:
        return 0, terms
    first_day, last_day = split.whole_days
    whole = sum(
        n
        for day, n in days.items()
        if (first_day is None or first_day <= day) and (last_day is None or day < last_day)
    )
    return whole, terms


@dataclass(frozen=True)
class RangeCount:
    """One statement that counts a range in one row (`range_count`): its first column says
    whether the counters count at all (they hold a `total` once they do), the others are the
    terms, each to be multiplied by its sign and summed."""

    query: Prepared
    signs: tuple[int, ...]


def range_count(
    dimension: str,
    column: ColumnElement[Any],
    start: datetime | Bound | None,
    end: datetime | Bound | None,
    *,
    leave_out_archived: bool = False,
) -> RangeCount:
    """`period`'s count in one statement: its whole days summed on their counters of
    `dimension` by a subquery too, so that a list's total needs no counter in Python first.
    The statement is built once per shape of range, its instants and days bound as parameters:
    building it per request cost more Python than PostgreSQL took to run it."""
    name = column.key
    assert name is not None and customers.c[name] is column, "a column of customers"
    split = _split(start, end)
    ends, params = _ends(split.partial)
    whole_days = None
    if split.whole_days is not None:
        first_day, last_day = split.whole_days
        whole_days = (first_day is not None, last_day is not None)
        if first_day is not None:
            params["first_day"] = first_day
        if last_day is not None:
            params["last_day"] = last_day
    shape = _Shape(dimension, name, leave_out_archived, whole_days, ends)
    statement, signs = _range_statement(shape)
    return RangeCount(Prepared(statement, params), signs)


class _Shape(NamedTuple):
    """What `range_count`'s statement depends on, its values aside."""

    dimension: str
    column: str  # of `customers`, by name: a column compares as SQL, not by identity
    leave_out_archived: bool
    whole_days: tuple[bool, bool] | None  # (bounded below, bounded above), None: no whole day
    partial: tuple[Ends, ...]


@lru_cache(maxsize=64)
def _range_statement(shape: _Shape) -> tuple[Select[Any], tuple[int, ...]]:
    column = customers.c[shape.column]

    def param(name: str) -> Any:
        return bindparam(name, type_=column.type)

    terms = _terms(column, shape.partial, shape.leave_out_archived, param)
    if shape.whole_days is not None:
        k = customer_counts.c
        where = [k.dimension == shape.dimension]
        bounded_below, bounded_above = shape.whole_days
        if bounded_below:
            where.append(k.value >= bindparam("first_day", type_=k.value.type))
        if bounded_above:
            where.append(k.value < bindparam("last_day", type_=k.value.type))
        whole = select(func.coalesce(func.sum(k["count"]), 0)).where(*where)
        terms.insert(0, (1, whole.scalar_subquery()))
    counting = select(customer_counts.c.value).where(customer_counts.c.dimension == "total")
    columns: list[ColumnElement[Any]] = [counting.exists(), *(query for _, query in terms)]
    statement: Select[Any] = select(*columns)
    return statement, tuple(sign for sign, _ in terms)


@dataclass(frozen=True)
class _Split:
    # The whole UTC days inside: ('YYYY-MM-DD' of the first, of the first day after them; None
    # for an unbounded end), or None when both ends fall in one UTC day (`partial` counts it).
    whole_days: tuple[str | None, str | None] | None
    # The ranges left to count on the column's index: at most a day of rows each.
    partial: list[tuple[Bound | None, Bound | None]]


def _split(start: datetime | Bound | None, end: datetime | Bound | None) -> _Split:
    low = Bound(start, True) if isinstance(start, datetime) else start
    high = Bound(end, False) if isinstance(end, datetime) else end
    # Whole days are those from midnight `first` (included) to midnight `last` (excluded).
    first = None if low is None else _first_whole_day(low)
    last = None if high is None else utc_day(high.at)
    if first is not None and last is not None and first > last:
        # Both ends fall in one UTC day: no whole day, one range.
        return _Split(None, _ranges((low, high)))
    partial = []
    if low is not None and first is not None:
        partial.append((low, Bound(first, False)))
    if high is not None and last is not None:
        partial.append((Bound(last, True), high))
    first_day = None if first is None else first.date().isoformat()
    last_day = None if last is None else last.date().isoformat()
    return _Split((first_day, last_day), _ranges(*partial))


def _first_whole_day(low: Bound) -> datetime:
    day = utc_day(low.at)
    return day if low.inclusive and day == low.at else day + _DAY


def _ranges(
    *ranges: tuple[Bound | None, Bound | None],
) -> list[tuple[Bound | None, Bound | None]]:
    return [(low, high) for low, high in ranges if not _empty(low, high)]


def _ends(
    ranges: list[tuple[Bound | None, Bound | None]],
) -> tuple[tuple[Ends, ...], dict[str, Any]]:
    """The ranges' ends as the SQL needs them (`Ends`), and their instants by the names
    `_terms` gives them (`low_0`, `high_0`, ...)."""
    ends: list[Ends] = []
    instants: dict[str, Any] = {}
    for index, (low, high) in enumerate(ranges):
        if low is not None:
            instants[f"low_{index}"] = low.at
        if high is not None:
            instants[f"high_{index}"] = high.at
        ends.append((
            None if low is None else low.inclusive,
            None if high is None else high.inclusive,
        ))  # fmt: skip
    return tuple(ends), instants


def _terms(
    column: ColumnElement[Any],
    ranges: tuple[Ends, ...],
    leave_out_archived: bool,
    value: Callable[[str], Any],
) -> list[Term]:
    """The signed counts of `ranges` on the column's index; `value(name)` is what the SQL
    compares an end with (its instant, or a parameter of that name)."""
    terms: list[Term] = []
    for index, (low, high) in enumerate(ranges):
        where: list[ColumnElement[bool]] = []
        if low is not None:
            at = value(f"low_{index}")
            where.append(column >= at if low else column > at)
        if high is not None:
            at = value(f"high_{index}")
            where.append(column <= at if high else column < at)
        query = select(func.count()).where(*where)
        terms.append((1, query.scalar_subquery()))
        if leave_out_archived:
            archived = query.where(customers.c.status == NOT_FOLLOWED_UP)
            terms.append((-1, archived.scalar_subquery()))
    return terms


def _empty(low: Bound | None, high: Bound | None) -> bool:
    if low is None or high is None:
        return False
    return low.at > high.at or (low.at == high.at and not (low.inclusive and high.inclusive))
