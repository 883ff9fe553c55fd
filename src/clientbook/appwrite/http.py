"""Responses in Appwrite's conventions, and the route class that turns every error into one.

Every route of the face uses `AppwriteRoute`, so that an error raised anywhere in a request
(a dependency, a service, the parser) leaves as `{message, code, type, version}` and never in
the native API's shape: the app's own exception handlers never see a `/v1` error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from clientbook.appwrite.errors import (
    AppwriteError,
    argument_invalid,
    common_error,
    route_not_found,
)
from clientbook.domain.errors import DomainError, Throttled

log = logging.getLogger("clientbook.appwrite")


class JSONBytes(Response):
    """A JSON response serialised with orjson (no response-model validation)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def no_content() -> Response:
    """204 with an empty body labelled `text/plain`: SDK 27 reads `Content-Type` on every
    response (a missing one is a KeyError) and JSON-decodes anything labelled JSON."""
    return Response(status_code=204, content=b"", media_type="text/plain")


def error_response(error: AppwriteError, headers: dict[str, str] | None = None) -> JSONBytes:
    return JSONBytes(error.body(), status_code=error.code, headers=headers)


def _unexpected(request: Request, exc: Exception) -> JSONBytes:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(AppwriteError(500, "general_unknown", "Server Error"))


def as_error(exc: Exception) -> AppwriteError | None:
    """The Appwrite answer to an error that left a route untranslated (None: unexpected)."""
    if isinstance(exc, AppwriteError):
        return exc
    if isinstance(exc, DomainError):
        return common_error(exc)
    if isinstance(exc, RequestValidationError):
        return argument_invalid("Invalid request parameters")
    if isinstance(exc, HTTPException):
        if exc.status_code == 404:
            return route_not_found()
        return AppwriteError(exc.status_code, "general_argument_invalid", str(exc.detail))
    return None


class AppwriteRoute(APIRoute):
    """A route whose errors, whatever raised them, answer in Appwrite's error shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                error = as_error(exc)
                if error is None:
                    return _unexpected(request, exc)
                headers = None
                if isinstance(exc, Throttled) or isinstance(exc.__cause__, Throttled):
                    throttled = exc if isinstance(exc, Throttled) else exc.__cause__
                    assert isinstance(throttled, Throttled)
                    headers = {"Retry-After": str(throttled.retry_after)}
                return error_response(error, headers)

        return route
