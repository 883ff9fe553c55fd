"""Dense equality filters under a sort on another column: read along the sort's index (SQLite).

`walking.DENSE_FILTER` is lowered so that the 90 `varied` customers have dense values; the
pages must be exactly the reference's, through every cursor, either way the plan goes.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import delete, event, update

from clientbook.db import tables
from clientbook.domain import enums
from clientbook.query import cursor as cursors
from clientbook.query import walking
from clientbook.query.compiler import build_list, run_list
from clientbook.query.fields import CUSTOMERS
from clientbook.query.model import Condition, Group, ListQuery, Op, Sort
from clientbook.query.native import parse_list_query
from clientbook.query.ordering import ordering_for
from tests.query import reference
from tests.query.conftest import parse_params
from tests.query.test_plans import plan_of

DENSE_CASES = [
    (Condition("country", Op.EQ, "Malaysia"), Sort("name")),
    # status=active stays on ix_customers_status_name; country is tested along it.
    (
        Group(
            "and", (Condition("country", Op.EQ, "Malaysia"), Condition("status", Op.EQ, "active"))
        ),
        Sort("name"),
    ),
    (Condition("source", Op.IN, ("website", "referral")), Sort("company", descending=True)),
    (Condition("tags", Op.CONTAINS_ANY, ("vip",)), Sort("lastContactAt", descending=True)),
    (Condition("tags", Op.CONTAINS_ALL, ("gold",)), Sort("nextFollowUpAt")),
    (Condition("industry", Op.EQ, "Retail"), Sort("totalRevenue", descending=True)),
    (
        Group("and", (Condition("country", Op.EQ, "Malaysia"), Condition("status", Op.EQ, "lead"))),
        Sort("email"),
    ),
]


@pytest.fixture
def low_threshold(monkeypatch):
    monkeypatch.setattr(walking, "DENSE_FILTER", 5)


def all_pages(conn: Any, query: ListQuery) -> tuple[list[str], list[int | None]]:
    """Every row id, following next cursors; and the total of each page."""
    ids: list[str] = []
    totals: list[int | None] = []
    ordering = ordering_for(CUSTOMERS, query)
    current = query
    for _ in range(50):
        page = run_list(conn, CUSTOMERS, current)
        ids += [row["id"] for row in page.rows]
        totals.append(page.total)
        if page.next_cursor is None:
            return ids, totals
        current = replace(query, cursor=cursors.decode(page.next_cursor, ordering))
    raise AssertionError("more pages than rows")


@pytest.mark.parametrize(("where", "sort"), DENSE_CASES)
def test_dense_filters_give_the_reference_pages(database, varied, low_threshold, where, sort):
    expected = [r["id"] for r in reference.select(CUSTOMERS, varied, where, (sort,))]
    assert len(expected) >= 5  # dense at this threshold
    query = ListQuery(where=where, sort=(sort,), limit=4)
    with database.read() as conn:
        ids, totals = all_pages(conn, query)
        assert ids == expected
        assert set(totals) == {len(expected)}
        # Backwards from the last row, with before cursors.
        ordering = ordering_for(CUSTOMERS, query)
        last = next(r for r in varied if r["id"] == expected[-1])
        token = cursors.cursor_from_row(ordering, last, before=True)
        page = run_list(conn, CUSTOMERS, replace(query, cursor=token))
        assert [r["id"] for r in page.rows] == expected[-5:-1]
        # And by offset.
        page = run_list(conn, CUSTOMERS, replace(query, offset=3))
        assert [r["id"] for r in page.rows] == expected[3:7]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("where", "sort"), DENSE_CASES)
def test_a_dense_filter_reads_the_sort_index_in_order(database, varied, where, sort):
    query = ListQuery(where=where, sort=(sort,))
    index = "ux_customers_emailFolded" if sort.field == "email" else f"ix_customers_{sort.field}"
    if isinstance(where, Group) and Condition("status", Op.EQ, "active") in where.items:
        index = "ix_customers_status_name"
    with database.read() as conn:
        [walked] = build_list(CUSTOMERS, query, dialect="sqlite", dense_filter=True).segments
        text = plan_of(conn, walked.statement)
        assert index in text, text
        assert "TEMP B-TREE FOR ORDER BY" not in text, text
        if index != "ix_customers_status_name":  # (which the planner may choose by itself)
            [sorted_] = build_list(CUSTOMERS, query, dialect="sqlite").segments
            assert plan_of(conn, sorted_.statement) != text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_plan_follows_the_number_of_matches(database, varied, monkeypatch):
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(database.reader, "before_cursor_execute", record)
    try:
        # A deep offset: the walk would read more rows than the sort.
        for threshold, offset, walks in ((5, 0, True), (1000, 0, False), (5, 60, False)):
            monkeypatch.setattr(walking, "DENSE_FILTER", threshold)
            for text in ("country=Malaysia&sort=name", "tag=vip&sort=-lastContactAt"):
                text += f"&limit=5&offset={offset}"
                statements.clear()
                parsed = parse_list_query(CUSTOMERS, parse_params(text))
                with database.read() as conn:
                    run_list(conn, CUSTOMERS, parsed)
                page_sql = next(s for s in statements if "ORDER BY" in s)
                walked = "(+ customers.country)" in page_sql or "EXISTS" in page_sql
                assert walked is walks, (threshold, page_sql)
    finally:
        event.remove(database.reader, "before_cursor_execute", record)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_density_is_counted_or_probed(database, varied, monkeypatch):
    monkeypatch.setattr(walking, "DENSE_FILTER", 5)
    malaysia = sum(r["country"] == "Malaysia" for r in varied)
    with database.read() as conn:
        # `country` from customer_counts, `industry` and tags by a capped count.
        assert walking.dense(conn, CUSTOMERS, [Condition("country", Op.EQ, "Malaysia")], reach=1)
        assert walking.dense(conn, CUSTOMERS, [Condition("industry", Op.EQ, "Retail")], reach=1)
        assert walking.dense(
            conn, CUSTOMERS, [Condition("tags", Op.CONTAINS_ANY, ("new",))], reach=1
        )
        assert not walking.dense(conn, CUSTOMERS, [Condition("country", Op.EQ, "Brunei")], reach=1)
        assert not walking.dense(conn, CUSTOMERS, [Condition("industry", Op.EQ, "Mining")], reach=1)
        assert not walking.dense(
            conn, CUSTOMERS, [Condition("tags", Op.CONTAINS_ANY, ("x",))], reach=1
        )
        # A conjunction is estimated as independent shares (90 * m/90 * s/90), from the
        # counters. (A probe stops at the threshold: a lower bound.)
        sources = tuple(enums.CUSTOMER_SOURCES[:3])
        sourced = sum(r["source"] in sources for r in varied)
        both = [Condition("country", Op.EQ, "Malaysia"), Condition("source", Op.IN, sources)]
        estimate = malaysia * sourced / 90
        monkeypatch.setattr(walking, "DENSE_FILTER", math.floor(estimate) + 1)
        assert not walking.dense(conn, CUSTOMERS, both, reach=1)
        monkeypatch.setattr(walking, "DENSE_FILTER", math.floor(estimate))
        assert estimate > 10  # (and so past sqrt(reach * total) too)
        assert walking.dense(conn, CUSTOMERS, both, reach=1)
        # Far into the list (by offset) the walk reads more rows than the sort.
        assert not walking.dense(conn, CUSTOMERS, both, reach=80)


@pytest.mark.parametrize(
    "text",
    [
        "status=active&sort=name",  # ix_customers_status_name
        "status=lead&sort=-lastContactAt",  # ix_customers_status_lastContactAt
        "assignedTo=u1&status=active&sort=name",  # ix_customers_assignedTo_status_name
        "country=Malaysia&sort=country",  # the filter's index is the sort's
        "country=Malaysia",  # by `seq`: every index ends in it
        "country=Malaysia&totalRevenue[gt]=0&sort=name",  # a range: the planner chooses
        "email=a@b.c&sort=name",  # unique
        "q=ann&country=Malaysia&sort=name",  # a search plans itself
    ],
)
def test_lists_the_planner_already_serves_are_left_alone(text):
    parsed = parse_list_query(CUSTOMERS, parse_params(text))
    residual = None if parsed.where == ListQuery().where else parsed.where
    candidates = walking.candidates(CUSTOMERS, residual, ordering_for(CUSTOMERS, parsed))
    if parsed.search:
        plan = build_list(CUSTOMERS, parsed, dialect="sqlite", dense_filter=True)
        assert all("+ customers" not in str(s.statement) for s in plan.segments)
    else:
        assert candidates == ()


def test_the_composite_indexes_are_those_of_the_migration():
    migration = importlib.import_module("clientbook.db.migrations.versions.0001_initial_schema")
    served: dict[frozenset[str], set[str]] = {}
    for name, columns in migration.COMPOSITE_INDEXES.items():
        if name.startswith("ix_customers_") and len(columns) > 1:
            served.setdefault(frozenset(columns[:-1]), set()).add(columns[-1])
    assert served == {k: set(v) for k, v in walking.ORDERED_BY_COMPOSITE.items()}


TOTAL_CASES = [
    None,
    Condition("country", Op.EQ, "Malaysia"),
    Condition("country", Op.EQ, "Brunei"),
    Condition("status", Op.IN, ("lead", "active")),
    Condition("source", Op.IN, ("website", "referral", "website")),
    Condition("tags", Op.CONTAINS_ANY, ("gold",)),
    Condition("tags", Op.CONTAINS_ALL, ("vip",)),
    # Not known from the counters: counted.
    Condition("tags", Op.CONTAINS_ANY, ("vip", "gold")),
    Condition("industry", Op.EQ, "Retail"),
    Group("and", (Condition("country", Op.EQ, "Malaysia"), Condition("status", Op.EQ, "lead"))),
]


def totals(conn: Any, rows: list[dict[str, Any]]) -> list[tuple[int | None, int]]:
    found = []
    for where in TOTAL_CASES:
        query = ListQuery(where=where if where is not None else ListQuery().where, limit=1)
        expected = len(rows) if where is None else len(reference.select(CUSTOMERS, rows, where, ()))
        found.append((run_list(conn, CUSTOMERS, query).total, expected))
    return found


def test_totals_stay_right_after_writes(database, varied):
    with database.read() as conn:
        for total, expected in totals(conn, varied):
            assert total == expected
    changed, removed = varied[0], varied[1]
    c = tables.customers.c
    with database.transaction() as conn:
        conn.execute(update(tables.customers).where(c.id == changed["id"]).values(country="Brunei"))
        conn.execute(delete(tables.customers).where(c.id == removed["id"]))
    rows = [r for r in varied if r is not removed]
    rows[0] = {**changed, "country": "Brunei"}
    with database.read() as conn:
        for total, expected in totals(conn, rows):
            assert total == expected


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_known_total_is_not_counted(database, varied):
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(database.reader, "before_cursor_execute", record)
    try:
        for text, counted in (("country=Malaysia&sort=name", False), ("industry=Retail", True)):
            statements.clear()
            with database.read() as conn:
                run_list(conn, CUSTOMERS, parse_list_query(CUSTOMERS, parse_params(text)))
            counts = [s for s in statements if "count(*)" in s and "FROM customers" in s]
            assert bool(counts) is counted, statements
    finally:
        event.remove(database.reader, "before_cursor_execute", record)
