"""`/api/customers/{id}/timeline`: a customer's interactions, notes and record events merged,
newest first (SPEC §5, §9). What an owner sees is decided in `services.timeline`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

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
from clientbook.services.runtime import Database
from clientbook.services.timeline import customer_timeline

router = APIRouter(tags=["timeline"], dependencies=CHECKED_QUERY)

_OBJECT = {"type": "object"}
ITEM = {
    "type": "object",
    "required": ["kind", "at"],
    "properties": {
        "kind": {"type": "string", "enum": ["interaction", "note", "event"]},
        "at": {"type": "string", "format": "date-time"},
        "interaction": {**_OBJECT, "description": "when kind is interaction"},
        "note": {**_OBJECT, "description": "when kind is note"},
        "event": {
            **_OBJECT,
            "description": "when kind is event: an audit entry of the record (owners do not "
            "see its ip, userAgent and requestId)",
        },
    },
}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: json_response(
        "A page of the timeline, newest first",
        page_schema(ITEM),
    ),
    **ERROR_RESPONSES,
}
PARAMETERS = query_parameters(
    *PAGING,
)


@router.get("/api/customers/{customer_id}/timeline", responses=RESPONSES, openapi_extra=PARAMETERS)
@parses_own_query
async def read_timeline(
    customer_id: str, request: Request, principal: OptionalPrincipal
) -> JSONBytes:
    """Interactions, notes and record events; an owner sees only shared items."""
    db: Database = request.app.state.db
    with db.read() as conn:
        page = customer_timeline(conn, principal, customer_id, request.query_params.multi_items())
    rows = [item.present() for item in page.rows]
    return JSONBytes({"total": page.total, "rows": rows, "cursor": page.next_cursor})
