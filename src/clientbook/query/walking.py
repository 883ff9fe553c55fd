"""SQLite: a filtered list under a sort, read along the sort's index when the filter is dense.

Given `country = ? ORDER BY name`, SQLite (with no ANALYZE statistics) reads every match
through the filter's index and sorts them all: 370 ms for the 900,000 customers in Malaysia.
When the filter matches many rows, walking the sort's own index and testing each row finds a
page after a few dozen rows (0.1 ms). When it matches few, the walk may read much of the table
before it finds a page, and sorting the matches is the better plan. So the compiler counts
the matches first — from `customer_counts` for the columns it tracks, else by a capped count
on the filter's index — and, above `DENSE_FILTER` estimated matches, writes the filter in a
form no index can serve (`+column = ?`; a tag as a correlated EXISTS on the tag table's
primary key), which leaves the sort's index as SQLite's only way to avoid a sort. The rows
and their order are the same either way: only the plan changes.

Only lists whose every filter is an equality or `in` on one column (or a `containsAny` on the
tags) are rewritten: with a range or text filter next to it the planner keeps its choice. A
filter whose column leads a composite index that goes on with the sort key (status + name...)
is already served in order by that index: it stays indexable, and only the other filters
are tested row by row along it.

The total of a list comes from the counters when they know it (`counted_total`, both
backends): counting 900,000 matches on their index costs more than reading the page. They know
one equality / `in` on a counted column, a rep's records by status (the (assignedTo, status)
pairs of migration 0005), and a range of `createdAt`, or of `nextFollowUpAt` among records not
archived: whole UTC days from the day counters, the partial days at the ends on the index
(`periods.py`, as the statistics count). On PostgreSQL at 1M customers that cut the server's
CPU for a page of "a rep's active records" from 12 ms to 0.9 ms, and for "follow-ups due"
from 26 ms to 1.2 ms (docs/benchmarks.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.sql.elements import UnaryExpression
from sqlalchemy.sql.operators import custom_op

from clientbook.db import tables
from clientbook.query.fields import Kind, Resource
from clientbook.query.model import Condition, Filter, Group, Op
from clientbook.query.ordering import Ordering
from clientbook.query.periods import NOT_FOLLOWED_UP, Bound, range_count

# Estimated matches from which the sort's index is walked. Measured on 1M customers, 26 rows,
# CPU ms, sort index walked against filter index and sort: 30,000 matches (source=other, by
# company) 0.2 against 51; 20,000 (customerType=government, by name) 3.6 against 37; 40,000
# whose names sort late (country=Indonesia, by name) 41 against 65.
DENSE_FILTER = 20_000
# Columns `customer_counts` (migration 0002) counts per value; the others are probed.
COUNTED = frozenset({"status", "customerType", "source", "assignedTo", "country"})
# The composite indexes of migration 0001 that serve equality filters on their leading
# columns in the order of the next one (a test checks this against the migration).
ORDERED_BY_COMPOSITE: dict[frozenset[str], frozenset[str]] = {
    frozenset({"status"}): frozenset({"lastContactAt", "nextFollowUpAt", "name"}),
    frozenset({"assignedTo", "status"}): frozenset({"name"}),
}
_UNARY_PLUS: custom_op[Any] = custom_op("+")
# The pair of columns `customer_counts` also counts together (migration 0005), and its key.
PAIR_DIMENSION = "assignedToStatus"
PAIR_FIELDS = ("assignedTo", "status")
PAIR_SEPARATOR = "|"
# Timestamps counted per UTC day (migration 0002): field -> (dimension, whether it leaves the
# archived records out, so that only a list that does so too can be counted from it).
DAY_COUNTED = {"$createdAt": ("createdDay", False), "nextFollowUpAt": ("followUpDay", True)}
NOT_ARCHIVED = frozenset(
    {
        Condition("status", Op.NE, NOT_FOLLOWED_UP),
        Condition("status", Op.NOT_IN, (NOT_FOLLOWED_UP,)),
    }
)


def candidates(
    resource: Resource, residual: Filter | None, ordering: Ordering
) -> tuple[Condition, ...]:
    """The filters of a list that may be read along its sort's index, or () when the list is
    not one whose plan this module chooses."""
    if resource.table is not tables.customers or residual is None:
        return ()
    first = ordering.keys[0]
    if first.is_seq or first.is_rank:
        # Every index ends in `seq`: the filter's own index already reads in this order.
        return ()
    items: tuple[Filter, ...] = (residual,)
    if isinstance(residual, Group):
        if residual.kind != "and" or residual.negated:
            return ()
        items = residual.items
    conditions: list[Condition] = []
    for item in items:
        if not isinstance(item, Condition) or not _walkable(resource, item, first.name):
            return ()
        conditions.append(item)
    pinned = frozenset(c.field for c in conditions if c.op is Op.EQ)
    served = max(
        (
            key
            for key, sorts in ORDERED_BY_COMPOSITE.items()
            if key <= pinned and first.name in sorts
        ),
        key=len,
        default=frozenset(),
    )
    # Those stay on their composite index, which reads them in the sort's order.
    return tuple(c for c in conditions if not (c.op is Op.EQ and c.field in served))


def _walkable(resource: Resource, condition: Condition, sort_field: str) -> bool:
    spec = resource.fields[condition.field]
    if not isinstance(condition.value, tuple) and condition.op is not Op.EQ:
        return False
    if condition.value in ((), None):
        return False
    if spec.kind is Kind.TAGS:
        return condition.op in (Op.CONTAINS, Op.CONTAINS_ANY) or (
            condition.op is Op.CONTAINS_ALL and len(set(condition.value)) == 1  # type: ignore[arg-type]
        )
    if condition.op not in (Op.EQ, Op.IN):
        return False
    # A unique column (or the sort's own) finds its rows in order already.
    return not (spec.unique or spec.case_insensitive or spec.name == sort_field)


def dense(
    conn: Connection, resource: Resource, conditions: Sequence[Condition], reach: int = 26
) -> bool:
    """Whether the conjunction of `conditions` is estimated (as if independent: the product of
    each one's share of the table) to match `DENSE_FILTER` rows or more, and enough that the
    walk finds the first `reach` (offset + limit + 1) of them in fewer rows than a sort
    reads: about reach * total / matches rows against `matches`."""
    if not conditions:
        return False
    counted = {c.field for c in conditions if c.field in COUNTED}
    counts = _counts(conn, counted)
    total = counts.get(("total", ""), 0)
    needed = max(DENSE_FILTER, math.isqrt(reach * total) + 1)
    if total < needed:
        return False
    estimate = float(total)
    for condition in conditions:
        if condition.field in COUNTED:
            values = _values(condition)
            matches = sum(counts.get((condition.field, str(v)), 0) for v in values)
        else:
            matches = int(conn.execute(_probe(resource, condition, needed)).scalar_one())
        estimate *= matches / total
        if estimate < needed:
            return False
    return True


def _values(condition: Condition) -> tuple[object, ...]:
    value = condition.value
    return tuple(set(value)) if isinstance(value, tuple) else (value,)


def _counts(conn: Connection, dimensions: set[str]) -> dict[tuple[str, str], int]:
    k = tables.customer_counts.c
    # Summed per key: on PostgreSQL the table holds signed deltas (compacted now and then).
    rows = conn.execute(
        select(k.dimension, k.value, func.sum(k["count"]))
        .where(k.dimension.in_(["total", *sorted(dimensions)]))
        .group_by(k.dimension, k.value)
    )
    # (The one `total` row is keyed by its dimension alone.)
    return {
        (dimension, "" if dimension == "total" else value): int(count)
        for dimension, value, count in rows
    }


def _probe(resource: Resource, condition: Condition, cap: int) -> Select[Any]:
    """Matches of one condition, counted on its index up to `cap` (20,000: about 2 ms)."""
    spec = resource.fields[condition.field]
    values = sorted({str(v) for v in _values(condition)})
    if spec.kind is Kind.TAGS:
        tags = tables.customer_tags.c
        capped = select(literal(1)).where(tags.tagKey.in_(values)).limit(cap)
    else:
        column = spec.column
        capped = (
            select(literal(1))
            .select_from(resource.table)
            .where(column.in_([literal(v, column.type) for v in _values(condition)]))
            .limit(cap)
        )
    return select(func.count()).select_from(capped.subquery())


def walked(resource: Resource, condition: Condition) -> ColumnElement[bool]:
    """`condition` (one that `candidates` returned) in a form no index serves on SQLite."""
    spec = resource.fields[condition.field]
    values = _values(condition)
    if spec.kind is Kind.TAGS:
        tags = tables.customer_tags.c
        # The tag table's primary key (customerId, tagKey) answers it for each row walked.
        keys = sorted(str(v) for v in values)
        return (
            select(literal(1)).where(tags.customerId == spec.column, tags.tagKey.in_(keys)).exists()
        )
    # Unary plus: the same value and collation, but not a column SQLite looks for an index on.
    unindexed = UnaryExpression(spec.column, operator=_UNARY_PLUS, type_=spec.column.type)
    if condition.op is Op.EQ:
        return unindexed == literal(condition.value, spec.column.type)
    return unindexed.in_([literal(v, spec.column.type) for v in values])


def counted_total(conn: Connection, resource: Resource, residual: Filter | None) -> int | None:
    """The number of customers matching `residual` without counting rows, when that is known:
    no filter; one equality / `in` on a column `customer_counts` counts; one on `assignedTo` and
    one on `status` (their pair, migration 0005); a range of a day-counted timestamp (the whole
    UTC days from the counters, the partial ones on the index: see `periods.py`) with, for
    `nextFollowUpAt`, `status` not archived; or one tag (its rows in `customer_tags`, one per
    customer). Else None. (SQLite: counting 900,000 matches on an index takes 30 ms;
    PostgreSQL: a rep's 186,000 active records, 57-75 ms.)"""
    if resource.table is not tables.customers:
        return None
    if residual is None:
        return _counts(conn, set()).get(("total", ""))
    conditions = _conjuncts(residual)
    if not conditions or any(c.value in ((), None) for c in conditions):
        return None
    if len(conditions) == 1 and conditions[0].field not in DAY_COUNTED:
        return _one_value_total(conn, conditions[0])
    if {c.field for c in conditions} == set(PAIR_FIELDS):
        return _pair_total(conn, conditions)
    return _range_total(conn, resource, conditions)


def _conjuncts(residual: Filter) -> tuple[Condition, ...]:
    """The conditions `residual` is the AND of, or () when it is anything else."""
    if isinstance(residual, Condition):
        return (residual,)
    if residual.kind != "and" or residual.negated:
        return ()
    items = residual.items
    return items if all(isinstance(i, Condition) for i in items) else ()  # type: ignore[return-value]


def _one_value_total(conn: Connection, condition: Condition) -> int | None:
    values = _values(condition)
    if condition.field == "tags" and condition.op in (
        Op.CONTAINS,
        Op.CONTAINS_ANY,
        Op.CONTAINS_ALL,
    ):
        if len(values) != 1:
            return None
        tags = tables.customer_tags.c
        counted = select(func.count()).where(tags.tagKey == str(values[0]))
        return int(conn.execute(counted).scalar_one())
    if condition.field not in COUNTED or condition.op not in (Op.EQ, Op.IN):
        return None
    return _summed(conn, condition.field, [str(v) for v in values])


def _pair_total(conn: Connection, conditions: Sequence[Condition]) -> int | None:
    by_field = {c.field: c for c in conditions}
    if len(conditions) != len(PAIR_FIELDS) or any(c.op not in (Op.EQ, Op.IN) for c in conditions):
        return None
    first, second = (_values(by_field[f]) for f in PAIR_FIELDS)
    keys = [f"{a}{PAIR_SEPARATOR}{b}" for a in first for b in second]
    return _summed(conn, PAIR_DIMENSION, keys)


def _summed(conn: Connection, dimension: str, values: list[str]) -> int | None:
    """The customers with any of `values` in `dimension`, from the counters (their keys alone:
    one indexed read); None when the counters hold nothing, not even a total."""
    rows = conn.execute(_summed_statement(), {"dimension": dimension, "values": values})
    found = {name: int(count) for name, count in rows}
    return None if "total" not in found else found.get(dimension, 0)


@cache
def _summed_statement() -> Select[Any]:
    # Built once, with parameters: a list's total is one of its two statements.
    k = tables.customer_counts.c
    keys = and_(
        k.dimension == bindparam("dimension"), k.value.in_(bindparam("values", expanding=True))
    )
    return (
        select(k.dimension, func.sum(k["count"]))
        .where(or_(k.dimension == "total", keys))
        .group_by(k.dimension)
    )


def _range_total(
    conn: Connection, resource: Resource, conditions: Sequence[Condition]
) -> int | None:
    """A range (lt, lte, gt, gte, between) of one day-counted timestamp, with for
    `nextFollowUpAt` the `status` filter its counters imply (not archived) and nothing else."""
    field = next((c.field for c in conditions if c.field in DAY_COUNTED), None)
    if field is None:
        return None
    dimension, without_archived = DAY_COUNTED[field]
    others = [c for c in conditions if c.field != field]
    implied = len(others) == 1 and others[0] in NOT_ARCHIVED
    if not (implied if without_archived else not others):
        return None
    bounds = _bounds([c for c in conditions if c.field == field])
    if bounds is None:
        return None
    column = resource.fields[field].column
    count = range_count(dimension, column, *bounds, leave_out_archived=without_archived)
    counted, *values = count.query.execute(conn).one()
    if not counted:
        return None
    return sum(sign * int(n) for sign, n in zip(count.signs, values, strict=True))


def _bounds(conditions: Sequence[Condition]) -> tuple[Bound | None, Bound | None] | None:
    """(low, high) of range conditions on one timestamp, or None when they are not one range."""
    low: Bound | None = None
    high: Bound | None = None
    for condition in conditions:
        value = condition.value
        pairs: list[tuple[Op, object]] = [(condition.op, value)]
        if condition.op is Op.BETWEEN and isinstance(value, tuple) and len(value) == 2:
            pairs = [(Op.GTE, value[0]), (Op.LTE, value[1])]
        for op, at in pairs:
            if not isinstance(at, datetime) or at.tzinfo is None:
                return None
            if op in (Op.GT, Op.GTE) and low is None:
                low = Bound(at, op is Op.GTE)
            elif op in (Op.LT, Op.LTE) and high is None:
                high = Bound(at, op is Op.LTE)
            else:
                return None
    return low, high
