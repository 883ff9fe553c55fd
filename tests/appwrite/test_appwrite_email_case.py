"""The Appwrite face compares addresses case-insensitively for every letter (SPEC §12), on SQLite
as on PostgreSQL: `equal('email')`, `startsWith('email')` and `Users.list` find `Ösa…@…` when
asked for `ösa…@…`, and a record or account in another case is a unique-constraint 409."""

from __future__ import annotations

from typing import Any

import pytest
from appwrite.id import ID
from appwrite.query import Query
from appwrite.services.account import Account

from tests.appwrite.live import DATABASE_ID, Live, unique
from tests.appwrite.test_appwrite_errors import fails
from tests.factories import TEST_PASSWORD, make_customer, make_user

pytestmark = pytest.mark.xdist_group("appwrite")  # one worker: the live servers start once


def _addresses() -> tuple[str, str]:
    """An address no other test uses, with a capital Ö, and the same in other cases."""
    local = unique("Ösa")
    return f"{local}@Example.com", f"{local.lower()}@EXAMPLE.com"


def _ids(rows: Any) -> list[str]:
    return [row.id for row in rows]


def test_equal_and_starts_with_on_email_find_it_in_another_case(live: Live) -> None:
    stored, other = _addresses()
    account = make_user(live.db, email=stored)
    record = make_customer(live.db, account, email=stored)
    tables = live.tables()

    equal = tables.list_rows(DATABASE_ID, "customers", [Query.equal("email", other)])
    assert _ids(equal.rows) == [record["id"]]
    assert "emailFolded" not in equal.rows[0].data
    prefix = tables.list_rows(DATABASE_ID, "customers", [Query.starts_with("email", other[:-8])])
    assert _ids(prefix.rows) == [record["id"]]
    accounts = tables.list_rows(DATABASE_ID, "users", [Query.equal("email", other)])
    assert _ids(accounts.rows) == [account["id"]]
    listed = live.users().list([Query.equal("email", other)])
    assert [user.id for user in listed.users] == [account["id"]]


def test_a_record_or_account_in_another_case_is_a_conflict(live: Live) -> None:
    stored, other = _addresses()
    make_customer(live.db, make_user(live.db, email=stored), email=stored)
    second = {"userId": live.user()["id"], "name": "Ösa Again", "email": other}
    fails(
        409,
        "row_unique_constraint_violation",
        lambda: live.tables().create_row(DATABASE_ID, "customers", ID.unique(), second),
    )
    signup = Account(live.client())
    fails(409, "user_already_exists", lambda: signup.create(ID.unique(), other, TEST_PASSWORD))
