"""Random filter trees and sorts, compiled and run, against a pure-Python reading of the model."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clientbook.query import cursor as cursors
from clientbook.query.compiler import run_list
from clientbook.query.fields import CUSTOMERS, Kind
from clientbook.query.model import (
    LIST_OPS,
    NEGATIVE_OF,
    NO_VALUE_OPS,
    Condition,
    Group,
    ListQuery,
    Op,
    Sort,
)
from clientbook.query.ordering import ordering_for
from tests.query import reference
from tests.query.conftest import COMPANIES, NAMES
from tests.query.rows import at

TIMES = tuple(at(d) for d in (-1, 0, 1, 2, 2.5, 3, 4, 5, 9))
TEXT_PIECES = ("", "a", "A", "n", "Ann", "an", "ee", "cme", "Zed", "z", "x.com", "Y.ORG", "@", "0")
DOMAINS: dict[str, tuple[Any, ...]] = {
    "name": (*NAMES, "Ann L", "b", "Z", ""),
    "company": (*COMPANIES, "Acme Sdn", "B"),
    "email": ("ann1@x.com", "ANN1@X.COM", "bob3@y.org", "m", "Bob", "zzz"),
    "city": ("Ipoh", "KL", "Penang", "Kuala"),
    "state": ("Perak", "Selangor", "X"),
    "country": ("Malaysia", "Singapore", "Malta"),
    "industry": ("Retail", "Tech", "retail"),
    "lastContactAt": TIMES,
    "nextFollowUpAt": TIMES,
    "$createdAt": TIMES,
    "$updatedAt": TIMES,
    "totalRevenue": (0.0, 10.5, 50.0, 99.0, 1000.0, 5000.0),
    "totalInvoices": (0, 1, 2, 3, 5),
    "$sequence": (0, 1, 10, 45, 89, 90, 200),
    "tags": ("vip", "gold", "new", "other"),
}
FIELDS = sorted(set(DOMAINS) | {"status", "source", "customerType", "assignedTo", "$id"})
SORTABLE = [name for name, spec in CUSTOMERS.fields.items() if spec.sortable]


@st.composite
def conditions(draw: st.DrawFn, reps: tuple[str, ...], ids: tuple[str, ...]) -> Condition:
    name = draw(st.sampled_from(FIELDS))
    spec = CUSTOMERS.fields[name]
    op = draw(st.sampled_from(sorted(o for o in Op if spec.allows(o))))
    if spec.kind is Kind.ENUM:
        domain = (*spec.choices, "nope")
    elif name == "assignedTo":
        domain = (*reps, "nobody")
    elif name == "$id":
        domain = ids
    else:
        domain = DOMAINS[name]
    one = st.sampled_from(domain)
    base = NEGATIVE_OF.get(op, op)
    if op in NO_VALUE_OPS:
        value = None
    elif base in (Op.STARTS_WITH, Op.ENDS_WITH, Op.CONTAINS) and spec.kind is not Kind.TAGS:
        value = tuple(draw(st.lists(st.sampled_from(TEXT_PIECES), min_size=1, max_size=2)))
    elif base is Op.SEARCH:
        value = draw(st.sampled_from(("ann", "ann lee", "acm", "x.c", "zed 60", "0123", "!", "")))
    elif op in (Op.BETWEEN, Op.NOT_BETWEEN):
        value = (draw(one), draw(one))
    elif op in LIST_OPS or spec.kind is Kind.TAGS:
        value = tuple(draw(st.lists(one, max_size=3, unique=True)))
    else:
        value = draw(one)
    return Condition(name, op, value)


def filters(reps: tuple[str, ...], ids: tuple[str, ...]) -> st.SearchStrategy[Any]:
    return st.recursive(
        conditions(reps, ids),
        lambda children: st.builds(
            Group,
            kind=st.sampled_from(["and", "or"]),
            items=st.lists(children, max_size=3).map(tuple),
            negated=st.booleans(),
        ),
        max_leaves=6,
    )


sorts = st.lists(
    st.builds(Sort, field=st.sampled_from(SORTABLE), descending=st.booleans()),
    max_size=3,
    unique_by=lambda s: s.field,
).map(tuple)


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")
@settings(
    max_examples=75,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_random_queries_match_the_reference(database, varied, data):
    reps = tuple(sorted({r["assignedTo"] for r in varied if r["assignedTo"]}))
    ids = tuple(r["id"] for r in varied[::7])
    where = data.draw(filters(reps, ids), label="where")
    sort = data.draw(sorts, label="sort")
    limit = data.draw(st.integers(min_value=2, max_value=40), label="limit")
    expected = [r["id"] for r in reference.select(CUSTOMERS, varied, where, sort)]

    query = ListQuery(where=where, sort=sort, limit=limit)
    ordering = ordering_for(CUSTOMERS, query)
    pages = []
    with database.read() as conn:
        page = run_list(conn, CUSTOMERS, query)
        assert page.total == len(expected)
        pages.append(page)
        while page.next_cursor:
            cursor = cursors.decode(page.next_cursor, ordering)
            page = run_list(conn, CUSTOMERS, replace(query, cursor=cursor, with_total=False))
            pages.append(page)
        token = pages[-1].prev_cursor
        backward: list[list[str]] = []
        while token:
            cursor = cursors.decode(token, ordering)
            page = run_list(conn, CUSTOMERS, replace(query, cursor=cursor, with_total=False))
            backward.insert(0, [r["id"] for r in page.rows])
            token = page.prev_cursor
    assert [r["id"] for p in pages for r in p.rows] == expected
    assert backward == [[r["id"] for r in p.rows] for p in pages[:-1]]
