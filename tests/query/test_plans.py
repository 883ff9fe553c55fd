"""SQLite's query plans: the seed's query patterns read an index, never the whole table."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import Select

from clientbook.domain.errors import BadQuery
from clientbook.query import cursor as cursors
from clientbook.query.compiler import build_list
from clientbook.query.fields import CUSTOMERS
from clientbook.query.native import parse_list_query
from clientbook.query.ordering import ordering_for
from tests.query.conftest import parse_params
from tests.query.rows import add_customers, at

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

REP = "6b0756425db4a7b2f965"
SEED_PATTERNS = {
    "status=active&sort=-lastContactAt&limit=50": "ix_customers_status_lastContactAt",
    f"assignedTo={REP}&status=active&sort=name": "ix_customers_assignedTo_status_name",
    "nextFollowUpAt[lte]=now&status[ne]=archived&sort=nextFollowUpAt": "nextFollowUpAt",
    "totalRevenue[gt]=0&sort=-totalRevenue&limit=10": "ix_customers_totalRevenue",
    "company=Acme&sort=name": "ix_customers_company",
    "email=Ada@Example.com&limit=1": "ux_customers_emailFolded",
    f"userId={REP}&limit=1": "ux_customers_userId",
    "tag=vip": "ix_customer_tags_tagKey",
    "q=tan mei": "customers_fts",
    "q=tan&sort=name": "customers_fts",
    "q=tan&status=active": "customers_fts",
}
# No filter: the order comes straight from an index and reading stops after one page.
ORDERED_READS = {
    "": "SCAN customers",
    "sort=-$createdAt": "ix_customers_createdAt",
    "sort=name": "ix_customers_name",
    "sort=-lastContactAt": "ix_customers_lastContactAt",
}


def plan_of(conn, statement: Select) -> str:
    sql = statement.limit(51).compile(conn, compile_kwargs={"literal_binds": True})
    rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}").all()
    return " | ".join(row[3] for row in rows)


def full_scans(plan: str) -> list[str]:
    """Steps that read all of `customers` (or all of one of its indexes)."""
    steps = (step.strip() for step in plan.split(" | "))
    return [
        step for step in steps if step == "SCAN customers" or step.startswith("SCAN customers ")
    ]


@pytest.fixture
def with_rows(database):
    with database.transaction() as conn:
        add_customers(conn, [{"name": f"n{i}", "lastContactAt": at(i % 5)} for i in range(50)])


@pytest.mark.parametrize(("query", "index"), SEED_PATTERNS.items())
def test_seed_patterns_use_an_index(database, with_rows, query, index):
    parsed = parse_list_query(CUSTOMERS, parse_params(query))
    with database.read() as conn:
        plan = build_list(CUSTOMERS, parsed, dialect="sqlite")
        plans = [plan_of(conn, segment.statement) for segment in plan.segments]
        assert plan.count is not None
        count_plan = plan_of(conn, plan.count)
    for text in plans:
        assert not full_scans(text), text
    assert any(index in text for text in plans), plans
    assert not full_scans(count_plan), count_plan


@pytest.mark.parametrize(
    "query",
    [
        "status=active&sort=-lastContactAt",
        "sort=company,-nextFollowUpAt",
        "sort=-email",
        "q=tan",
        "sort=-totalInvoices",
    ],
)
def test_keyset_segments_use_an_index(database, with_rows, query):
    parsed = parse_list_query(CUSTOMERS, parse_params(query))
    ordering = ordering_for(CUSTOMERS, parsed)
    row = {"seq": 10, "lastContactAt": None, "company": "Acme", "nextFollowUpAt": at(1)}
    row |= {"email": "a@b.c", "totalInvoices": 3}
    cursor = cursors.cursor_from_row(ordering, row, rank=1 if parsed.search else None)
    with database.read() as conn:
        for before in (False, True):
            query_at = replace(parsed, cursor=replace(cursor, before=before))
            plan = build_list(CUSTOMERS, query_at, dialect="sqlite")
            for segment in plan.segments:
                text = plan_of(conn, segment.statement)
                assert not full_scans(text), text


@pytest.mark.parametrize(("query", "index"), ORDERED_READS.items())
def test_unfiltered_sorts_read_an_index_in_order(database, with_rows, query, index):
    parsed = parse_list_query(CUSTOMERS, parse_params(query))
    with database.read() as conn:
        [segment] = build_list(CUSTOMERS, parsed, dialect="sqlite").segments
        text = plan_of(conn, segment.statement)
    assert index in text
    assert "TEMP B-TREE FOR ORDER BY" not in text


def test_an_unindexed_sort_is_refused(database):
    with pytest.raises(BadQuery) as caught:
        parse_list_query(CUSTOMERS, [("sort", "website")])
    assert "has no index" in caught.value.fields["sort"]
