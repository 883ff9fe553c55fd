"""`/api/customers`: thin routes over services.customers (SPEC §2, §5, §6, §7).

Short reads run inline on the event loop (PERFORMANCE.md: the thread-pool hop costs two thirds
of the throughput of a primary-key read); writes run in the thread pool, since they may wait
for the single SQLite writer.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from clientbook.access import Principal
from clientbook.api.deps import get_principal
from clientbook.api.http import JSONBytes, expected_version, json_object
from clientbook.api.query_params import CHECKED_QUERY, parses_own_query
from clientbook.api.schemas import (
    CUSTOMER_BODY,
    CUSTOMER_PAGE,
    CUSTOMER_RESPONSES,
    body_doc,
    json_response,
)
from clientbook.query.fields import CUSTOMERS
from clientbook.query.native import parse_list_query
from clientbook.services import customers as svc
from clientbook.services.runtime import Database

router = APIRouter(prefix="/api/customers", tags=["customers"], dependencies=CHECKED_QUERY)

ExpandParam = Query(
    None, description="Relations to populate as user objects: userId,assignedTo,createdBy,updatedBy"
)
ParseParam = Query(None, description="`json` returns notes and metadata as objects")


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _one(
    db: Database,
    row: dict[str, Any],
    *,
    relations: tuple[str, ...] = (),
    parse_json: bool = False,
    status: int = 200,
) -> JSONBytes:
    """One record with its ETag (and Location when created); options parsed by the route."""
    if relations:
        with db.read() as conn:
            body = svc.present_customers(conn, [row], expand=relations, parse_json=parse_json)
    else:
        body = svc.present_customers(None, [row], parse_json=parse_json)
    headers = {"ETag": svc.etag(row)}
    if status == 201:
        headers["Location"] = f"/api/customers/{row['id']}"
    return JSONBytes(body[0], status_code=status, headers=headers)


LIST_PARAMS = ("expand", "parse")


@router.get("", responses={200: json_response("A page of customers", CUSTOMER_PAGE)})
@parses_own_query
async def list_customers(
    request: Request,
    principal: Principal | None = Depends(get_principal),
    expand: str | None = ExpandParam,
    parse: str | None = ParseParam,
) -> JSONBytes:
    """List, filter, sort, search and page (SPEC §7): `field=v1,v2`, `field[op]=v`
    (eq ne lt lte gt gte in isnull), `tag=`, `q=`, `sort=-a,b`, `limit`, `cursor`, `offset`,
    `total=false`. An owner's list holds only their own record."""
    query = parse_list_query(CUSTOMERS, request.query_params.multi_items(), reserved=LIST_PARAMS)
    relations = svc.parse_expand(expand)
    parse_json = svc.parse_json_option(parse)
    with _db(request).read() as conn:
        page = svc.list_customers(conn, principal, query)
        rows = svc.present_customers(conn, page.rows, expand=relations, parse_json=parse_json)
    return JSONBytes({"total": page.total, "rows": rows, "cursor": page.next_cursor})


@router.get("/me", responses=CUSTOMER_RESPONSES)
async def read_my_customer(
    request: Request,
    principal: Principal | None = Depends(get_principal),
    expand: str | None = ExpandParam,
    parse: str | None = ParseParam,
) -> JSONBytes:
    """The caller's own customer record (404 until they create it)."""
    relations, parse_json = svc.parse_expand(expand), svc.parse_json_option(parse)
    db = _db(request)
    with db.read() as conn:
        row = svc.get_own_customer(conn, principal)
    return _one(db, row, relations=relations, parse_json=parse_json)


@router.get("/{customer_id}", responses=CUSTOMER_RESPONSES)
async def read_customer(
    customer_id: str,
    request: Request,
    principal: Principal | None = Depends(get_principal),
    expand: str | None = ExpandParam,
    parse: str | None = ParseParam,
) -> JSONBytes:
    """One record; someone else's is 404 for a user (its existence is not revealed)."""
    relations, parse_json = svc.parse_expand(expand), svc.parse_json_option(parse)
    db = _db(request)
    with db.read() as conn:
        row = svc.get_customer(conn, principal, customer_id)
    return _one(db, row, relations=relations, parse_json=parse_json)


@router.post("", status_code=201, responses=CUSTOMER_RESPONSES, openapi_extra=CUSTOMER_BODY)
async def create_customer(
    request: Request,
    principal: Principal | None = Depends(get_principal),
    parse: str | None = ParseParam,
) -> JSONBytes:
    """The seed's createCustomer: a user creates their one record, staff one for any user."""
    parse_json = svc.parse_json_option(parse)  # a bad option is refused before the write
    data = await json_object(request)
    db = _db(request)

    def work() -> dict[str, Any]:
        with db.transaction() as conn:
            return svc.create_customer(conn, principal, data)

    return _one(db, await run_in_threadpool(work), parse_json=parse_json, status=201)


@router.patch("/{customer_id}", responses=CUSTOMER_RESPONSES, openapi_extra=CUSTOMER_BODY)
async def update_customer(
    customer_id: str,
    request: Request,
    principal: Principal | None = Depends(get_principal),
    parse: str | None = ParseParam,
) -> JSONBytes:
    """Partial update; `If-Match` with the ETag answers 412 when the record changed."""
    parse_json = svc.parse_json_option(parse)
    data = await json_object(request)
    version = expected_version(request, customer_id)
    db = _db(request)

    def work() -> dict[str, Any]:
        with db.transaction() as conn:
            return svc.update_customer(conn, principal, customer_id, data, expected_version=version)

    return _one(db, await run_in_threadpool(work), parse_json=parse_json)


@router.delete("/{customer_id}", status_code=204, responses={204: {"description": "Deleted"}})
async def delete_customer(
    customer_id: str, request: Request, principal: Principal | None = Depends(get_principal)
) -> Response:
    """Delete the record with its notes and interactions."""
    version = expected_version(request, customer_id)
    db = _db(request)

    def work() -> None:
        with db.transaction() as conn:
            svc.delete_customer(conn, principal, customer_id, expected_version=version)

    await run_in_threadpool(work)
    return Response(status_code=204)


async def _action(request: Request, customer_id: str, parse: str | None, action: Any) -> JSONBytes:
    """Run a record action (status, tags, contact, assignment) in one write transaction."""
    parse_json = svc.parse_json_option(parse)
    data = await json_object(request, required=False)
    version = expected_version(request, customer_id)
    db = _db(request)

    def work() -> dict[str, Any]:
        with db.transaction() as conn:
            result: dict[str, Any] = action(conn, data, version)
            return result

    return _one(db, await run_in_threadpool(work), parse_json=parse_json)


@router.put(
    "/{customer_id}/status",
    responses=CUSTOMER_RESPONSES,
    openapi_extra=body_doc({"status": {"type": "string"}, "reason": {"type": "string"}}),
)
async def change_status(
    customer_id: str,
    request: Request,
    principal: Principal | None = Depends(get_principal),
    parse: str | None = ParseParam,
) -> JSONBytes:
    """The seed's updateCustomerStatus (staff): `{status, reason?}`."""

    def act(conn: Any, data: dict[str, Any], version: int | None) -> dict[str, Any]:
        with svc.body_keys_checked(data, ("status", "reason"), required=("status",)):
            return svc.change_status(
                conn, principal, customer_id, data.get("status", ""), reason=data.get("reason"),
                expected_version=version,
            )  # fmt: skip

    return await _action(request, customer_id, parse, act)


@router.put(
    "/{customer_id}/tags",
    responses=CUSTOMER_RESPONSES,
    openapi_extra=body_doc({"tags": {"type": "array", "items": {"type": "string"}}}),
)
async def set_tags(
    customer_id: str,
    request: Request,
    principal: Principal | None = Depends(get_principal),
    parse: str | None = ParseParam,
) -> JSONBytes:
    """Replace the record's tags: `{tags: [...]}` (owners manage their own)."""

    def act(conn: Any, data: dict[str, Any], version: int | None) -> dict[str, Any]:
        with svc.body_keys_checked(data, ("tags",), required=("tags",)):
            tags = data.get("tags", [])
            return svc.set_tags(conn, principal, customer_id, tags, expected_version=version)

    return await _action(request, customer_id, parse, act)


@router.post(
    "/{customer_id}/contact",
    responses=CUSTOMER_RESPONSES,
    openapi_extra=body_doc({"at": {"type": "string", "format": "date-time"}}, required=False),
)
async def record_contact(
    customer_id: str,
    request: Request,
    principal: Principal | None = Depends(get_principal),
    parse: str | None = ParseParam,
) -> JSONBytes:
    """The seed's updateLastContact (staff): `{at?}`, default now."""

    def act(conn: Any, data: dict[str, Any], _version: int | None) -> dict[str, Any]:
        with svc.body_keys_checked(data, ("at",)):
            return svc.record_contact(conn, principal, customer_id, at=data.get("at"))

    return await _action(request, customer_id, parse, act)


@router.put(
    "/{customer_id}/assignment",
    responses=CUSTOMER_RESPONSES,
    openapi_extra=body_doc({"assignedTo": {"type": ["string", "null"]}}),
)
async def assign(
    customer_id: str,
    request: Request,
    principal: Principal | None = Depends(get_principal),
    parse: str | None = ParseParam,
) -> JSONBytes:
    """Assign to a sales rep (an active super_admin) or unassign with null (staff)."""

    def act(conn: Any, data: dict[str, Any], version: int | None) -> dict[str, Any]:
        with svc.body_keys_checked(data, ("assignedTo",), required=("assignedTo",)):
            return svc.assign_customer(
                conn, principal, customer_id, data.get("assignedTo"), expected_version=version
            )

    return await _action(request, customer_id, parse, act)
