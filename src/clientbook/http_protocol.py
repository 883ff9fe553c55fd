"""The HTTP/1.1 protocol `serve` runs: uvicorn's httptools protocol with a cap on the header
block and a deadline for receiving it (docs/security.md, "Resource caps").

httptools (unlike h11) has no limit of its own: it keeps a header value growing for as long as
the client sends it, and uvicorn waits for the end of a header block for ever. So here:

* the request line and headers of one request may take at most `MAX_HEADER_BYTES`; the byte
  past the cap is answered 431 and the connection closed, before more of it is kept;
* a request's header block must be complete within `CLIENTBOOK_HEADER_TIMEOUT_SECONDS` of the
  connection opening or of the request's first byte (a connection that sends nothing is closed
  as well); else the connection is closed without an answer.

Bytes are counted in `data_received` only while a header block is awaited: a body, and the
time a route takes, cost nothing more. uvicorn loads the class by name in every worker process
(`serve --workers N`), and it runs on asyncio's loop and on uvloop alike.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from clientbook.api.errors import error_body
from clientbook.config import Settings
from clientbook.middleware.security_headers import secure

MAX_HEADER_BYTES = 64 * 1024  # request line and headers of one request, CRLFs included
TOO_LARGE_STATUS_LINE = b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
TOO_LARGE_MESSAGE = "The request line and headers are larger than the limit of 64 KiB"

log = logging.getLogger("uvicorn.error")
_header_timeout: float | None = None


def header_timeout_seconds() -> float:
    """`CLIENTBOOK_HEADER_TIMEOUT_SECONDS`, read once per process."""
    global _header_timeout
    if _header_timeout is None:
        _header_timeout = float(Settings.from_env().header_timeout_seconds)
    return _header_timeout


def _too_large_answer() -> bytes:
    body = orjson.dumps(error_body("headers_too_large", TOO_LARGE_MESSAGE))
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    lines = b"".join(name + b": " + value + b"\r\n" for name, value in secure(headers, "", False))
    return TOO_LARGE_STATUS_LINE + lines + b"\r\n" + body


_TOO_LARGE = _too_large_answer()


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.header_timeout = header_timeout_seconds()
        self.awaiting_headers = True  # between two requests too: the next one's block
        self.header_bytes = 0
        self.header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self.awaiting_headers:  # a body: as uvicorn has it
            super().data_received(data)
            return
        if self.header_timer is None:
            self._arm_header_timer()  # the first byte of a request on a kept-alive connection
        room = MAX_HEADER_BYTES - self.header_bytes
        if len(data) <= room:
            self.header_bytes += len(data)
            super().data_received(data)
            return
        # Past the cap unless the block ends within the room left: feed that much, then the
        # rest only if it is a body.
        self.header_bytes = MAX_HEADER_BYTES
        super().data_received(data[:room])
        if self.transport.is_closing():
            return
        if self.awaiting_headers:
            self._refuse_headers()
            return
        self.data_received(data[room:])

    def on_headers_complete(self) -> None:
        self.awaiting_headers = False
        self._cancel_header_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.awaiting_headers = True
        self.header_bytes = 0

    def _refuse_headers(self) -> None:
        self._cancel_header_timer()
        log.warning("Request headers larger than %d bytes: answered 431", MAX_HEADER_BYTES)
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(_TOO_LARGE)  # else an answer is being written: just close
        self.transport.close()

    def _arm_header_timer(self) -> None:
        self.header_timer = self.loop.call_later(self.header_timeout, self._headers_timed_out)

    def _cancel_header_timer(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def _headers_timed_out(self) -> None:
        self.header_timer = None
        if self.awaiting_headers and not self.transport.is_closing():
            self.transport.close()
