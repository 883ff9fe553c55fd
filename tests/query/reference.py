"""A pure-Python reading of the query model, to check the SQL against.

It follows `clientbook.query.model`'s semantics literally: comparisons never match null, each
negative operator and each negated group is the complement of its positive form, nulls sort
lowest, and every order ends with `seq` ascending.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from clientbook.query.fields import Field, Kind, Resource
from clientbook.query.model import NEGATIVE_OF, Condition, Filter, Group, Op, Sort
from clientbook.query.search import parse_terms


def _norm(spec: Field, value: Any) -> Any:
    # Every letter lowercased on its own, as PostgreSQL's lower() does: `Ö` meets `ö`.
    if spec.case_insensitive and isinstance(value, str):
        return "".join(ch.lower() if len(ch.lower()) == 1 else ch.lower()[0] for ch in value)
    return value


def matches(resource: Resource, node: Filter, row: dict[str, Any]) -> bool:
    if isinstance(node, Group):
        results = (matches(resource, item, row) for item in node.items)
        result = all(results) if node.kind == "and" else any(results)
        return result != node.negated
    base = NEGATIVE_OF.get(node.op, node.op)
    result = _positive(resource.fields[node.field], base, node, row)
    return result != (node.op in NEGATIVE_OF)


def _positive(spec: Field, op: Op, condition: Condition, row: dict[str, Any]) -> bool:
    value = condition.value
    if spec.kind is Kind.TAGS:
        assert isinstance(value, tuple)
        tags = set(row["tags"])
        if op is Op.CONTAINS_ALL:
            return set(value) <= tags
        return bool(set(value) & tags)
    if op is Op.SEARCH:
        # Every word of the search is a prefix of a word of the row's search text.
        assert isinstance(value, str)
        tokens = parse_terms(value).tokens
        words = row["searchText"].split()
        return bool(tokens) and all(any(w.startswith(t) for w in words) for t in tokens)
    x = row[spec.column.name]
    if op is Op.IS_NULL:
        return x is None
    if x is None:
        return False
    x = _norm(spec, x)
    if op is Op.EQ:
        return x == _norm(spec, value)
    if op is Op.IN:
        assert isinstance(value, tuple)
        return x in {_norm(spec, v) for v in value}
    if op is Op.BETWEEN:
        assert isinstance(value, tuple)
        low, high = (_norm(spec, v) for v in value)
        return low <= x <= high
    if op in (Op.STARTS_WITH, Op.ENDS_WITH, Op.CONTAINS):
        assert isinstance(value, tuple)
        texts = [_norm(spec, v) for v in value]
        if op is Op.STARTS_WITH:
            return any(x.startswith(t) for t in texts)
        if op is Op.ENDS_WITH:
            return any(x.endswith(t) for t in texts)
        return any(t in x for t in texts)
    v = _norm(spec, value)
    return {Op.LT: x < v, Op.LTE: x <= v, Op.GT: x > v, Op.GTE: x >= v}[op]


def ordered(resource: Resource, rows: Iterable[dict[str, Any]], sorts: tuple[Sort, ...]) -> list:
    """Rows in the order of `sorts`, nulls lowest, ties by `seq`."""
    result = sorted(rows, key=lambda r: r["seq"])
    for sort in reversed(sorts):
        spec = resource.fields[sort.field]

        def key(row: dict[str, Any], spec: Field = spec) -> tuple:
            value = row[spec.column.name]
            return (0,) if value is None else (1, _norm(spec, value))

        result.sort(key=key, reverse=sort.descending)
    return result


def select(
    resource: Resource, rows: Iterable[dict[str, Any]], where: Filter, sorts: tuple[Sort, ...]
) -> list[dict[str, Any]]:
    return ordered(resource, [r for r in rows if matches(resource, where, r)], sorts)
