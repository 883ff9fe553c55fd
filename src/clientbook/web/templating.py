"""Rendering pages: one Jinja environment, the page language, and errors as pages.

    @router.get("/admin/customers")
    def customers(request: Request, visitor: VisitorDep) -> HTMLResponse:
        return render(request, visitor, "console/customers.html", {"page": page})

Templates are autoescaped; `_()`/`ngettext()` translate into the visitor's language (see
`i18n`), `error_text()` translates a field error from the service layer. Page routes use
`PageRoute`, which turns a domain error into an HTML answer: a sign-in redirect when nobody is
signed in, an error page otherwise (the API's JSON error shape is for programs).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from clientbook import __version__
from clientbook.api.errors import status_of
from clientbook.domain import errors
from clientbook.domain.timestamps import format_datetime
from clientbook.services import auth
from clientbook.web import i18n, vocabulary
from clientbook.web.session import (
    ANONYMOUS_CSRF_COOKIE,
    CSRF_FIELD,
    Visitor,
    get_visitor,
)

TEMPLATES = Path(__file__).parent / "templates"
# What a form shows next to its fields when the error names them (422, 409, 403): the API's
# `fields` of the same refusal.
FORM_ERRORS = (errors.ValidationFailed, errors.Conflict, errors.Forbidden)


def _when(value: datetime | str | None, with_time: bool = True) -> str:
    """A timestamp for people: `2026-11-26 14:05` (UTC), or a date alone."""
    if value is None or value == "":
        return ""
    text = (format_datetime(value) or "") if isinstance(value, datetime) else str(value)
    return text[:16].replace("T", " ") if with_time else text[:10]


def _money(value: float | int | None, currency: str | None = None) -> str:
    if value is None:
        return ""
    return f"{currency + ' ' if currency else ''}{value:,.2f}"


environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(("html", "svg", "xml")),
    undefined=StrictUndefined,
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.install_gettext_callables(  # type: ignore[attr-defined]
    i18n.gettext, i18n.ngettext, newstyle=True, pgettext=i18n.pgettext, npgettext=i18n.npgettext
)
environment.globals.update(
    error_text=i18n.translate_message,
    # A `?notice=` is shown only when it is one of our own messages (never text from a link).
    is_known_notice=i18n.is_known,
    csrf_field=CSRF_FIELD,
    label_of=vocabulary.label,
    field_label=vocabulary.field_label,
    options_of=vocabulary.options,
    version=__version__,
)
environment.filters.update(when=_when, money=_money, urlquote=lambda v: quote(str(v), safe=""))


def render(
    request: Request,
    visitor: Visitor,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """The page in the visitor's language; never cached (pages show personal data)."""
    i18n.set_language(visitor.language)
    values = {"request": request, "visitor": visitor, "language": visitor.language}
    values.update(context or {})
    html = environment.get_template(template).render(values)
    response = HTMLResponse(html, status_code=status_code)
    response.headers["Content-Language"] = visitor.language
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "Cookie, Accept-Language"
    if visitor.authentication is None and request.cookies.get(ANONYMOUS_CSRF_COOKIE) is None:
        set_page_cookie(request, response, ANONYMOUS_CSRF_COOKIE, visitor.csrf_token)
    return response


def set_page_cookie(
    request: Request, response: Response, name: str, value: str, *, max_age: int | None = None
) -> None:
    """A cookie of the pages: HttpOnly, SameSite=Lax, Secure over https, as the session's."""
    secure = auth.cookie_is_secure(request.app.state.settings, request.url.scheme)
    response.set_cookie(
        name, value, max_age=max_age, path="/", httponly=True, samesite="lax", secure=secure
    )


def redirect(url: str, *, notice: str | None = None) -> RedirectResponse:
    """After a successful form post: 303 to the page to show (Post/Redirect/Get)."""
    if notice:
        url += ("&" if "?" in url else "?") + f"notice={quote(notice)}"
    return RedirectResponse(url, status_code=303)


def sign_in_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/signin?next={quote(target, safe='')}"


async def _visitor_for_error(request: Request) -> Visitor:
    known = getattr(request.state, "visitor", None)
    if isinstance(known, Visitor):
        return known
    try:
        return await get_visitor(request)
    except errors.DomainError:
        return Visitor(None, i18n.negotiate(None, request.headers.get("accept-language")), "")


def field_problems(exc: errors.DomainError) -> dict[str, str]:
    """The fields a refused form names, for the form to show next to them (with the status of
    `status_of`); an error that names no field is raised on, to be shown as an error page."""
    if not exc.fields:
        raise exc
    return dict(exc.fields)


async def error_page(request: Request, exc: errors.DomainError) -> Response:
    """A domain error as a page: signed out → sign in; otherwise a page saying what went wrong."""
    if isinstance(exc, errors.Unauthenticated) and request.method == "GET":
        return RedirectResponse(sign_in_url(request), status_code=303)
    visitor = await _visitor_for_error(request)
    status = status_of(exc)
    response = render(
        request, visitor, "error.html", {"status": status, "error": exc}, status_code=status
    )
    if isinstance(exc, errors.Throttled):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


class Redirect(Exception):
    """Raised by a page (or its dependency) to send the browser elsewhere (303)."""

    def __init__(self, url: str, *, notice: str | None = None) -> None:
        super().__init__(url)
        self.url = url
        self.notice = notice


class PageRoute(APIRoute):
    """A page route: domain errors and malformed query strings come back as HTML pages, and a
    `Redirect` raised anywhere in the page sends the browser on."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except Redirect as exc:
                return redirect(exc.url, notice=exc.notice)
            except errors.DomainError as exc:
                return await error_page(request, exc)
            except RequestValidationError as exc:
                fields = {".".join(str(p) for p in e["loc"][1:]): e["msg"] for e in exc.errors()}
                return await error_page(request, errors.BadQuery("Bad request", fields=fields))

        return page_handler
