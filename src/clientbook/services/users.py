"""User accounts: create, list, roles, and the first super_admin.

Hashing a password takes ~50 ms and 64 MiB, so it happens before the transaction starts (the
SQLite writer is never held while hashing): callers pass `password_hash` from `hash_password`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from clientbook.access import Principal, require_staff
from clientbook.db.tables import users
from clientbook.domain.errors import NotFound, ValidationFailed
from clientbook.domain.ids import is_valid_id, new_id
from clientbook.domain.timestamps import utcnow
from clientbook.domain.users import validate_user
from clientbook.services import audit
from clientbook.services.records import present, unique_conflicts

PUBLIC_COLUMNS = ("id", "createdAt", "updatedAt", "email", "name", "role", "status", "lastLoginAt")
_READ_COLUMNS = [users.c[n] for n in (*PUBLIC_COLUMNS, "seq", "passwordUpdatedAt")]
UNIQUE_MESSAGES = {
    "ux_users_email_lower": ("email", "An account with this email already exists"),
    "users.id": ("$id", "This id is already used"),
    "uq_users_id": ("$id", "This id is already used"),
}

User = dict[str, Any]


def present_user(row: Mapping[str, Any]) -> dict[str, Any]:
    return present(row, PUBLIC_COLUMNS)


def present_users(conn: Connection, ids: Iterable[str]) -> list[dict[str, Any]]:
    """Public objects of the given users (for `?expand=`), in no particular order."""
    rows = conn.execute(select(*_READ_COLUMNS).where(users.c.id.in_(list(ids)))).mappings()
    return [present_user(dict(row)) for row in rows]


def get_user(conn: Connection, user_id: str) -> User:
    row = conn.execute(select(*_READ_COLUMNS).where(users.c.id == user_id)).first()
    if row is None:
        raise NotFound("User not found")
    return dict(row._mapping)


def find_user_by_email(conn: Connection, email: str) -> User | None:
    row = conn.execute(
        select(*_READ_COLUMNS, users.c.passwordHash).where(
            func.lower(users.c.email) == email.strip().lower()
        )
    ).first()
    return None if row is None else dict(row._mapping)


def insert_user(
    conn: Connection,
    principal: Principal,
    data: Mapping[str, Any],
    *,
    password_hash: str | None,
    user_id: str | None = None,
) -> User:
    """Validate and insert one account (no permission check: callers decide who may)."""
    values = validate_user(data)
    if user_id is not None and not is_valid_id(user_id):
        raise ValidationFailed({"$id": "1-36 characters of a-z A-Z 0-9 . _ -"})
    if values.get("status", "active") != "invited" and not values.get("email"):
        raise ValidationFailed({"email": "required"})
    now = utcnow()
    row = {
        "role": "user",
        "status": "active",
        "name": "",
        **values,
        "id": user_id or new_id(),
        "createdAt": now,
        "updatedAt": now,
        "passwordHash": password_hash,
        "passwordUpdatedAt": now if password_hash else None,
    }
    row.pop("password", None)
    with unique_conflicts(UNIQUE_MESSAGES):
        conn.execute(insert(users), [row])
    changes = audit.diff({}, {k: row[k] for k in ("email", "name", "role", "status")})
    audit.record(
        conn, principal, "user.created", entity_type="user", entity_id=row["id"], changes=changes
    )
    return get_user(conn, row["id"])


def create_user(
    conn: Connection,
    principal: Principal | None,
    data: Mapping[str, Any],
    *,
    password_hash: str | None = None,
) -> User:
    """Staff create (or invite, without a password) an account."""
    principal = require_staff(principal)
    return insert_user(conn, principal, data, password_hash=password_hash)


def list_users(conn: Connection, principal: Principal | None, *, limit: int = 100) -> list[User]:
    require_staff(principal)
    rows = conn.execute(select(*_READ_COLUMNS).order_by(users.c.seq).limit(limit))
    return [dict(r._mapping) for r in rows]


def set_role(conn: Connection, principal: Principal | None, user_id: str, role: str) -> User:
    principal = require_staff(principal)
    current = get_user(conn, user_id)
    values = validate_user({"role": role}, current=current)
    if values["role"] == current["role"]:
        return current
    conn.execute(
        update(users).where(users.c.id == user_id).values(role=values["role"], updatedAt=utcnow())
    )
    audit.record(
        conn,
        principal,
        "user.role_changed",
        entity_type="user",
        entity_id=user_id,
        changes=audit.diff(current, values),
    )
    return get_user(conn, user_id)


def has_super_admin(conn: Connection) -> bool:
    query = select(users.c.id).where(users.c.role == "super_admin").limit(1)
    return conn.execute(query).first() is not None


def first_admin_credentials(email: str | None, password: str | None) -> tuple[str, str, bool]:
    """The first super_admin's email and password; True when the password was generated."""
    if password:
        return email or "admin@clientbook.local", password, False
    return email or "admin@clientbook.local", secrets.token_urlsafe(12), True


def ensure_first_admin(
    conn: Connection, principal: Principal, *, email: str, password_hash: str
) -> User | None:
    """Create the first super_admin when there is none; None when one exists already."""
    if has_super_admin(conn):
        return None
    data = {"email": email, "name": "Administrator", "role": "super_admin"}
    return insert_user(conn, principal, data, password_hash=password_hash)
