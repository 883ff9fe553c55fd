"""`/api/me`: the caller's own data under the GDPR (SPEC §5, §6) — download it, or erase it.

Both are slow-ish (a whole history; a password check), so they run in the thread pool.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from clientbook.api.deps import OptionalPrincipal
from clientbook.api.http import JSONBytes
from clientbook.api.query_params import CHECKED_QUERY
from clientbook.api.schemas import ERROR_RESPONSES, json_response
from clientbook.domain.timestamps import utcnow
from clientbook.services import auth, gdpr
from clientbook.services.runtime import Database

router = APIRouter(prefix="/api/me", tags=["my data"], dependencies=CHECKED_QUERY)
# Far above any valid password (256), low enough that nobody makes us hash megabytes.
_PASSWORD_INPUT_MAX = 1024

_LIST = {"type": "array", "items": {"type": "object"}}
EXPORT = {
    "type": "object",
    "required": ["exportedAt", "account", "sessions", "customer", "notes", "interactions"],
    "properties": {
        "exportedAt": {"type": "string", "format": "date-time"},
        "account": {"type": "object", "description": "the account, without its password hash"},
        "sessions": _LIST,
        "customer": {
            "anyOf": [{"type": "object"}, {"type": "null"}],
            "description": "the customer record",
        },
        "notes": {**_LIST, "description": "the record's shared notes"},
        "interactions": {**_LIST, "description": "the record's shared interactions"},
        "auditLog": {**_LIST, "description": "entries about the account or record, or by you"},
    },
}


class EraseBody(BaseModel):
    """Optional: a valid session or token is enough; a password sent must be the caller's."""

    model_config = ConfigDict(extra="forbid")
    password: str | None = Field(default=None, max_length=_PASSWORD_INPUT_MAX)


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


@router.get("/export", responses={200: json_response("Your data", EXPORT), **ERROR_RESPONSES})
async def export_my_data(request: Request, principal: OptionalPrincipal) -> JSONBytes:
    """Everything held about you, as one JSON document (a download)."""
    db = _db(request)

    def work() -> dict[str, Any]:
        with db.read() as conn:
            return gdpr.export_my_data(conn, principal)

    name = f"clientbook-my-data-{utcnow():%Y-%m-%d}.json"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return JSONBytes(await run_in_threadpool(work), headers=headers)


@router.delete("", status_code=204, responses={204: {"description": "Erased"}, **ERROR_RESPONSES})
def erase_me(
    request: Request, principal: OptionalPrincipal, body: EraseBody | None = None
) -> Response:
    """Erase your customer record and account; a `{password}` sent must be right (422)."""
    gdpr.erase_me(_db(request), principal, body.password if body else None)
    response = Response(status_code=204)
    response.delete_cookie(
        auth.SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=auth.cookie_is_secure(_db(request).settings, request.url.scheme),
    )
    return response
