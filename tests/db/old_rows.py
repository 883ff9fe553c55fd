"""Records written into a database migrated to an older revision, for the migration tests.

Today's services write today's columns (such as 0008's `emailFolded`), which an older schema
lacks; these rows are what the services build, cut to the columns the database has."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, inspect

from clientbook.db.engine import Database
from clientbook.db.tables import customers, users
from clientbook.domain.customers import validate_customer
from clientbook.domain.ids import new_id
from clientbook.domain.timestamps import utcnow
from clientbook.domain.users import validate_user
from clientbook.services.bulk import build_customer_row, build_user_row


def _insert(conn: Connection, table: Any, row: dict[str, Any]) -> None:
    present = {column["name"] for column in inspect(conn).get_columns(table.name)}
    conn.execute(insert(table).values({k: v for k, v in row.items() if k in present}))


def old_user(
    db: Database, *, email: str | None = None, role: str = "user", status: str = "active"
) -> dict[str, Any]:
    if email is None and status != "invited":
        email = f"user-{new_id()}@example.com"
    values = validate_user({"email": email, "name": "Old", "role": role, "status": status})
    row = build_user_row(values, user_id=new_id(), created_at=utcnow())
    with db.transaction() as conn:
        _insert(conn, users, row)
    return row


def old_customer(db: Database, **fields: Any) -> dict[str, Any]:
    """A customer (and its owner, with the same email) as the services write it today."""
    owner = old_user(db, email=fields.get("email"))
    values = validate_customer({"name": "Old Record", **fields, "userId": owner["id"]})
    row = build_customer_row(values, record_id=new_id(), created_at=utcnow(), created_by=None)
    with db.transaction() as conn:
        _insert(conn, customers, row)
    return row
