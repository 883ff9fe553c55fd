"""User accounts: create, list, roles, and the first super_admin.

Hashing a password takes ~50 ms and 64 MiB, so it happens before the transaction starts (the
SQLite writer is never held while hashing): callers pass `password_hash` from `hash_password`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from clientbook.access import (
    USER_FIXED_FIELDS,
    USER_SYSTEM_FIELDS,
    Principal,
    assert_no_system_fields,
    require_authenticated,
    require_staff,
)
from clientbook.db.engine import Database
from clientbook.db.tables import customers, users
from clientbook.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from clientbook.domain.ids import is_valid_id, new_id
from clientbook.domain.text import email_folded
from clientbook.domain.timestamps import utcnow
from clientbook.domain.users import validate_user
from clientbook.query.compiler import Page, run_list
from clientbook.query.fields import USERS
from clientbook.query.model import ListQuery
from clientbook.query.native import parse_list_query
from clientbook.services import audit
from clientbook.services.auth.sessions import revoke_user_sessions
from clientbook.services.bulk import build_user_row
from clientbook.services.passwords import hash_password
from clientbook.services.records import Presenter, unique_conflicts

PUBLIC_COLUMNS = ("id", "createdAt", "updatedAt", "email", "name", "role", "status", "lastLoginAt")
_READ_COLUMNS = [users.c[n] for n in (*PUBLIC_COLUMNS, "seq", "passwordUpdatedAt")]
EMAIL_TAKEN = ("email", "An account with this email already exists")
UNIQUE_MESSAGES = {
    # SQLite names the indexed column, PostgreSQL the index.
    "users.emailFolded": EMAIL_TAKEN,
    "ux_users_emailFolded": EMAIL_TAKEN,
    "users.id": ("$id", "This id is already used"),
    "uq_users_id": ("$id", "This id is already used"),
}

User = dict[str, Any]


_PRESENT = Presenter(users, PUBLIC_COLUMNS)


def present_user(row: Mapping[str, Any]) -> dict[str, Any]:
    return _PRESENT(row)


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
    """The account whose address is `email` in any case (what the unique index compares)."""
    query = select(*_READ_COLUMNS, users.c.passwordHash).where(
        users.c.emailFolded == email_folded(email)
    )
    row = conn.execute(query).first()
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
    row = build_user_row(
        values, user_id=user_id or new_id(), created_at=utcnow(), password_hash=password_hash
    )
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


STAFF_LIST_LIMIT = 500


def list_staff(
    conn: Connection, principal: Principal | None, *, statuses: tuple[str, ...] = ("active",)
) -> list[User]:
    """Staff accounts by name (who records are assigned to), at most `STAFF_LIST_LIMIT`.

    One (role, status) index range per status, sorted here: staff are few, while sorting the
    accounts by name in SQL walks every account (seconds with a million customer accounts)."""
    require_staff(principal)
    rows: list[User] = []
    for status in statuses:
        query = (
            select(*_READ_COLUMNS)
            .where(users.c.role == "super_admin", users.c.status == status)
            .limit(STAFF_LIST_LIMIT)
        )
        rows += [dict(r._mapping) for r in conn.execute(query)]
    rows.sort(key=lambda user: ((user["name"] or user["email"] or "").casefold(), user["id"]))
    return rows[:STAFF_LIST_LIMIT]


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


# A reserved domain (RFC 2606) that the email rules accept; `.local` is refused as special-use.
DEFAULT_ADMIN_EMAIL = "admin@example.com"


def first_admin_credentials(email: str | None, password: str | None) -> tuple[str, str, bool]:
    """The first super_admin's email and password; True when the password was generated."""
    if password:
        return email or DEFAULT_ADMIN_EMAIL, password, False
    return email or DEFAULT_ADMIN_EMAIL, secrets.token_urlsafe(12), True


def ensure_first_admin(
    conn: Connection, principal: Principal, *, email: str, password_hash: str
) -> User | None:
    """Create the first super_admin when there is none; None when one exists already."""
    if has_super_admin(conn):
        return None
    data = {"email": email, "name": "Administrator", "role": "super_admin"}
    return insert_user(conn, principal, data, password_hash=password_hash)


# --- staff administration: invite, read, list, update, block, delete --------------------------
#
# Decisions where SPEC §5 is silent:
# * `status` is never sent on create: no password means `invited`, a password means `active`.
#   A staff-made account always has an email (only an import may invite without one).
# * PATCH takes `name`, `role` and `status` (`blocked` to block, `active` to unblock; an account
#   that never set a password goes back to `invited`). Blocking ends every session at once.
# * Staff cannot block, demote or delete themselves here (403): a slip of the mouse must not
#   lock the last administrator out. Their own erase is `DELETE /api/me`, behind their password.
# * No change may leave the service without an active super_admin (409), whoever asks.

CREATE_KEYS = ("$id", "email", "name", "role", "password")
PATCH_KEYS = ("name", "role", "status")
UNBLOCKED = "active"


def read_user(conn: Connection, principal: Principal | None, user_id: str) -> User:
    """One account (staff only)."""
    require_staff(principal)
    return get_user(conn, user_id)


def list_user_page(
    conn: Connection, principal: Principal | None, params: Iterable[tuple[str, str]] = ()
) -> Page:
    """A page of accounts (staff only), in creation order unless `sort` says otherwise;
    filters such as `role=super_admin`, `status=blocked`, `email=ada@example.com`."""
    require_staff(principal)
    return run_list(conn, USERS, parse_list_query(USERS, params))


def read_visible_user(conn: Connection, principal: Principal | None, user_id: str) -> User:
    """One account as a row any principal may ask for (the Appwrite face's read-only `users`
    table): staff see every account, a user only their own (anyone else's is not found)."""
    principal = require_authenticated(principal)
    if not principal.is_staff and principal.user_id != user_id:
        raise NotFound("User not found")
    return get_user(conn, user_id)


def list_visible_users(conn: Connection, principal: Principal | None, query: ListQuery) -> Page:
    """A page of the accounts this principal may see: every one for staff, their own for a
    user (what `GET /api/auth/me` shows them anyway)."""
    principal = require_authenticated(principal)
    scope = None if principal.is_staff else users.c.id == principal.user_id
    return run_list(conn, USERS, query, scope=scope)


def validate_new_account(data: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The values of a staff-created account and its password (None: an invitation).

    Every problem at once: unknown keys, `status` (derived, never sent) and the field rules;
    a system field is Forbidden first (SPEC §12), as on every other resource.
    """
    assert_no_system_fields(data, system=USER_SYSTEM_FIELDS)
    errors = {key: "unknown field" for key in data if key not in CREATE_KEYS}
    if "status" in data:
        errors["status"] = "set by the system: invited without a password, active with one"
    fields = {k: v for k, v in data.items() if k in CREATE_KEYS and k != "$id"}
    password = fields.pop("password", None)
    fields["status"] = "invited" if password is None else "active"
    if password is not None:
        fields["password"] = password
    values: dict[str, Any] = {}
    try:
        values = validate_user(fields)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    else:  # (no values when another field failed: that says nothing of the email)
        if not values.get("email"):
            errors["email"] = "is required"
    user_id = data.get("$id")
    if user_id is not None and (not isinstance(user_id, str) or not is_valid_id(user_id)):
        errors["$id"] = "1-36 characters of a-z A-Z 0-9 . _ -"
    if errors:
        raise ValidationFailed(errors)
    return values, values.pop("password", None)


def create_account(
    conn: Connection,
    principal: Principal | None,
    data: Mapping[str, Any],
    *,
    password_hash: str | None,
) -> User:
    """Write step of a staff create or invite: `data` as checked by `validate_new_account`,
    the password already hashed (never inside the writer transaction)."""
    principal = require_staff(principal)
    values, password = validate_new_account(data)
    if (password is None) != (password_hash is None):
        raise ValueError("password_hash must be given exactly when a password is")
    return insert_user(
        conn, principal, values, password_hash=password_hash, user_id=data.get("$id")
    )


def create_or_invite(db: Database, principal: Principal | None, data: Mapping[str, Any]) -> User:
    """Staff create an account (with a password: `active`) or invite one (without: `invited`).

    Validation and hashing happen before the writer transaction starts (hashing is slow).
    """
    require_staff(principal)
    _values, password = validate_new_account(data)
    password_hash = None if password is None else hash_password(password)
    with db.transaction() as conn:
        return create_account(conn, principal, data, password_hash=password_hash)


def _has_password(conn: Connection, user_id: str) -> bool:
    query = select(users.c.passwordHash.is_not(None)).where(users.c.id == user_id)
    return bool(conn.execute(query).scalar())


def _is_active_admin(user: Mapping[str, Any]) -> bool:
    return user["role"] == "super_admin" and user["status"] == "active"


def assert_keeps_an_admin(conn: Connection, user: Mapping[str, Any]) -> None:
    """Conflict when `user` is the last active super_admin (about to be demoted or removed)."""
    if not _is_active_admin(user):
        return
    # Every active admin row is locked, in one order (PostgreSQL; SQLite's single writer already
    # serialises): two staff blocking each other at once cannot both pass this check.
    admins = conn.execute(
        select(users.c.id)
        .where(users.c.role == "super_admin", users.c.status == "active")
        .order_by(users.c.id)
        .with_for_update()
    ).scalars()
    if all(admin_id == user["id"] for admin_id in admins):
        raise Conflict("This is the last active administrator; make another one first")


def _patch_values(conn: Connection, current: User, data: Mapping[str, Any]) -> dict[str, Any]:
    """The cleaned PATCH values, with `active` meaning "unblock" (see the notes above)."""
    assert_no_system_fields(data, system=USER_SYSTEM_FIELDS, fixed=USER_FIXED_FIELDS)
    errors = {key: "unknown field" for key in data if key not in PATCH_KEYS}
    values: dict[str, Any] = {}
    try:
        values = validate_user({k: v for k, v in data.items() if k in PATCH_KEYS}, current=current)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    if values.get("status") == "invited":
        errors["status"] = "set `blocked` to block or `active` to unblock"
    if errors:
        raise ValidationFailed(errors)
    if values.get("status") == UNBLOCKED and not _has_password(conn, current["id"]):
        values["status"] = "invited"
    return values


def _assert_not_self_lockout(
    principal: Principal, current: User, changed: Mapping[str, Any]
) -> None:
    if principal.user_id != current["id"]:
        return
    problems = {}
    if changed.get("status") == "blocked":
        problems["status"] = "you cannot block yourself"
    if "role" in changed and current["role"] == "super_admin":
        problems["role"] = "you cannot remove your own staff role"
    if problems:
        raise Forbidden("Staff cannot lock themselves out", fields=problems)


def _update_action(changed: Mapping[str, Any]) -> str:
    if changed.get("status") == "blocked":
        return "user.blocked"
    if "status" in changed:
        return "user.unblocked"
    return "user.role_changed" if "role" in changed else "user.updated"


def update_user(
    conn: Connection, principal: Principal | None, user_id: str, data: Mapping[str, Any]
) -> User:
    """Staff change an account's `name`, `role` or `status` (block / unblock); one audit row.

    Blocking ends the account's sessions. A change that changes nothing writes nothing.
    """
    principal = require_staff(principal)
    current = get_user(conn, user_id)
    values = _patch_values(conn, current, data)
    changed = {k: v for k, v in values.items() if current.get(k) != v}
    if not changed:
        return current
    _assert_not_self_lockout(principal, current, changed)
    if _is_active_admin(current) and not _is_active_admin({**current, **changed}):
        assert_keeps_an_admin(conn, current)
    conn.execute(update(users).where(users.c.id == user_id).values(**changed, updatedAt=utcnow()))
    if changed.get("status") == "blocked":
        revoke_user_sessions(conn, user_id)
    audit.record(
        conn,
        principal,
        _update_action(changed),
        entity_type="user",
        entity_id=user_id,
        changes=audit.diff(current, changed),
    )
    return get_user(conn, user_id)


def owned_customer_id(conn: Connection, user_id: str) -> str | None:
    """The id of the customer record `user_id` owns, if any (at most one)."""
    query = select(customers.c.id).where(customers.c.userId == user_id)
    return conn.execute(query).scalar_one_or_none()


def _unassign_customers(conn: Connection, principal: Principal, user_id: str) -> None:
    """Records assigned to a departing rep become unassigned, each with its audit row.

    The foreign key would set `assignedTo` to null by itself (ON DELETE SET NULL), but silently:
    done here, the version moves (so ETags change) and each record's history says why.
    """
    assigned = customers.c.assignedTo == user_id
    ids = list(conn.execute(select(customers.c.id).where(assigned)).scalars())
    if not ids:
        return
    conn.execute(
        update(customers)
        .where(assigned)
        .values(
            assignedTo=None,
            updatedAt=utcnow(),
            updatedBy=principal.user_id,
            version=customers.c.version + 1,
        )
    )
    change = {"assignedTo": {"from": user_id, "to": None}}
    rows = [
        audit.audit_row(
            principal,
            "customer.assigned",
            entity_type="customer",
            entity_id=customer_id,
            changes=change,
            reason="the assignee's account was deleted",
        )
        for customer_id in ids
    ]
    audit.record_many(conn, rows)


def remove_account(conn: Connection, principal: Principal, account: Mapping[str, Any]) -> None:
    """Delete an account that owns no customer record: its records are unassigned, its
    sessions end (ON DELETE CASCADE), `createdBy`/`updatedBy` references become null.

    Conflict when it still owns a record (the seed's ON DELETE RESTRICT) or is the last active
    super_admin. No audit row: callers write the one that says why.
    """
    record_id = owned_customer_id(conn, account["id"])
    if record_id is not None:
        message = "This user still owns a customer record; delete the record first"
        raise Conflict(message, fields={"customerId": record_id})
    assert_keeps_an_admin(conn, account)
    _unassign_customers(conn, principal, account["id"])
    revoke_user_sessions(conn, account["id"])
    try:
        conn.execute(delete(users).where(users.c.id == account["id"]))
    except IntegrityError as exc:
        # A record created for this user since the check above: the RESTRICT key refuses.
        raise Conflict("This user now owns a customer record; delete the record first") from exc


def delete_user(conn: Connection, principal: Principal | None, user_id: str) -> None:
    """Staff delete an account that owns no customer record (409 otherwise); audited."""
    principal = require_staff(principal)
    current = get_user(conn, user_id)
    if principal.user_id == user_id:
        raise Forbidden("Delete your own account with DELETE /api/me (it asks for your password)")
    remove_account(conn, principal, current)
    changes = audit.diff(current, {"email": None, "name": None, "role": None, "status": None})
    audit.record(
        conn, principal, "user.deleted", entity_type="user", entity_id=user_id, changes=changes
    )
