"""The operations middleware as one pure ASGI layer: security headers, request id, the JSON
request line and metrics, unexpected errors as 500, body and rate caps.

One layer rather than three stacked ones: each layer costs every request a coroutine, a
wrapped `send` and a pass over the response headers, and this runs on every request, the
microsecond reads by id included (benchmarks/middleware_overhead.py).

What each part does is told in its module: `security_headers`, `observe`, `limits`. From the
outside in they behave as that stack did: the answers the layer gives itself (413, 429, 500)
carry the security headers and the request id, and are counted and logged like any other.
A client that hangs up before the answer (its body half sent) is counted and logged as 499.
HEAD is answered as GET without the body, so it works wherever GET does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from time import perf_counter

from starlette.requests import ClientDisconnect

from clientbook.middleware.answers import ASGIApp, Message, Receive, Scope, Send, send_error
from clientbook.middleware.limits import Caps, RequestLimits
from clientbook.middleware.observe import (
    CLIENT_CLOSED,
    REQUEST_ID_HEADER,
    Recorder,
    error_log,
    request_id_of,
    route_of,
)
from clientbook.middleware.security_headers import secure
from clientbook.observability.logs import FIELDS, REQUEST_ID
from clientbook.observability.metrics import IN_FLIGHT


class Operations:
    def __init__(
        self, app: ASGIApp, *, caps: Caps, clock: Callable[[], float] | None = None
    ) -> None:
        self.app = app
        self.limits = RequestLimits(app, caps=caps, clock=clock)
        self.recorder = Recorder()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        request_id = request_id_of(scope)
        REQUEST_ID.set(request_id)  # the request's own task context: nothing to reset
        id_header = (REQUEST_ID_HEADER, request_id.encode())
        path: str = scope["path"]
        https = scope.get("scheme") == "https"
        status = 500
        ended: float | None = None
        response_started = False

        async def observed_send(message: Message) -> None:
            nonlocal status, ended, response_started
            kind = message["type"]
            if kind == "http.response.start":
                response_started = True
                status = message["status"]
                headers = secure(message.get("headers", ()), path, https)
                headers.append(id_header)
                message["headers"] = headers
            elif kind == "http.response.body" and not message.get("more_body"):
                ended = perf_counter()  # background tasks after the answer are not its latency
            await send(message)

        app_scope: Scope = scope
        app_send: Send = observed_send
        if scope["method"] == "HEAD":
            app_scope, app_send = _as_get(scope, observed_send)

        IN_FLIGHT.inc()
        try:
            await self.limits(app_scope, receive, app_send)  # the caps, then the app
        except ClientDisconnect:
            # The client hung up before its body was in: it gave up, nothing went wrong here,
            # and there is nobody left to answer.
            if not response_started:
                status = CLIENT_CLOSED
        except Exception as exc:
            error_log.error(
                "unhandled error",
                exc_info=exc,
                extra={FIELDS: {"method": scope["method"], "route": route_of(app_scope)}},
            )
            if response_started:
                if ended is None:
                    raise  # half an answer: let the server break the connection
            else:
                message = "Something went wrong on our side"
                await send_error(app_scope, app_send, 500, "internal_error", message)
        except asyncio.CancelledError:
            if not response_started:
                status = CLIENT_CLOSED
            raise
        finally:
            IN_FLIGHT.dec()
            if app_scope is not scope:
                app_scope["method"] = scope["method"]  # a HEAD is counted as one
            self.recorder.record(app_scope, status, (ended or perf_counter()) - started)


def _as_get(scope: Scope, send: Send) -> tuple[Scope, Send]:
    """HEAD as the app sees it: a GET (RFC 9110: GET's status and headers) whose body is not
    sent. A route without GET still answers 405. The server's own scope stays HEAD."""

    async def headless_send(message: Message) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            message = {**message, "body": b""}
        await send(message)

    return {**scope, "method": "GET"}, headless_send
