"""Every request observed once: its request id, one JSON log line, its metrics, and an
unexpected error turned into a 500 that is logged with the request id.

The request id is the caller's `X-Request-ID` when it is sane (1-64 printable ASCII characters),
else a new one; it is written back into the request's headers, so the faces' audit rows use the
same id, and returned as `X-Request-ID`.

The line says who acted by kind and id only (`user`, `api_key`, ...), never an email, a name,
the query string or a credential.
"""

from __future__ import annotations

import asyncio
import logging
from time import perf_counter
from typing import Any

from prometheus_client.metrics import Counter, Histogram

from clientbook.domain.ids import new_id
from clientbook.middleware.answers import ASGIApp, Message, Receive, Scope, Send, send_error
from clientbook.observability.logs import FIELDS, REQUEST_ID
from clientbook.observability.metrics import IN_FLIGHT, LATENCY, REQUESTS, UNMATCHED_ROUTE

REQUEST_ID_HEADER = b"x-request-id"
_REQUEST_ID_MAX = 64
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
CLIENT_CLOSED = 499  # nginx's word for a request the client gave up on before the answer

request_log = logging.getLogger("clientbook.request")
error_log = logging.getLogger("clientbook.errors")


def _request_id(scope: Scope) -> str:
    """The request's id; a missing or unusable one is replaced in the scope's headers."""
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for name, value in headers:
        if name == REQUEST_ID_HEADER:
            sent = value.decode("latin-1").strip()
            if 0 < len(sent) <= _REQUEST_ID_MAX and sent.isascii() and sent.isprintable():
                return sent
            break
    request_id = new_id()
    scope["headers"] = [
        *(item for item in headers if item[0] != REQUEST_ID_HEADER),
        (REQUEST_ID_HEADER, request_id.encode()),
    ]
    return request_id


def route_of(scope: Scope) -> str:
    """The route template that answered (`/api/customers/{customer_id}`), never the raw path."""
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str) and path:
        return path
    # Plain Starlette routes and mounts (docs, static files) leave only their endpoint behind.
    endpoint = scope.get("endpoint")
    if endpoint is None:
        return UNMATCHED_ROUTE
    for route in getattr(scope.get("router"), "routes", ()):
        if getattr(route, "endpoint", None) is endpoint or getattr(route, "app", None) is endpoint:
            return str(getattr(route, "path", "")) or UNMATCHED_ROUTE
    return UNMATCHED_ROUTE


def _principal(scope: Scope) -> tuple[str, str | None]:
    state = scope.get("state") or {}
    authentication = state.get("authentication") if isinstance(state, dict) else None
    principal = getattr(authentication, "principal", None)
    if principal is None:
        return "anonymous", None
    return str(principal.kind), principal.id


class RequestObserver:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Label children by (method, route, status): `labels()` takes a lock and builds a key.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        request_id = _request_id(scope)
        REQUEST_ID.set(request_id)  # the request's own task context: nothing to reset
        id_header = (REQUEST_ID_HEADER, request_id.encode())
        status = 500
        ended: float | None = None
        response_started = False

        async def observed_send(message: Message) -> None:
            nonlocal status, ended, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                ended = perf_counter()  # background tasks after the answer are not its latency
            await send(message)

        IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, observed_send)
        except Exception as exc:
            error_log.error(
                "unhandled error",
                exc_info=exc,
                extra={FIELDS: {"method": scope["method"], "route": route_of(scope)}},
            )
            if response_started:
                if ended is None:
                    raise  # half an answer: let the server break the connection
            else:
                message = "Something went wrong on our side"
                await send_error(scope, observed_send, 500, "internal_error", message)
        except asyncio.CancelledError:
            if not response_started:
                status = CLIENT_CLOSED
            raise
        finally:
            IN_FLIGHT.dec()
            self._record(scope, status, (ended or perf_counter()) - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope["method"] if scope["method"] in _METHODS else "other"
        route = route_of(scope)
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            labels = (method, route, str(status))
            children = (REQUESTS.labels(*labels), LATENCY.labels(*labels))
            self._children[key] = children
        counter: Counter = children[0]
        histogram: Histogram = children[1]
        counter.inc()
        histogram.observe(seconds)
        if request_log.isEnabledFor(logging.INFO):
            kind, principal_id = _principal(scope)
            fields = {
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
                "principal": kind,
                "principal_id": principal_id,
            }
            request_log.info("request", extra={FIELDS: fields})
