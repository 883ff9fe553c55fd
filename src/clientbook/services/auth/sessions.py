"""Server-side sign-in sessions: created at sign-in, found by the hash of their token, revoked
at sign-out and on a password change, over after `CLIENTBOOK_SESSION_DAYS`.

Expiry is absolute (counted from sign-in, not from last use): a stolen token stops working on a
known date whatever its thief does with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select

from clientbook.access import Principal
from clientbook.config import Settings
from clientbook.db.tables import sessions, users
from clientbook.domain.ids import new_id
from clientbook.domain.timestamps import utcnow
from clientbook.services.auth.tokens import hash_token, new_token
from clientbook.services.records import settings_of

SESSION_COOKIE = "clientbook_session"
# The sizes of the `ip` and `userAgent` columns.
_IP_SIZE = 64
_USER_AGENT_SIZE = 512


@dataclass(frozen=True)
class NewSession:
    """A session just created: `token` is the only copy of the secret, shown to its holder once."""

    id: str
    user_id: str
    token: str
    token_hash: str
    expires_at: datetime


@dataclass(frozen=True)
class SessionRow:
    """What authenticating a session token finds: the session and its (active) user."""

    id: str
    token_hash: str
    expires_at: datetime
    last_used_at: datetime | None
    user_id: str
    role: str


# Built once: the hot path of every request only binds two values.
_FIND_SESSION = (
    select(
        sessions.c.id,
        sessions.c.tokenHash,
        sessions.c.expiresAt,
        sessions.c.lastUsedAt,
        users.c.id.label("userId"),
        users.c.role,
    )
    .join(users, users.c.id == sessions.c.userId)
    .where(
        sessions.c.tokenHash == bindparam("token_hash"),
        sessions.c.expiresAt > bindparam("now", type_=sessions.c.expiresAt.type),
        users.c.status == "active",
    )
)


def clip(value: str | None, size: int) -> str | None:
    """Client-supplied metadata cut to its column (it is informative, never worth a 500)."""
    return value[:size] if value else None


def cookie_is_secure(settings: Settings, scheme: str) -> bool:
    """Secure cookies over https, and always when CLIENTBOOK_SECURE_COOKIES forces them."""
    return bool(settings.secure_cookies) or scheme == "https"


def create_session(
    conn: Connection, user_id: str, *, origin: Principal, now: datetime | None = None
) -> NewSession:
    """Start a session for `user_id`; only the token's hash is stored."""
    now = now or utcnow()
    token = new_token()
    session = NewSession(
        id=new_id(),
        user_id=user_id,
        token=token,
        token_hash=hash_token(token),
        expires_at=now + timedelta(days=settings_of(conn).session_days),
    )
    row = {
        "id": session.id,
        "userId": user_id,
        "tokenHash": session.token_hash,
        "createdAt": now,
        "expiresAt": session.expires_at,
        "lastUsedAt": now,
        "ip": clip(origin.ip, _IP_SIZE),
        "userAgent": clip(origin.user_agent, _USER_AGENT_SIZE),
    }
    conn.execute(insert(sessions), [row])
    return session


def find_session(conn: Connection, token: str, *, now: datetime) -> SessionRow | None:
    """The live session of an active user that `token` opens, or None (one indexed SELECT)."""
    row = conn.execute(_FIND_SESSION, {"token_hash": hash_token(token), "now": now}).first()
    if row is None:
        return None
    return SessionRow(
        id=row.id,
        token_hash=row.tokenHash,
        expires_at=row.expiresAt,
        last_used_at=row.lastUsedAt,
        user_id=row.userId,
        role=row.role,
    )


def revoke_session(conn: Connection, session_id: str) -> None:
    conn.execute(delete(sessions).where(sessions.c.id == session_id))


def revoke_user_sessions(conn: Connection, user_id: str, *, keep: str | None = None) -> int:
    """End every session of a user (password change, block), but `keep` if given (a sign-out
    of every other device); returns how many ended."""
    statement = delete(sessions).where(sessions.c.userId == user_id)
    if keep is not None:
        statement = statement.where(sessions.c.id != keep)
    return conn.execute(statement).rowcount


def find_user_session(
    conn: Connection, user_id: str, session_id: str, *, now: datetime
) -> dict[str, Any] | None:
    """One live session of `user_id` by its id (never its token), or None."""
    row = conn.execute(
        select(
            sessions.c.id, sessions.c.userId, sessions.c.createdAt, sessions.c.expiresAt,
            sessions.c.lastUsedAt, sessions.c.ip, sessions.c.userAgent,
        ).where(
            sessions.c.id == session_id,
            sessions.c.userId == user_id,
            sessions.c.expiresAt > now,
        )
    ).first()  # fmt: skip
    return None if row is None else dict(row._mapping)


def revoke_user_session(conn: Connection, user_id: str, session_id: str) -> bool:
    """End one session of `user_id` (one of their other devices); False when it is not theirs."""
    statement = delete(sessions).where(sessions.c.id == session_id, sessions.c.userId == user_id)
    return bool(conn.execute(statement).rowcount)


def prune_user_sessions(conn: Connection, user_id: str, now: datetime) -> None:
    """Drop a user's expired sessions (by the userId index, so no table scan at sign-in)."""
    conn.execute(delete(sessions).where(sessions.c.userId == user_id, sessions.c.expiresAt <= now))


def prune_expired_sessions(conn: Connection, now: datetime) -> int:
    """Drop every expired session: for a periodic maintenance job."""
    return conn.execute(delete(sessions).where(sessions.c.expiresAt <= now)).rowcount
