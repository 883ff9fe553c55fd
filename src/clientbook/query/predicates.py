"""Filter trees to SQL predicates, and the checks that keep a query on its indexes.

Negation is pushed down to the conditions (De Morgan), and a negated condition on a nullable
column is `col IS NULL OR NOT (...)`, so that a filter and its negation always split the rows in
two (see `model.py`). Values are bound as parameters, typed by their column, never spliced into
SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, NoReturn

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)

from clientbook.db import tables
from clientbook.domain.errors import BadQuery
from clientbook.query.fields import Field, Kind, Resource
from clientbook.query.model import (
    LIST_OPS,
    NEGATIVE_OF,
    NO_VALUE_OPS,
    Condition,
    Filter,
    Group,
    ListQuery,
    Op,
    Scalar,
    Value,
    conjoin,
)
from clientbook.query.ordering import sort_field
from clientbook.query.search import like_prefix, matches, parse_terms

MAX_DEPTH = 8
_TEXT_OPS = frozenset({Op.STARTS_WITH, Op.ENDS_WITH, Op.CONTAINS})
# Positive predicates that are never NULL, so their negation needs no `IS NULL OR`.
_TWO_VALUED = frozenset({Op.IS_NULL, Op.SEARCH, Op.CONTAINS_ANY, Op.CONTAINS_ALL})


# --- checks ---------------------------------------------------------------------------------


def check_query(resource: Resource, query: ListQuery, scope: Filter | None = None) -> None:
    """BadQuery (naming the parameter) unless every filter and sort is allowed and typed."""
    anchored = anchors(conjoin(query.where, scope))
    for condition in walk(query.where):
        check_condition(resource, condition, anchored)
    for sort in query.sort:
        spec = sort_field(resource, sort)
        _check_needs(spec, anchored, sort.param or "sort")
    if query.search and not resource.searchable:
        _refuse("q", f"{resource.name} cannot be searched")


def walk(node: Filter, depth: int = 0) -> Iterator[Condition]:
    if depth > MAX_DEPTH:
        _refuse("queries", f"filters nest deeper than {MAX_DEPTH} levels")
    if isinstance(node, Condition):
        yield node
        return
    for item in node.items:
        yield from walk(item, depth + 1)


def anchors(node: Filter) -> set[str]:
    """Fields pinned by an equality that every matching row satisfies: what `Field.needs` asks
    for."""
    if isinstance(node, Condition):
        pinned = node.op in (Op.EQ, Op.IN) and node.value != ()
        return {node.field} if pinned else set()
    if node.kind != "and" or node.negated:
        return set()
    return set().union(*(anchors(item) for item in node.items))


def check_condition(resource: Resource, condition: Condition, anchored: set[str]) -> None:
    param = condition.param or condition.field
    spec = resource.lookup(condition.field, param=param)
    if not spec.allows(condition.op):
        if condition.op in (Op.SEARCH, Op.NOT_SEARCH):
            _refuse(param, f"`{spec.name}` has no full-text index, so it cannot be searched")
        _refuse(param, f"operator `{condition.op}` does not apply to `{spec.name}`")
    _check_needs(spec, anchored, param)
    _check_value(spec, condition, param)


def _check_needs(spec: Field, anchored: set[str], param: str) -> None:
    if spec.needs and spec.needs not in anchored:
        _refuse(param, f"`{spec.name}` can only be used together with a `{spec.needs}` filter")


def _check_value(spec: Field, condition: Condition, param: str) -> None:
    op, value = condition.op, condition.value
    if op in NO_VALUE_OPS:
        ok = value is None
    elif op in LIST_OPS or NEGATIVE_OF.get(op, op) in _TEXT_OPS:
        ok = isinstance(value, tuple) and all(_typed(spec, v) for v in value)
        if ok and op in (Op.BETWEEN, Op.NOT_BETWEEN):
            ok = isinstance(value, tuple) and len(value) == 2
    elif op in (Op.SEARCH, Op.NOT_SEARCH):
        ok = isinstance(value, str)
    else:
        ok = not isinstance(value, tuple) and value is not None and _typed(spec, value)
    if not ok:
        _refuse(param, f"bad value for `{spec.name}` {op}")


def _typed(spec: Field, value: object) -> bool:
    if spec.kind in (Kind.STRING, Kind.ID, Kind.ENUM, Kind.TAGS):
        return isinstance(value, str)
    if spec.kind is Kind.DATETIME:
        return isinstance(value, datetime)
    if spec.kind is Kind.BOOL:
        return isinstance(value, bool)
    if spec.kind is Kind.INT:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, int | float) and not isinstance(value, bool)


def _refuse(param: str, message: str) -> NoReturn:
    raise BadQuery(message, fields={param: message})


# --- compiling ------------------------------------------------------------------------------


def compile_filter(
    resource: Resource, node: Filter, dialect: str, *, negate: bool = False
) -> ColumnElement[bool]:
    """`node` as a SQL predicate on `resource.table` (its complement when `negate`)."""
    if isinstance(node, Group):
        negate = negate != node.negated
        conjunctive = (node.kind == "and") != negate
        parts = [compile_filter(resource, item, dialect, negate=negate) for item in node.items]
        if conjunctive:
            return and_(*parts) if parts else true()
        return or_(*parts) if parts else false()
    spec = resource.fields[node.field]
    base = NEGATIVE_OF.get(node.op, node.op)
    predicate = _positive(resource, spec, base, node.value, dialect)
    if negate == (node.op in NEGATIVE_OF):
        return predicate
    if spec.nullable and base not in _TWO_VALUED:
        return or_(spec.column.is_(None), not_(predicate))
    return not_(predicate)


def _positive(
    resource: Resource, spec: Field, op: Op, value: Value, dialect: str
) -> ColumnElement[bool]:
    if spec.kind is Kind.TAGS:
        return _tags(spec, op, value)
    if op is Op.SEARCH:
        assert isinstance(value, str)
        return matches(resource.table, parse_terms(value).tokens, dialect)
    if op is Op.IS_NULL:
        return spec.column.is_(None)
    expr = spec.expr
    if op is Op.IN:
        assert isinstance(value, tuple)
        return expr.in_([spec.compared(v) for v in value])
    if op in _TEXT_OPS:
        assert isinstance(value, tuple)
        texts = [str(v) for v in value]
        return or_(*(_text(spec, op, t, dialect) for t in texts)) if texts else false()
    if op is Op.BETWEEN:
        assert isinstance(value, tuple)
        low, high = value
        return expr.between(_bind(spec, low), _bind(spec, high))
    assert value is not None and not isinstance(value, tuple)
    return compare(spec, op, value)


def compare(spec: Field, op: Op, value: Scalar) -> ColumnElement[bool]:
    """`spec op value` for eq/lt/lte/gt/gte."""
    bound = _bind(spec, value)
    expr = spec.expr
    if op is Op.EQ:
        return expr == bound
    if op is Op.LT:
        return expr < bound
    if op is Op.LTE:
        return expr <= bound
    if op is Op.GT:
        return expr > bound
    if op is Op.GTE:
        return expr >= bound
    raise ValueError(op)


def _bind(spec: Field, value: Scalar) -> ColumnElement[Any]:
    return literal(spec.compared(value), spec.expr.type)


def _tags(spec: Field, op: Op, value: Value) -> ColumnElement[bool]:
    assert isinstance(value, tuple)
    keys = sorted({str(v) for v in value})
    if not keys:
        return true() if op is Op.CONTAINS_ALL else false()
    tags = tables.customer_tags
    having = select(tags.c.customerId).where(tags.c.tagKey.in_(keys))
    if op is Op.CONTAINS_ALL and len(keys) > 1:
        having = having.group_by(tags.c.customerId).having(func.count() == len(keys))
    return spec.column.in_(having)


def _text(spec: Field, op: Op, text: str, dialect: str) -> ColumnElement[bool]:
    """startsWith / endsWith / contains, case-sensitive (email: case-insensitive)."""
    expr = spec.expr
    if not text:
        return spec.column.is_not(None)
    if op is Op.STARTS_WITH:
        if dialect == "sqlite":
            # A range on the column's own index: with SQLite's binary collation,
            # "starts with p" is exactly p <= value < successor(p).
            low = str(spec.compared(text))
            high = successor(low)
            in_range = expr >= literal(low, String())
            return in_range if high is None else and_(in_range, expr < literal(high, String()))
        return expr.like(_bind(spec, like_prefix(text)), escape="\\")
    bound = _bind(spec, text)
    if op is Op.ENDS_WITH:
        if dialect == "sqlite":
            return func.substr(expr, -len(text)) == bound
        return func.right(expr, len(text)) == bound
    position = func.instr(expr, bound) if dialect == "sqlite" else func.strpos(expr, bound)
    return position > 0


def successor(text: str) -> str | None:
    """The least string greater than every string starting with `text` (code point order)."""
    while text:
        last = ord(text[-1])
        if last < 0x10FFFF:
            following = last + 1 if not 0xD800 <= last + 1 <= 0xDFFF else 0xE000
            return text[:-1] + chr(following)
        text = text[:-1]
    return None
