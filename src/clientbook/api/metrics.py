"""`GET /metrics` in Prometheus's text format (docs/observability.md).

Who may read it: with `CLIENTBOOK_METRICS_TOKEN` set, whoever sends it as a bearer token; without,
clients on this machine only (a Prometheus beside the server, or a reverse proxy that forwards
the client's address, which uvicorn's `proxy_headers` then reports). The figures hold no
personal data, but route and error rates are nobody else's business.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from clientbook.config import Settings
from clientbook.domain.errors import Forbidden, Unauthenticated
from clientbook.observability.collect import exposition

router = APIRouter(tags=["operations"])
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def check_metrics_reader(settings: Settings, client: str | None, authorization: str) -> None:
    """Raise unless this caller may read the metrics (see the module's note)."""
    if settings.metrics_token:
        scheme, _, token = authorization.partition(" ")
        presented = token.strip() if scheme.lower() == "bearer" else ""
        if not hmac.compare_digest(presented.encode(), settings.metrics_token.encode()):
            raise Unauthenticated("Send the metrics token: Authorization: Bearer <token>")
        return
    if client not in LOOPBACK:
        raise Forbidden(
            "Metrics are served to this machine only unless CLIENTBOOK_METRICS_TOKEN is set"
        )


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """The Prometheus exposition: requests, latencies, pools, import jobs, failed sign-ins."""
    settings: Settings = request.app.state.settings
    client = request.client.host if request.client else None
    check_metrics_reader(settings, client, request.headers.get("authorization", ""))
    body, content_type = await run_in_threadpool(exposition, request.app.state.db)
    return Response(body, media_type=content_type)
