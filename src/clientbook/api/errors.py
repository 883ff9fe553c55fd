"""One error shape everywhere, and the only place domain errors become HTTP status codes.

`{"error": {"code": "validation_failed", "message": "...", "fields": {"email": "..."}}}`
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from clientbook.api.http import JSONBytes, invalid_json
from clientbook.domain import errors

log = logging.getLogger("clientbook.api")

STATUS: dict[type[errors.DomainError], int] = {
    errors.BadQuery: 400,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PreconditionFailed: 412,
    errors.TooLarge: 413,
    errors.UnsupportedMedia: 415,
    errors.ValidationFailed: 422,
    errors.Throttled: 429,
    errors.Busy: 503,
}
HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    411: "length_required",
    412: "precondition_failed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "throttled",
    503: "busy",
}


def error_body(code: str, message: str, fields: dict[str, str] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def status_of(exc: errors.DomainError) -> int:
    for kind in type(exc).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 400


def domain_error_response(
    exc: errors.DomainError, extra: dict[str, Any] | None = None
) -> JSONBytes:
    """The error's response; `extra` adds top-level keys beside `error` (a failed import's
    `job`)."""
    headers = {}
    if isinstance(exc, errors.Throttled | errors.Busy):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, errors.Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    body = {**error_body(exc.code, exc.message, exc.fields), **(extra or {})}
    return JSONBytes(body, status_code=status_of(exc), headers=headers)


def _request_validation_fields(exc: RequestValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for item in exc.errors():
        if item.get("type") == "json_invalid":
            # FastAPI places a decode error at ("body", <offset>): the body is what is wrong.
            fields["body"] = invalid_json(str(item.get("ctx", {}).get("error", "decode error")))
            continue
        location = [str(p) for p in item.get("loc", ()) if p not in ("body", "query", "path")]
        fields[".".join(location) or "body"] = str(item.get("msg", "invalid"))
    return fields


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.DomainError)
    async def _domain(_request: Request, exc: errors.DomainError) -> JSONBytes:
        return domain_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONBytes:
        fields = _request_validation_fields(exc)
        body = error_body("validation_failed", "The request is not valid", fields)
        return JSONBytes(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONBytes:
        code = HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return JSONBytes(
            error_body(code, message), status_code=exc.status_code, headers=exc.headers
        )
