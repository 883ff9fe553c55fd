"""Duplicate detection at the service layer: what counts as the same email, phone or name at a
company; groups paginated by cursor; members capped; only staff may look."""

from __future__ import annotations

from typing import Any

import pytest

from clientbook.access import SYSTEM, Principal
from clientbook.db.engine import Database
from clientbook.domain.errors import BadQuery, Forbidden, Unauthenticated
from clientbook.services import duplicates
from tests.factories import as_principal, make_customer, make_user


def find(db: Database, principal: Principal | None = SYSTEM, **kw: Any) -> dict[str, Any]:
    with db.read() as conn:
        return duplicates.find_duplicates(conn, principal, **kw)


def summary(page: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    return [(g["reason"], g["key"], [c["name"] for c in g["customers"]]) for g in page["groups"]]


@pytest.fixture
def world(database: Database) -> Database:
    """Three duplicate groups (one of each reason) among records that are all distinct."""
    make_customer(database, name="Ada One", email="Mei.Ling@gmail.com")
    make_customer(database, name="Ada Two", email="meiling+crm@googlemail.com")
    make_customer(database, name="Ada Three", email="meiling@example.com")
    make_customer(database, name="Bo One", phone="+60 12-345 6789")
    make_customer(database, name="Bo Two", phone="012-345 6789", country="Malaysia")
    make_customer(database, name="Bo Three", phone="+65 6123 4567")
    make_customer(database, name="Tan Mei Ling", company="Acme Sdn Bhd")
    make_customer(database, name="MEI-LING TAN", company="acme sdn. bhd.")
    make_customer(database, name="Tan Mei Ling", company="Other Co")
    return database


def test_groups_come_by_email_then_phone_then_name_at_company(world: Database) -> None:
    page = find(world)
    assert summary(page) == [
        ("email", "meiling@gmail.com", ["Ada One", "Ada Two"]),
        ("phone", "+60123456789", ["Bo One", "Bo Two"]),
        ("name_company", "acme sdn bhd|ling mei tan", ["Tan Mei Ling", "MEI-LING TAN"]),
    ]
    assert [g["count"] for g in page["groups"]] == [2, 2, 2]
    assert page["cursor"] is None


def test_members_are_public_customer_objects(world: Database) -> None:
    member = find(world)["groups"][0]["customers"][0]
    assert member["$id"] and member["$createdAt"] and member["userId"]
    assert "emailKey" not in member and "seq" not in member and "searchText" not in member


def test_cursor_walks_every_group_once(world: Database) -> None:
    seen, cursor = [], None
    for _ in range(5):
        page = find(world, limit=1, cursor=cursor)
        seen += [(g["reason"], g["key"]) for g in page["groups"]]
        cursor = page["cursor"]
        if cursor is None:
            break
    assert [reason for reason, _ in seen] == ["email", "phone", "name_company"]
    assert len(set(seen)) == 3


@pytest.mark.parametrize("budget", [1, 2, 3, 5])
def test_a_small_scan_budget_gives_short_pages_but_every_group_once(
    world: Database, monkeypatch: Any, budget: int
) -> None:
    everything = [(reason, key, 2) for reason, key, _ in summary(find(world))]
    monkeypatch.setattr(duplicates, "SCAN_BUDGET", budget)
    seen, cursor, pages = [], None, 0
    while pages < 50:
        page = find(world, limit=2, cursor=cursor)
        pages += 1
        seen += [(g["reason"], g["key"], g["count"]) for g in page["groups"]]
        cursor = page["cursor"]
        if cursor is None:
            break
    assert seen == everything
    assert pages >= 2


def test_a_group_larger_than_the_budget_is_counted_whole(
    database: Database, monkeypatch: Any
) -> None:
    monkeypatch.setattr(duplicates, "SCAN_BUDGET", 2)
    for n in range(5):
        make_customer(database, name=f"Same {n}", phone="03-1234 5678")
    page = find(database, reason="phone")
    assert [g["count"] for g in page["groups"]] == [5]


def test_reason_limits_the_groups(world: Database) -> None:
    assert [g["reason"] for g in find(world, reason="phone")["groups"]] == ["phone"]
    page = find(world, reason="email", limit="1")
    assert page["cursor"] is not None
    assert find(world, reason="email", cursor=page["cursor"])["groups"] == []


def test_a_group_lists_its_oldest_members_and_counts_them_all(
    database: Database, monkeypatch: Any
) -> None:
    monkeypatch.setattr(duplicates, "MEMBERS_PER_GROUP", 2)
    for n in range(3):
        make_customer(database, name=f"Same {n}", phone="03-1234 5678")
    (group,) = find(database)["groups"]
    assert group["count"] == 3
    assert [c["name"] for c in group["customers"]] == ["Same 0", "Same 1"]


def test_no_duplicates_no_groups(database: Database) -> None:
    make_customer(database, name="Alone", email="alone@example.com", phone="0123456789")
    assert find(database) == {"groups": [], "cursor": None}


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"reason": "surname"}, "reason"),
        ({"limit": 0}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": duplicates.encode_cursor(duplicates.Position("email", "a")),
          "reason": "phone"}, "cursor"),
    ],
)  # fmt: skip
def test_bad_parameters_are_bad_queries_naming_them(
    world: Database, kw: dict[str, Any], field: str
) -> None:
    with pytest.raises(BadQuery) as caught:
        find(world, **kw)
    assert set(caught.value.fields) == {field}


def test_only_staff_see_duplicates(world: Database) -> None:
    with pytest.raises(Unauthenticated):
        find(world, None)
    with pytest.raises(Forbidden):
        find(world, as_principal(make_user(world)))
