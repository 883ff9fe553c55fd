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

The total of such a list comes from the counters too when they know it (`counted_total`):
counting 900,000 matches on their index costs more than reading the page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, func, literal, select
from sqlalchemy.sql.elements import UnaryExpression
from sqlalchemy.sql.operators import custom_op

from clientbook.db import tables
from clientbook.query.fields import Kind, Resource
from clientbook.query.model import Condition, Filter, Group, Op
from clientbook.query.ordering import Ordering

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
    no filter, or one equality / `in` on a column `customer_counts` counts (from the counters),
    or one tag (its rows in `customer_tags`, one per customer). Else None. (SQLite: counting
    900,000 matches on an index takes 30 ms.)"""
    if resource.table is not tables.customers:
        return None
    if residual is None:
        return _counts(conn, set()).get(("total", ""))
    if not isinstance(residual, Condition) or residual.value in ((), None):
        return None
    values = _values(residual)
    if residual.field == "tags" and residual.op in (Op.CONTAINS, Op.CONTAINS_ANY, Op.CONTAINS_ALL):
        if len(values) != 1:
            return None
        tags = tables.customer_tags.c
        counted = select(func.count()).where(tags.tagKey == str(values[0]))
        return int(conn.execute(counted).scalar_one())
    if residual.field not in COUNTED or residual.op not in (Op.EQ, Op.IN):
        return None
    counts = _counts(conn, {residual.field})
    if ("total", "") not in counts:
        return None
    return sum(counts.get((residual.field, str(v)), 0) for v in values)
