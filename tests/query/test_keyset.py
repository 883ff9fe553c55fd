"""Keyset paging gives every row exactly once, in order, both ways, with ties and nulls."""

from __future__ import annotations

from dataclasses import replace

import pytest

from clientbook.query import cursor as cursors
from clientbook.query.compiler import run_list
from clientbook.query.fields import CUSTOMERS
from clientbook.query.model import MATCH_ALL, Condition, ListQuery, Op, Sort
from clientbook.query.ordering import ordering_for
from tests.query import reference
from tests.query.rows import add_customers

SORTS = [
    (),
    (Sort("name"),),
    (Sort("lastContactAt", descending=True),),
    (Sort("lastContactAt"),),
    (Sort("company"), Sort("lastContactAt", descending=True)),
    (Sort("status", descending=True), Sort("nextFollowUpAt"), Sort("totalRevenue", True)),
    (Sort("email"),),
    (Sort("email", descending=True),),
    (Sort("assignedTo", descending=True), Sort("name", descending=True)),
    (Sort("$createdAt", descending=True),),
    (Sort("$sequence", descending=True),),
    (Sort("$id"),),
    (Sort("totalInvoices"), Sort("city", True), Sort("state"), Sort("country", True)),
]


def ids(rows):
    return [row["id"] for row in rows]


def page_forward(conn, query):
    """Follow next cursors from the first page to the last: every page's rows, in order."""
    pages = []
    page = run_list(conn, CUSTOMERS, query)
    pages.append(page)
    ordering = ordering_for(CUSTOMERS, query)
    while page.next_cursor:
        cursor = cursors.decode(page.next_cursor, ordering)
        page = run_list(conn, CUSTOMERS, replace(query, cursor=cursor))
        pages.append(page)
        assert len(pages) < 200
    return pages


def page_backward(conn, query, start_token):
    pages = []
    ordering = ordering_for(CUSTOMERS, query)
    token = start_token
    while token:
        page = run_list(conn, CUSTOMERS, replace(query, cursor=cursors.decode(token, ordering)))
        pages.append(page)
        token = page.prev_cursor
        assert len(pages) < 200
    return pages[::-1]


@pytest.mark.parametrize("sorts", SORTS, ids=lambda s: ",".join(str(x) for x in s) or "seq")
@pytest.mark.parametrize("limit", [1, 7, 100])
def test_paging_forward_and_back_visits_every_row_once(database, varied, sorts, limit):
    query = ListQuery(sort=sorts, limit=limit, with_total=False)
    expected = ids(reference.ordered(CUSTOMERS, varied, sorts))
    with database.read() as conn:
        forward = page_forward(conn, query)
        assert [r["id"] for p in forward for r in p.rows] == expected
        assert all(len(p.rows) == limit for p in forward[:-1])
        if len(forward) < 2:
            return
        # From the last page, "previous" cursors lead back through the very same pages.
        backward = page_backward(conn, query, forward[-1].prev_cursor)
    assert [ids(p.rows) for p in backward] == [ids(p.rows) for p in forward[:-1]]


@pytest.mark.parametrize("sorts", SORTS[:6], ids=str)
def test_a_before_cursor_returns_the_page_just_before_in_the_requested_order(
    database, varied, sorts
):
    query = ListQuery(sort=sorts, limit=10, with_total=False)
    expected = ids(reference.ordered(CUSTOMERS, varied, sorts))
    ordering = ordering_for(CUSTOMERS, query)
    by_id = {row["id"]: row for row in varied}
    with database.read() as conn:
        for position in (0, 1, 9, 10, 37, len(expected) - 1):
            row = dict(by_id[expected[position]])
            token = cursors.encode(cursors.cursor_from_row(ordering, row, before=True))
            page = run_list(conn, CUSTOMERS, replace(query, cursor=cursors.decode(token, ordering)))
            assert ids(page.rows) == expected[max(0, position - 10) : position]
            assert (page.prev_cursor is not None) == (position > 10)


def test_offset_pages_match_keyset_pages(database, varied):
    sorts = (Sort("lastContactAt", True), Sort("name"))
    expected = ids(reference.ordered(CUSTOMERS, varied, sorts))
    with database.read() as conn:
        for offset in (0, 5, 33, 89, 90, 200):
            query = ListQuery(sort=sorts, limit=12, offset=offset)
            page = run_list(conn, CUSTOMERS, query)
            assert ids(page.rows) == expected[offset : offset + 12]
            assert page.total == len(varied)


def test_offset_after_a_cursor_skips_from_the_cursor(database, varied):
    sorts = (Sort("company", True),)
    expected = ids(reference.ordered(CUSTOMERS, varied, sorts))
    with database.read() as conn:
        first = run_list(conn, CUSTOMERS, ListQuery(sort=sorts, limit=10))
        ordering = ordering_for(CUSTOMERS, ListQuery(sort=sorts))
        cursor = cursors.decode(first.next_cursor, ordering)
        page = run_list(conn, CUSTOMERS, ListQuery(sort=sorts, limit=10, offset=15, cursor=cursor))
    assert ids(page.rows) == expected[25:35]


def test_paging_is_stable_under_inserts(database, varied):
    """Rows created between two pages never make an old row repeat or vanish."""
    sorts = (Sort("lastContactAt", True),)
    query = ListQuery(sort=sorts, limit=20, with_total=False)
    ordering = ordering_for(CUSTOMERS, query)
    seen = []
    with database.read() as conn:
        page = run_list(conn, CUSTOMERS, query)
    seen += ids(page.rows)
    while page.next_cursor:
        with database.transaction() as conn:
            add_customers(conn, [{"name": "New", "lastContactAt": None}, {"name": "New2"}])
        with database.read() as conn:
            cursor = cursors.decode(page.next_cursor, ordering)
            page = run_list(conn, CUSTOMERS, replace(query, cursor=cursor))
        seen += ids(page.rows)
    assert len(seen) == len(set(seen))
    assert set(ids(varied)) <= set(seen)


def test_filters_and_cursors_combine(database, varied):
    where = Condition("status", Op.IN, ("active", "lead", "prospect"))
    sorts = (Sort("nextFollowUpAt"),)
    expected = ids(reference.select(CUSTOMERS, varied, where, sorts))
    with database.read() as conn:
        pages = page_forward(conn, ListQuery(where=where, sort=sorts, limit=4))
    assert [r["id"] for p in pages for r in p.rows] == expected
    assert pages[0].total == len(expected)
    assert MATCH_ALL.items == ()
