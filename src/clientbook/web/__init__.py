"""The web UI (SPEC §9): the self-service portal at `/` and the staff console at `/admin`.

Server-rendered pages over the same service layer as the API; a little of our own JavaScript
(`static/app.js`) improves them, and every page works without it.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from clientbook.web import auth_pages, portal
from clientbook.web.console import router as console_router

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


def favicon() -> FileResponse:
    """The icon, for browsers that ask for `/favicon.ico` (pages name `static/favicon.svg`)."""
    return FileResponse(
        ICON, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"}
    )
