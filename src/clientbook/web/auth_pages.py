"""Sign in, sign up, sign out and the language switch: the pages shared by portal and console.

The rules (throttling, enumeration-safe failures, password policy) are the service's; these
routes only read the form, call `services.auth` and set or clear the session cookie.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from clientbook.api.auth import clear_session_cookie, set_session_cookie
from clientbook.api.deps import origin_of
from clientbook.domain import errors
from clientbook.domain.enums import LANGUAGES
from clientbook.services import auth
from clientbook.services import customers as customer_service
from clientbook.web.forms import read_form
from clientbook.web.i18n import N_
from clientbook.web.session import LANGUAGE_COOKIE, LANGUAGE_COOKIE_AGE, VisitorDep, db_of
from clientbook.web.templating import PageRoute, redirect, render, set_page_cookie

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def safe_next(target: str | None, fallback: str) -> str:
    """Where to go after signing in: a path on this site only (never `//elsewhere`)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return fallback


def home_of(signed: auth.SignedIn) -> str:
    return "/admin" if signed.user.get("role") == "super_admin" else "/"


def _signed_in(request: Request, signed: auth.SignedIn, target: str) -> Response:
    response = redirect(target)
    set_session_cookie(request, response, signed.session)
    return response


@router.get("/signin")
def sign_in_page(request: Request, visitor: VisitorDep, next: str | None = None) -> Response:
    if visitor.principal is not None:
        return redirect(safe_next(next, "/admin" if visitor.is_staff else "/"))
    return render(
        request, visitor, "auth/signin.html", {"values": {}, "next": next or "", "failure": None}
    )


@router.post("/signin")
async def sign_in(request: Request, visitor: VisitorDep) -> Response:
    form = await read_form(request)
    values = {"email": form.get("email", "")}
    context: dict[str, Any] = {"values": values, "next": form.get("next", ""), "failure": None}
    try:
        signed = await _login(request, form)
    except (errors.Unauthenticated, errors.Forbidden, errors.Throttled) as exc:
        context["failure"] = exc.message
        status = 429 if isinstance(exc, errors.Throttled) else 401
        response = render(request, visitor, "auth/signin.html", context, status_code=status)
        if isinstance(exc, errors.Throttled):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    return _signed_in(request, signed, safe_next(form.get("next"), home_of(signed)))


async def _login(request: Request, form: dict[str, str]) -> auth.SignedIn:
    """Password hashing is slow: it runs in the thread pool, off the event loop."""
    email = form.get("email", "")[:320]
    password = form.get("password", "")[:1024]
    return await run_in_threadpool(auth.login, db_of(request), origin_of(request), email, password)


@router.get("/signup")
def sign_up_page(request: Request, visitor: VisitorDep) -> Response:
    if visitor.principal is not None:
        return redirect("/admin" if visitor.is_staff else "/")
    return render(request, visitor, "auth/signup.html", {"values": {}, "errors": {}})


@router.post("/signup")
async def sign_up(request: Request, visitor: VisitorDep) -> Response:
    form = await read_form(request)
    data = {name: form.get(name) or None for name in ("email", "password", "name")}
    try:
        signed = await run_in_threadpool(auth.signup, db_of(request), origin_of(request), data)
    except errors.ValidationFailed as exc:
        values = {"email": form.get("email", ""), "name": form.get("name", "")}
        context = {"values": values, "errors": exc.fields}
        return render(request, visitor, "auth/signup.html", context, status_code=422)
    except errors.Conflict as exc:
        values = {"email": form.get("email", ""), "name": form.get("name", "")}
        context = {"values": values, "errors": exc.fields or {"email": exc.message}}
        return render(request, visitor, "auth/signup.html", context, status_code=409)
    return _signed_in(request, signed, "/?notice=welcome")


@router.get("/accept")
def accept_page(request: Request, visitor: VisitorDep, token: str = "") -> Response:
    """An invitation link: who it is for, and the form to choose a password."""
    with db_of(request).read() as conn:
        account = auth.invited_account(conn, token)
    context = {"account": account, "token": token, "errors": {}}
    return render(request, visitor, "auth/accept.html", context)


@router.post("/accept")
async def accept(request: Request, visitor: VisitorDep) -> Response:
    form = await read_form(request)
    token = form.get("token", "")
    origin = origin_of(request)
    try:
        signed = await run_in_threadpool(
            auth.accept_invitation, db_of(request), origin, token, form.get("password") or None
        )
    except errors.ValidationFailed as exc:
        with db_of(request).read() as conn:
            account = auth.invited_account(conn, token)
        context = {"account": account, "token": token, "errors": exc.fields}
        return render(request, visitor, "auth/accept.html", context, status_code=422)
    notice = quote(N_("Your password is saved: welcome to clientbook!"))
    return _signed_in(request, signed, f"{home_of(signed)}?notice={notice}")


@router.post("/signout")
def sign_out(request: Request, visitor: VisitorDep) -> Response:
    if visitor.authentication is not None:
        with db_of(request).transaction() as conn:
            auth.logout(conn, visitor.authentication)
    response = redirect("/signin")
    clear_session_cookie(request, response)
    return response


@router.post("/language")
async def choose_language(request: Request, visitor: VisitorDep) -> Response:
    """The footer's language switch: a customer's choice is their record's `language`
    attribute; everyone else's is kept in a cookie."""
    form = await read_form(request)
    language = form.get("language", "")
    if language not in LANGUAGES:
        raise errors.ValidationFailed({"language": "must be one of: " + ", ".join(LANGUAGES)})
    if visitor.customer_id is not None:
        with db_of(request).transaction() as conn:
            customer_service.update_customer(
                conn, visitor.require(), visitor.customer_id, {"language": language}
            )
    response = redirect(safe_next(form.get("next"), "/"))
    set_page_cookie(request, response, LANGUAGE_COOKIE, language, max_age=LANGUAGE_COOKIE_AGE)
    return response
