"""The one internal query representation (SPEC §7): what both front syntaxes parse into.

The native API's query string (`native.py`) and, later, Appwrite's JSON `queries` both produce a
`ListQuery`; `compiler.py` is the only thing that turns one into SQL. Values in a `Condition` are
already typed (datetime, float, int, bool, str) by the field registry, so the compiler never
parses text.

Null semantics (two-valued, chosen so that a filter and its negation split the rows in two):
comparisons (`eq`, `lt`, `between`, `startsWith`, ...) never match a null value; every negative
operator (`ne`, `notIn`, `notBetween`, `notStartsWith`, `notEndsWith`, `notContains`,
`notSearch`) and every negated group is the exact complement of its positive form, so
`assignedTo ne X` includes the unassigned rows. `isNull` / `isNotNull` test nulls explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime
from enum import StrEnum
from typing import Literal, TypeAlias

Scalar: TypeAlias = str | int | float | bool | datetime
Value: TypeAlias = Scalar | tuple[Scalar, ...] | None


class Op(StrEnum):
    """Filter operators: the native ones and Appwrite's, one vocabulary."""

    EQ = "eq"
    NE = "ne"
    IN = "in"
    NOT_IN = "notIn"
    LT = "lt"
    LTE = "lte"
    GT = "gt"
    GTE = "gte"
    BETWEEN = "between"
    NOT_BETWEEN = "notBetween"
    IS_NULL = "isNull"
    IS_NOT_NULL = "isNotNull"
    STARTS_WITH = "startsWith"
    NOT_STARTS_WITH = "notStartsWith"
    ENDS_WITH = "endsWith"
    NOT_ENDS_WITH = "notEndsWith"
    CONTAINS = "contains"
    NOT_CONTAINS = "notContains"
    # On the virtual `tags` field: has any / has every one of the values.
    CONTAINS_ANY = "containsAny"
    CONTAINS_ALL = "containsAll"
    SEARCH = "search"
    NOT_SEARCH = "notSearch"


# Each negative operator is the complement of a positive one; the compiler builds the positive
# predicate and negates it, so the two can never drift apart.
NEGATIVE_OF: dict[Op, Op] = {
    Op.NE: Op.EQ,
    Op.NOT_IN: Op.IN,
    Op.NOT_BETWEEN: Op.BETWEEN,
    Op.IS_NOT_NULL: Op.IS_NULL,
    Op.NOT_STARTS_WITH: Op.STARTS_WITH,
    Op.NOT_ENDS_WITH: Op.ENDS_WITH,
    Op.NOT_CONTAINS: Op.CONTAINS,
    Op.NOT_SEARCH: Op.SEARCH,
}
# Operators whose value is a tuple (a list of values, or a (low, high) pair for between).
LIST_OPS = frozenset(
    {Op.IN, Op.NOT_IN, Op.BETWEEN, Op.NOT_BETWEEN, Op.CONTAINS_ANY, Op.CONTAINS_ALL}
)
NO_VALUE_OPS = frozenset({Op.IS_NULL, Op.IS_NOT_NULL})


@dataclass(frozen=True, slots=True)
class Condition:
    """`field op value`. `field` is the public name; `param` names the query parameter the
    condition came from, so an error found later can still name what the client sent."""

    field: str
    op: Op
    value: Value = None
    param: str | None = dataclass_field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Group:
    """AND / OR over conditions and groups. An empty AND is true, an empty OR matches nothing
    (which is how a front end says "this can match no row", e.g. an unknown enum value)."""

    kind: Literal["and", "or"]
    items: tuple[Condition | Group, ...] = ()
    negated: bool = False


Filter: TypeAlias = Condition | Group
MATCH_ALL = Group("and")
MATCH_NOTHING = Group("or")


@dataclass(frozen=True, slots=True)
class Sort:
    field: str
    descending: bool = False
    param: str | None = dataclass_field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Cursor:
    """A position in an ordering: the sort-key values of a row and its `seq`.

    `before` asks for the page that ends just before the position (Appwrite's cursorBefore),
    returned in the requested order. `fingerprint` identifies the ordering it was made for.
    """

    values: tuple[Scalar | None, ...]
    seq: int
    fingerprint: str
    before: bool = False


@dataclass(frozen=True, slots=True)
class ListQuery:
    """Everything a list request asks for. `search` is the ranked full-text query (`q`); None or
    blank means no search, while a text with no words in it (only punctuation) matches nothing."""

    where: Filter = MATCH_ALL
    sort: tuple[Sort, ...] = ()
    limit: int = 25
    offset: int = 0
    cursor: Cursor | None = None
    with_total: bool = True
    search: str | None = None


DEFAULT_LIMIT = 25
MAX_LIMIT = 1000


def conjoin(*filters: Filter | None) -> Filter:
    """AND of the given filters, flattening plain ANDs and dropping empty ones."""
    items: list[Filter] = []
    for item in filters:
        if item is None:
            continue
        if isinstance(item, Group) and item.kind == "and" and not item.negated:
            items.extend(item.items)
        else:
            items.append(item)
    return items[0] if len(items) == 1 else Group("and", tuple(items))
