"""Pure ASGI middleware around every face (no `BaseHTTPMiddleware`: it would cost the hot path
a task and a body copy per request).

One layer, `operations.Operations`, does in this order what a stack of three would: security
headers (on every response, errors included), observation (request id, the JSON request line,
metrics, unexpected errors as 500), limits (body size, requests per minute).
"""

from __future__ import annotations

from fastapi import FastAPI

from clientbook.config import Settings
from clientbook.middleware.limits import Caps
from clientbook.middleware.operations import Operations


def install(app: FastAPI, settings: Settings) -> None:
    """Wrap `app` in the operations layer."""
    caps = Caps(
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
        per_credential=settings.rate_limit_per_credential,
        per_address=settings.rate_limit_per_address,
    )
    app.add_middleware(Operations, caps=caps)
