"""`/admin/users` and `/admin/api-keys`: staff manage accounts and integrators' keys.

Thin pages over `services.users` and `services.auth` (the calls of `api/users.py` and of the
CLI's `apikeys`). The service's rules — the last active administrator stays, staff cannot block
or demote themselves, an account that still owns a record cannot be deleted — come back as
errors and are shown on the page, next to the field they name.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from clientbook.domain import errors
from clientbook.domain.enums import USER_ROLES, USER_STATUSES
from clientbook.services import auth
from clientbook.services import users as user_service
from clientbook.web.console.staff import StaffDep
from clientbook.web.forms import read_form
from clientbook.web.session import Visitor, db_of
from clientbook.web.templating import PageRoute, redirect, render, status_of

router = APIRouter(route_class=PageRoute, include_in_schema=False)

PAGE_SIZE: Final = 50
USER_FILTERS: Final = ("role", "status", "email")

# --- users ---------------------------------------------------------------------------------------


def _users_page(
    request: Request,
    visitor: Visitor,
    *,
    new_values: dict[str, Any] | None = None,
    new_errors: dict[str, str] | None = None,
    failure: str | None = None,
    status_code: int = 200,
) -> Response:
    principal = visitor.require()
    given = request.query_params
    filters = [(k, given[k].strip()) for k in USER_FILTERS if given.get(k, "").strip()]
    cursor = given.get("cursor") or None
    # No count: with a million customers there are a million accounts (each record has one).
    params = [*filters, ("limit", str(PAGE_SIZE)), ("total", "false")]
    if cursor:
        params.append(("cursor", cursor))
    with db_of(request).read() as conn:
        page = user_service.list_user_page(conn, principal, params)
    context = {
        "nav": "users",
        "users": [user_service.present_user(row) for row in page.rows],
        "filters": filters,
        "filter_values": dict(filters),
        "next_cursor": page.next_cursor,
        "prev_cursor": page.prev_cursor,
        "first_page": cursor is None,
        "roles": USER_ROLES,
        "statuses": USER_STATUSES,
        "values": new_values or {"role": "user"},
        "errors": new_errors or {},
        "failure": failure,
        "me": principal.user_id,
    }
    return render(request, visitor, "console/users.html", context, status_code=status_code)


@router.get("/users")
def users_page(request: Request, visitor: StaffDep) -> Response:
    return _users_page(request, visitor)


@router.post("/users")
async def create_user(request: Request, visitor: StaffDep) -> Response:
    """Create an account (with a password) or invite one (without)."""
    form = await read_form(request)
    data: dict[str, Any] = {
        "email": form.get("email") or None,
        "name": form.get("name", ""),
        "role": form.get("role") or "user",
    }
    if form.get("password"):
        data["password"] = form["password"]
    try:
        user = await run_in_threadpool(
            user_service.create_or_invite, db_of(request), visitor.require(), data
        )
    except (errors.ValidationFailed, errors.Conflict) as exc:
        values = {k: form.get(k, "") for k in ("email", "name", "role")}
        problems, status = exc.fields or {"email": exc.message}, status_of(exc)
        return await run_in_threadpool(
            lambda: _users_page(
                request, visitor, new_values=values, new_errors=problems, status_code=status
            )
        )
    notice = "Account created" if user["status"] == "active" else "Account invited"
    return redirect(f"/admin/users/{user['id']}", notice=notice)


def _user_page(
    request: Request,
    visitor: Visitor,
    user_id: str,
    *,
    values: dict[str, Any] | None = None,
    form_errors: dict[str, str] | None = None,
    failure: str | None = None,
    invitation_url: str | None = None,
    status_code: int = 200,
) -> Response:
    principal = visitor.require()
    with db_of(request).read() as conn:
        user = user_service.read_user(conn, principal, user_id)
        record_id = user_service.owned_customer_id(conn, user_id)
    shown = user_service.present_user(user)
    context = {
        "nav": "users",
        "user": shown,
        "record_id": record_id,
        "values": values or {k: shown.get(k) or "" for k in ("name", "role", "status")},
        "errors": form_errors or {},
        "failure": failure,
        "roles": USER_ROLES,
        "is_me": principal.user_id == user_id,
        "invitation_url": invitation_url,
    }
    return render(request, visitor, "console/users_edit.html", context, status_code=status_code)


@router.get("/users/{user_id}")
def user_page(request: Request, visitor: StaffDep, user_id: str) -> Response:
    return _user_page(request, visitor, user_id)


@router.post("/users/{user_id}")
async def update_user(request: Request, visitor: StaffDep, user_id: str) -> Response:
    """Change the name, role or status (block / unblock) of an account."""
    form = await read_form(request)
    data: dict[str, Any] = {k: form[k] for k in ("name", "role", "status") if k in form}
    principal = visitor.require()

    def work() -> None:
        with db_of(request).transaction() as conn:
            user_service.update_user(conn, principal, user_id, data)

    try:
        await run_in_threadpool(work)
    except (errors.ValidationFailed, errors.Conflict, errors.Forbidden) as exc:
        failure, problems, status = exc.message, exc.fields, status_of(exc)
        return await run_in_threadpool(
            lambda: _user_page(
                request,
                visitor,
                user_id,
                values=dict(data),
                form_errors=problems,
                failure=failure,
                status_code=status,
            )
        )
    return redirect(f"/admin/users/{user_id}", notice="Changes saved")


@router.post("/users/{user_id}/invitation")
def invite_user(request: Request, visitor: StaffDep, user_id: str) -> Response:
    """A one-time link for an invited account, shown on this answer only (never in a URL)."""
    principal = visitor.require()
    try:
        with db_of(request).transaction() as conn:
            issued = auth.issue_invitation(conn, principal, user_id)
    except errors.Conflict as exc:
        return _user_page(request, visitor, user_id, failure=exc.message, status_code=409)
    url = f"{str(request.base_url).rstrip('/')}/accept?token={issued.token}"
    return _user_page(request, visitor, user_id, invitation_url=url)


@router.post("/users/{user_id}/delete")
def delete_user(request: Request, visitor: StaffDep, user_id: str) -> Response:
    principal = visitor.require()
    try:
        with db_of(request).transaction() as conn:
            user_service.delete_user(conn, principal, user_id)
    except (errors.Conflict, errors.Forbidden) as exc:
        return _user_page(
            request, visitor, user_id, failure=exc.message, status_code=status_of(exc)
        )
    return redirect("/admin/users", notice="Account deleted")


# --- API keys ------------------------------------------------------------------------------------


def _keys_page(
    request: Request,
    visitor: Visitor,
    *,
    values: dict[str, Any] | None = None,
    form_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    with db_of(request).read() as conn:
        keys = [auth.present_api_key(k) for k in auth.list_api_keys(conn, visitor.require())]
    keys.reverse()  # newest first
    context = {
        "nav": "api-keys",
        "keys": keys,
        "values": values or {},
        "errors": form_errors or {},
    }
    return render(request, visitor, "console/api_keys.html", context, status_code=status_code)


@router.get("/api-keys")
def api_keys_page(request: Request, visitor: StaffDep) -> Response:
    return _keys_page(request, visitor)


@router.post("/api-keys")
async def create_api_key(request: Request, visitor: StaffDep) -> Response:
    """Issue a key and show its secret on this answer, the only time it is ever shown (it is
    not put in a redirect's URL, where it would stay in the history)."""
    form = await read_form(request)
    name = form.get("name", "")
    principal = visitor.require()

    def work() -> auth.IssuedApiKey:
        with db_of(request).transaction() as conn:
            return auth.create_api_key(conn, principal, name=name)

    try:
        issued = await run_in_threadpool(work)
    except errors.ValidationFailed as exc:
        problems = exc.fields
        return await run_in_threadpool(
            lambda: _keys_page(
                request, visitor, values={"name": name}, form_errors=problems, status_code=422
            )
        )
    context = {
        "nav": "api-keys",
        "key": auth.present_api_key(issued.key),
        "secret": issued.secret,
    }
    return render(request, visitor, "console/api_keys_created.html", context)


@router.post("/api-keys/{key_id}/revoke")
def revoke_api_key(request: Request, visitor: StaffDep, key_id: str) -> Response:
    with db_of(request).transaction() as conn:
        auth.revoke_api_key(conn, visitor.require(), key_id)
    return redirect("/admin/api-keys", notice="API key revoked")
