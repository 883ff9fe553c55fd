"""`GET /api/customers`: the seed's query patterns as single requests, owners' scope, errors."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from clientbook.access import SYSTEM
from clientbook.domain.timestamps import format_datetime, utcnow
from clientbook.services import customers as svc
from tests.api.conftest import Api
from tests.factories import make_customer, make_staff, make_user


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [row["$id"] for row in response.json()["rows"]]


@pytest.fixture
def book(api: Api) -> dict[str, Any]:
    """A small customer base shaped for the seed's query patterns."""
    rep = make_staff(api.db, name="Rep")
    now = utcnow()
    made = {
        "tan": make_customer(
            api.db, name="Tan Mei Ling", email="mei@example.com", phone="+60 12-345 6789",
            company="Acme Sdn Bhd", city="Ipoh", country="Malaysia", metadata={"tags": ["VIP"]},
            lastContactAt=format_datetime(now - timedelta(days=1)),
        ),
        "ali": make_customer(
            api.db, name="Ali bin Abu", email="ali@example.com", company="Acme Sdn Bhd",
            lastContactAt=format_datetime(now - timedelta(days=5)),
            nextFollowUpAt=format_datetime(now - timedelta(days=2)), totalRevenue=500,
        ),
        "raj": make_customer(
            api.db, name="Rajesh Kumar", email="raj@example.com", totalRevenue=1500,
            nextFollowUpAt=format_datetime(now + timedelta(days=3)),
        ),
        "old": make_customer(
            api.db, name="José Archived", email="jose@example.com",
            nextFollowUpAt=format_datetime(now - timedelta(days=9)),
        ),
    }  # fmt: skip
    with api.db.transaction() as conn:
        svc.change_status(conn, SYSTEM, made["old"]["id"], "archived")
        svc.change_status(conn, SYSTEM, made["raj"]["id"], "lead")
        svc.assign_customer(conn, SYSTEM, made["tan"]["id"], rep["id"])
        svc.assign_customer(conn, SYSTEM, made["ali"]["id"], rep["id"])
    return {"rep": rep, **{k: v["id"] for k, v in made.items()}, "staff": api.staff_headers()}


def get(api: Api, book: dict[str, Any], query: str) -> Any:
    return api.get(f"/api/customers?{query}", headers=book["staff"])


def test_active_customers_by_recent_contact(api: Api, book: dict[str, Any]) -> None:
    found = ids(get(api, book, "status=active&sort=-lastContactAt&limit=50"))
    assert found == [book["tan"], book["ali"]]


def test_customers_of_an_assigned_rep_by_name(api: Api, book: dict[str, Any]) -> None:
    found = ids(get(api, book, f"assignedTo={book['rep']['id']}&status=active&sort=name"))
    assert found == [book["ali"], book["tan"]]


def test_follow_ups_due(api: Api, book: dict[str, Any]) -> None:
    found = ids(get(api, book, "nextFollowUpAt[lte]=now&status[ne]=archived&sort=nextFollowUpAt"))
    assert found == [book["ali"]]


def test_top_revenue(api: Api, book: dict[str, Any]) -> None:
    found = ids(get(api, book, "totalRevenue[gt]=0&sort=-totalRevenue&limit=10"))
    assert found == [book["raj"], book["ali"]]


def test_by_company_and_by_email_case_insensitively(api: Api, book: dict[str, Any]) -> None:
    assert ids(get(api, book, "company=Acme Sdn Bhd&sort=name")) == [book["ali"], book["tan"]]
    assert ids(get(api, book, "email=MEI@example.com")) == [book["tan"]]


def test_search_name_email_phone_company_and_tag(api: Api, book: dict[str, Any]) -> None:
    assert ids(get(api, book, "q=tan")) == [book["tan"]]
    assert ids(get(api, book, "q=jose")) == [book["old"]]  # accent-insensitive
    assert ids(get(api, book, "q=0123")) == [book["tan"]]  # phone by national digits
    assert set(ids(get(api, book, "q=acme"))) == {book["tan"], book["ali"]}
    assert ids(get(api, book, "q=tan&tag=vip&country=Malaysia")) == [book["tan"]]


def test_search_totals_and_pages(api: Api, book: dict[str, Any]) -> None:
    """Counted with the rows or on their own (PostgreSQL reads the first page and its total in
    one statement): a JSON number either way, on every page."""
    first = get(api, book, "q=acme&limit=1").json()
    assert first["total"] == 2 and len(first["rows"]) == 1
    second = get(api, book, f"q=acme&limit=1&cursor={first['cursor']}").json()
    assert second["total"] == 2 and second["cursor"] is None
    assert {first["rows"][0]["$id"], second["rows"][0]["$id"]} == {book["tan"], book["ali"]}
    assert get(api, book, "q=zzzqx").json() == {"total": 0, "rows": [], "cursor": None}


def test_total_and_cursor_paging(api: Api, book: dict[str, Any]) -> None:
    first = get(api, book, "sort=name&limit=2").json()
    assert first["total"] == 4 and len(first["rows"]) == 2
    second = get(api, book, f"sort=name&limit=2&cursor={first['cursor']}").json()
    names = [r["name"] for r in first["rows"] + second["rows"]]
    assert names == sorted(names) and len(set(names)) == 4
    assert second["cursor"] is None
    assert get(api, book, "total=false").json()["total"] is None


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("jobTitle=CEO", "jobTitle"),
        ("sort=website", "sort"),
        ("limit=1001", "limit"),
        ("status[like]=a", "status[like]"),
        ("cursor=garbage", "cursor"),
        ("totalRevenue[gt]=lots", "totalRevenue[gt]"),
    ],
)
def test_bad_query_parameters_are_400_naming_them(
    api: Api, book: dict[str, Any], query: str, param: str
) -> None:
    response = get(api, book, query)
    assert response.status_code == 400
    assert param in response.json()["error"]["fields"]


def test_an_owners_list_holds_only_their_own_record(api: Api) -> None:
    user = make_user(api.db)
    mine = make_customer(api.db, owner=user)
    make_customer(api.db)
    response = api.get("/api/customers", headers=api.bearer(user))
    assert ids(response) == [mine["id"]]
    assert response.json()["total"] == 1


def test_anonymous_list_is_401(api: Api) -> None:
    assert api.get("/api/customers").status_code == 401
