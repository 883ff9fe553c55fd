"""Who is calling: the principal dependencies every API route uses.

    from clientbook.api.deps import CurrentPrincipal, OptionalPrincipal

    @router.get("/customers/{customer_id}")
    def read_customer(customer_id: str, principal: CurrentPrincipal) -> ...:  # 401 when anonymous

`get_principal` resolves the first credential sent of: an API key (`X-API-Key: cbk_…` or
`Authorization: Bearer cbk_…`), a bearer session token, the `clientbook_session` cookie; an
unknown, expired or revoked one counts as none (and is not replaced by the next one).

A cookie-authenticated POST/PUT/PATCH/DELETE must carry `X-CSRF-Token` (403 `csrf_failed`
otherwise); header credentials are exempt, since a browser never adds them on its own. The
check runs inside `get_principal`, so every route that asks for a principal is covered.

The lookup is one indexed SELECT (on PostgreSQL one round trip: reads run in autocommit), run
on the event loop like the routes' own short reads (in the thread pool only while long work holds
every pooled connection); the only write is `lastUsedAt`, at most once per credential per
5 minutes, after the response.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, TypeVar, cast

from fastapi import BackgroundTasks, Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Connection

from clientbook.access import Principal, require_authenticated
from clientbook.domain.ids import new_id
from clientbook.domain.timestamps import utcnow
from clientbook.services import auth
from clientbook.services.runtime import Database

REQUEST_ID_HEADER = "X-Request-ID"
CSRF_HEADER = "X-CSRF-Token"
API_KEY_HEADER = "X-API-Key"
_REQUEST_ID_MAX = 64
_UNSET = object()
T = TypeVar("T")
log = logging.getLogger("clientbook.api")


def request_id(request: Request) -> str:
    """The caller's `X-Request-ID` (if sane) or a new one, kept for the rest of the request."""
    known = getattr(request.state, "request_id", None)
    if isinstance(known, str):
        return known
    sent = request.headers.get(REQUEST_ID_HEADER, "").strip()
    value = sent if 0 < len(sent) <= _REQUEST_ID_MAX and sent.isprintable() else new_id()
    request.state.request_id = value
    return value


async def get_origin(request: Request) -> Principal:
    """The unauthenticated party of a request (request id, ip, user agent), for sign-in audit."""
    return origin_of(request)


def origin_of(request: Request) -> Principal:
    client = request.client.host if request.client else None
    return auth.ANONYMOUS.with_request(
        request_id=request_id(request), ip=client, user_agent=request.headers.get("user-agent")
    )


def credentials_of(request: Request) -> auth.Credentials:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    bearer = token.strip() if scheme.lower() == "bearer" else ""
    return auth.Credentials(
        api_key=request.headers.get(API_KEY_HEADER, "").strip() or None,
        bearer=bearer or None,
        cookie=request.cookies.get(auth.SESSION_COOKIE) or None,
    )


async def _look_up(db: Database, query: Callable[[Connection], T]) -> T:
    if auth.reads_without_waiting(db):
        with db.read() as conn:
            return query(conn)
    return await run_in_threadpool(_look_up_in_thread, db, query)


def _look_up_in_thread(db: Database, query: Callable[[Connection], T]) -> T:
    with db.read() as conn:
        return query(conn)


def _touch(db: Database, authentication: auth.Authentication, now: datetime) -> None:
    try:
        with db.transaction() as conn:
            auth.touch(conn, authentication, now)
    except Exception:  # `lastUsedAt` is informative: a busy writer must not fail anything
        log.warning("could not record use of %s", authentication.via, exc_info=True)


async def get_authentication(
    request: Request, background: BackgroundTasks
) -> auth.Authentication | None:
    """The request's resolved credential, or None; 403 `csrf_failed` for a cookie write without
    its token. Resolved once per request (kept on `request.state.authentication`).

    The throttled `lastUsedAt` write runs after the response is sent, so no request waits for
    the writer because of it.
    """
    cached = getattr(request.state, "authentication", _UNSET)
    if cached is not _UNSET:
        return cast("auth.Authentication | None", cached)
    credentials = credentials_of(request)
    found = None
    if credentials:
        db: Database = request.app.state.db
        now = utcnow()
        found = await _look_up(db, lambda conn: auth.authenticate(conn, credentials, now=now))
        if found is not None:
            found.check_csrf(request.method, request.headers.get(CSRF_HEADER))
            if auth.touch_due(found, now):
                background.add_task(_touch, db, found, now)
            origin = origin_of(request)
            found = found.with_request(
                request_id=origin.request_id, ip=origin.ip, user_agent=origin.user_agent
            )
    request.state.authentication = found
    return found


async def get_principal(
    authentication: Annotated[auth.Authentication | None, Depends(get_authentication)],
) -> Principal | None:
    """The acting principal, or None for an anonymous request (services answer 401 for it)."""
    return None if authentication is None else authentication.principal


async def require_principal(
    principal: Annotated[Principal | None, Depends(get_principal)],
) -> Principal:
    """The acting principal; 401 (`unauthenticated`) when there is none."""
    return require_authenticated(principal)


async def require_authentication(
    authentication: Annotated[auth.Authentication | None, Depends(get_authentication)],
) -> auth.Authentication:
    """Like `require_principal`, with the session or key behind it (sign-out, `me`)."""
    require_authenticated(None if authentication is None else authentication.principal)
    assert authentication is not None
    return authentication


def csrf_token(request: Request) -> str | None:
    """The CSRF token of the request's session, once resolved (for forms and templates)."""
    authentication = getattr(request.state, "authentication", None)
    return authentication.csrf_token if authentication is not None else None


OptionalPrincipal = Annotated[Principal | None, Depends(get_principal)]
CurrentPrincipal = Annotated[Principal, Depends(require_principal)]
CurrentAuthentication = Annotated[auth.Authentication, Depends(require_authentication)]
Origin = Annotated[Principal, Depends(get_origin)]
