"""The web UI (SPEC §9): the self-service portal at `/` and the staff console at `/admin`.

Server-rendered pages over the same service layer as the API; a little of our own JavaScript
(`static/app.js`) improves them, and every page works without it.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from clientbook.web import auth_pages, portal
from clientbook.web.console import router as console_router

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Mount the pages and their static files on `app`."""
    router = APIRouter(include_in_schema=False)
    router.include_router(auth_pages.router)
    router.include_router(console_router)
    router.include_router(portal.router)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
