"""Liveness and readiness (SPEC §11, §12)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from clientbook import __version__
from clientbook.api.http import JSONBytes
from clientbook.services.runtime import readiness

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up, and which clientbook it runs (`/readyz` answers SPEC §12's exact
    body, which has no room for it)."""
    return {"status": "ok", "version": __version__}


@router.get("/readyz")
async def readyz(request: Request) -> JSONBytes:
    """The database answers and its schema is current (503 with a reason otherwise)."""
    ready, body = await run_in_threadpool(readiness, request.app.state.db)
    return JSONBytes(body, status_code=200 if ready else 503)
