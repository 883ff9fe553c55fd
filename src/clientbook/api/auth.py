"""`/api/auth`: sign up, sign in, sign out, who am I, change password.

Routes parse, call one service use case and serialise; the rules (validation, throttling,
enumeration safety, sessions) live in `clientbook.services.auth`. The sign-in routes are plain
`def`s: password hashing is slow and must run in the thread pool, off the event loop.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from clientbook.api.deps import CurrentAuthentication, Origin
from clientbook.api.http import JSONBytes
from clientbook.api.query_params import CHECKED_QUERY
from clientbook.domain.timestamps import format_datetime
from clientbook.services import auth
from clientbook.services.runtime import Database
from clientbook.services.users import present_user

router = APIRouter(prefix="/api/auth", tags=["auth"], dependencies=CHECKED_QUERY)
# Far above any valid password (256), low enough that nobody makes us hash megabytes.
_PASSWORD_INPUT_MAX = 1024


class SignupBody(BaseModel):
    """Fields are optional and unknown ones kept, so that the service names every failing one
    at once (the documented schema still forbids unknown fields)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": False})
    email: str | None = None
    password: str | None = Field(default=None, max_length=_PASSWORD_INPUT_MAX)
    name: str | None = None


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(max_length=320)
    password: str = Field(max_length=_PASSWORD_INPUT_MAX)


class AcceptBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(max_length=128)
    password: str | None = Field(default=None, max_length=_PASSWORD_INPUT_MAX)


class PasswordBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    currentPassword: str | None = Field(default=None, max_length=_PASSWORD_INPUT_MAX)
    newPassword: str | None = Field(default=None, max_length=_PASSWORD_INPUT_MAX)


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def set_session_cookie(request: Request, response: Response, session: auth.NewSession) -> None:
    """Hand a browser its session: HttpOnly, SameSite=Lax, Secure over https (also the pages')."""
    response.set_cookie(
        auth.SESSION_COOKIE,
        session.token,
        expires=session.expires_at,
        path="/",
        httponly=True,
        samesite="lax",
        secure=auth.cookie_is_secure(_db(request).settings, request.url.scheme),
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        auth.SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=auth.cookie_is_secure(_db(request).settings, request.url.scheme),
    )


def _signed_in(request: Request, signed: auth.SignedIn, *, status_code: int = 200) -> Response:
    """`{user, token, expiresAt}`, and the same session as an HttpOnly cookie for browsers."""
    session = signed.session
    body = {
        "user": present_user(signed.user),
        "token": session.token,
        "expiresAt": format_datetime(session.expires_at),
    }
    response = JSONBytes(body, status_code=status_code)
    set_session_cookie(request, response, session)
    return response


@router.post("/signup", status_code=201)
def signup(body: SignupBody, request: Request, origin: Origin) -> Response:
    """Create a customer account (role `user`) and sign it in."""
    signed = auth.signup(_db(request), origin, body.model_dump())  # unknown fields too
    response = _signed_in(request, signed, status_code=201)
    response.headers["Location"] = "/api/auth/me"
    return response


@router.post("/login")
def login(body: LoginBody, request: Request, origin: Origin) -> Response:
    """Sign in; 401 for any wrong email/password, 403 for a blocked account, 429 when locked."""
    return _signed_in(request, auth.login(_db(request), origin, body.email, body.password))


@router.post("/accept")
def accept_invitation(body: AcceptBody, request: Request, origin: Origin) -> Response:
    """An invited account sets its password with its invitation link's token, and is signed in;
    404 for an unknown, used or expired link."""
    return _signed_in(
        request, auth.accept_invitation(_db(request), origin, body.token, body.password)
    )


@router.post("/logout", status_code=204)
def logout(request: Request, authentication: CurrentAuthentication) -> Response:
    """End the current session."""
    with _db(request).transaction() as conn:
        auth.logout(conn, authentication)
    response = Response(status_code=204)
    clear_session_cookie(request, response)
    return response


@router.get("/me")
def me(request: Request, authentication: CurrentAuthentication) -> Response:
    """`{user, customerId, csrfToken}` (an API key gets `user: null` and `apiKey`)."""
    with _db(request).read() as conn:
        return JSONBytes(auth.describe(conn, authentication))


@router.post("/password")
def change_password(
    body: PasswordBody, request: Request, authentication: CurrentAuthentication
) -> Response:
    """Change the password: every session ends and a fresh one is returned."""
    signed = auth.change_password(
        _db(request), authentication, body.currentPassword, body.newPassword
    )
    return _signed_in(request, signed)
