"""List totals taken from `customer_counts` without counting the matches (`walking.counted_total`):
a rep's records by status (the (assignedTo, status) pairs of migration 0005) and a range of a
day-counted timestamp (whole UTC days from the counters, partial days on the index) equal a real
COUNT of the filter, on both backends, before and after writes that move records between
buckets, reassign, unassign, archive and delete them."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, delete, event, func, select, text, update

from clientbook.db import tables
from clientbook.db.engine import Database
from clientbook.domain import enums
from clientbook.query import walking
from clientbook.query.compiler import run_list
from clientbook.query.fields import CUSTOMERS
from clientbook.query.model import Condition, Filter, Group, ListQuery, Op
from clientbook.query.native import parse_list_query
from clientbook.query.predicates import compile_filter
from tests.query.conftest import parse_params
from tests.query.rows import add_customers, add_users

_c = tables.customers.c
MIDNIGHT = datetime(2025, 3, 2, tzinfo=UTC)
MS = timedelta(milliseconds=1)
# Follow-ups and creation times on, just before and just after UTC midnights, and in between.
INSTANTS = tuple(
    MIDNIGHT + timedelta(days=day) + offset
    for day in (-2, -1, 0, 1)
    for offset in (timedelta(0), MS, -MS, timedelta(hours=9, minutes=30))
)


def real_count(conn: Connection, where: Filter) -> int:
    predicate = compile_filter(CUSTOMERS, where, conn.dialect.name)
    return int(conn.execute(select(func.count()).where(predicate)).scalar_one())


def counted(conn: Connection, where: Filter) -> int | None:
    return walking.counted_total(conn, CUSTOMERS, where)


def both(*items: Condition) -> Group:
    return Group("and", items)


@pytest.fixture
def reps(database: Database) -> list[str]:
    with database.transaction() as conn:
        return add_users(conn, 3, role="super_admin")


@pytest.fixture
def spread(database: Database, reps: list[str]) -> list[dict[str, Any]]:
    """60 customers over every status, rep (and none), follow-up and creation instant."""
    rng = random.Random(11)
    specs = [
        {
            "status": rng.choice(enums.CUSTOMER_STATUSES),
            "assignedTo": rng.choice([*reps, None]),
            "nextFollowUpAt": rng.choice([*INSTANTS, None]),
            "createdAt": rng.choice(INSTANTS),
        }
        for _ in range(60)
    ]
    with database.transaction() as conn:
        return add_customers(conn, specs)


def pair_cases(reps: list[str]) -> list[Filter]:
    cases: list[Filter] = [
        both(Condition("assignedTo", Op.EQ, rep), Condition("status", Op.EQ, status))
        for rep in reps
        for status in enums.CUSTOMER_STATUSES
    ]
    cases += [
        both(
            Condition("status", Op.IN, ("active", "lead")), Condition("assignedTo", Op.EQ, reps[0])
        ),
        both(Condition("assignedTo", Op.IN, tuple(reps[:2])), Condition("status", Op.EQ, "active")),
        both(Condition("assignedTo", Op.EQ, "nobody"), Condition("status", Op.EQ, "active")),
    ]
    return cases


def range_cases() -> list[Filter]:
    not_archived = Condition("status", Op.NE, "archived")
    cases: list[Filter] = []
    for at in (*INSTANTS, MIDNIGHT + timedelta(days=9), MIDNIGHT - timedelta(days=9)):
        for op in (Op.LT, Op.LTE, Op.GT, Op.GTE):
            cases.append(both(Condition("nextFollowUpAt", op, at), not_archived))
            cases.append(Condition("$createdAt", op, at))
    # Within a day, across days, from midnight to midnight, an empty range, one instant.
    ends = [(1, 6), (2, 11), (8, 12), (3, 2), (4, 4)]
    for low, high in ((INSTANTS[i], INSTANTS[j]) for i, j in ends):
        cases.append(both(Condition("nextFollowUpAt", Op.BETWEEN, (low, high)), not_archived))
        cases.append(
            both(
                Condition("nextFollowUpAt", Op.GT, low),
                Condition("status", Op.NOT_IN, ("archived",)),
                Condition("nextFollowUpAt", Op.LTE, high),
            )
        )
        cases.append(
            both(Condition("$createdAt", Op.GTE, low), Condition("$createdAt", Op.LT, high))
        )
    return cases


def assert_totals_are_counts(database: Database, cases: list[Filter]) -> None:
    with database.read() as conn:
        found = [(where, counted(conn, where), real_count(conn, where)) for where in cases]
    assert [(w, n) for w, n, _ in found if n is None] == []
    assert [(w, n, m) for w, n, m in found if n != m] == []
    assert any(m for _, _, m in found)


def move_rows(database: Database, reps: list[str], rows: list[dict[str, Any]]) -> None:
    """Writes that move records between buckets: status, rep, unassigned, follow-up day,
    archived and back, creation day, deletes, and a rep deleted (SET NULL)."""
    ids = [row["id"] for row in rows]
    with database.transaction() as conn:
        conn.execute(update(tables.customers).where(_c.id == ids[0]).values(status="archived"))
        conn.execute(update(tables.customers).where(_c.id == ids[1]).values(assignedTo=reps[1]))
        conn.execute(update(tables.customers).where(_c.id == ids[2]).values(assignedTo=None))
        conn.execute(
            update(tables.customers)
            .where(_c.id.in_(ids[3:9]))
            .values(
                status="active",
                assignedTo=reps[0],
                nextFollowUpAt=INSTANTS[5],
                createdAt=INSTANTS[2],
            )
        )
        conn.execute(
            update(tables.customers)
            .where(_c.status == "archived", _c.id.in_(ids[20:40]))
            .values(status="lead")
        )
        conn.execute(delete(tables.customers).where(_c.id.in_(ids[9:14])))
        if not database.is_sqlite:
            conn.execute(text("SELECT customer_counts_compact()"))
        conn.execute(delete(tables.customers).where(_c.id == ids[14]))
    with database.transaction() as conn:
        conn.execute(delete(tables.users).where(tables.users.c.id == reps[2]))


def test_pair_totals_equal_a_count_after_writes(database, reps, spread):
    assert_totals_are_counts(database, pair_cases(reps))
    move_rows(database, reps, spread)
    assert_totals_are_counts(database, pair_cases(reps))


def test_range_totals_equal_a_count_after_writes(database, reps, spread):
    assert_totals_are_counts(database, range_cases())
    move_rows(database, reps, spread)
    assert_totals_are_counts(database, range_cases())


@pytest.mark.parametrize(
    "where",
    [
        # archived records have follow-ups too, and the day counters leave them out
        Condition("nextFollowUpAt", Op.LTE, MIDNIGHT),
        both(Condition("nextFollowUpAt", Op.LTE, MIDNIGHT), Condition("status", Op.EQ, "active")),
        both(Condition("$createdAt", Op.LT, MIDNIGHT), Condition("status", Op.NE, "archived")),
        both(
            Condition("nextFollowUpAt", Op.LT, MIDNIGHT),
            Condition("nextFollowUpAt", Op.LT, MIDNIGHT + MS),
            Condition("status", Op.NE, "archived"),
        ),
        both(Condition("assignedTo", Op.NE, "x"), Condition("status", Op.EQ, "active")),
        both(
            Condition("assignedTo", Op.EQ, "x"),
            Condition("status", Op.EQ, "active"),
            Condition("country", Op.EQ, "Japan"),
        ),
        Group("and", (Condition("assignedTo", Op.EQ, "x"), Condition("status", Op.EQ, "a")), True),
    ],
)
def test_other_filters_are_counted(database, spread, where):
    with database.read() as conn:
        assert counted(conn, where) is None


@pytest.mark.parametrize(
    "params",
    [
        "assignedTo={rep}&status=active&sort=name&limit=5",
        "nextFollowUpAt[lte]=now&status[ne]=archived&sort=nextFollowUpAt&limit=5",
        "nextFollowUpAt[gte]=2025-03-01&nextFollowUpAt[lt]=2025-03-02T09:30:00Z"
        "&status[ne]=archived&limit=5",
    ],
)
def test_the_console_lists_count_no_matches(database, reps, spread, params):
    """The benchmark's lists (d) and (e): the total is right, and no statement counts the
    filter's matches (the partial days at a range's ends are counted on the index)."""
    query = parse_list_query(CUSTOMERS, parse_params(params.format(rep=reps[0])))
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(database.reader, "before_cursor_execute", record)
    try:
        with database.read() as conn:
            total = run_list(conn, CUSTOMERS, query).total
    finally:
        event.remove(database.reader, "before_cursor_execute", record)
    with database.read() as conn:
        assert total == real_count(conn, query.where)
    counts = [s for s in statements if "count(*)" in s and "FROM customers" in s]
    assert all("customer_counts" in s or "nextFollowUpAt" in s for s in counts), counts
    assert not any('"assignedTo" =' in s or "status !=" in s for s in counts), counts
    # The total is one statement: for a range, the counters and the partial days together (a
    # statement each was a round trip each, and a range read every day's counter).
    statements.clear()
    event.listen(database.reader, "before_cursor_execute", record)
    try:
        with database.read() as conn:
            assert counted(conn, query.where) == total
    finally:
        event.remove(database.reader, "before_cursor_execute", record)
    assert len([s for s in statements if s != "BEGIN"]) == 1, statements


def test_a_list_query_reports_the_counted_total(database, reps, spread):
    where = both(Condition("assignedTo", Op.EQ, reps[0]), Condition("status", Op.EQ, "active"))
    with database.read() as conn:
        page = run_list(conn, CUSTOMERS, ListQuery(where=where, limit=1))
        assert page.total == real_count(conn, where) == counted(conn, where)
