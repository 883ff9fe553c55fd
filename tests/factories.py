"""Small typed factories, one per noun. They go through the service layer like any face."""

from __future__ import annotations

import itertools
from functools import cache
from typing import Any

from clientbook.access import SYSTEM, Principal
from clientbook.db.engine import Database
from clientbook.services import customers as customer_service
from clientbook.services import users as user_service
from clientbook.services.passwords import hash_password

TEST_PASSWORD = "correct horse battery staple"
_counter = itertools.count(1)


@cache
def test_password_hash() -> str:
    """Hashing costs ~50 ms: hash the shared test password once per process."""
    return hash_password(TEST_PASSWORD)


def make_user(
    db: Database,
    *,
    role: str = "user",
    email: str | None = None,
    name: str | None = None,
    status: str = "active",
) -> dict[str, Any]:
    n = next(_counter)
    data = {
        "email": email or f"user{n}@example.com",
        "name": name or f"Test User {n}",
        "role": role,
        "status": status,
    }
    with db.transaction() as conn:
        return user_service.insert_user(conn, SYSTEM, data, password_hash=test_password_hash())


def make_staff(db: Database, **kwargs: Any) -> dict[str, Any]:
    return make_user(db, role="super_admin", **kwargs)


def as_principal(user: dict[str, Any]) -> Principal:
    return Principal(kind="user", id=user["id"], role=user["role"])


def make_customer(
    db: Database, owner: dict[str, Any] | None = None, **fields: Any
) -> dict[str, Any]:
    """A customer record for `owner` (a new user when omitted), created by the system."""
    owner = owner or make_user(db)
    data = {"name": f"Customer of {owner['name']}", **fields, "userId": owner["id"]}
    with db.transaction() as conn:
        return customer_service.create_customer(conn, SYSTEM, data)
