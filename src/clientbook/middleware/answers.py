"""Error answers the middleware sends itself, in the shape of the face the path belongs to."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from clientbook.api.errors import error_body
from clientbook.appwrite.errors import AppwriteError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

APPWRITE_PREFIX = "/v1/"
_APPWRITE_TYPES = {413: "general_argument_invalid", 429: "general_rate_limit_exceeded"}


def _body(path: str, status: int, code: str, message: str, fields: dict[str, str] | None) -> bytes:
    if path.startswith(APPWRITE_PREFIX):
        type_ = _APPWRITE_TYPES.get(status, "general_unknown")
        return orjson.dumps(AppwriteError(status, type_, message).body())
    return orjson.dumps(error_body(code, message, fields))


async def send_error(
    scope: Scope,
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: list[tuple[bytes, bytes]] | None = None,
    *,
    fields: dict[str, str] | None = None,
) -> None:
    """Send a whole JSON error response."""
    body = _body(scope.get("path", ""), status, code, message, fields)
    start_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *(headers or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": start_headers})
    await send({"type": "http.response.body", "body": body})
