"""Pure ASGI middleware around every face (no `BaseHTTPMiddleware`: it would cost the hot path
a task and a body copy per request).

From the outside in: `security_headers` (on every response, errors included), `observe`
(request id, the JSON request line, metrics, unexpected errors as 500), `limits` (body size,
requests per minute).
"""

from __future__ import annotations

from fastapi import FastAPI

from clientbook.config import Settings
from clientbook.middleware.limits import Caps, RequestLimits
from clientbook.middleware.observe import RequestObserver
from clientbook.middleware.security_headers import SecurityHeaders


def install(app: FastAPI, settings: Settings) -> None:
    """Wrap `app` in the three layers (the last added is the outermost)."""
    caps = Caps(
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
        per_credential=settings.rate_limit_per_credential,
        per_address=settings.rate_limit_per_address,
    )
    app.add_middleware(RequestLimits, caps=caps)
    app.add_middleware(RequestObserver)
    app.add_middleware(SecurityHeaders)
