"""The native query string parser: every operator, every error names its parameter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clientbook.domain.errors import BadQuery
from clientbook.query.fields import CUSTOMERS, INTERACTIONS, NOTES, USERS
from clientbook.query.model import (
    DEFAULT_LIMIT,
    MATCH_ALL,
    Condition,
    Group,
    ListQuery,
    Op,
    Sort,
)
from clientbook.query.native import parse_list_query, split_list

RESERVED = ("expand", "parse", "format", "ids")


def parse(query: str = "", resource=CUSTOMERS) -> ListQuery:
    params = [tuple(part.split("=", 1)) for part in query.split("&") if part]
    return parse_list_query(resource, params, reserved=RESERVED)  # type: ignore[arg-type]


def conditions(query: str, resource=CUSTOMERS) -> list[Condition]:
    where = parse(query, resource).where
    assert isinstance(where, Group) and where.kind == "and"
    return list(where.items)  # type: ignore[arg-type]


def error_fields(query: str, resource=CUSTOMERS) -> dict[str, str]:
    with pytest.raises(BadQuery) as caught:
        parse(query, resource)
    return caught.value.fields


def test_an_empty_query_string_is_the_default_list():
    query = parse("")
    assert query == ListQuery()
    assert query.where == MATCH_ALL
    assert query.limit == DEFAULT_LIMIT == 25
    assert query.with_total is True


def test_equality_and_comma_lists_mean_any_of():
    assert conditions("status=active") == [Condition("status", Op.EQ, "active")]
    assert conditions("status=lead,prospect") == [Condition("status", Op.IN, ("lead", "prospect"))]
    assert conditions("status[in]=lead, prospect") == [
        Condition("status", Op.IN, ("lead", "prospect"))
    ]
    assert conditions("status[in]=lead") == [Condition("status", Op.EQ, "lead")]


def test_ne_with_one_value_and_with_a_list():
    assert conditions("status[ne]=archived") == [Condition("status", Op.NE, "archived")]
    assert conditions("status[ne]=archived,inactive") == [
        Condition("status", Op.NOT_IN, ("archived", "inactive"))
    ]


def test_eq_takes_the_value_whole_commas_included():
    assert conditions("company[eq]=Acme, Inc.") == [Condition("company", Op.EQ, "Acme, Inc.")]
    assert conditions(r"company=Acme\, Inc.,Globex") == [
        Condition("company", Op.IN, ("Acme, Inc.", "Globex"))
    ]


@pytest.mark.parametrize(
    ("op", "expected"), [("lt", Op.LT), ("lte", Op.LTE), ("gt", Op.GT), ("gte", Op.GTE)]
)
def test_comparison_operators_on_numbers(op, expected):
    assert conditions(f"totalRevenue[{op}]=1.5") == [Condition("totalRevenue", expected, 1.5)]
    assert conditions(f"totalInvoices[{op}]=3") == [Condition("totalInvoices", expected, 3)]


def test_isnull_true_and_false():
    assert conditions("assignedTo[isnull]=true") == [Condition("assignedTo", Op.IS_NULL)]
    assert conditions("assignedTo[isnull]=false") == [Condition("assignedTo", Op.IS_NOT_NULL)]


def test_now_and_iso_dates_are_datetimes():
    before = datetime.now(UTC) - timedelta(seconds=1)
    [now] = conditions("nextFollowUpAt[lte]=now")
    assert isinstance(now.value, datetime) and before <= now.value <= datetime.now(UTC)
    [day] = conditions("lastContactAt[gte]=2025-01-15")
    assert day.value == datetime(2025, 1, 15, tzinfo=UTC)
    [moment] = conditions(
        "lastContactAt[lt]=2025-01-15T09:30:00.123456%2B08:00".replace("%2B", "+")
    )
    assert moment.value == datetime(2025, 1, 15, 1, 30, 0, 123000, tzinfo=UTC)
    [zulu] = conditions("$createdAt[gt]=2025-01-15T09:30:00Z")
    assert zulu == Condition("$createdAt", Op.GT, datetime(2025, 1, 15, 9, 30, tzinfo=UTC))


def test_system_fields_are_accepted_with_and_without_the_dollar():
    assert conditions("createdAt[gt]=2025-01-01")[0].field == "$createdAt"
    assert conditions("id=abc")[0] == Condition("$id", Op.EQ, "abc")
    assert conditions("$sequence[gt]=10")[0] == Condition("$sequence", Op.GT, 10)
    assert parse("sort=-createdAt").sort == (Sort("$createdAt", True),)


def test_tags_are_any_of_and_case_insensitive():
    assert conditions("tag=VIP,Enterprise") == [
        Condition("tags", Op.CONTAINS_ANY, ("vip", "enterprise"))
    ]
    assert conditions("tag[ne]=churned") == [Condition("tags", Op.NOT_CONTAINS, ("churned",))]


def test_booleans_on_notes():
    assert conditions("isPinned=true", NOTES) == [Condition("isPinned", Op.EQ, True)]
    assert conditions("isPinned=0", NOTES) == [Condition("isPinned", Op.EQ, False)]


def test_search_sort_limit_offset_total():
    query = parse("q=tan mei&sort=-lastContactAt,name&limit=50&offset=100&total=false")
    assert query.search == "tan mei"
    assert query.sort == (Sort("lastContactAt", True), Sort("name"))
    assert (query.limit, query.offset, query.with_total) == (50, 100, False)


@pytest.mark.parametrize("sort", ["--name", "name,,status", ",", "-", "-,name", "+-name", "name,"])
def test_a_malformed_sort_is_refused_naming_it(sort: str) -> None:
    # `--name`, empty keys and `,` were read as if well formed.
    assert set(error_fields(f"sort={sort}")) == {"sort"}


def test_the_seed_query_patterns_parse():
    assert conditions("status=active") and parse("sort=-lastContactAt&limit=50").limit == 50
    assert [c.field for c in conditions("assignedTo=abc123&status=active")] == [
        "assignedTo",
        "status",
    ]
    assert [c.op for c in conditions("nextFollowUpAt[lte]=now&status[ne]=archived")] == [
        Op.LTE,
        Op.NE,
    ]
    assert conditions("totalRevenue[gt]=0") == [Condition("totalRevenue", Op.GT, 0.0)]
    assert conditions("email=Ada@Example.com") == [Condition("email", Op.EQ, "Ada@Example.com")]
    assert parse("q=tan&tag=vip&country=Malaysia").search == "tan"


def test_reserved_names_are_ignored():
    assert parse("expand=userId,assignedTo&parse=json&format=csv&ids=a,b") == ListQuery()


def test_empty_values_are_ignored_like_unfilled_form_fields():
    assert parse("status=&company=&q=&sort=&limit=") == ListQuery()


def test_conditions_remember_their_parameter():
    [condition] = conditions("totalRevenue[gt]=5")
    assert condition.param == "totalRevenue[gt]"


@pytest.mark.parametrize(
    ("query", "param", "message"),
    [
        ("totalRevenue[gt]=not a number", "totalRevenue[gt]", "not a number"),
        ("totalRevenue[gt]=nan", "totalRevenue[gt]", "not a number"),
        ("totalRevenue[gt]=1e999", "totalRevenue[gt]", "not a finite number"),
        ("totalInvoices=1.5", "totalInvoices", "not an integer"),
        ("totalInvoices=99999999999999999999", "totalInvoices", "not an integer"),
        ("lastContactAt[lt]=yesterday", "lastContactAt[lt]", "ISO 8601"),
        ("status=activ", "status", "not one of"),
        ("assignedTo=no spaces", "assignedTo", "not a valid id"),
        ("status[like]=x", "status[like]", "unknown operator"),
        ("status[lt]=active", "status[lt]", "does not apply"),
        ("assignedTo[isnull]=maybe", "assignedTo[isnull]", "true or false"),
        ("jobTitle=CEO", "jobTitle", "has no index"),
        ("bogus=1", "bogus", "not a field"),
        ("status]=x", "status]", "unknown query parameter"),
        ("tag[gt]=a", "tag[gt]", "comma list"),
        ("limit=0", "limit", "from 1 to 1000"),
        ("limit=1001", "limit", "from 1 to 1000"),
        ("limit=ten", "limit", "from 1 to 1000"),
        ("offset=-1", "offset", "at least 0"),
        ("total=maybe", "total", "true or false"),
        ("sort=jobTitle", "sort", "has no index"),
        ("sort=tags", "sort", "cannot be sorted"),
        ("sort=name,-name", "sort", "given twice"),
        ("cursor=not-a-cursor", "cursor", "malformed"),
        ("q=" + "x" * 201, "q", "200 characters"),
        ("q=" + " ".join(f"w{i}" for i in range(17)), "q", "16 words"),
        ("status=" + ",".join(["active"] * 101), "status", "at most 100"),
        ("status=active&status=lead", "status", "more than once"),
    ],
)
def test_each_error_names_its_parameter(query, param, message):
    fields = error_fields(query)
    assert list(fields) == [param]
    assert message in fields[param]


def test_every_bad_parameter_is_reported_at_once():
    fields = error_fields("totalRevenue[gt]=x&limit=0&sort=nope&status=bad")
    assert set(fields) == {"totalRevenue[gt]", "limit", "sort", "status"}


def test_a_cursor_from_another_ordering_is_refused(database):
    from clientbook.query.compiler import run_list

    with database.transaction() as conn:
        from tests.query.rows import add_customers

        add_customers(conn, [{"name": f"C{i}"} for i in range(3)])
        page = run_list(conn, CUSTOMERS, parse("sort=name&limit=1"))
    assert page.next_cursor
    assert parse(f"sort=name&limit=1&cursor={page.next_cursor}").cursor is not None
    fields = error_fields(f"sort=-name&limit=1&cursor={page.next_cursor}")
    assert "different sort order" in fields["cursor"]


def test_other_resources_have_their_own_fields():
    assert conditions("customerId=abc&type=call", INTERACTIONS)[1] == Condition(
        "type", Op.EQ, "call"
    )
    assert conditions("role=super_admin", USERS) == [Condition("role", Op.EQ, "super_admin")]
    assert (
        "not a field" in error_fields("subject[eq]=x&totalRevenue=1", INTERACTIONS)["totalRevenue"]
    )


@pytest.mark.parametrize(
    ("text", "items"),
    [
        ("a,b", ["a", "b"]),
        (" a , ,b ", ["a", "b"]),
        (r"a\,b,c", ["a,b", "c"]),
        (r"a\\,b", ["a\\", "b"]),
        ("", []),
    ],
)
def test_split_list(text, items):
    assert split_list(text) == items
