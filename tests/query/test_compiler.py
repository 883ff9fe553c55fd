"""The compiler on both backends: the seed's query patterns, null handling, every operator."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import pytest
from sqlalchemy import insert
from sqlalchemy.dialects import postgresql

from clientbook.db import tables
from clientbook.domain.errors import BadQuery
from clientbook.query import compiler
from clientbook.query.compiler import build_list, cursor_for_row, find_cursor, run_list
from clientbook.query.fields import AUDIT_LOGS, CUSTOMERS, INTERACTIONS, NOTES, USERS
from clientbook.query.model import (
    MATCH_NOTHING,
    Condition,
    Group,
    ListQuery,
    Op,
    Sort,
)
from clientbook.query.native import parse_list_query
from clientbook.query.reading import LeadCounts
from tests.query import reference
from tests.query.rows import BASE_TIME, add_customers, add_users, at


def names(page):
    return [row["name"] for row in page.rows]


@pytest.fixture
def reps(database):
    with database.transaction() as conn:
        return add_users(conn, 2, role="super_admin")


# --- the seed's query patterns ----------------------------------------------------------------


def test_active_customers_by_last_contact(database, run):
    with database.transaction() as conn:
        add_customers(
            conn,
            [
                {"name": "old", "lastContactAt": at(1)},
                {"name": "never", "lastContactAt": None},
                {"name": "recent", "lastContactAt": at(9)},
                {"name": "archived", "status": "archived", "lastContactAt": at(10)},
                {"name": "tie-first", "lastContactAt": at(5)},
                {"name": "tie-second", "lastContactAt": at(5)},
                {"name": "never-2", "lastContactAt": None},
            ],
        )
    page = run("status=active&sort=-lastContactAt&limit=50")
    assert names(page) == ["recent", "tie-first", "tie-second", "old", "never", "never-2"]
    assert page.total == 6 and page.next_cursor is None


def test_customers_assigned_to_a_rep_by_name(database, run, reps):
    me, other = reps
    with database.transaction() as conn:
        add_customers(
            conn,
            [
                {"name": "Zara", "assignedTo": me},
                {"name": "Adam", "assignedTo": me},
                {"name": "Bella", "assignedTo": other},
                {"name": "Cody", "assignedTo": me, "status": "lead"},
                {"name": "Adam", "assignedTo": me},
                {"name": "Dina", "assignedTo": None},
            ],
        )
    page = run(f"assignedTo={me}&status=active&sort=name")
    assert names(page) == ["Adam", "Adam", "Zara"]
    assert page.rows[0]["seq"] < page.rows[1]["seq"]


def test_follow_ups_due(database, run):
    now = datetime.now(UTC)
    with database.transaction() as conn:
        add_customers(
            conn,
            [
                {"name": "due-yesterday", "nextFollowUpAt": now - timedelta(days=1)},
                {"name": "due-tomorrow", "nextFollowUpAt": now + timedelta(days=1)},
                {"name": "no-follow-up", "nextFollowUpAt": None},
                {"name": "archived", "status": "archived", "nextFollowUpAt": now - timedelta(1)},
                {
                    "name": "due-last-week",
                    "nextFollowUpAt": now - timedelta(days=7),
                    "status": "lead",
                },
            ],
        )
    page = run("nextFollowUpAt[lte]=now&status[ne]=archived&sort=nextFollowUpAt")
    assert names(page) == ["due-last-week", "due-yesterday"]


def test_top_revenue_customers(database, run):
    with database.transaction() as conn:
        add_customers(conn, [{"name": f"c{i}", "totalRevenue": float(i % 13)} for i in range(30)])
    page = run("totalRevenue[gt]=0&sort=-totalRevenue&limit=10")
    revenues = [row["totalRevenue"] for row in page.rows]
    assert revenues == [12.0, 12.0, 11.0, 11.0, 10.0, 10.0, 9.0, 9.0, 8.0, 8.0]
    assert names(page)[:2] == ["c12", "c25"]
    assert page.total == 27 and page.next_cursor


def test_customers_of_a_company_by_name(database, run):
    with database.transaction() as conn:
        add_customers(
            conn,
            [
                {"name": "b", "company": "Acme Sdn Bhd"},
                {"name": "a", "company": "Acme Sdn Bhd"},
                {"name": "c", "company": "acme sdn bhd"},
                {"name": "d", "company": None},
            ],
        )
    assert names(run("company=Acme Sdn Bhd&sort=name")) == ["a", "b"]


def test_customer_by_email_is_case_insensitive(database, run):
    with database.transaction() as conn:
        add_customers(
            conn,
            [
                {"name": "Ada", "email": "Ada.Lovelace@Example.COM"},
                {"name": "Bob", "email": "bob@example.com"},
                {"name": "Nil", "email": None},
            ],
        )
    assert names(run("email=ada.lovelace@example.com&limit=1")) == ["Ada"]
    assert names(run("email=ADA.LOVELACE@EXAMPLE.COM,BOB@example.com")) == ["Ada", "Bob"]
    assert names(run("email[ne]=BOB@EXAMPLE.COM")) == ["Ada", "Nil"]
    assert names(run("sort=-email")) == ["Bob", "Ada", "Nil"]


def test_customer_by_user_id(database, run):
    with database.transaction() as conn:
        rows = add_customers(conn, [{"name": "mine"}, {"name": "theirs"}])
    assert names(run(f"userId={rows[0]['userId']}&limit=1")) == ["mine"]


def test_tag_filter_is_any_of_and_case_insensitive(database, run):
    with database.transaction() as conn:
        add_customers(
            conn,
            [
                {"name": "vip", "tags": ["VIP"]},
                {"name": "gold", "tags": ["gold", "new"]},
                {"name": "none", "tags": []},
                {"name": "both", "tags": ["vip", "Gold"]},
            ],
        )
    assert names(run("tag=vip")) == ["vip", "both"]
    assert names(run("tag=Vip,GOLD")) == ["vip", "gold", "both"]
    assert names(run("tag[ne]=vip")) == ["gold", "none"]
    all_of = ListQuery(where=Condition("tags", Op.CONTAINS_ALL, ("vip", "gold")))
    assert names(run(all_of)) == ["both"]


def test_search_with_tag_and_country(database, run):
    with database.transaction() as conn:
        add_customers(
            conn,
            [
                {"name": "Tan Mei Ling", "tags": ["vip"], "country": "Malaysia"},
                {"name": "Tan Ah Kow", "tags": [], "country": "Malaysia"},
                {"name": "Tan Siew", "tags": ["vip"], "country": "Singapore"},
                {"name": "Lim Tan", "tags": ["vip"], "country": "Malaysia"},
            ],
        )
    assert names(run("q=tan&tag=vip&country=Malaysia")) == ["Tan Mei Ling", "Lim Tan"]


# --- ordering and nulls -----------------------------------------------------------------------


def test_nulls_sort_lowest_on_every_backend(database, run):
    with database.transaction() as conn:
        add_customers(
            conn,
            [
                {"name": "b", "company": "Beta"},
                {"name": "null-1", "company": None},
                {"name": "a", "company": "Alpha"},
                {"name": "null-2", "company": None},
                {"name": "upper", "company": "ZZ"},
                {"name": "lower", "company": "aa"},
            ],
        )
    assert names(run("sort=company")) == ["null-1", "null-2", "a", "b", "upper", "lower"]
    assert names(run("sort=-company")) == ["lower", "upper", "b", "a", "null-1", "null-2"]


def test_the_default_order_is_creation_order(database, run):
    with database.transaction() as conn:
        add_customers(conn, [{"name": n} for n in ("c", "a", "b")])
    assert names(run("")) == ["c", "a", "b"]
    assert names(run("sort=-$sequence")) == ["b", "a", "c"]


def test_ties_break_by_creation_order_in_both_directions(database, run):
    with database.transaction() as conn:
        add_customers(conn, [{"name": n, "totalInvoices": 1} for n in ("x", "y", "z")])
    assert names(run("sort=totalInvoices")) == ["x", "y", "z"]
    assert names(run("sort=-totalInvoices")) == ["x", "y", "z"]


# --- null semantics and every operator -------------------------------------------------------


def test_a_filter_and_its_negation_split_the_rows(database, run, reps):
    with database.transaction() as conn:
        add_customers(
            conn,
            [
                {"name": "mine", "assignedTo": reps[0]},
                {"name": "theirs", "assignedTo": reps[1]},
                {"name": "nobody's", "assignedTo": None},
            ],
        )
    assert names(run(f"assignedTo[ne]={reps[0]}")) == ["theirs", "nobody's"]
    negated = ListQuery(where=Group("and", (Condition("assignedTo", Op.EQ, reps[0]),), True))
    assert names(run(negated)) == ["theirs", "nobody's"]
    assert names(run("assignedTo[isnull]=true")) == ["nobody's"]
    assert names(run("assignedTo[isnull]=false")) == ["mine", "theirs"]


def test_ranges_never_match_null_but_their_negations_do(database, run):
    with database.transaction() as conn:
        add_customers(
            conn,
            [
                {"name": "early", "lastContactAt": at(1)},
                {"name": "late", "lastContactAt": at(9)},
                {"name": "never", "lastContactAt": None},
            ],
        )
    between = (at(0), at(5))
    assert names(run(ListQuery(where=Condition("lastContactAt", Op.BETWEEN, between)))) == ["early"]
    assert names(run(ListQuery(where=Condition("lastContactAt", Op.NOT_BETWEEN, between)))) == [
        "late",
        "never",
    ]
    assert names(run(f"lastContactAt[lt]={at(5).isoformat()}")) == ["early"]
    assert names(run(f"lastContactAt[gte]={at(1).isoformat()}")) == ["early", "late"]


def test_or_groups_nest(database, run):
    with database.transaction() as conn:
        add_customers(
            conn,
            [
                {"name": "lead-rich", "status": "lead", "totalRevenue": 500.0},
                {"name": "lead-poor", "status": "lead", "totalRevenue": 0.0},
                {"name": "active-rich", "status": "active", "totalRevenue": 900.0},
                {"name": "archived", "status": "archived", "totalRevenue": 900.0},
            ],
        )
    where = Group(
        "or",
        (
            Condition("status", Op.EQ, "lead"),
            Group(
                "and",
                (
                    Condition("totalRevenue", Op.GT, 100.0),
                    Condition("status", Op.NE, "archived"),
                ),
            ),
        ),
    )
    assert names(run(ListQuery(where=where))) == ["lead-rich", "lead-poor", "active-rich"]
    assert names(run(ListQuery(where=MATCH_NOTHING))) == []
    assert names(run(ListQuery(where=Group("and", (MATCH_NOTHING,))))) == []
    assert names(run(ListQuery(where=Group("or", (), negated=True)))) == [
        "lead-rich",
        "lead-poor",
        "active-rich",
        "archived",
    ]


@pytest.mark.parametrize(
    ("op", "values", "expected"),
    [
        (Op.STARTS_WITH, ("Tan",), ["Tan Mei", "Tan", "Tanaka"]),
        (Op.STARTS_WITH, ("tan",), ["tan lower"]),
        (Op.STARTS_WITH, ("Tan ", "Lim"), ["Tan Mei", "Lim Tan"]),
        (Op.STARTS_WITH, ("",), ["Tan Mei", "Tan", "Tanaka", "tan lower", "Lim Tan", "Zoë"]),
        (Op.NOT_STARTS_WITH, ("Tan",), ["tan lower", "Lim Tan", "Zoë"]),
        (Op.ENDS_WITH, ("Tan",), ["Tan", "Lim Tan"]),
        (Op.ENDS_WITH, ("ë",), ["Zoë"]),
        (Op.CONTAINS, ("an",), ["Tan Mei", "Tan", "Tanaka", "tan lower", "Lim Tan"]),
        (Op.NOT_CONTAINS, ("a",), ["Zoë"]),
        (Op.CONTAINS, ("100%",), []),
        (Op.STARTS_WITH, ("_",), []),
    ],
)
def test_text_operators_are_case_sensitive(database, run, op, values, expected):
    with database.transaction() as conn:
        add_customers(
            conn,
            [{"name": n} for n in ("Tan Mei", "Tan", "Tanaka", "tan lower", "Lim Tan", "Zoë")],
        )
    assert names(run(ListQuery(where=Condition("name", op, values)))) == expected


def test_text_operators_on_email_ignore_case(database, run):
    with database.transaction() as conn:
        add_customers(
            conn,
            [
                {"name": "a", "email": "Ada@Example.com"},
                {"name": "b", "email": "bob@example.org"},
                {"name": "n", "email": None},
            ],
        )
    starts = ListQuery(where=Condition("email", Op.STARTS_WITH, ("ADA@",)))
    assert names(run(starts)) == ["a"]
    ends = ListQuery(where=Condition("email", Op.ENDS_WITH, ("EXAMPLE.COM",)))
    assert names(run(ends)) == ["a"]
    not_ends = ListQuery(where=Condition("email", Op.NOT_ENDS_WITH, (".COM",)))
    assert names(run(not_ends)) == ["b", "n"]


def test_every_operator_matches_the_reference(database, varied, run):
    reps = sorted({row["assignedTo"] for row in varied if row["assignedTo"]})
    cases = [
        Condition("status", Op.IN, ("lead", "active")),
        Condition("status", Op.NOT_IN, ("lead", "active")),
        Condition("source", Op.NE, "website"),
        Condition("company", Op.LT, "Globex"),
        Condition("company", Op.GTE, "acme"),
        Condition("totalRevenue", Op.LTE, 10.5),
        Condition("totalInvoices", Op.BETWEEN, (1, 2)),
        Condition("nextFollowUpAt", Op.IS_NULL),
        Condition("nextFollowUpAt", Op.IS_NOT_NULL),
        Condition("email", Op.CONTAINS, ("ZED", "bob")),
        Condition("assignedTo", Op.EQ, reps[0]),
        Condition("tags", Op.CONTAINS, ("vip", "new")),
        Condition("tags", Op.NOT_CONTAINS, ("vip",)),
        Condition("tags", Op.CONTAINS_ALL, ("vip", "gold")),
        Condition("$createdAt", Op.GT, at(0)),
        Condition("$updatedAt", Op.LTE, at(3)),
        Condition("$sequence", Op.GT, varied[40]["seq"]),
        Condition("$id", Op.IN, (varied[3]["id"], varied[5]["id"])),
    ]
    for condition in cases:
        query = ListQuery(where=condition, limit=1000)
        expected = [r["id"] for r in reference.select(CUSTOMERS, varied, condition, ())]
        assert [r["id"] for r in run(query).rows] == expected, condition


# --- totals, scope, other resources ----------------------------------------------------------


def test_total_is_counted_only_when_asked(database, varied, run):
    page = run("status=active&limit=2")
    assert page.total == sum(r["status"] == "active" for r in varied)
    assert run("status=active&limit=2&total=false").total is None


def test_scope_limits_what_is_seen_as_a_filter_or_as_sql(database, run):
    with database.transaction() as conn:
        rows = add_customers(conn, [{"name": "mine"}, {"name": "theirs"}])
    mine = rows[0]["userId"]
    as_filter = Condition("userId", Op.EQ, mine)
    assert names(run("", scope=as_filter)) == ["mine"]
    assert run("", scope=as_filter).total == 1
    as_sql = tables.customers.c.userId == mine
    assert names(run("", scope=as_sql)) == ["mine"]
    assert names(run("q=min", scope=as_sql)) == ["mine"]
    assert names(run("q=theirs", scope=as_sql)) == []


def _interactions(conn, customer_id, count):
    conn.execute(
        insert(tables.customer_interactions),
        [
            {
                "id": f"i{customer_id[:8]}{n}",
                "createdAt": BASE_TIME,
                "updatedAt": BASE_TIME,
                "customerId": customer_id,
                "type": ("call", "email")[n % 2],
                "subject": f"s{n}",
                "occurredAt": at(n % 3),
                "visibility": ("shared", "internal")[n % 2],
            }
            for n in range(count)
        ],
    )


def test_interaction_attributes_need_a_customer(database, run):
    with database.transaction() as conn:
        customer = add_customers(conn, [{"name": "c"}])[0]
        _interactions(conn, customer["id"], 6)
    cid = customer["id"]
    page = run(f"customerId={cid}&type=call&sort=-occurredAt", INTERACTIONS)
    assert [(r["subject"], r["occurredAt"]) for r in page.rows] == [
        ("s2", at(2)),
        ("s4", at(1)),
        ("s0", at(0)),
    ]
    with pytest.raises(BadQuery) as caught:
        run("type=call", INTERACTIONS)
    assert "customerId" in caught.value.fields["type"]
    with pytest.raises(BadQuery) as caught:
        run("sort=subject", INTERACTIONS)
    assert "sort" in caught.value.fields
    scoped = Condition("customerId", Op.EQ, cid)
    assert len(run("visibility=shared", INTERACTIONS, scope=scoped).rows) == 3


def test_notes_users_and_audit_logs_compile(database):
    queries = [
        (NOTES, ListQuery(where=Condition("isPinned", Op.EQ, True), sort=(Sort("$sequence"),))),
        (USERS, ListQuery(where=Condition("email", Op.EQ, "A@B.C"), sort=(Sort("name"),))),
        (
            AUDIT_LOGS,
            ListQuery(
                where=Group(
                    "and",
                    (Condition("entityType", Op.EQ, "customer"), Condition("entityId", Op.EQ, "x")),
                ),
                sort=(Sort("occurredAt", True),),
            ),
        ),
    ]
    with database.read() as conn:
        for resource, query in queries:
            page = run_list(conn, resource, query)
            assert page.rows == [] and page.total == 0
        users = run_list(conn, USERS, ListQuery())
    assert "passwordHash" not in (users.rows[0] if users.rows else {"x": 1})


def test_rows_are_plain_dicts_of_raw_columns(database, run):
    with database.transaction() as conn:
        add_customers(conn, [{"name": "Ada", "lastContactAt": at(1)}])
    [row] = run("").rows
    assert type(row) is dict
    assert {"id", "seq", "createdAt", "updatedAt", "userId", "lastContactAt"} <= set(row)
    assert "searchText" not in row
    assert row["lastContactAt"] == at(1)


# --- cursors from rows (the Appwrite face's cursorAfter=<id>) ---------------------------------


def test_find_cursor_and_cursor_for_row_give_the_same_position(database, varied):
    query = ListQuery(sort=(Sort("lastContactAt", True),), limit=5)
    expected = [r["id"] for r in reference.ordered(CUSTOMERS, varied, query.sort)]
    with database.read() as conn:
        cursor = find_cursor(conn, CUSTOMERS, query, expected[10])
        assert cursor is not None
        page = run_list(conn, CUSTOMERS, ListQuery(sort=query.sort, limit=5, cursor=cursor))
        assert [r["id"] for r in page.rows] == expected[11:16]
        before = find_cursor(conn, CUSTOMERS, query, expected[10], before=True)
        page = run_list(conn, CUSTOMERS, ListQuery(sort=query.sort, limit=5, cursor=before))
        assert [r["id"] for r in page.rows] == expected[5:10]
        assert find_cursor(conn, CUSTOMERS, query, "no-such-row") is None
        hidden = tables.customers.c.id != expected[10]
        assert find_cursor(conn, CUSTOMERS, query, expected[10], scope=hidden) is None
    row = next(r for r in varied if r["id"] == expected[10])
    assert cursor_for_row(CUSTOMERS, query, row) == cursor_for_row(CUSTOMERS, query, row)


def test_build_list_needs_no_connection(database):
    plan = build_list(
        CUSTOMERS,
        ListQuery(where=Condition("status", Op.EQ, "active"), sort=(Sort("name"),)),
        dialect="postgresql",
    )
    sql = str(plan.segments[0].statement)
    assert "ORDER BY customers.name ASC, customers.seq ASC" in sql
    plan = build_list(CUSTOMERS, ListQuery(sort=(Sort("company", True),)), dialect="postgresql")
    assert "customers.company DESC NULLS LAST" in str(plan.segments[0].statement)


@pytest.mark.parametrize(
    ("total", "named", "first", "tiers"),
    [(0, False, 0, {None}), (5, False, 5, {1, None}), (5, True, 2, {0, 1, 2, None})],
)
def test_lead_counts_keep_the_tiers_that_may_hold_rows(total, named, first, tiers):
    counts = LeadCounts(total, named, first)
    assert {t for t in (0, 1, 2, None) if counts.may_hold(t)} == tiers


def _sql_and_values(statement: Any, params: dict[str, Any]) -> tuple[str, list[Any]]:
    """A statement's PostgreSQL text with its parameters' names left out, and their values in
    order, so that two builds of one statement compare whatever their parameters are named."""
    compiled = statement.compile(dialect=postgresql.dialect())
    values = {**compiled.params, **params}
    placeholder = r"%\((\w+)\)s|__\[POSTCOMPILE_(\w+)\]"
    names = [a or b for a, b in re.findall(placeholder, str(compiled))]
    return re.sub(placeholder, "?", str(compiled)), [values[name] for name in names]


@pytest.mark.parametrize(
    ("search", "usual"),
    [
        ("q=muth", True),
        ("q=Tan", True),
        ("q=ng", True),  # tier 1 only: `^ng` is long enough to stream, `ng` is not
        ("q=l%C3%A9", True),
        ("q=o'brien", False),  # two words
        ("q=muth&status=active", False),
        ("q=muth&sort=-$createdAt", False),
    ],
)
def test_the_usual_search_boxs_tiers_are_built_once_as_the_general_build_would(
    search: str, usual: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A one-word search with no filter and no cursor reads its PostgreSQL tiers with
    statements built once: the same SQL, with this search's values as parameters."""
    query = parse_list_query(CUSTOMERS, parse_qsl(search), reserved=())
    built = [s.statements for s in build_list(CUSTOMERS, query, dialect="postgresql").segments]
    again = [s.statements for s in build_list(CUSTOMERS, query, dialect="postgresql").segments]
    monkeypatch.setattr(compiler._Builder, "_usual_search_box", lambda _self, _segment: None)
    general = [s.statements for s in build_list(CUSTOMERS, query, dialect="postgresql").segments]
    once = [b for b in built if b.params]
    assert bool(once) is usual
    assert [a.statement for a in again if a.params] == [b.statement for b in once]
    for statements, plain in zip(built, general, strict=True):
        assert _sql_and_values(statements.statement, dict(statements.params)) == (
            _sql_and_values(plain.statement, {})
        )
