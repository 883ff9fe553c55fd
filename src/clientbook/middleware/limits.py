"""Resource caps before a route runs: request body size, and requests per minute per
credential and per client address.

Body (SPEC §12 "Uploads"): a `Content-Length` over the cap is answered 413 before the body is
read; a body without one is cut off with 413 once it passes the cap. The cap is
`CLIENTBOOK_MAX_BODY_KB` for JSON and form bodies, `CLIENTBOOK_MAX_UPLOAD_MB` for multipart
uploads (the import route also checks its own).

Rate (`CLIENTBOOK_RATE_LIMIT_PER_CREDENTIAL`, `..._PER_ADDRESS`, 0 = off): a fixed one-minute
window counted in this process's memory, answered 429 with `Retry-After` (seconds to the next
window). With several worker processes each enforces the limit on its own share, so the
effective limit is up to N times the setting; sign-in throttling, which must hold across
processes, is counted in the database instead (services.auth.throttle). The credential is the
API key, bearer token or session cookie as sent (hashed in memory), valid or not; health,
readiness, metrics and static files are not counted.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from clientbook.domain.errors import TooLarge
from clientbook.middleware.answers import ASGIApp, Message, Receive, Scope, Send, send_error

UNCOUNTED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
UNCOUNTED_PREFIX = "/static/"
WINDOW_SECONDS = 60
MAX_TRACKED = 100_000  # distinct keys per window; beyond, new keys go uncounted (memory bound)
_CREDENTIAL_HEADERS = frozenset(
    {b"authorization", b"x-api-key", b"x-appwrite-key", b"x-appwrite-session"}
)
_SESSION_COOKIES = ("clientbook_session=", "a_session_")
_BODYLESS = frozenset({"GET", "HEAD", "OPTIONS"})


class BodyTooLarge(TooLarge):
    """Raised from `receive` when a body passes the cap; every face answers it 413."""


@dataclass(frozen=True)
class Caps:
    max_body_bytes: int
    max_upload_bytes: int
    per_credential: int = 0  # requests per minute, 0 = no limit
    per_address: int = 0


def _session_cookie(cookie: str) -> str | None:
    for part in cookie.split(";"):
        part = part.strip()
        if part.startswith(_SESSION_COOKIES):
            return part
    return None


def _size(limit: int) -> str:
    if limit >= 1024 * 1024 and limit % (1024 * 1024) == 0:
        return f"{limit // (1024 * 1024)} MiB"
    return f"{limit // 1024} KiB" if limit % 1024 == 0 else f"{limit} bytes"


def _monotonic() -> float:
    return time.monotonic()


class RequestLimits:
    def __init__(
        self, app: ASGIApp, *, caps: Caps, clock: Callable[[], float] | None = None
    ) -> None:
        self.app = app
        self.caps = caps
        self.clock = clock
        self._window = -1
        self._counts: dict[tuple[str, object], int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length: int | None = None
        multipart = False
        credential: object = None
        cookie: str | None = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = int(value) if value.isdigit() else None
            elif name == b"content-type":
                multipart = value.lower().startswith(b"multipart/form-data")
            elif name in _CREDENTIAL_HEADERS and credential is None:
                credential = hash(value)
            elif name == b"cookie":
                cookie = value.decode("latin-1")
        if self.caps.per_credential or self.caps.per_address:
            if credential is None and cookie is not None:
                session = _session_cookie(cookie)
                credential = None if session is None else hash(session)
            wait = self._throttle(scope, credential)
            if wait:
                retry = [(b"retry-after", str(wait).encode())]
                message = f"Too many requests: try again in {wait} s"
                await send_error(scope, send, 429, "throttled", message, retry)
                return
        limit = self.caps.max_upload_bytes if multipart else self.caps.max_body_bytes
        if length is not None and length > limit:
            await self._too_large(scope, send, limit)
            return
        if scope["method"] in _BODYLESS and length is None:
            await self.app(scope, receive, send)
            return
        await self._capped(scope, receive, send, limit)

    async def _capped(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        over = False
        replaced = False

        async def capped_receive() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise BodyTooLarge(self._message(limit), fields={"body": self._field(limit)})
            return message

        async def capped_send(message: Message) -> None:
            nonlocal replaced
            # A route that turned the cut-off into another answer (a parse error) is overruled.
            if replaced:
                return
            if over and message["type"] == "http.response.start" and message["status"] != 413:
                replaced = True
                await self._too_large(scope, send, limit)
                return
            await send(message)

        try:
            await self.app(scope, capped_receive, capped_send)
        except BodyTooLarge:
            if not replaced:
                await self._too_large(scope, send, limit)

    @staticmethod
    def _message(limit: int) -> str:
        return f"The request body is larger than the limit of {_size(limit)}"

    @staticmethod
    def _field(limit: int) -> str:
        return f"at most {_size(limit)}"

    async def _too_large(self, scope: Scope, send: Send, limit: int) -> None:
        fields = {"body": self._field(limit)}
        await send_error(scope, send, 413, "too_large", self._message(limit), fields=fields)

    def _throttle(self, scope: Scope, credential: object) -> int:
        """Count the request; the seconds to wait when a limit is passed (else 0)."""
        path: str = scope["path"]
        if path in UNCOUNTED_PATHS or path.startswith(UNCOUNTED_PREFIX):
            return 0
        now = (self.clock or _monotonic)()
        window = int(now // WINDOW_SECONDS)
        if window != self._window:
            self._window = window
            self._counts.clear()
        over = False
        client = scope.get("client")
        if self.caps.per_address and client:
            over |= self._count(("address", client[0]), self.caps.per_address)
        if self.caps.per_credential and credential is not None:
            over |= self._count(("credential", credential), self.caps.per_credential)
        if not over:
            return 0
        return max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))

    def _count(self, key: tuple[str, object], limit: int) -> bool:
        count = self._counts.get(key)
        if count is None:
            if len(self._counts) >= MAX_TRACKED:
                return False
            count = 0
        self._counts[key] = count + 1
        return count + 1 > limit
