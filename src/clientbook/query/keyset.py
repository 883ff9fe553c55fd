"""Keyset pagination as a list of segments, each one index range read in order.

"The rows after position p" in the order (k1, ..., kn) is the disjoint union, in this order, of

    k1 = p1 AND ... AND k(n-1) = p(n-1) AND kn after pn
    ...
    k1 after p1

where "after" respects each key's direction and puts nulls lowest: ascending, after a null is
`IS NOT NULL` and after a value is `> value`; descending, nothing follows a null and after a value
come `< value` and then the nulls, as two segments. Each segment is a plain conjunction that an
index on (k1, ..., kn) serves as one range, so a page costs the same at any depth, with nulls in
any column and mixed directions. (The usual one-statement OR of these terms defeats index range
scans on both SQLite and PostgreSQL, and a row-value comparison cannot mix directions or nulls.)
The compiler reads the segments in turn and stops once the page is full.

For a relevance order the first key is the rank (tier): a segment is bound to one tier, and
"after tier t" is each later tier in turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from clientbook.query.model import Scalar
from clientbook.query.ordering import Key, Ordering

Relation = Literal["eq", "after", "null", "not_null"]


@dataclass(frozen=True, slots=True)
class Bound:
    """One condition on one sort key: `eq` (IS NULL for a null value), `after`, `null`,
    `not_null`."""

    key: Key
    relation: Relation
    value: Scalar | None = None


@dataclass(frozen=True, slots=True)
class Segment:
    """A conjunction of bounds, within one relevance tier (None when the order has none)."""

    tier: int | None
    bounds: tuple[Bound, ...] = ()


def segments(ordering: Ordering, position: tuple[Scalar | None, ...] | None) -> list[Segment]:
    """The segments of the rows strictly after `position` (one value per key), in order."""
    keys = ordering.keys
    if position is None:
        if ordering.ranked:
            return [Segment(tier) for tier in ordering.tiers()]
        return [Segment(None)]
    tier = _tier(position[0]) if ordering.ranked else None
    out: list[Segment] = []
    for i in reversed(range(len(keys))):
        key, value = keys[i], position[i]
        if key.is_rank:
            later = ordering.tiers()
            out.extend(Segment(t) for t in later[later.index(_tier(value)) + 1 :])
            continue
        prefix = tuple(
            Bound(k, "eq", v) for k, v in zip(keys[:i], position[:i], strict=True) if not k.is_rank
        )
        out.extend(Segment(tier, prefix + bounds) for bounds in _after(key, value))
    return out


def _tier(value: Scalar | None) -> int:
    assert isinstance(value, int), "a rank is an int"
    return value


def _after(key: Key, value: Scalar | None) -> list[tuple[Bound, ...]]:
    """The ranges of values of `key` that sort strictly after `value`, in order."""
    if not key.descending:
        if value is None:
            return [(Bound(key, "not_null"),)]
        return [(Bound(key, "after", value),)]
    if value is None:
        return []
    ranges: list[tuple[Bound, ...]] = [(Bound(key, "after", value),)]
    if key.nullable:
        ranges.append((Bound(key, "null"),))
    return ranges
