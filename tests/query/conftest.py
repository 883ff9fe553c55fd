"""Fixtures of the query tests: a set of customers full of ties and nulls."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from clientbook.db.engine import Database
from clientbook.domain import enums
from clientbook.query.compiler import Page, run_list
from clientbook.query.fields import CUSTOMERS, Resource
from clientbook.query.model import ListQuery
from clientbook.query.native import parse_list_query
from tests.query.rows import add_customers, add_users, at

NAMES = ("ann", "Ann", "Ann Lee", "bob", "Bob", "carl", "Zed", "zed")
COMPANIES = ("Acme", "acme", "Globex", "Initech")
EMAIL_USERS = ("ann", "Bob", "carl", "ZED")
TAGS = ("vip", "Gold", "new")


def varied_specs(reps: list[str], count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Customers with few distinct values (ties) and many nulls, in every indexed column."""
    rnd = random.Random(seed)

    def maybe(values: tuple[Any, ...], none: float) -> Any:
        return None if rnd.random() < none else rnd.choice(values)

    specs = []
    for i in range(count):
        email = None
        if rnd.random() > 0.3:
            email = f"{rnd.choice(EMAIL_USERS)}{i}@{rnd.choice(('x.com', 'Y.org'))}"
        specs.append(
            {
                "name": rnd.choice(NAMES),
                "email": email,
                "phone": None if rnd.random() < 0.4 else f"+60 12-345 {i:04d}",
                "company": maybe(COMPANIES, 0.4),
                "city": maybe(("Ipoh", "KL", "Penang"), 0.3),
                "state": maybe(("Perak", "Selangor"), 0.3),
                "country": maybe(("Malaysia", "Singapore"), 0.2),
                "status": rnd.choice(enums.CUSTOMER_STATUSES),
                "assignedTo": maybe(tuple(reps), 0.4),
                "source": maybe(enums.CUSTOMER_SOURCES[:3], 0.4),
                "industry": maybe(("Retail", "Tech"), 0.5),
                "customerType": rnd.choice(enums.CUSTOMER_TYPES),
                "lastContactAt": maybe((at(1), at(2), at(2.5), at(3)), 0.35),
                "nextFollowUpAt": maybe((at(-1), at(0), at(5)), 0.5),
                "totalRevenue": rnd.choice((0.0, 0.0, 10.5, 99.0, 1000.0)),
                "totalInvoices": rnd.choice((0, 1, 2, 5)),
                "createdAt": at(rnd.choice((0, 0, 1, 2))),
                "updatedAt": at(rnd.choice((3, 4))),
                "tags": rnd.sample(TAGS, rnd.randint(0, 2)),
            }
        )
    return specs


@pytest.fixture
def varied(database: Database) -> list[dict[str, Any]]:
    """90 customers with ties and nulls everywhere, committed."""
    with database.transaction() as conn:
        reps = add_users(conn, 2, role="super_admin")
        return add_customers(conn, varied_specs(reps, 90))


Run = Callable[..., Page]


@pytest.fixture
def run(database: Database) -> Run:
    """`run("status=active&sort=name")` or `run(ListQuery(...))`: one page, read-only."""

    def run_query(
        query: str | ListQuery, resource: Resource = CUSTOMERS, scope: Any = None
    ) -> Page:
        if isinstance(query, str):
            query = parse_list_query(resource, parse_params(query))
        with database.read() as conn:
            return run_list(conn, resource, query, scope=scope)

    return run_query


def parse_params(query: str) -> list[tuple[str, str]]:
    return [tuple(part.split("=", 1)) for part in query.split("&") if part]  # type: ignore[misc]
