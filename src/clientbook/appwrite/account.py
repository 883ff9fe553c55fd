"""Account (appwrite-compat §1, §3): sign up, email-password sessions, the signed-in account.

A session's secret is the native API's session token (one sessions table). It is returned only
to a caller with an API key — Appwrite's server-side flow, where the backend signs the user in
and then acts with `set_session(secret)`; anyone else gets `secret: ""` and the secret in the
HttpOnly cookie `a_session_<project>`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from clientbook.appwrite import shapes
from clientbook.appwrite.auth import CurrentCaller, session_cookie
from clientbook.appwrite.errors import (
    AppwriteError,
    account_error,
    argument_invalid,
    check_id,
)
from clientbook.appwrite.http import AppwriteRoute, JSONBytes, no_content
from clientbook.appwrite.params import json_body
from clientbook.domain.errors import DomainError
from clientbook.domain.timestamps import utcnow
from clientbook.services import auth
from clientbook.services import users as user_service
from clientbook.services.auth.accounts import change_password_keeping_session
from clientbook.services.runtime import Database

router = APIRouter(prefix="/account", route_class=AppwriteRoute, tags=["appwrite account"])
CURRENT = "current"  # the session id that names the caller's own session


@contextmanager
def translated() -> Iterator[None]:
    try:
        yield
    except DomainError as exc:
        raise account_error(exc) from exc


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _text(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise argument_invalid(f"Param `{name}` is required and must be a string")
    return value


def _set_cookie(request: Request, response: Response, token: str, expires: datetime) -> None:
    settings = _db(request).settings
    response.set_cookie(
        session_cookie(settings),
        token,
        expires=expires,
        path="/",
        httponly=True,
        samesite="lax",
        secure=auth.cookie_is_secure(settings, request.url.scheme),
    )


def _clear_cookie(request: Request, response: Response) -> None:
    settings = _db(request).settings
    response.delete_cookie(session_cookie(settings), path="/", httponly=True, samesite="lax")


@router.post("", status_code=201)
async def create_account(request: Request, caller: CurrentCaller) -> JSONBytes:
    """`Account.create`: a customer account (role `user`), not yet signed in."""
    body = await json_body(request)
    raw_id = body.get("userId")
    user_id = None if raw_id == "unique()" else check_id(raw_id, name="userId")
    data = {
        "email": _text(body, "email"),
        "password": _text(body, "password"),
        "name": _text(body, "name", required=False),
    }
    with translated():
        user = await run_in_threadpool(
            auth.create_account, _db(request), caller.origin, data, user_id=user_id
        )
    return JSONBytes(shapes.user(user), status_code=201)


@router.post("/sessions/email", status_code=201)
async def create_email_password_session(request: Request, caller: CurrentCaller) -> Response:
    """Sign in. The secret is shown only to an API key's caller (compat §3)."""
    body = await json_body(request)
    email, password = _text(body, "email"), _text(body, "password")
    assert email is not None and password is not None
    with translated():
        signed = await run_in_threadpool(auth.login, _db(request), caller.origin, email, password)
    session = signed.session
    shaped = shapes.session(
        session_id=session.id,
        user_id=session.user_id,
        created_at=signed.user["lastLoginAt"],
        expires_at=session.expires_at,
        current=True,
        secret=session.token if caller.by_key else "",
    )
    response = JSONBytes(shaped, status_code=201)
    if not caller.by_key:
        _set_cookie(request, response, session.token, session.expires_at)
    return response


@router.get("")
async def get_account(request: Request, caller: CurrentCaller) -> JSONBytes:
    """The signed-in user's own account."""
    user_id = caller.session().principal.id
    assert user_id is not None
    with translated(), _db(request).read() as conn:
        user = user_service.get_user(conn, user_id)
    return JSONBytes(shapes.user(user))


def _session_id(caller_session: auth.Authentication, session_id: str) -> str:
    current = caller_session.session_id
    assert current is not None
    return current if session_id == CURRENT else session_id


def _session_not_found() -> AppwriteError:
    return AppwriteError(404, "user_session_not_found", "The session could not be found.")


@router.get("/sessions/{session_id}")
async def get_session(session_id: str, request: Request, caller: CurrentCaller) -> JSONBytes:
    """One of the caller's live sessions (`current` for this one); never its secret."""
    authentication = caller.session()
    wanted = _session_id(authentication, session_id)
    user_id = authentication.principal.id
    assert user_id is not None
    with translated(), _db(request).read() as conn:
        found = auth.find_user_session(conn, user_id, wanted, now=utcnow())
    if found is None:
        raise _session_not_found()
    return JSONBytes(
        shapes.session(
            session_id=found["id"],
            user_id=found["userId"],
            created_at=found["createdAt"],
            expires_at=found["expiresAt"],
            current=found["id"] == authentication.session_id,
        )
    )


@router.delete("/sessions/{session_id}", status_code=204)
async def delete_session(session_id: str, request: Request, caller: CurrentCaller) -> Response:
    """Sign out of one session (`current`: this one)."""
    authentication = caller.session()
    wanted = _session_id(authentication, session_id)
    user_id = authentication.principal.id
    assert user_id is not None
    db = _db(request)

    def work() -> bool:
        with translated(), db.transaction() as conn:
            return auth.revoke_user_session(conn, user_id, wanted)

    if not await run_in_threadpool(work):
        raise _session_not_found()
    response = no_content()
    if wanted == authentication.session_id:
        _clear_cookie(request, response)
    return response


@router.delete("/sessions", status_code=204)
async def delete_sessions(request: Request, caller: CurrentCaller) -> Response:
    """Sign out everywhere; `{"current": false}` keeps this session."""
    authentication = caller.session()
    keep_current = (await json_body(request)).get("current") is False
    user_id = authentication.principal.id
    assert user_id is not None
    keep = authentication.session_id if keep_current else None
    db = _db(request)

    def work() -> None:
        with translated(), db.transaction() as conn:
            auth.revoke_user_sessions(conn, user_id, keep=keep)

    await run_in_threadpool(work)
    response = no_content()
    if not keep_current:
        _clear_cookie(request, response)
    return response


@router.patch("/name")
async def update_name(request: Request, caller: CurrentCaller) -> JSONBytes:
    """Change the signed-in user's display name."""
    principal = caller.session().principal
    name = (await json_body(request)).get("name")
    db = _db(request)

    def work() -> dict[str, Any]:
        with translated(), db.transaction() as conn:
            return auth.rename(conn, principal, name)

    return JSONBytes(shapes.user(await run_in_threadpool(work)))


@router.patch("/password")
async def update_password(request: Request, caller: CurrentCaller) -> JSONBytes:
    """Change the password (`oldPassword` proves it). As in Appwrite, the session that asked
    stays signed in and every other session of the user ends."""
    authentication = caller.session()
    body = await json_body(request)
    with translated():
        user = await run_in_threadpool(
            change_password_keeping_session,
            _db(request),
            authentication,
            body.get("oldPassword"),
            body.get("password"),
        )
    return JSONBytes(shapes.user(user))
