"""Staff add a customer: the owner is found by email or invited, all in one transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from clientbook.db.engine import Database
from clientbook.db.tables import customers, users
from clientbook.domain.errors import Conflict, Forbidden, ValidationFailed
from clientbook.services import onboarding
from tests.factories import as_principal, make_customer, make_staff, make_user


def _count(db: Database, table: object) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_a_new_email_gets_an_invited_account(database: Database) -> None:
    staff = as_principal(make_staff(database))
    with database.transaction() as conn:
        record = onboarding.add_customer(
            conn, staff, {"name": "Siti Aminah", "email": "siti@example.com"}
        )
    with database.read() as conn:
        owner = conn.execute(select(users).where(users.c.id == record["userId"])).mappings().one()
    assert owner["email"] == "siti@example.com"
    assert owner["status"] == "invited"
    assert owner["passwordHash"] is None


def test_an_existing_account_without_a_record_owns_it(database: Database) -> None:
    account = make_user(database, email="known@example.com")
    staff = as_principal(make_staff(database))
    with database.transaction() as conn:
        record = onboarding.add_customer(
            conn, staff, {"name": "Known", "email": "KNOWN@example.com"}
        )
    assert record["userId"] == account["id"]


def test_an_account_that_has_a_record_is_a_conflict_on_the_email_field(database: Database) -> None:
    account = make_user(database, email="owner@example.com")
    make_customer(database, account)
    staff = as_principal(make_staff(database))
    with pytest.raises(Conflict) as failed, database.transaction() as conn:
        onboarding.add_customer(conn, staff, {"name": "Again", "email": "owner@example.com"})
    assert set(failed.value.fields) == {"email"}


def test_every_field_error_at_once_and_no_account_left_behind(database: Database) -> None:
    staff = as_principal(make_staff(database))
    before = _count(database, users)
    with pytest.raises(ValidationFailed) as failed, database.transaction() as conn:
        onboarding.add_customer(
            conn, staff, {"name": "", "email": "x@example.com", "totalRevenue": -1}
        )
    assert {"name", "totalRevenue"} <= set(failed.value.fields)
    assert _count(database, users) == before
    assert _count(database, customers) == 0


def test_no_email_no_owner(database: Database) -> None:
    staff = as_principal(make_staff(database))
    with pytest.raises(ValidationFailed) as failed, database.transaction() as conn:
        onboarding.add_customer(conn, staff, {"name": "Walk-in"})
    assert failed.value.fields == {"email": onboarding.OWNER_NEEDS_EMAIL}


def test_customers_cannot_add_records_for_others(database: Database) -> None:
    user = as_principal(make_user(database))
    with pytest.raises(Forbidden), database.transaction() as conn:
        onboarding.add_customer(conn, user, {"name": "X", "email": "x@example.com"})
