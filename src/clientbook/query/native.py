"""The native API's query string (SPEC §7, §12) into a `ListQuery`.

    status=active                 equality; a comma list means "any of": status=lead,prospect
    status[ne]=archived           ne (a comma list: none of), lt lte gt gte, in, eq, isnull
    company[eq]=Acme, Inc.        eq takes the value whole, commas included
    nextFollowUpAt[lte]=now       datetimes: ISO 8601 dates or datetimes, or `now`
    tag=vip,enterprise            has any of the tags (tag[ne]=x: has none of them)
    q=tan mei                     full-text search (ranked unless a sort is given)
    sort=-lastContactAt,name      several keys, `-` for descending
    limit=50 offset=0 cursor=...  total=false skips the count

In comma lists `\\,` is a literal comma and `\\\\` a backslash. Values are trimmed, and a parameter
with an empty value is ignored (an HTML form sends one for every unfilled field). A parameter given
twice is refused rather than guessed at. Every problem is reported at once, each under the name
of the parameter that caused it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import replace
from typing import NoReturn, TypeVar

from clientbook.domain.errors import BadQuery
from clientbook.query.cursor import decode
from clientbook.query.fields import Field, Kind, Resource
from clientbook.query.model import (
    DEFAULT_LIMIT,
    MATCH_ALL,
    MAX_LIMIT,
    Condition,
    Cursor,
    Group,
    ListQuery,
    Op,
    Scalar,
    Sort,
    Value,
)
from clientbook.query.ordering import ordering_for, sort_field
from clientbook.query.search import check_search_text

MAX_LIST_VALUES = 100
MAX_SORT_KEYS = 8
CONTROL = frozenset({"q", "sort", "limit", "offset", "cursor", "total"})
NATIVE_OPS = {
    "eq": Op.EQ,
    "ne": Op.NE,
    "lt": Op.LT,
    "lte": Op.LTE,
    "gt": Op.GT,
    "gte": Op.GTE,
    "in": Op.IN,
    "isnull": Op.IS_NULL,
}
_KEY = re.compile(r"(?P<name>\$?[A-Za-z][A-Za-z0-9_]*)(?:\[(?P<op>[^\]]*)\])?")
_COUNT = re.compile(r"\d{1,12}")
_SPLIT = re.compile(r"\\(.)|(,)")
T = TypeVar("T")


class _Errors(dict[str, str]):
    def add(self, error: BadQuery) -> None:
        for name, message in error.fields.items():
            self.setdefault(name, message)


def parse_list_query(
    resource: Resource,
    params: Iterable[tuple[str, str]],
    *,
    reserved: Collection[str] = (),
) -> ListQuery:
    """Parse `params` (e.g. `request.query_params.multi_items()`); names in `reserved` are the
    face's own (`expand`, `parse`, ...) and are skipped. BadQuery lists every bad parameter."""
    errors = _Errors()
    seen: set[str] = set()
    control: dict[str, str] = {}
    conditions: list[Condition] = []
    for key, raw in params:
        if key in reserved:
            continue
        if key in seen:
            errors[key] = "given more than once (use one comma-separated list)"
            continue
        seen.add(key)
        value = raw.strip()
        if key in CONTROL:
            control[key] = value
        elif value:
            try:
                conditions.append(parse_condition(resource, key, value))
            except BadQuery as error:
                errors.add(error)

    sort = _guard(errors, lambda: _sort(resource, control.get("sort", "")))
    limit = _guard(errors, lambda: _count("limit", control.get("limit"), 1, MAX_LIMIT))
    offset = _guard(errors, lambda: _count("offset", control.get("offset"), 0, None))
    total = _guard(errors, lambda: _flag("total", control.get("total")))
    query = ListQuery(
        where=Group("and", tuple(conditions)) if conditions else MATCH_ALL,
        sort=sort or (),
        limit=limit or DEFAULT_LIMIT,
        offset=offset or 0,
        with_total=total is not False,
        search=_guard(errors, lambda: _search(control.get("q", ""))),
    )
    token = control.get("cursor")
    if token and "sort" not in errors and "q" not in errors:
        cursor = _guard(errors, lambda: decode(token, ordering_for(resource, query)))
        query = _with_cursor(query, cursor)
    if errors:
        names = ", ".join(sorted(errors))
        raise BadQuery(f"Invalid query parameter(s): {names}", fields=errors)
    return query


def _guard(errors: _Errors, parse: Callable[[], T]) -> T | None:
    try:
        return parse()
    except BadQuery as error:
        errors.add(error)
        return None


def parse_condition(resource: Resource, key: str, text: str) -> Condition:
    """One `field` or `field[op]` parameter as a condition."""
    match = _KEY.fullmatch(key)
    if match is None:
        _refuse(key, "unknown query parameter")
    spec = resource.lookup(match["name"], param=key, native=True)
    opname = match["op"]
    if opname is not None and opname not in NATIVE_OPS:
        _refuse(key, f"unknown operator `{opname}` (use {', '.join(NATIVE_OPS)})")
    if spec.kind is Kind.TAGS:
        return _tag_condition(spec, key, opname, text)
    op, value = _op_and_value(spec, key, opname, text)
    if not spec.allows(op):
        _refuse(key, f"operator `{opname}` does not apply to `{spec.name}`")
    return Condition(spec.name, op, value, param=key)


def _op_and_value(spec: Field, key: str, opname: str | None, text: str) -> tuple[Op, Value]:
    if opname == "isnull":
        is_null = _flag(key, text)
        return (Op.IS_NULL if is_null else Op.IS_NOT_NULL), None
    if opname in (None, "in", "ne"):
        values = _typed_list(spec, key, text)
        if opname == "ne":
            return (Op.NE, values[0]) if len(values) == 1 else (Op.NOT_IN, values)
        return (Op.EQ, values[0]) if len(values) == 1 else (Op.IN, values)
    return NATIVE_OPS[opname], _typed(spec, key, text)


def _tag_condition(spec: Field, key: str, opname: str | None, text: str) -> Condition:
    if opname not in (None, "eq", "in", "ne"):
        _refuse(key, "tags take a comma list: tag=a,b (any of) or tag[ne]=a,b (none of)")
    op = Op.NOT_CONTAINS if opname == "ne" else Op.CONTAINS_ANY
    return Condition(spec.name, op, _typed_list(spec, key, text), param=key)


def _typed_list(spec: Field, key: str, text: str) -> tuple[Scalar, ...]:
    items = split_list(text)
    if not items:
        _refuse(key, "no value given")
    if len(items) > MAX_LIST_VALUES:
        _refuse(key, f"at most {MAX_LIST_VALUES} values")
    return tuple(dict.fromkeys(_typed(spec, key, item) for item in items))


def _typed(spec: Field, key: str, text: str) -> Scalar:
    try:
        return spec.coerce(text)
    except ValueError as error:
        _refuse(key, str(error))


def split_list(text: str) -> list[str]:
    """Split on commas not escaped by a backslash; trim items and drop empty ones."""
    items, current = [], []
    position = 0
    for match in _SPLIT.finditer(text):
        current.append(text[position : match.start()])
        if match.group(2):
            items.append("".join(current))
            current = []
        else:
            current.append(match.group(1))
        position = match.end()
    current.append(text[position:])
    items.append("".join(current))
    return [item.strip() for item in items if item.strip()]


def _sort(resource: Resource, text: str) -> tuple[Sort, ...]:
    sorts: list[Sort] = []
    if not text:  # no `sort`: the default order
        return ()
    for item in (part.strip() for part in text.split(",")):
        descending = item.startswith("-")
        name = item[1:].strip() if item[:1] in ("-", "+") else item
        if not name or name[0] in "-+":
            _refuse("sort", f"`{item}` is not a sort key: a field, with `-` before it to descend")
        spec = resource.lookup(name, param="sort", native=True)
        sort = Sort(spec.name, descending, param="sort")
        sort_field(resource, sort)
        if any(s.field == spec.name for s in sorts):
            _refuse("sort", f"`{name}` is given twice")
        sorts.append(sort)
    if len(sorts) > MAX_SORT_KEYS:
        _refuse("sort", f"at most {MAX_SORT_KEYS} sort keys")
    return tuple(sorts)


def _count(name: str, text: str | None, low: int, high: int | None) -> int | None:
    if text is None or text == "":
        return None
    if not _COUNT.fullmatch(text) or int(text) < low or (high is not None and int(text) > high):
        limit = f"from {low} to {high}" if high is not None else f"of at least {low}"
        _refuse(name, f"must be an integer {limit}")
    return int(text)


def _flag(name: str, text: str | None) -> bool | None:
    if text is None or text == "":
        return None
    lowered = text.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    _refuse(name, "must be true or false")


def _search(text: str) -> str | None:
    if not text:
        return None
    problem = check_search_text(text)
    if problem:
        _refuse("q", problem)
    return text


def _with_cursor(query: ListQuery, cursor: Cursor | None) -> ListQuery:
    return query if cursor is None else replace(query, cursor=cursor)


def _refuse(param: str, message: str) -> NoReturn:
    raise BadQuery(message, fields={param: message})
