"""Appwrite JSON queries → the one ListQuery (appwrite-compat §5), without a server."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from appwrite.query import Query

from clientbook.appwrite.catalog import CUSTOMERS, NOTES
from clientbook.appwrite.errors import AppwriteError
from clientbook.appwrite.queries import CursorAt, Selection, parse_list, parse_select
from clientbook.query.model import MATCH_ALL, MATCH_NOTHING, Condition, Group, Op, Sort

GRAMMAR = CUSTOMERS.grammar


def refused(queries: list[str]) -> str:
    with pytest.raises(AppwriteError) as info:
        parse_list(GRAMMAR, queries)
    assert info.value.code == 400 and info.value.type == "general_query_invalid"
    return info.value.message


def test_the_seed_patterns_become_conditions_and_sorts() -> None:
    parsed = parse_list(
        GRAMMAR,
        [Query.equal("status", "active"), Query.order_desc("lastContactAt"), Query.limit(50)],
    )
    query = parsed.query
    assert query.where == Condition("status", Op.EQ, "active")
    assert query.sort == (Sort("lastContactAt", True),) and query.limit == 50
    assert parsed.cursor is None and parsed.selection == Selection()


def test_equal_with_several_values_is_any_of_and_not_equal_none_of() -> None:
    query = parse_list(
        GRAMMAR, [Query.equal("status", ["lead", "prospect"]), Query.not_equal("source", "other")]
    ).query
    assert query.where == Group(
        "and",
        (Condition("status", Op.IN, ("lead", "prospect")), Condition("source", Op.NE, "other")),
    )


def test_unknown_enum_values_and_impossible_ids_match_nothing() -> None:
    assert parse_list(GRAMMAR, [Query.equal("status", "bogus")]).query.where == MATCH_NOTHING
    assert parse_list(GRAMMAR, [Query.not_equal("status", "bogus")]).query.where == MATCH_ALL
    assert parse_list(GRAMMAR, [Query.equal("userId", "no such id!")]).query.where == MATCH_NOTHING
    refused([Query.equal("status", 5)])


def test_values_are_typed_by_the_field_registry() -> None:
    query = parse_list(
        GRAMMAR,
        [
            Query.less_than_equal("nextFollowUpAt", "2025-01-15T09:30:00Z"),
            Query.greater_than("totalRevenue", 0),
            Query.between("totalInvoices", 1, 9),
        ],
    ).query
    assert isinstance(query.where, Group)
    due, revenue, invoices = query.where.items
    assert due == Condition("nextFollowUpAt", Op.LTE, datetime(2025, 1, 15, 9, 30, tzinfo=UTC))
    assert revenue == Condition("totalRevenue", Op.GT, 0.0)
    assert invoices == Condition("totalInvoices", Op.BETWEEN, (1, 9))
    assert "not a number" in refused([Query.greater_than("totalRevenue", "lots")])


def test_groups_nest_three_levels_deep() -> None:
    inner = Query.or_queries([Query.equal("city", "Ipoh"), Query.is_null("city")])
    query = parse_list(GRAMMAR, [Query.and_queries([inner, Query.equal("country", "MY")])]).query
    assert query.where == Group(
        "and",
        (
            Group("or", (Condition("city", Op.EQ, "Ipoh"), Condition("city", Op.IS_NULL))),
            Condition("country", Op.EQ, "MY"),
        ),
    )
    deepest = Query.equal("city", "x")
    for _ in range(3):
        deepest = Query.or_queries([deepest])
    parse_list(GRAMMAR, [deepest])
    assert "nest" in refused([Query.and_queries([deepest])])


def test_tags_contains_any_and_all() -> None:
    query = parse_list(GRAMMAR, [Query.contains("tags", ["VIP", "new"])]).query
    assert query.where == Condition("tags", Op.CONTAINS, ("vip", "new"))
    all_of = parse_list(GRAMMAR, [Query.contains_all("tags", ["a", "b"])]).query.where
    assert all_of == Condition("tags", Op.CONTAINS_ALL, ("a", "b"))
    refused([Query.contains_any("city", ["x"])])


def test_search_ranks_without_an_order_and_filters_under_one() -> None:
    ranked = parse_list(GRAMMAR, [Query.search("name", "tan"), Query.equal("status", "active")])
    assert ranked.query.search == "tan"
    assert ranked.query.where == Condition("status", Op.EQ, "active")
    ordered = parse_list(GRAMMAR, [Query.search("email", "tan"), Query.order_asc("name")])
    assert ordered.query.search is None
    assert ordered.query.where == Condition("email", Op.SEARCH, "tan")
    assert "fulltext index" in refused([Query.search("city", "kl")])


def test_cursor_limit_offset_and_select() -> None:
    parsed = parse_list(
        GRAMMAR,
        [
            Query.cursor_before("abc"),
            Query.limit(5000),
            Query.offset(10),
            Query.select(["name", "userId.*"]),
        ],
    )
    assert parsed.cursor == CursorAt("abc", before=True)
    assert parsed.query.limit == 5000 and parsed.query.offset == 10
    assert parsed.selection == Selection(frozenset({"name", "userId"}), frozenset({"userId"}))
    refused([Query.limit(5001)])
    refused([Query.limit(0)])
    refused([Query.select(["nickname"])])
    refused([Query.select(["name.*"])])


def test_the_first_limit_offset_and_cursor_count_as_in_appwrite() -> None:
    # utopia-php/database `Query::groupByType` keeps the first of each and ignores the rest.
    parsed = parse_list(
        GRAMMAR,
        [
            Query.limit(2),
            Query.offset(3),
            Query.cursor_after("a"),
            Query.limit(50),
            Query.offset(0),
            Query.cursor_before("b"),
        ],
    )
    assert parsed.query.limit == 2 and parsed.query.offset == 3
    assert parsed.cursor == CursorAt("a", before=False)
    # Every one is still checked.
    refused([Query.limit(2), Query.limit(0)])


@pytest.mark.parametrize(
    "query",
    [
        Query.regex("name", "^T"),
        Query.exists(["name"]),
        Query.not_exists(["name"]),
        Query.order_random(),
        Query.elem_match("tags", [Query.equal("x", "y")]),
        Query.distinct(),
        Query.count(),
        Query.group_by(["status"]),
        json.dumps({"method": "vectorDot", "attribute": "name", "values": [[1]]}),
        json.dumps({"method": "mystery"}),
        "{not json",
        json.dumps(["equal"]),
        json.dumps({"method": "equal", "attribute": "name", "values": "Tan"}),
    ],
)
def test_refused_methods_and_malformed_queries(query: Any) -> None:
    refused([query] if isinstance(query, str) else query)


def test_limits_on_count_size_and_values() -> None:
    refused([Query.equal("status", "active")] * 101)
    refused([Query.equal("name", "x" * 5000)])
    refused([Query.equal("name", [str(n) for n in range(501)])])


def test_fields_without_an_index_are_refused_by_name() -> None:
    assert "jobTitle" in refused([Query.equal("jobTitle", "CEO")])
    assert "jobTitle" in refused([Query.order_asc("jobTitle")])
    # Interactions and notes: any attribute next to equal('customerId'), checked by the compiler.
    parse_list(NOTES.grammar, [Query.equal("customerId", "c1"), Query.equal("category", "general")])


def test_get_takes_select_only() -> None:
    assert parse_select(GRAMMAR, [Query.select(["*", "assignedTo.*"])]) == Selection(
        None, frozenset({"assignedTo"})
    )
    with pytest.raises(AppwriteError):
        parse_select(GRAMMAR, [Query.limit(1)])
