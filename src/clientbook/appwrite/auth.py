"""Who is calling /v1 (appwrite-compat §3), as Appwrite's SDKs say it.

* `X-Appwrite-Project` must name this server's project (else 404 `project_not_found`);
* `X-Appwrite-Key`: an API key of `clientbook apikeys create`, which acts as staff;
* `X-Appwrite-Session: <secret>` or the cookie `a_session_<project>`: that user's session (the
  sessions of the native API: one table, one secret);
* neither: a guest, who may only sign up and sign in.

Credentials are resolved by `services.auth`, as for `/api`: one indexed read, and the throttled
`lastUsedAt` write after the response.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import BackgroundTasks, Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Connection

from clientbook.access import Principal
from clientbook.appwrite.errors import AppwriteError, unauthorized
from clientbook.config import Settings
from clientbook.domain.ids import new_id
from clientbook.domain.timestamps import utcnow
from clientbook.services import auth
from clientbook.services.runtime import Database

PROJECT_HEADER = "x-appwrite-project"
KEY_HEADER = "x-appwrite-key"
SESSION_HEADER = "x-appwrite-session"
REQUEST_ID_HEADER = "x-request-id"
T = TypeVar("T")
log = logging.getLogger("clientbook.appwrite")


def session_cookie(settings: Settings) -> str:
    """Appwrite's session cookie name: `a_session_<projectId>`."""
    return f"a_session_{settings.appwrite_project_id}"


@dataclass(frozen=True)
class Caller:
    """The resolved credential of a request (None for a guest) and where it came from."""

    authentication: auth.Authentication | None
    origin: Principal  # request id, ip and user agent, for the audit rows of a sign-in

    @property
    def principal(self) -> Principal | None:
        return None if self.authentication is None else self.authentication.principal

    @property
    def by_key(self) -> bool:
        return self.authentication is not None and self.authentication.via == "api_key"

    def session(self) -> auth.Authentication:
        """The caller's session; 401 `user_unauthorized` for a guest or an API key."""
        if self.authentication is None or self.by_key:
            raise unauthorized()
        return self.authentication

    def key(self) -> Principal:
        """The API key's principal (the Users API); a session has not the scope (401)."""
        if self.authentication is None:
            raise unauthorized()
        if not self.by_key:
            raise AppwriteError(
                401, "general_unauthorized_scope", "This route needs an API key (X-Appwrite-Key)"
            )
        return self.authentication.principal


def _origin(request: Request) -> Principal:
    sent = request.headers.get(REQUEST_ID_HEADER, "").strip()
    request_id = sent if 0 < len(sent) <= 64 and sent.isprintable() else new_id()
    return auth.ANONYMOUS.with_request(
        request_id=request_id,
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


async def _read(db: Database, query: Callable[[Connection], T]) -> T:
    """A short read inline on SQLite (no thread hop), in the thread pool otherwise."""
    if auth.reads_without_waiting(db):
        with db.read() as conn:
            return query(conn)

    def in_thread() -> T:
        with db.read() as conn:
            return query(conn)

    return await run_in_threadpool(in_thread)


def _touch(db: Database, authentication: auth.Authentication, now: datetime) -> None:
    try:
        with db.transaction() as conn:
            auth.touch(conn, authentication, now)
    except Exception:  # `lastUsedAt` is informative: a busy writer must not fail anything
        log.warning("could not record use of %s", authentication.via, exc_info=True)


async def get_caller(request: Request, background: BackgroundTasks) -> Caller:
    """The project check and the credential of a /v1 request (compat §3)."""
    settings: Settings = request.app.state.settings
    if request.headers.get(PROJECT_HEADER) != settings.appwrite_project_id:
        message = "Project with the requested ID could not be found: check X-Appwrite-Project."
        raise AppwriteError(404, "project_not_found", message)
    key = request.headers.get(KEY_HEADER, "").strip()
    session = (
        request.headers.get(SESSION_HEADER, "").strip()
        or request.cookies.get(session_cookie(settings), "").strip()
    )
    if key and session:
        message = "API key and session used in the same request: use one of them."
        raise AppwriteError(403, "user_api_key_and_session_set", message)
    origin = _origin(request)
    if not key and not session:
        return Caller(None, origin)
    # A session secret is looked up as a session only (never as a key, whatever it looks like).
    credentials = auth.Credentials(api_key=key) if key else auth.Credentials(cookie=session)
    db: Database = request.app.state.db
    now = utcnow()
    found = await _read(db, lambda conn: auth.authenticate(conn, credentials, now=now))
    if found is None:
        if key:
            raise AppwriteError(401, "general_unauthorized_scope", "Invalid API key")
        raise unauthorized("The session is unknown or has expired. Sign in again.")
    if auth.touch_due(found, now):
        background.add_task(_touch, db, found, now)
    found = found.with_request(
        request_id=origin.request_id, ip=origin.ip, user_agent=origin.user_agent
    )
    request.state.authentication = found  # who acted, for the request log line
    return Caller(found, origin)


CurrentCaller = Annotated[Caller, Depends(get_caller)]
