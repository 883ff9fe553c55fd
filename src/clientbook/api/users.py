"""`/api/users`: staff manage accounts — list, create or invite, read, change (name, role,
block / unblock), delete (SPEC §3, §5). The rules live in `services.users`; password hashes
never leave it (`present_user` has no such field)."""

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
from clientbook.domain.timestamps import format_datetime
from clientbook.domain.users import USER_FIELDS
from clientbook.services import auth
from clientbook.services import users as svc
from clientbook.services.runtime import Database

router = APIRouter(prefix="/api/users", tags=["users"], dependencies=CHECKED_QUERY)

USER_OUTPUT = object_schema(
    {
        "$id": Field("string", required=True),
        "$createdAt": Field("datetime", required=True),
        "$updatedAt": Field("datetime", required=True),
        **{name: USER_FIELDS[name] for name in ("email", "name", "role", "status")},
        "lastLoginAt": Field("datetime"),
    },
    for_input=False,
    required=["$id", "$createdAt", "$updatedAt", "name", "role", "status"],
)
CREATE_INPUT = object_schema(
    {"$id": Field("string", 36), **{n: USER_FIELDS[n] for n in svc.CREATE_KEYS if n != "$id"}},
    for_input=True,
    required=["email"],
)
CREATE_INPUT["description"] = "Without `password` the account is invited; with one, active."
PATCH_INPUT = object_schema({n: USER_FIELDS[n] for n in svc.PATCH_KEYS}, for_input=True)
PATCH_INPUT["description"] = "`status`: `blocked` blocks, `active` unblocks."
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: json_response("The account", USER_OUTPUT),
    201: json_response("Created", USER_OUTPUT),
    **ERROR_RESPONSES,
}
PAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: json_response(
        "A page of accounts",
        page_schema(USER_OUTPUT),
    ),
    **ERROR_RESPONSES,
}
PAGE_PARAMETERS = query_parameters(
    ("role", {"type": "string"}, "user, super_admin (a comma list means any of)"),
    ("status", {"type": "string"}, "active, invited, blocked (comma list: any of)"),
    ("email", {"type": "string"}, "compared case-insensitively"),
    ("sort", {"type": "string"}, "e.g. `name`, `-$createdAt`; default creation order"),
    *PAGING,
)


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


@router.get("", responses=PAGE_RESPONSES, openapi_extra=PAGE_PARAMETERS)
@parses_own_query
async def list_users(request: Request, principal: OptionalPrincipal) -> JSONBytes:
    """Accounts, filtered by role, status or email."""
    with _db(request).read() as conn:
        page = svc.list_user_page(conn, principal, request.query_params.multi_items())
    rows = [svc.present_user(row) for row in page.rows]
    return JSONBytes({"total": page.total, "rows": rows, "cursor": page.next_cursor})


@router.post("", status_code=201, responses=RESPONSES, openapi_extra=_body(CREATE_INPUT))
async def create_user(request: Request, principal: OptionalPrincipal) -> JSONBytes:
    """Create an account (with `password`) or invite one (without)."""
    data = await json_object(request)
    user = await run_in_threadpool(svc.create_or_invite, _db(request), principal, data)
    headers = {"Location": f"/api/users/{user['id']}"}
    return JSONBytes(svc.present_user(user), status_code=201, headers=headers)


@router.get("/{user_id}", responses=RESPONSES)
async def read_user(user_id: str, request: Request, principal: OptionalPrincipal) -> JSONBytes:
    """One account."""
    with _db(request).read() as conn:
        return JSONBytes(svc.present_user(svc.read_user(conn, principal, user_id)))


@router.patch("/{user_id}", responses=RESPONSES, openapi_extra=_body(PATCH_INPUT))
async def update_user(user_id: str, request: Request, principal: OptionalPrincipal) -> JSONBytes:
    """Change `name`, `role` or `status`; staff cannot block or demote themselves."""
    data = await json_object(request)
    db = _db(request)

    def work() -> dict[str, Any]:
        with db.transaction() as conn:
            return svc.update_user(conn, principal, user_id, data)

    return JSONBytes(svc.present_user(await run_in_threadpool(work)))


@router.delete(
    "/{user_id}", status_code=204, responses={204: {"description": "Deleted"}, **ERROR_RESPONSES}
)
async def delete_user(user_id: str, request: Request, principal: OptionalPrincipal) -> Response:
    """Delete an account; 409 while it still owns a customer record."""
    db = _db(request)

    def work() -> None:
        with db.transaction() as conn:
            svc.delete_user(conn, principal, user_id)

    await run_in_threadpool(work)
    return Response(status_code=204)


INVITATION_OUTPUT = object_schema(
    {
        "userId": Field("string", required=True),
        "token": Field("string", required=True),
        "url": Field("string", required=True),
        "expiresAt": Field("datetime", required=True),
    },
    for_input=False,
    required=["userId", "token", "url", "expiresAt"],
)


@router.post(
    "/{user_id}/invitation",
    status_code=201,
    responses={201: json_response("The link, shown once", INVITATION_OUTPUT), **ERROR_RESPONSES},
)
async def invite_user(user_id: str, request: Request, principal: OptionalPrincipal) -> JSONBytes:
    """A one-time link with which an invited account sets its password (valid for
    `INVITATION_DAYS`; a new link replaces the last). 409 for an account that is not invited."""
    db = _db(request)

    def work() -> auth.IssuedInvitation:
        with db.transaction() as conn:
            return auth.issue_invitation(conn, principal, user_id)

    issued = await run_in_threadpool(work)
    body = {
        "userId": issued.user_id,
        "token": issued.token,
        "url": f"/accept?token={issued.token}",
        "expiresAt": format_datetime(issued.expires_at),
    }
    return JSONBytes(body, status_code=201)
