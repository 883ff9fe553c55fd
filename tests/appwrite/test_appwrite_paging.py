"""Cursor paging over 1,000 records with ties and nulls (appwrite-compat §5): cursorAfter and
cursorBefore walk every order without a duplicate or a gap, on both faces and backends."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from appwrite.query import Query

from clientbook.access import SYSTEM
from clientbook.services import customers as customer_service
from clientbook.services import users as user_service
from tests import factories
from tests.appwrite.live import DATABASE_ID, Live, unique

pytestmark = pytest.mark.xdist_group("appwrite")  # one worker: the live servers start once
COUNT = 1000
ORDERS: dict[str, list[tuple[str, bool]]] = {
    "creation": [],
    "lastContactAt desc": [("lastContactAt", True)],
    "lastContactAt asc, totalRevenue desc": [("lastContactAt", False), ("totalRevenue", True)],
    "name asc": [("name", False)],
    "nextFollowUpAt desc, name asc": [("nextFollowUpAt", True), ("name", False)],
}


@pytest.fixture(scope="module")
def thousand(live: Live) -> dict[str, Any]:
    """1,000 customers of one company: few distinct values (ties) and many nulls."""
    company = unique("Paging ")
    base = datetime(2025, 1, 15, 9, 30, tzinfo=UTC)
    rows = []
    with live.db.transaction() as conn:
        for n in range(COUNT):
            owner = user_service.insert_user(
                conn,
                SYSTEM,
                {"email": f"{unique('p')}@example.com", "name": f"Owner {n}"},
                password_hash=factories.test_password_hash(),
            )
            data = {
                "userId": owner["id"],
                "name": f"Name {n % 7}",
                "company": company,
                "lastContactAt": None if n % 3 == 0 else base + timedelta(days=n % 5),
                "nextFollowUpAt": None if n % 2 else base + timedelta(hours=n % 4),
                "totalRevenue": float(n % 4 * 100),
            }
            rows.append(customer_service.create_customer(conn, SYSTEM, data))
    return {"company": company, "rows": rows}


def _expected(rows: list[dict[str, Any]], order: list[tuple[str, bool]]) -> list[str]:
    """The order the spec promises: nulls lowest, ties by `$sequence` ascending."""
    ordered = sorted(rows, key=lambda row: row["seq"])
    for name, descending in reversed(order):

        def key(row: dict[str, Any], name: str = name) -> tuple[bool, Any]:
            return (row[name] is not None, row[name])

        # Stable sorts from the last key to the first; nulls lowest in either direction.
        present = [r for r in ordered if r[name] is not None]
        missing = [r for r in ordered if r[name] is None]
        present.sort(key=key, reverse=descending)
        ordered = present + missing if descending else missing + present
    return [row["id"] for row in ordered]


def _queries(company: str, order: list[tuple[str, bool]]) -> list[str]:
    sorts = [Query.order_desc(n) if d else Query.order_asc(n) for n, d in order]
    return [Query.equal("company", company), *sorts]


Lister = Callable[[list[str]], Any]


def _listers(live: Live) -> dict[str, Lister]:
    tables, databases = live.tables(), live.databases()
    return {
        "rows": lambda q: tables.list_rows(DATABASE_ID, "customers", q).rows,
        "documents": lambda q: databases.list_documents(DATABASE_ID, "customers", q).documents,
    }


def _walk_after(lister: Lister, base: list[str], size: int) -> list[str]:
    seen: list[str] = []
    cursor: str | None = None
    while True:
        queries = [*base, Query.limit(size)]
        if cursor is not None:
            queries.append(Query.cursor_after(cursor))
        page = lister(queries)
        seen += [record.id for record in page]
        if len(page) < size:
            return seen
        cursor = page[-1].id


def _walk_before(lister: Lister, base: list[str], size: int, last: str) -> list[str]:
    seen = [last]
    cursor = last
    while True:
        page = lister([*base, Query.limit(size), Query.cursor_before(cursor)])
        seen = [record.id for record in page] + seen
        if len(page) < size:
            return seen
        cursor = page[0].id


@pytest.mark.slow
@pytest.mark.parametrize("order", list(ORDERS))
@pytest.mark.parametrize("face", ["rows", "documents"])
def test_cursor_paging_has_no_duplicate_and_no_gap(
    live: Live, thousand: dict[str, Any], order: str, face: str
) -> None:
    expected = _expected(thousand["rows"], ORDERS[order])
    lister = _listers(live)[face]
    base = _queries(thousand["company"], ORDERS[order])
    size = 97  # pages that end in the middle of ties

    forward = _walk_after(lister, base, size)
    backward = _walk_before(lister, base, size, expected[-1])

    assert len(forward) == COUNT and len(set(forward)) == COUNT
    assert forward == expected
    assert backward == expected


def test_a_cursor_page_counts_every_match_and_total_false_skips_it(
    live: Live, thousand: dict[str, Any]
) -> None:
    tables = live.tables()
    base = _queries(thousand["company"], ORDERS["lastContactAt desc"])
    middle = _expected(thousand["rows"], ORDERS["lastContactAt desc"])[500]
    page = tables.list_rows(DATABASE_ID, "customers", [*base, Query.cursor_after(middle)])
    assert page.total == COUNT and len(page.rows) == 25
    quiet = tables.list_rows(DATABASE_ID, "customers", base, total=False)
    assert quiet.total == 0 and len(quiet.rows) == 25


def test_offset_pages_agree_with_cursor_pages(live: Live, thousand: dict[str, Any]) -> None:
    tables = live.tables()
    base = _queries(thousand["company"], ORDERS["name asc"])
    expected = _expected(thousand["rows"], ORDERS["name asc"])
    page = tables.list_rows(DATABASE_ID, "customers", [*base, Query.limit(50), Query.offset(450)])
    assert [row.id for row in page.rows] == expected[450:500]


def test_the_first_limit_and_offset_count_as_in_appwrite(
    live: Live, thousand: dict[str, Any]
) -> None:
    tables = live.tables()
    base = _queries(thousand["company"], ORDERS["name asc"])
    expected = _expected(thousand["rows"], ORDERS["name asc"])
    repeated = [Query.limit(3), Query.offset(5), Query.limit(40), Query.offset(0)]
    page = tables.list_rows(DATABASE_ID, "customers", [*base, *repeated])
    assert [row.id for row in page.rows] == expected[5:8]
