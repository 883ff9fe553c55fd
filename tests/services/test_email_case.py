"""An address in another case of any letter is the same address (SPEC §3, §12), on SQLite as on
PostgreSQL: `Ösa@example.com` and `ösa@example.com` are one account and one customer, and every
lookup by email finds it. SQLite's own lower() folds ASCII letters only: before migration 0008
each was a second account or record there, and a lookup in the other case found nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from clientbook.access import SYSTEM
from clientbook.db.engine import Database
from clientbook.db.tables import customers, users
from clientbook.domain.errors import Conflict
from clientbook.query.fields import CUSTOMERS
from clientbook.query.model import Condition, ListQuery, Op, Sort
from clientbook.query.native import parse_list_query
from clientbook.services import auth, onboarding
from clientbook.services import customers as customer_service
from clientbook.services import users as user_service
from clientbook.services.auth import throttle
from clientbook.services.imports import ImportOptions, open_source, run_import
from tests.factories import TEST_PASSWORD, make_customer, make_staff, make_user

STORED, OTHER_CASE = "Ösa.Ünal@Example.com", "öSA.üNAL@example.COM"
ORIGIN = auth.ANONYMOUS.with_request(request_id="req-1", ip="203.0.113.9", user_agent="pytest")


def _customer_ids(db: Database, query: ListQuery) -> list[str]:
    with db.read() as conn:
        return [row["id"] for row in customer_service.list_customers(conn, SYSTEM, query).rows]


def _import(db: Database, tmp_path: Path, text: str, **options: Any) -> Any:
    path = tmp_path / "rows.csv"
    path.write_text(text)
    source = open_source(path, filename=path.name, fmt=None)
    return run_import(db, SYSTEM, source, ImportOptions(**options))


# --- one account, one record per address ------------------------------------------------------


def test_a_second_account_in_another_case_is_a_conflict_naming_email(database: Database) -> None:
    make_user(database, email=STORED)
    with pytest.raises(Conflict) as signup:
        auth.signup(database, ORIGIN, {"email": OTHER_CASE, "password": TEST_PASSWORD})
    with pytest.raises(Conflict) as staff_create:
        user_service.create_or_invite(database, SYSTEM, {"email": OTHER_CASE})
    with pytest.raises(Conflict) as the_index, database.transaction() as conn:
        # No check before the insert here: the unique index itself refuses it.
        user_service.insert_user(conn, SYSTEM, {"email": OTHER_CASE}, password_hash=None)
    for raised in (signup, staff_create, the_index):
        assert set(raised.value.fields) == {"email"}


def test_a_second_record_in_another_case_is_a_conflict_naming_email(database: Database) -> None:
    record = make_customer(database, email=STORED)
    other = make_customer(database, email="someone@example.com")
    with pytest.raises(Conflict) as created:
        make_customer(database, email=OTHER_CASE)
    with pytest.raises(Conflict) as updated, database.transaction() as conn:
        customer_service.update_customer(conn, SYSTEM, other["id"], {"email": OTHER_CASE})
    assert set(created.value.fields) == set(updated.value.fields) == {"email"}
    with database.transaction() as conn:  # the record's own address in another case is fine
        changed = customer_service.update_customer(
            conn, SYSTEM, record["id"], {"email": "ösa.ünal@example.com"}
        )
    assert changed["email"] == "ösa.ünal@example.com"


# --- found by the address in any case ------------------------------------------------------


def test_sign_in_with_the_address_in_another_case(database: Database) -> None:
    user = make_user(database, email=STORED)
    signed = auth.login(database, ORIGIN, OTHER_CASE, TEST_PASSWORD)
    assert signed.user["id"] == user["id"] and signed.user["email"] == STORED
    assert throttle.account_counter(STORED) == throttle.account_counter(f" {OTHER_CASE}")


def test_filters_find_the_address_in_any_case(database: Database) -> None:
    record = make_customer(database, make_user(database, email=STORED), email=STORED)
    make_customer(database, email="osa.unal@example.com")  # the same letters without accents
    assert _customer_ids(database, parse_list_query(CUSTOMERS, [("email", OTHER_CASE)])) == [
        record["id"]
    ]
    for op, text in ((Op.STARTS_WITH, "ÖSA.Ü"), (Op.ENDS_WITH, "ÜNAL@EXAMPLE.COM"),
                     (Op.CONTAINS, "SA.ÜN")):  # fmt: skip
        found = _customer_ids(database, ListQuery(where=Condition("email", op, (text,))))
        assert found == [record["id"]], op
    in_list = ListQuery(where=Condition("email", Op.IN, (OTHER_CASE, "nobody@example.com")))
    assert _customer_ids(database, in_list) == [record["id"]]
    with database.read() as conn:
        page = user_service.list_user_page(conn, SYSTEM, [("email", OTHER_CASE)])
    assert [row["email"] for row in page.rows] == [STORED]


def test_sorting_by_email_pages_through_non_ascii_addresses(database: Database) -> None:
    emails = ["Zoë@example.com", "zoe@example.com", "Ösa@example.com", "ada@example.com", None]
    made = {make_customer(database, email=e)["id"]: e for e in emails}
    seen: list[str] = []
    query = ListQuery(sort=(Sort("email"),), limit=2)
    with database.read() as conn:
        while True:
            page = customer_service.list_customers(conn, SYSTEM, query)
            seen += [row["id"] for row in page.rows if row["id"] in made]
            if page.next_cursor is None:
                break
            query = parse_list_query(
                CUSTOMERS, [("sort", "email"), ("limit", "2"), ("cursor", page.next_cursor)]
            )
    ordered = [made[i] for i in seen]
    assert ordered == [
        None,
        "ada@example.com",
        "zoe@example.com",
        "Zoë@example.com",
        "Ösa@example.com",
    ]


def test_staff_adding_a_customer_find_the_owner_by_the_address_in_another_case(
    database: Database,
) -> None:
    account = make_user(database, email=STORED)
    with database.transaction() as conn:
        record = onboarding.add_customer(conn, SYSTEM, {"name": "Ösa", "email": OTHER_CASE})
    assert record["userId"] == account["id"]


def test_the_folded_address_never_leaves_the_service(database: Database) -> None:
    record = make_customer(database, email=STORED)
    with database.read() as conn:
        listed = customer_service.list_customers(conn, SYSTEM, ListQuery()).rows
        accounts = user_service.list_user_page(conn, SYSTEM, []).rows
        assert all("emailFolded" not in row for row in [*listed, *accounts])
        assert "emailFolded" not in customer_service.present_customer(listed[0])
        assert "emailFolded" not in user_service.get_user(conn, record["userId"])


# --- imports match records and accounts by the address in any case ---------------------------


def test_an_import_updates_the_record_whose_address_differs_in_case(
    database: Database, tmp_path: Path
) -> None:
    record = make_customer(database, email=STORED, city="Ipoh")
    refused = _import(database, tmp_path, f"email,city\n{OTHER_CASE},Penang\n")
    assert (refused.created, refused.failed) == (0, 1)
    assert set(refused.failures[0].errors) == {"email"}
    report = _import(database, tmp_path, f"email,city\n{OTHER_CASE},Penang\n", overwrite=True)
    assert (report.updated, report.created, report.failed) == (1, 0, 0), report.failures
    with database.read() as conn:
        rows = conn.execute(select(customers.c.id, customers.c.city)).all()
    assert [tuple(row) for row in rows] == [(record["id"], "Penang")]


def test_an_imported_record_is_owned_by_the_account_of_its_address_in_another_case(
    database: Database, tmp_path: Path
) -> None:
    make_staff(database)
    account = make_user(database, email=STORED)
    report = _import(database, tmp_path, f"name,email\nÖsa,{OTHER_CASE}\n")
    assert (report.created, report.failed) == (1, 0), report.failures
    with database.read() as conn:
        owner = conn.execute(select(customers.c.userId)).scalar_one()
        accounts = conn.execute(select(users.c.id).where(users.c.role == "user")).scalars().all()
    assert owner == account["id"] and accounts == [account["id"]]
