"""Liveness and readiness (SPEC §11, §12)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from clientbook.api.http import JSONBytes
from clientbook.services.runtime import readiness

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONBytes:
    """The database answers and its schema is current (503 with a reason otherwise)."""
    ready, body = await run_in_threadpool(readiness, request.app.state.db)
    return JSONBytes(body, status_code=200 if ready else 503)
