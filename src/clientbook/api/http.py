"""Small HTTP helpers shared by the routes: JSON bodies, ETags, fast JSON responses."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response

from clientbook.domain.errors import UnsupportedMedia, ValidationFailed


class JSONBytes(Response):
    """A JSON response serialised with orjson, without response-model validation."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def invalid_json(detail: str) -> str:
    """What is said of a body that does not parse, on the field `body`."""
    return f"not valid JSON ({detail})"


async def json_object(request: Request, *, required: bool = True) -> dict[str, Any]:
    """The request body as a JSON object, or 415/422 saying what is wrong with it."""
    raw = await request.body()
    if not raw.strip():
        if required:
            raise ValidationFailed({"body": "a JSON object is required"})
        return {}
    content_type = request.headers.get("content-type", "")
    if content_type and "json" not in content_type.lower():
        raise UnsupportedMedia("Send the body as application/json")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValidationFailed({"body": invalid_json(exc.msg)}) from None
    if not isinstance(body, dict):
        raise ValidationFailed({"body": "must be a JSON object"})
    return body


# A version no record has: what an `If-Match` naming no version of this record insists on.
NO_SUCH_VERSION = -1


def expected_version(request: Request, record_id: str) -> int | None:
    """The version an `If-Match` header insists on (None: no header or `*`).

    A header that names no version of this record is not refused here but left to fail in the
    service like a stale one (412), after the caller is authenticated and the record found."""
    header = request.headers.get("if-match")
    if header is None or header.strip() == "*":
        return None
    for candidate in header.split(","):
        tag = candidate.strip().removeprefix("W/").strip('"')
        owner, _, version = tag.rpartition(".")
        if owner == record_id and version.isdigit():
            return int(version)
    return NO_SUCH_VERSION
