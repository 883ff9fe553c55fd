"""Who is looking at a page: the session cookie, the page language, and the CSRF rule for forms.

Pages only accept the session cookie (API keys and bearer tokens are for programs). Every
unsafe request — a form post or the pages' own `fetch` — must carry the CSRF token, as the
`csrf_token` form field or the `X-CSRF-Token` header:
* signed in, the token is the session's own (the same one the API checks);
* signed out (the sign-in and sign-up forms), a random token kept in a cookie and echoed by the
  form ("double submit"), so another site cannot sign a browser in to an account of its choosing.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from clientbook.access import Principal
from clientbook.api.deps import CSRF_HEADER, origin_of
from clientbook.domain.errors import Unauthenticated
from clientbook.domain.timestamps import utcnow
from clientbook.services import auth
from clientbook.services import customers as customer_service
from clientbook.services.runtime import Database
from clientbook.web import i18n

ANONYMOUS_CSRF_COOKIE = "clientbook_csrf"
LANGUAGE_COOKIE = "clientbook_language"
LANGUAGE_COOKIE_AGE = 365 * 86400  # seconds: the choice outlives any session
CSRF_FIELD = "csrf_token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Visitor:
    """One page request's viewer: who (maybe nobody), in which language, with which form token."""

    authentication: auth.Authentication | None
    language: str
    csrf_token: str
    # The signed-in customer's own record id (portal users), once known.
    customer_id: str | None = None

    @property
    def principal(self) -> Principal | None:
        return None if self.authentication is None else self.authentication.principal

    @property
    def is_staff(self) -> bool:
        return self.principal is not None and self.principal.is_staff

    def require(self) -> Principal:
        """The signed-in principal; Unauthenticated (→ the sign-in page) otherwise."""
        if self.principal is None:
            raise Unauthenticated("Sign in to continue")
        return self.principal


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _identify(
    db: Database, token: str
) -> tuple[auth.Authentication | None, str | None, str | None]:
    """The cookie's session, and for a customer their record's id and chosen language."""
    with db.read() as conn:
        found = auth.authenticate(conn, auth.Credentials(cookie=token), now=utcnow())
        if found is None or found.principal.is_staff:
            return found, None, None
        record = customer_service.find_own_customer(conn, found.principal)
    if record is None:
        return found, None, None
    return found, record["id"], record.get("language")


async def get_visitor(request: Request) -> Visitor:
    """The page's visitor, resolved once per request; unsafe methods must carry the CSRF token."""
    known = getattr(request.state, "visitor", None)
    if isinstance(known, Visitor):
        return known
    token = request.cookies.get(auth.SESSION_COOKIE)
    found, customer_id, preferred = (
        await run_in_threadpool(_identify, _db(request), token) if token else (None, None, None)
    )
    if found is not None:
        origin = origin_of(request)
        found = found.with_request(
            request_id=origin.request_id, ip=origin.ip, user_agent=origin.user_agent
        )
    language = i18n.negotiate(
        preferred or request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language")
    )
    if found is not None and found.csrf_token:
        csrf = found.csrf_token
    else:
        csrf = request.cookies.get(ANONYMOUS_CSRF_COOKIE) or secrets.token_urlsafe(24)
    visitor = Visitor(found, language, csrf, customer_id)
    request.state.visitor = visitor
    i18n.set_language(language)
    if request.method not in _SAFE_METHODS:
        await _check_csrf(request, visitor)
    return visitor


async def _check_csrf(request: Request, visitor: Visitor) -> None:
    presented = request.headers.get(CSRF_HEADER)
    if presented is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            value = (await request.form()).get(CSRF_FIELD)
            presented = value if isinstance(value, str) else None
    if visitor.authentication is None and not request.cookies.get(ANONYMOUS_CSRF_COOKIE):
        presented = None  # a signed-out form is only good with the cookie it was issued with
    if not presented or not hmac.compare_digest(presented, visitor.csrf_token):
        raise auth.CsrfFailed("The form has expired: reload the page and try again")


def db_of(request: Request) -> Database:
    return _db(request)


VisitorDep = Annotated[Visitor, Depends(get_visitor)]
