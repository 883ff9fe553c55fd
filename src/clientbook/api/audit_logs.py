"""`/api/audit-logs`: the audit trail, staff only and read-only (SPEC §3, §5).

Only GET routes exist, so every other method on these paths is 405: no HTTP request can
change or delete an audit row.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from clientbook.api.deps import OptionalPrincipal
from clientbook.api.http import JSONBytes
from clientbook.api.query_params import CHECKED_QUERY, parses_own_query
from clientbook.api.schemas import (
    ERROR_RESPONSES,
    PAGING,
    json_response,
    page_schema,
    query_parameters,
)
from clientbook.services import audit_log as svc
from clientbook.services.runtime import Database

router = APIRouter(prefix="/api/audit-logs", tags=["audit logs"], dependencies=CHECKED_QUERY)

_TEXT = {"anyOf": [{"type": "string"}, {"type": "null"}]}
ENTRY = {
    "type": "object",
    "required": ["$id", "$sequence", "occurredAt", "actorType", "action", "entityType"],
    "properties": {
        "$id": {"type": "string"},
        "$sequence": {"type": "integer"},
        "occurredAt": {"type": "string", "format": "date-time"},
        "actorType": {"type": "string", "enum": ["user", "api_key", "system"]},
        "actorId": _TEXT,
        "action": {"type": "string", "examples": ["customer.status_changed"]},
        "entityType": {"type": "string"},
        "entityId": _TEXT,
        "changes": {
            "anyOf": [{"type": "object"}, {"type": "null"}],
            "description": "{field: {from, to}}",
            "additionalProperties": {"type": "object"},
        },
        "reason": _TEXT,
        "requestId": _TEXT,
        "ip": _TEXT,
        "userAgent": _TEXT,
    },
}
PAGE = page_schema(ENTRY)
PARAMETERS = query_parameters(
    ("entityType", {"type": "string"}, "e.g. customer, user, note"),
    ("entityId", {"type": "string"}, "with entityType"),
    ("actorId", {"type": "string"}, "a user or API key id"),
    ("action", {"type": "string"}, "a comma list means any of"),
    ("occurredAt[gte]", {"type": "string", "format": "date-time"}, "from (inclusive)"),
    ("occurredAt[lt]", {"type": "string", "format": "date-time"}, "until (exclusive)"),
    ("sort", {"type": "string"}, "default `-$sequence` (newest first)"),
    *PAGING,
)


@router.get(
    "",
    responses={200: json_response("A page of audit entries", PAGE), **ERROR_RESPONSES},
    openapi_extra=PARAMETERS,
)
@parses_own_query
async def list_audit_logs(request: Request, principal: OptionalPrincipal) -> JSONBytes:
    """The audit log, newest first, filtered by entity, actor, action and time."""
    db: Database = request.app.state.db
    params = request.query_params.multi_items()

    def work() -> dict[str, Any]:
        # In the thread pool: a count over a long audit log can take a while.
        with db.read() as conn:
            page = svc.list_audit_logs(conn, principal, params)
        rows = [svc.present_audit_entry(row) for row in page.rows]
        return {"total": page.total, "rows": rows, "cursor": page.next_cursor}

    return JSONBytes(await run_in_threadpool(work))


@router.get(
    "/{entry_id}",
    responses={200: json_response("One audit entry", ENTRY), **ERROR_RESPONSES},
)
async def read_audit_entry(
    entry_id: str, request: Request, principal: OptionalPrincipal
) -> JSONBytes:
    """One audit entry."""
    db: Database = request.app.state.db
    with db.read() as conn:
        row = svc.get_audit_entry(conn, principal, entry_id)
    return JSONBytes(svc.present_audit_entry(row))
