"""Who is asking: the credentials a request carries, turned into an `Authentication`.

Every face resolves principals here, so the order of the credentials, what makes one invalid,
the CSRF rule and the throttled "last used" write are decided once. An unknown, expired or
revoked credential resolves to nothing, exactly like no credential at all.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import Connection, or_, update

from clientbook.access import Principal
from clientbook.db.engine import Database
from clientbook.db.tables import api_keys, sessions
from clientbook.services.auth import api_keys as key_service
from clientbook.services.auth.sessions import find_session
from clientbook.services.auth.tokens import check_csrf, csrf_token_for, is_api_key

Via = Literal["api_key", "bearer", "cookie"]
# `lastUsedAt` is informative; writing it on every request would put every read behind the
# single SQLite writer. Once per credential per interval is plenty.
TOUCH_INTERVAL = timedelta(minutes=5)


@dataclass(frozen=True)
class Credentials:
    """What a request presented: an `X-API-Key`, an `Authorization: Bearer` token, a cookie."""

    api_key: str | None = None
    bearer: str | None = None
    cookie: str | None = None

    def __bool__(self) -> bool:
        return bool(self.api_key or self.bearer or self.cookie)


@dataclass(frozen=True)
class Authentication:
    """A resolved credential: the principal, how it came, and the session or key behind it."""

    principal: Principal
    via: Via
    credential_id: str
    last_used_at: datetime | None
    # Sessions only: the stored token hash (the CSRF token derives from it) and the end of life.
    token_hash: str | None = None
    expires_at: datetime | None = None

    @property
    def session_id(self) -> str | None:
        return None if self.via == "api_key" else self.credential_id

    @property
    def api_key_id(self) -> str | None:
        return self.credential_id if self.via == "api_key" else None

    @property
    def csrf_token(self) -> str | None:
        """The token a cookie session's unsafe requests must echo (None for an API key)."""
        return csrf_token_for(self.token_hash) if self.token_hash else None

    def check_csrf(self, method: str, presented: str | None) -> None:
        """Raise CsrfFailed for an unsafe cookie-authenticated request without the token."""
        if self.via == "cookie" and self.token_hash:
            check_csrf(self.token_hash, method, presented)

    def with_request(
        self, *, request_id: str | None, ip: str | None, user_agent: str | None
    ) -> Authentication:
        principal = self.principal.with_request(request_id=request_id, ip=ip, user_agent=user_agent)
        return replace(self, principal=principal)


def authenticate(
    conn: Connection, credentials: Credentials, *, now: datetime
) -> Authentication | None:
    """Resolve the first credential sent of: an API key, a bearer token (a key or a session),
    a session cookie. None when it is unknown, expired or revoked.

    An invalid credential is not replaced by the next one: a script whose key was revoked must
    get 401, not act as whoever is signed in to the same browser.
    """
    if credentials.api_key:
        return _by_api_key(conn, credentials.api_key)
    if credentials.bearer:
        if is_api_key(credentials.bearer):
            return _by_api_key(conn, credentials.bearer)
        return _by_session(conn, credentials.bearer, "bearer", now)
    if credentials.cookie:
        return _by_session(conn, credentials.cookie, "cookie", now)
    return None


def _by_api_key(conn: Connection, secret: str) -> Authentication | None:
    key = key_service.find_api_key(conn, secret)
    if key is None:
        return None
    principal = key_service.api_key_principal(key.id)
    return Authentication(principal, "api_key", key.id, key.last_used_at)


def _by_session(conn: Connection, token: str, via: Via, now: datetime) -> Authentication | None:
    session = find_session(conn, token, now=now)
    if session is None:
        return None
    principal = Principal(kind="user", id=session.user_id, role=session.role)
    return Authentication(
        principal,
        via,
        session.id,
        session.last_used_at,
        token_hash=session.token_hash,
        expires_at=session.expires_at,
    )


def touch_due(authentication: Authentication, now: datetime) -> bool:
    last = authentication.last_used_at
    return last is None or now - last >= TOUCH_INTERVAL


def touch(conn: Connection, authentication: Authentication, now: datetime) -> None:
    """Record use of the session or key; a no-op when another request did so meanwhile."""
    table = api_keys if authentication.via == "api_key" else sessions
    conn.execute(
        update(table)
        .where(
            table.c.id == authentication.credential_id,
            or_(table.c.lastUsedAt.is_(None), table.c.lastUsedAt <= now - TOUCH_INTERVAL),
        )
        .values(lastUsedAt=now)
    )


def reads_without_waiting(db: Database) -> bool:
    """True when a read can run on the event loop without waiting for a pooled connection.

    The credential lookup is one indexed SELECT: on SQLite microseconds, on PostgreSQL one
    round trip, both far less than a thread-pool hop, and the routes after it read inline
    anyway. But if long work (exports, imports, writes in the thread pool) holds every pooled
    connection, waiting for one would stall the whole loop: then it goes to the thread pool.
    """
    pool = db.reader.pool
    checked_out = getattr(pool, "checkedout", None)
    size = getattr(pool, "size", None)
    if checked_out is None or size is None:
        return True
    return bool(checked_out() < size() + max(0, getattr(pool, "_max_overflow", 0)))
