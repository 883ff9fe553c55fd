"""PostgreSQL's search plans: a one-word search streams its tiers from `customer_words` and is
counted on the word counts (migration 0006); several words and explicit sorts go through the
GIN index on the stored `searchVector` (migration 0004); no statement computes `to_tsvector`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from sqlalchemy import Connection, Select, event

from clientbook.query.compiler import build_list, run_list
from clientbook.query.fields import CUSTOMERS
from clientbook.query.native import parse_list_query
from clientbook.query.reading import Page
from tests.conftest import BACKENDS
from tests.query.conftest import parse_params
from tests.query.rows import add_customers

pytestmark = pytest.mark.parametrize("database_url", [BACKENDS[1]], indirect=True)

GIN = '"ix_customers_searchVector"'


def plan_of(conn: Connection, statement: Select, params: Mapping[str, Any] | None = None) -> str:
    """EXPLAIN of a page of `statement`, with `params` for one built once (`SegmentStatements`)."""
    if params:
        statement = statement.params(**params)
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
    statements += [
        s.statements.forced(None) for s in plan.segments if s.statements.forced is not None
    ]
    assert plan.count is not None
    for statement in [*statements, plan.count]:
        text = plan_of(conn, statement)
        assert "to_tsvector" not in text, text
        assert "searchText" not in text, text


INDEX = "ux_customer_words"
WORDS = f"Index Only Scan using {INDEX}"


def _plan(query: str):
    return build_list(
        CUSTOMERS, parse_list_query(CUSTOMERS, parse_params(query)), dialect="postgresql"
    )


@pytest.mark.parametrize("query", ["q=tan mei", "q=tan&sort=-name"])
def test_several_words_and_sorted_searches_read_the_gin_index(conn, query):
    """The GIN bitmap intersects several words without reading every record of each; under
    an explicit sort every match is read anyway."""
    searched = [s for s in _plan(query).segments if s.tier != 0]
    read_by_index = [s.statements.forced(None) for s in searched if s.statements.forced is not None]
    if not read_by_index:  # under an explicit sort the matches are materialised first
        read_by_index = [s.statement for s in searched]
    for statement in read_by_index:
        text = plan_of(conn, statement)
        assert f"Bitmap Index Scan on {GIN}" in text, text


@pytest.mark.parametrize(
    ("query", "key"),
    [
        # One word: the counts per (word, lcp); more: the GIN index, then the rows.
        ("q=tan&sort=-name", "customer_word_counts_pkey"),
        ("q=tan mei", f"Bitmap Index Scan on {GIN}"),
    ],
)
def test_a_search_alone_is_counted_on_an_index(conn, query, key):
    plan = _plan(query)
    assert plan.count is not None
    text = plan_of(conn, plan.count)
    assert key in text, text


def _tiers(query: str) -> dict:
    tiers = {s.tier: s for s in _plan(query).segments}
    assert sorted(tiers) == [0, 1, 2]
    return tiers


def test_one_word_tiers_stream_from_the_words_index_in_seq_order(conn):
    """Tier 1 from the first-word marker, tier 2 from the word; no sort, no GIN."""
    tiers = _tiers("q=tan")
    one, two = (plan_of(conn, t.statement, t.statements.params) for t in (tiers[1], tiers[2]))
    for text, group in ((one, "'^ta'::text"), (two, "'tan'::text")):
        assert WORDS in text and "Nested Loop" in text and group in text, text
        assert "Sort" not in text and GIN not in text, text
    # Each row is checked as it comes: tier 2 leaves out the names starting with `tan`.
    assert "!''^tan'':*'" in two


def test_a_short_word_reads_its_matches_from_the_words_index(conn):
    """A word under three letters cannot stream: windows, then every match from the index."""
    tiers = _tiers("q=t")
    first, rest = tiers[1].statements.forced, tiers[2].statements.forced
    assert first is not None and rest is not None
    # Tier 1: the marker (which implies `t`); tier 2: the word, except the marker.
    one, two = plan_of(conn, first(None)), plan_of(conn, rest(None))
    assert INDEX in one and "'^t'::text" in one and GIN not in one, one
    assert INDEX in two and "Except" in two and "'t'::text" in two and GIN not in two, two


@pytest.mark.parametrize(
    ("query", "leads"),
    [("q=siti", True), ("q=tan mei", False), ("q=siti&status=active", False), ("q=s", True)],
)
def test_a_one_word_total_comes_first_with_tier_0s_existence(database_url, query, leads):
    assert (_plan(query).lead is not None) is leads
    assert _plan(f"{query}&total=false").lead is None


def _statements_of(database, query: str) -> tuple[list[str], Page]:
    """The statements `query` ran, each with its parameters, and its page."""
    statements: list[str] = []
    with database.read() as conn:
        event.listen(
            conn, "before_cursor_execute", lambda *args: statements.append(f"{args[2]} {args[3]}")
        )
        page = run_list(conn, CUSTOMERS, parse_list_query(CUSTOMERS, parse_params(query)))
    return statements, page


def test_an_empty_tier_0_costs_no_statement(database, with_rows):
    """`siti` is nobody's whole name: the lead statement says so, and no statement looks for
    one; `Siti Aminah` is, and its tier is read."""
    statements, page = _statements_of(database, "q=siti")
    assert page.total == 25 and len(page.rows) == 25
    rows_by_name = [s for s in statements[1:] if "customers.name IN" in s]
    assert rows_by_name == []  # the lead's EXISTS looked for a whole name; nothing else
    _, page = _statements_of(database, "q=Siti Aminah")
    assert page.rows[0]["name"] == "Siti Aminah"


def test_tiers_the_lead_counts_empty_cost_no_statement(database, with_rows):
    """The lead also counts the records whose first word starts with the word (tier 1): every
    `siti` is a first word, so tier 2 has nothing; no first word starts with `amin`, so tier 1
    has nothing."""
    statements, page = _statements_of(database, "q=siti")
    assert len(statements) == 2  # the lead, then tier 1 (26 rows asked, 25 found)
    assert "'^si'" in statements[1] and "!'^siti':*" not in statements[1]
    statements, page = _statements_of(database, "q=amin")
    assert page.total == 25 and {row["name"] for row in page.rows} == {"Siti Aminah"}
    assert len(statements) == 2  # the lead, then tier 2 alone
    assert "'ami'" in statements[1] and "!'^amin':*" in statements[1]
    statements, page = _statements_of(database, "q=tan")
    assert page.total == 75 and len(statements) == 3  # `Tan Mei Ling` first, then the others
    assert [row["name"] for row in page.rows] == ["Tan Mei Ling"] * 25


def test_tier_0_reads_the_names_from_their_index_first(conn):
    """Walking the primary key and testing each name tested 12,351 rows for a page of a
    common whole name on 1M customers (4.4 ms, against 0.7 from the name index)."""
    text = plan_of(conn, _tiers("q=siti")[0].statement)
    assert "InitPlan" in text and "ix_customers_name" in text, text
