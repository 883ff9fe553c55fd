"""API keys for integrators: created by staff (CLI or console), shown once, stored hashed with a
short visible prefix, revocable. A key acts as staff (SPEC §5: "super_admin / admin API key")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from clientbook.access import Principal, require_staff
from clientbook.db.tables import api_keys
from clientbook.domain.errors import NotFound, ValidationFailed
from clientbook.domain.fields import FieldError, clean_text
from clientbook.domain.ids import new_id
from clientbook.domain.timestamps import utcnow
from clientbook.services import audit
from clientbook.services.auth.tokens import hash_token, new_api_key, visible_prefix
from clientbook.services.records import Presenter

PUBLIC_COLUMNS = ("id", "name", "prefix", "createdAt", "lastUsedAt", "revokedAt", "createdBy")
_PRESENT = Presenter(api_keys, PUBLIC_COLUMNS)
NAME_MAX_LENGTH = 100  # the `name` column's checked size
API_KEY_ROLE = "super_admin"

ApiKey = dict[str, Any]

_FIND_KEY = select(api_keys.c.id, api_keys.c.lastUsedAt).where(
    api_keys.c.keyHash == bindparam("key_hash"), api_keys.c.revokedAt.is_(None)
)


@dataclass(frozen=True)
class IssuedApiKey:
    """A key just created: `secret` is the only copy of the key, to be shown once."""

    key: ApiKey
    secret: str


@dataclass(frozen=True)
class KeyRow:
    id: str
    last_used_at: datetime | None


def present_api_key(row: Mapping[str, Any]) -> dict[str, Any]:
    return _PRESENT(row)


def validate_key_name(value: Any) -> str:
    try:
        name = None if value is None else clean_text(value, size=NAME_MAX_LENGTH)
        if not name:
            raise FieldError("is required")
    except FieldError as exc:
        raise ValidationFailed({"name": exc.message}) from None
    return name


def create_api_key(conn: Connection, principal: Principal | None, *, name: str) -> IssuedApiKey:
    """Issue a named key (staff only); the plain key is returned here and never again."""
    principal = require_staff(principal)
    clean_name = validate_key_name(name)
    secret = new_api_key()
    key_id = new_id()
    row: dict[str, Any] = {
        "id": key_id,
        "name": clean_name,
        "prefix": visible_prefix(secret),
        "keyHash": hash_token(secret),
        "createdAt": utcnow(),
        "createdBy": principal.user_id,
    }
    conn.execute(insert(api_keys), [row])
    audit.record(
        conn,
        principal,
        "apikey.created",
        entity_type="api_key",
        entity_id=key_id,
        changes=audit.diff({}, {"name": clean_name, "prefix": row["prefix"]}),
    )
    return IssuedApiKey(key=get_api_key(conn, principal, key_id), secret=secret)


def get_api_key(conn: Connection, principal: Principal | None, key_id: str) -> ApiKey:
    require_staff(principal)
    row = conn.execute(select(*_public()).where(api_keys.c.id == key_id)).first()
    if row is None:
        raise NotFound("API key not found")
    return dict(row._mapping)


def list_api_keys(conn: Connection, principal: Principal | None) -> list[ApiKey]:
    """Every key, revoked ones included (staff only), oldest first."""
    require_staff(principal)
    rows = conn.execute(select(*_public()).order_by(api_keys.c.createdAt, api_keys.c.id))
    return [dict(r._mapping) for r in rows]


def revoke_api_key(conn: Connection, principal: Principal | None, key_id: str) -> ApiKey:
    """Revoke a key for good; revoking a revoked key changes nothing and writes no audit row."""
    principal = require_staff(principal)
    current = get_api_key(conn, principal, key_id)
    if current["revokedAt"] is not None:
        return current
    now = utcnow()
    conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(revokedAt=now))
    audit.record(
        conn,
        principal,
        "apikey.revoked",
        entity_type="api_key",
        entity_id=key_id,
        changes=audit.diff(current, {"revokedAt": now}),
    )
    return get_api_key(conn, principal, key_id)


def find_api_key(conn: Connection, secret: str) -> KeyRow | None:
    """The unrevoked key `secret` is, or None (one SELECT by the unique hash)."""
    row = conn.execute(_FIND_KEY, {"key_hash": hash_token(secret)}).first()
    return None if row is None else KeyRow(id=row.id, last_used_at=row.lastUsedAt)


def api_key_principal(key_id: str) -> Principal:
    return Principal(kind="api_key", id=key_id, role=API_KEY_ROLE)


def _public() -> list[Any]:
    return [api_keys.c[name] for name in PUBLIC_COLUMNS]
