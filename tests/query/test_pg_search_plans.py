"""PostgreSQL's search plans read the stored `searchVector` (migration 0004): its GIN index for
sparse matches, tier 1 and counts, the stored vector in window scans, never `to_tsvector` per
row; and a tier that has no rows is proven empty by the index alone."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, Select, true

from clientbook.query.compiler import build_list
from clientbook.query.fields import CUSTOMERS
from clientbook.query.native import parse_list_query
from tests.conftest import BACKENDS
from tests.query.conftest import parse_params
from tests.query.rows import add_customers

pytestmark = pytest.mark.parametrize("database_url", [BACKENDS[1]], indirect=True)

GIN = '"ix_customers_searchVector"'


def plan_of(conn: Connection, statement: Select) -> str:
    sql = statement.limit(26).compile(conn, compile_kwargs={"literal_binds": True})
    return "\n".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {sql}"))


@pytest.fixture
def with_rows(database):
    names = ["Tan Mei Ling", "Lim Tan", "Siti Aminah", "Nur binti Tan"] * 25
    with database.transaction() as conn:
        add_customers(conn, [{"name": name} for name in names])


@pytest.fixture
def conn(database, with_rows):
    # A transaction, for SET LOCAL (reads run in autocommit).
    with database.transaction() as conn:
        # A hundred rows: the planner would scan them all. Forbid it, to see what can use the
        # index (an expression that is not the index's own would still scan the table).
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        yield conn


@pytest.mark.parametrize("query", ["q=tan mei", "q=nur&status=active", "q=tan&sort=-name"])
def test_no_search_statement_computes_to_tsvector(conn, query):
    plan = build_list(
        CUSTOMERS, parse_list_query(CUSTOMERS, parse_params(query)), dialect="postgresql"
    )
    statements = [s.statement for s in plan.segments]
    statements += [s.forced(true()) for s in plan.segments if s.forced is not None]
    assert plan.count is not None
    for statement in [*statements, plan.count]:
        text = plan_of(conn, statement)
        assert "to_tsvector" not in text, text
        assert "searchText" not in text, text


@pytest.mark.parametrize("query", ["q=tan mei", "q=tan&sort=-name", "q=siti"])
def test_sparse_matches_and_counts_read_the_gin_index(conn, query):
    plan = build_list(
        CUSTOMERS, parse_list_query(CUSTOMERS, parse_params(query)), dialect="postgresql"
    )
    searched = [s for s in plan.segments if s.tier != 0]
    read_by_index = [s.forced(true()) for s in searched if s.forced is not None]
    if not read_by_index:  # under an explicit sort the matches are materialised first
        read_by_index = [s.statement for s in searched]
    assert plan.count is not None
    for statement in [*read_by_index, plan.count]:
        text = plan_of(conn, statement)
        assert f"Bitmap Index Scan on {GIN}" in text, text


def test_tier_one_asks_the_index_for_the_first_word_marker(conn):
    plan = build_list(
        CUSTOMERS, parse_list_query(CUSTOMERS, [("q", "tan mei")]), dialect="postgresql"
    )
    tiers = {s.tier: s for s in plan.segments}
    assert sorted(tiers) == [0, 1, 2]
    first, rest = tiers[1].forced, tiers[2].forced
    assert first is not None and rest is not None
    # EXPLAIN doubles the quotes of the tsquery literal.
    words = "''tan'':* & ''mei'':*"
    for statement, marker in ((first, "'''^tan'':*'"), (rest, "!''^tan''")):
        text = plan_of(conn, statement(true()))
        assert f"Bitmap Index Scan on {GIN}" in text, text
        assert words in text and marker in text, text
