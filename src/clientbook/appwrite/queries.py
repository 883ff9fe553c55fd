"""Appwrite's JSON `queries` (appwrite-compat §5) into the one internal `ListQuery`.

Each query is `{"method", "attribute"?, "values"?}`; filters are ANDed, `and`/`or` nest up to
three levels. The field registry (`query.fields`) decides what may be filtered or sorted and
types every value, and `query.compiler` is the only thing that turns the result into SQL: this
module is a second front syntax, like `query/native.py`, and holds no rule of its own.

What Appwrite expresses that a `ListQuery` does not is returned beside it: the `select`ion
(attributes to return, relations to populate) and a cursor given as a row id, which only the
caller can place (it must first check the row is visible to the principal).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import orjson

from clientbook.appwrite.errors import query_invalid
from clientbook.domain.errors import BadQuery
from clientbook.query.fields import Field, Kind, Resource
from clientbook.query.model import (
    DEFAULT_LIMIT,
    MATCH_ALL,
    MATCH_NOTHING,
    Condition,
    Filter,
    Group,
    ListQuery,
    Op,
    Scalar,
    Sort,
)
from clientbook.query.ordering import sort_field
from clientbook.query.search import check_search_text

MAX_QUERIES = 100
MAX_QUERY_CHARS = 4096
MAX_VALUES = 500
MAX_DEPTH = 3
MAX_LIMIT = 5000

# Appwrite method → operator, and how many values it takes: (least, most); None = no limit.
FILTERS: dict[str, tuple[Op, int, int | None]] = {
    "equal": (Op.IN, 1, None),
    "notEqual": (Op.NOT_IN, 1, None),
    "lessThan": (Op.LT, 1, 1),
    "lessThanEqual": (Op.LTE, 1, 1),
    "greaterThan": (Op.GT, 1, 1),
    "greaterThanEqual": (Op.GTE, 1, 1),
    "between": (Op.BETWEEN, 2, 2),
    "notBetween": (Op.NOT_BETWEEN, 2, 2),
    "isNull": (Op.IS_NULL, 0, 0),
    "isNotNull": (Op.IS_NOT_NULL, 0, 0),
    "startsWith": (Op.STARTS_WITH, 1, None),
    "notStartsWith": (Op.NOT_STARTS_WITH, 1, None),
    "endsWith": (Op.ENDS_WITH, 1, None),
    "notEndsWith": (Op.NOT_ENDS_WITH, 1, None),
    "contains": (Op.CONTAINS, 1, None),
    "notContains": (Op.NOT_CONTAINS, 1, None),
    "containsAny": (Op.CONTAINS_ANY, 1, None),
    "containsAll": (Op.CONTAINS_ALL, 1, None),
    "search": (Op.SEARCH, 1, 1),
    "notSearch": (Op.NOT_SEARCH, 1, 1),
}
GROUPS = ("and", "or")
ORDERS = {"orderAsc": False, "orderDesc": True}
CURSORS = {"cursorAfter": False, "cursorBefore": True}
# Equality on these kinds drops values that no row can hold (an unknown enum value, a string
# that is no id): Appwrite answers "no match" there, not an error (compat §5).
_PRUNED_KINDS = frozenset({Kind.ENUM, Kind.ID})

Rewrite = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class CursorAt:
    """`cursorAfter` / `cursorBefore`: a position given as a row id, placed by the caller."""

    row_id: str
    before: bool


@dataclass(frozen=True, slots=True)
class Selection:
    """`select`: the attributes to return (None: all) and the relations to populate."""

    names: frozenset[str] | None = None
    populate: frozenset[str] = frozenset()

    def keeps(self, name: str) -> bool:
        return self.names is None or name in self.names


EVERYTHING = Selection()


@dataclass(frozen=True)
class Grammar:
    """What one collection's queries may name: its query fields, every attribute (for
    `select`), the relations `rel.*` can populate, and an optional rewrite of each filter or
    order (the Users API's boolean `status` and `labels`)."""

    resource: Resource
    attributes: frozenset[str]
    relations: frozenset[str] = frozenset()
    rewrite: Rewrite | None = None


@dataclass(frozen=True, slots=True)
class Parsed:
    query: ListQuery
    cursor: CursorAt | None = None
    selection: Selection = EVERYTHING


def parse_list(grammar: Grammar, raw: Sequence[str], *, with_total: bool = True) -> Parsed:
    """A list request's `queries` as one ListQuery (400 `general_query_invalid` otherwise)."""
    filters: list[Filter] = []
    sorts: list[Sort] = []
    # As Appwrite (utopia-php/database `Query::groupByType`): every limit, offset and cursor is
    # checked, the first of each is used and any later one ignored.
    limit: int | None = None
    offset: int | None = None
    cursor: CursorAt | None = None
    selection = EVERYTHING
    for index, item in enumerate(_decode_all(raw)):
        param = f"queries[{index}]"
        if grammar.rewrite is not None:
            item = grammar.rewrite(item)
        method = item["method"]
        if method in FILTERS or method in GROUPS:
            filters.append(_filter(grammar, item, param, depth=1))
        elif method in ORDERS:
            sorts.append(_sort(grammar, item, param, sorts))
        elif method == "limit":
            counted = _count(item, 1, MAX_LIMIT)
            limit = counted if limit is None else limit
        elif method == "offset":
            counted = _count(item, 0, None)
            offset = counted if offset is None else offset
        elif method in CURSORS:
            placed = CursorAt(_cursor_id(item), before=CURSORS[method])
            cursor = placed if cursor is None else cursor
        elif method == "select":
            selection = _selection(grammar, item)
        else:
            _refuse(f"method `{method}` is not supported")
    search, filters = _ranked_search(grammar.resource, filters, sorts)
    where = filters[0] if len(filters) == 1 else Group("and", tuple(filters))
    query = ListQuery(
        where=where if filters else MATCH_ALL,
        sort=tuple(sorts),
        limit=DEFAULT_LIMIT if limit is None else limit,
        offset=offset or 0,
        with_total=with_total,
        search=search,
    )
    return Parsed(query, cursor, selection)


def parse_select(grammar: Grammar, raw: Sequence[str]) -> Selection:
    """A get request's `queries`: `select` only."""
    selection = EVERYTHING
    for query in _decode_all(raw):
        if query["method"] != "select":
            _refuse("only `select` queries are allowed when reading one record")
        selection = _selection(grammar, query)
    return selection


# --- decoding --------------------------------------------------------------------------------


def _decode_all(raw: Sequence[str]) -> list[dict[str, Any]]:
    if len(raw) > MAX_QUERIES:
        _refuse(f"at most {MAX_QUERIES} queries are allowed")
    return [_decode(text) for text in raw]


def _decode(text: str) -> dict[str, Any]:
    if len(text) > MAX_QUERY_CHARS:
        _refuse(f"a query may be at most {MAX_QUERY_CHARS} characters")
    try:
        query = orjson.loads(text)
    except orjson.JSONDecodeError:
        _refuse(f"not valid JSON: {text[:100]}")
    return _checked(query)


def _checked(query: object) -> dict[str, Any]:
    if not isinstance(query, dict) or not isinstance(query.get("method"), str):
        _refuse("a query is a JSON object with a `method`")
    values = query.get("values")
    if values is not None and not isinstance(values, list):
        _refuse("`values` must be a list")
    if values is not None and len(values) > MAX_VALUES:
        _refuse(f"at most {MAX_VALUES} values are allowed in one query")
    attribute = query.get("attribute")
    if attribute is not None and not isinstance(attribute, str):
        _refuse("`attribute` must be a string")
    return query


def _values(query: dict[str, Any]) -> list[Any]:
    values = query.get("values")
    return [] if values is None else values


# --- filters ---------------------------------------------------------------------------------


def _filter(grammar: Grammar, query: dict[str, Any], param: str, *, depth: int) -> Filter:
    method = query["method"]
    if method in GROUPS:
        if depth > MAX_DEPTH:
            _refuse(f"`and` / `or` may nest at most {MAX_DEPTH} levels deep")
        items = [_checked(item) for item in _values(query)]
        if not items:
            _refuse(f"`{method}` needs at least one query")
        rewrite = grammar.rewrite or (lambda item: item)
        nested = (_filter(grammar, rewrite(item), param, depth=depth + 1) for item in items)
        return Group("and" if method == "and" else "or", tuple(nested))
    if method not in FILTERS:
        _refuse(f"method `{method}` cannot be nested in `and` / `or`")
    op, least, most = FILTERS[method]
    spec = _field(grammar.resource, query.get("attribute") or "", param)
    if op in (Op.SEARCH, Op.NOT_SEARCH) and not spec.allows(op):
        _refuse(f'Searching by attribute "{spec.name}" requires a fulltext index.')
    if not spec.allows(op):
        _refuse(f"`{method}` does not apply to attribute `{spec.name}`")
    values = _values(query)
    if not least <= len(values) <= (most if most is not None else len(values)):
        wanted = least if least == most else f"at least {least}"
        _refuse(f"`{method}` takes {wanted} value(s), got {len(values)}")
    if op in (Op.SEARCH, Op.NOT_SEARCH):
        return Condition(spec.name, op, _search_text(values[0]), param=param)
    if op in (Op.IS_NULL, Op.IS_NOT_NULL):
        return Condition(spec.name, op, None, param=param)
    if op in (Op.IN, Op.NOT_IN):
        return _equality(spec, op, values, param)
    typed = tuple(_typed(spec, value) for value in values)
    if op in (Op.LT, Op.LTE, Op.GT, Op.GTE):
        return Condition(spec.name, op, typed[0], param=param)
    return Condition(spec.name, op, typed, param=param)


def _equality(spec: Field, op: Op, values: list[Any], param: str) -> Filter:
    """`equal` / `notEqual`: any (none) of the values; impossible values match nothing."""
    if spec.kind in _PRUNED_KINDS:
        values = [v for v in values if not (isinstance(v, str) and not _possible(spec, v))]
        if not values:
            return MATCH_NOTHING if op is Op.IN else MATCH_ALL
    typed = tuple(dict.fromkeys(_typed(spec, value) for value in values))
    if len(typed) == 1:
        return Condition(spec.name, Op.EQ if op is Op.IN else Op.NE, typed[0], param=param)
    return Condition(spec.name, op, typed, param=param)


def _possible(spec: Field, value: str) -> bool:
    try:
        spec.coerce(value)
    except ValueError:
        return False
    return True


def _typed(spec: Field, value: Any) -> Scalar:
    try:
        return spec.coerce(value)
    except ValueError as exc:
        _refuse(f"invalid value for attribute `{spec.name}`: {exc}")


def _search_text(value: Any) -> str:
    if not isinstance(value, str):
        _refuse("`search` takes a text")
    problem = check_search_text(value)
    if problem:
        _refuse(f"search: {problem}")
    return value


def _field(resource: Resource, name: str, param: str) -> Field:
    try:
        return resource.lookup(name, param=param)
    except BadQuery as exc:
        _refuse(exc.message)


def _ranked_search(
    resource: Resource, filters: list[Filter], sorts: list[Sort]
) -> tuple[str | None, list[Filter]]:
    """Without an order, the first top-level `search` becomes the ranked search (best matches
    first, compat §5); under an order it stays a plain filter."""
    if sorts or not resource.searchable:
        return None, filters
    for position, item in enumerate(filters):
        if isinstance(item, Condition) and item.op is Op.SEARCH and isinstance(item.value, str):
            return item.value, filters[:position] + filters[position + 1 :]
    return None, filters


# --- orders, pages, cursors, select ----------------------------------------------------------


def _sort(grammar: Grammar, query: dict[str, Any], param: str, sorts: list[Sort]) -> Sort:
    # `orderAsc('')` is Appwrite's internal order: the sequence.
    name = query.get("attribute") or "$sequence"
    spec = _field(grammar.resource, name, param)
    sort = Sort(spec.name, ORDERS[query["method"]], param=param)
    try:
        sort_field(grammar.resource, sort)
    except BadQuery as exc:
        _refuse(exc.message)
    if any(existing.field == sort.field for existing in sorts):
        _refuse(f"`{name}` is ordered on twice")
    return sort


def _count(query: dict[str, Any], low: int, high: int | None) -> int:
    values = _values(query)
    value = values[0] if len(values) == 1 else None
    if not isinstance(value, int) or isinstance(value, bool):
        _refuse(f"`{query['method']}` takes one integer")
    if value < low or (high is not None and value > high):
        bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
        _refuse(f"`{query['method']}` must be {bounds}")
    return value


def _cursor_id(query: dict[str, Any]) -> str:
    values = _values(query)
    if len(values) != 1 or not isinstance(values[0], str) or not values[0]:
        _refuse(f"`{query['method']}` takes one row id")
    return str(values[0])


def _selection(grammar: Grammar, query: dict[str, Any]) -> Selection:
    values = _values(query)
    if not values or not all(isinstance(v, str) for v in values):
        _refuse("`select` takes a list of attribute names")
    names: set[str] = set()
    populate: set[str] = set()
    everything = False
    for name in values:
        relation, dot, _rest = name.partition(".")
        if name == "*":
            everything = True
        elif dot:
            if relation not in grammar.relations:
                _refuse(f"`{relation}` is not a relationship that can be populated")
            populate.add(relation)
            names.add(relation)
        elif name.startswith("$") or name in grammar.attributes:
            names.add(name)
        else:
            _refuse(f"attribute not found in schema: {name}")
    return Selection(None if everything else frozenset(names), frozenset(populate))


def _refuse(message: str) -> NoReturn:
    raise query_invalid(message)


__all__ = [
    "EVERYTHING",
    "CursorAt",
    "Grammar",
    "Parsed",
    "Selection",
    "parse_list",
    "parse_select",
]
