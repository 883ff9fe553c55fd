"""The web UI (SPEC §9): the self-service portal at `/` and the staff console at `/admin`.

Server-rendered pages over the same service layer as the API; a little of our own JavaScript
(`static/app.js`) improves them, and every page works without it.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from clientbook.domain.errors import NotFound
from clientbook.web import auth_pages, portal
from clientbook.web.console import router as console_router
from clientbook.web.i18n import N_
from clientbook.web.templating import error_page

STATIC = Path(__file__).parent / "static"
ICON = STATIC / "favicon.svg"


def install(app: FastAPI) -> None:
    """Mount the pages and their static files on `app`."""
    router = APIRouter(include_in_schema=False)
    router.include_router(auth_pages.router)
    router.include_router(console_router)
    router.include_router(portal.router)
    router.add_api_route("/favicon.ico", favicon, methods=["GET", "HEAD"])
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _answer_unknown_pages_in_html(app)


# Programs' prefixes: an unknown address under them keeps the API's JSON error.
_PROGRAM_PREFIXES = ("/api/", "/v1/", "/static/")


def _answer_unknown_pages_in_html(app: FastAPI) -> None:
    """A browser that opens an address no route has (`/admin/nope`, `/me/nope`, `/nope`) gets
    the HTML "not found" page; programs (and anything under /api and /v1) keep the JSON the
    API's handler answers."""
    answer_json = app.exception_handlers[HTTPException]

    async def not_found(request: Request, exc: Exception) -> Response:
        if (
            isinstance(exc, HTTPException)
            and exc.status_code == 404
            and "text/html" in request.headers.get("accept", "")
            and not f"{request.url.path}/".startswith(_PROGRAM_PREFIXES)
        ):
            return await error_page(request, NotFound(N_("This page does not exist")))
        response = answer_json(request, exc)
        return await response if inspect.isawaitable(response) else response

    app.add_exception_handler(HTTPException, not_found)


def favicon() -> FileResponse:
    """The icon, for browsers that ask for `/favicon.ico` (pages name `static/favicon.svg`)."""
    return FileResponse(
        ICON, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"}
    )
