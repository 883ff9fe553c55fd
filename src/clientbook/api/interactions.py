"""`/api/customers/{id}/interactions` and `/api/interactions/{id}`: thin routes over the
interaction services (SPEC §3, §5). Reads run inline on the event loop (short, indexed); writes
run in the thread pool, since they may wait for the single SQLite writer."""

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
from clientbook.domain.interactions import INTERACTION_FIELDS
from clientbook.services import interactions as svc
from clientbook.services.runtime import Database
from clientbook.services.timeline import list_interactions

router = APIRouter(tags=["interactions"], dependencies=CHECKED_QUERY)

_SYSTEM = {
    "$id": Field("string", required=True),
    "$createdAt": Field("datetime", required=True),
    "$updatedAt": Field("datetime", required=True),
    "customerId": Field("relation", required=True),
}
INTERACTION_OUTPUT = object_schema(
    {**_SYSTEM, **INTERACTION_FIELDS, "createdBy": Field("relation")},
    for_input=False,
    required=[*_SYSTEM, "type", "subject", "occurredAt", "visibility"],
)
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: json_response("The interaction", INTERACTION_OUTPUT),
    201: json_response("Logged", INTERACTION_OUTPUT),
    **ERROR_RESPONSES,
}
PAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: json_response(
        "A page of interactions, newest first",
        page_schema(INTERACTION_OUTPUT),
    ),
    **ERROR_RESPONSES,
}
PAGE_PARAMETERS = query_parameters(
    ("sort", {"type": "string"}, "default `-occurredAt`"),
    *PAGING,
)


def _body(*, create: bool) -> dict[str, Any]:
    fields = {"$id": Field("string", 36), **INTERACTION_FIELDS} if create else INTERACTION_FIELDS
    schema = object_schema(fields, for_input=True, required=["type", "subject"] if create else None)
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


@router.get(
    "/api/customers/{customer_id}/interactions",
    responses=PAGE_RESPONSES,
    openapi_extra=PAGE_PARAMETERS,
)
@parses_own_query
async def list_customer_interactions(
    customer_id: str, request: Request, principal: OptionalPrincipal
) -> JSONBytes:
    """A customer's interactions, newest first; an owner sees only the shared ones."""
    with _db(request).read() as conn:
        page = list_interactions(conn, principal, customer_id, request.query_params.multi_items())
    rows = [svc.present_interaction(row) for row in page.rows]
    return JSONBytes({"total": page.total, "rows": rows, "cursor": page.next_cursor})


@router.post(
    "/api/customers/{customer_id}/interactions",
    status_code=201,
    responses=RESPONSES,
    openapi_extra=_body(create=True),
)
async def log_interaction(
    customer_id: str, request: Request, principal: OptionalPrincipal
) -> JSONBytes:
    """Log an interaction; a past `occurredAt` moves the customer's `lastContactAt`."""
    data = await json_object(request)
    db = _db(request)

    def work() -> dict[str, Any]:
        with db.transaction() as conn:
            return svc.log_interaction(conn, principal, customer_id, data)

    row = await run_in_threadpool(work)
    headers = {"Location": f"/api/interactions/{row['id']}"}
    return JSONBytes(svc.present_interaction(row), status_code=201, headers=headers)


@router.get("/api/interactions/{interaction_id}", responses=RESPONSES)
async def read_interaction(
    interaction_id: str, request: Request, principal: OptionalPrincipal
) -> JSONBytes:
    """One interaction (404 when the caller may not see it)."""
    with _db(request).read() as conn:
        row = svc.get_interaction(conn, principal, interaction_id)
    return JSONBytes(svc.present_interaction(row))


@router.patch(
    "/api/interactions/{interaction_id}", responses=RESPONSES, openapi_extra=_body(create=False)
)
async def update_interaction(
    interaction_id: str, request: Request, principal: OptionalPrincipal
) -> JSONBytes:
    """Partial update; an owner changes only the shared interactions they logged."""
    data = await json_object(request)
    db = _db(request)

    def work() -> dict[str, Any]:
        with db.transaction() as conn:
            return svc.update_interaction(conn, principal, interaction_id, data)

    return JSONBytes(svc.present_interaction(await run_in_threadpool(work)))


@router.delete(
    "/api/interactions/{interaction_id}",
    status_code=204,
    responses={204: {"description": "Deleted"}, **ERROR_RESPONSES},
)
async def delete_interaction(
    interaction_id: str, request: Request, principal: OptionalPrincipal
) -> Response:
    """Delete an interaction (owners: only the shared ones they logged)."""
    db = _db(request)

    def work() -> None:
        with db.transaction() as conn:
            svc.delete_interaction(conn, principal, interaction_id)

    await run_in_threadpool(work)
    return Response(status_code=204)
