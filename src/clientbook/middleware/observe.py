"""Every request observed once: its request id, one JSON log line, its metrics.

The request id is the caller's `X-Request-ID` when it is sane (1-64 printable ASCII characters),
else a new one; it is written back into the request's headers, so the faces' audit rows use the
same id, and returned as `X-Request-ID`.

The line says who acted by kind and id only (`user`, `api_key`, ...), never an email, a name,
the query string or a credential.

These are the parts; `middleware.operations` runs them around each request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from clientbook.domain.ids import new_id
from clientbook.middleware.answers import Scope
from clientbook.observability.logs import log_info
from clientbook.observability.metrics import LATENCY, REQUESTS, UNMATCHED_ROUTE

REQUEST_ID_HEADER = b"x-request-id"
_REQUEST_ID_MAX = 64
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
CLIENT_CLOSED = 499  # nginx's word for a request the client gave up on before the answer

# Where FastAPI (0.16x) leaves the route that answered as included, its prefixes in its path.
_INCLUDED_ROUTE = "effective_route_context"
_NOTHING: dict[str, Any] = {}

request_log = logging.getLogger("clientbook.request")
error_log = logging.getLogger("clientbook.errors")


def request_id_of(scope: Scope) -> str:
    """The request's id; a missing or unusable one is replaced in the scope's headers."""
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for name, value in headers:
        if name == REQUEST_ID_HEADER:
            sent = value.decode("latin-1").strip()
            if 0 < len(sent) <= _REQUEST_ID_MAX and sent.isascii() and sent.isprintable():
                return sent
            headers = [item for item in headers if item[0] != REQUEST_ID_HEADER]
            break
    request_id = new_id()
    scope["headers"] = [*headers, (REQUEST_ID_HEADER, request_id.encode())]
    return request_id


def route_of(scope: Scope) -> str:
    """The route template that answered (`/api/customers/{customer_id}`), never the raw path."""
    route = scope.get("route")
    if route is not None:
        # A route of an included router knows only its own part of the path (`/users` of
        # `/v1/users`); FastAPI keeps the route as included, prefixes and all, in its scope.
        included = (scope.get("fastapi") or _NOTHING).get(_INCLUDED_ROUTE)
        if included is not None and getattr(included, "original_route", None) is route:
            path = getattr(included, "path", None)
        else:
            path = getattr(route, "path", None)
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


class Recorder:
    """Counts a finished request and writes its line."""

    def __init__(self) -> None:
        # The children's own methods by (method, route, status): `labels()` takes a lock and
        # builds a key on every call.
        self._children: dict[tuple[str, str, int], tuple[Callable[[], None], Any]] = {}

    def record(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope["method"] if scope["method"] in _METHODS else "other"
        route = route_of(scope)
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            labels = (method, route, str(status))
            children = (REQUESTS.labels(*labels).inc, LATENCY.labels(*labels).observe)
            self._children[key] = children
        count, observe = children
        count()
        observe(seconds)
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
            log_info(request_log, "request", fields)
