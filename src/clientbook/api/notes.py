"""`/api/customers/{id}/notes` and `/api/notes/{id}`: thin routes over the note services
(SPEC §3, §5). Internal notes never reach a customer: the services leave them out of every read
an owner makes. Reads run inline on the event loop; writes in the thread pool."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from clientbook.api.deps import OptionalPrincipal
from clientbook.api.http import JSONBytes, json_object
from clientbook.api.query_params import CHECKED_QUERY, parses_own_query
from clientbook.api.schemas import (
    ERROR_RESPONSES,
    PAGING,
    json_response,
    object_schema,
    page_schema,
    query_parameters,
)
from clientbook.domain.fields import Field
from clientbook.domain.notes import NOTE_FIELDS
from clientbook.services import notes as svc
from clientbook.services.runtime import Database
from clientbook.services.timeline import list_notes

router = APIRouter(tags=["notes"], dependencies=CHECKED_QUERY)

_SYSTEM = {
    "$id": Field("string", required=True),
    "$createdAt": Field("datetime", required=True),
    "$updatedAt": Field("datetime", required=True),
    "customerId": Field("relation", required=True),
}
NOTE_OUTPUT = object_schema(
    {**_SYSTEM, **NOTE_FIELDS, "createdBy": Field("relation"), "updatedBy": Field("relation")},
    for_input=False,
    required=[*_SYSTEM, "content", "category", "isPinned", "visibility"],
)
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: json_response("The note", NOTE_OUTPUT),
    201: json_response("Added", NOTE_OUTPUT),
    **ERROR_RESPONSES,
}
PAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: json_response(
        "A page of notes, pinned first, then newest first",
        page_schema(NOTE_OUTPUT),
    ),
    **ERROR_RESPONSES,
}
PAGE_PARAMETERS = query_parameters(
    ("sort", {"type": "string"}, "default `-isPinned,-$sequence` (pinned, then newest)"),
    *PAGING,
)


def _body(*, create: bool) -> dict[str, Any]:
    fields = {"$id": Field("string", 36), **NOTE_FIELDS} if create else NOTE_FIELDS
    schema = object_schema(fields, for_input=True, required=["content"] if create else None)
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


@router.get(
    "/api/customers/{customer_id}/notes", responses=PAGE_RESPONSES, openapi_extra=PAGE_PARAMETERS
)
@parses_own_query
async def list_customer_notes(
    customer_id: str, request: Request, principal: OptionalPrincipal
) -> JSONBytes:
    """A customer's notes, pinned first; an owner sees only the shared ones."""
    with _db(request).read() as conn:
        page = list_notes(conn, principal, customer_id, request.query_params.multi_items())
    rows = [svc.present_note(row) for row in page.rows]
    return JSONBytes({"total": page.total, "rows": rows, "cursor": page.next_cursor})


@router.post(
    "/api/customers/{customer_id}/notes",
    status_code=201,
    responses=RESPONSES,
    openapi_extra=_body(create=True),
)
async def add_note(customer_id: str, request: Request, principal: OptionalPrincipal) -> JSONBytes:
    """Add a note; an owner adds only shared ones (internal → 403)."""
    data = await json_object(request)
    db = _db(request)

    def work() -> dict[str, Any]:
        with db.transaction() as conn:
            return svc.add_note(conn, principal, customer_id, data)

    row = await run_in_threadpool(work)
    headers = {"Location": f"/api/notes/{row['id']}"}
    return JSONBytes(svc.present_note(row), status_code=201, headers=headers)


@router.get("/api/notes/{note_id}", responses=RESPONSES)
async def read_note(note_id: str, request: Request, principal: OptionalPrincipal) -> JSONBytes:
    """One note (404 when the caller may not see it)."""
    with _db(request).read() as conn:
        row = svc.get_note(conn, principal, note_id)
    return JSONBytes(svc.present_note(row))


@router.patch("/api/notes/{note_id}", responses=RESPONSES, openapi_extra=_body(create=False))
async def update_note(note_id: str, request: Request, principal: OptionalPrincipal) -> JSONBytes:
    """Partial update; an owner changes only the shared notes they wrote."""
    data = await json_object(request)
    db = _db(request)

    def work() -> dict[str, Any]:
        with db.transaction() as conn:
            return svc.update_note(conn, principal, note_id, data)

    return JSONBytes(svc.present_note(await run_in_threadpool(work)))


@router.delete(
    "/api/notes/{note_id}",
    status_code=204,
    responses={204: {"description": "Deleted"}, **ERROR_RESPONSES},
)
async def delete_note(note_id: str, request: Request, principal: OptionalPrincipal) -> Response:
    """Delete a note (owners: only the shared ones they wrote)."""
    db = _db(request)

    def work() -> None:
        with db.transaction() as conn:
            svc.delete_note(conn, principal, note_id)

    await run_in_threadpool(work)
    return Response(status_code=204)
