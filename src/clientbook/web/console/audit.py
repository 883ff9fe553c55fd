"""`/admin/audit`: the audit log with filters (entity, actor, action, time range) and keyset
pages, newest first; a thin page over `services.audit_log` (the query is the API's own
`/api/audit-logs` query string, so every filter rule is the same)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import Response

from clientbook.domain import errors
from clientbook.services import audit_log as audit_service
from clientbook.services import users as user_service
from clientbook.web.console.staff import StaffDep
from clientbook.web.session import db_of
from clientbook.web.templating import PageRoute, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)

PAGE_SIZE: Final = 50
ENTITY_TYPES: Final = ("customer", "interaction", "note", "user", "api_key", "demo")
KNOWN_ACTIONS: Final = (
    "customer.created",
    "customer.updated",
    "customer.status_changed",
    "customer.assigned",
    "customer.tagged",
    "customer.deleted",
    "interaction.created",
    "interaction.updated",
    "interaction.deleted",
    "note.created",
    "note.updated",
    "note.deleted",
    "import.completed",
    "export.completed",
    "user.created",
    "user.signup",
    "user.login",
    "user.login_failed",
    "user.updated",
    "user.role_changed",
    "user.blocked",
    "user.unblocked",
    "user.password_changed",
    "user.deleted",
    "user.erased",
    "apikey.created",
    "apikey.revoked",
)
FILTERS: Final = ("entityType", "entityId", "actorId", "action", "from", "until")
# Where an entity's own page is.
ENTITY_PAGES: Final = {"customer": "/admin/customers/", "user": "/admin/users/"}


def _day(value: str, name: str, problems: dict[str, str]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        problems[name] = "must be a date (YYYY-MM-DD)"
        return None


def query_params(values: dict[str, str], cursor: str | None) -> list[tuple[str, str]]:
    """The form's filters as the audit log's query string; ValidationFailed names bad dates.
    The time range is whole days in UTC: from the start of `from` to the end of `until`."""
    problems: dict[str, str] = {}
    start = _day(values.get("from", ""), "from", problems)
    end = _day(values.get("until", ""), "until", problems)
    if problems:
        raise errors.ValidationFailed(problems)
    params = [(k, values[k]) for k in ("entityType", "entityId", "actorId", "action") if values[k]]
    if start is not None:
        params.append(("occurredAt[gte]", f"{start.isoformat()}T00:00:00Z"))
    if end is not None:
        params.append(("occurredAt[lt]", f"{(end + timedelta(days=1)).isoformat()}T00:00:00Z"))
    params += [("limit", str(PAGE_SIZE)), ("total", "false")]
    if cursor:
        params.append(("cursor", cursor))
    return params


def _form_field(name: str) -> str:
    """The form field a query error is about (`occurredAt[gte]` is the `from` date)."""
    if name.startswith("occurredAt"):
        return "until" if "lt" in name else "from"
    return name if name in FILTERS else "action"


@router.get("/audit")
def audit_page(request: Request, visitor: StaffDep) -> Response:
    principal = visitor.require()
    given = request.query_params
    values = {name: given.get(name, "").strip() for name in FILTERS}
    cursor = given.get("cursor") or None
    entries: list[dict[str, Any]] = []
    actors: dict[str, str] = {}
    page = None
    problems: dict[str, str] = {}
    try:
        params = query_params(values, cursor)
        with db_of(request).read() as conn:
            page = audit_service.list_audit_logs(conn, principal, params)
            entries = [audit_service.present_audit_entry(row) for row in page.rows]
            ids = {e["actorId"] for e in entries if e["actorType"] == "user" and e["actorId"]}
            if ids:
                actors = {
                    user["$id"]: user.get("email") or user.get("name") or user["$id"]
                    for user in user_service.present_users(conn, ids)
                }
    except (errors.ValidationFailed, errors.BadQuery) as exc:
        problems = {_form_field(k): v for k, v in exc.fields.items()} or {"action": exc.message}
    filters = [(k, v) for k, v in values.items() if v]
    context = {
        "nav": "audit",
        "values": values,
        "errors": problems,
        "entries": entries,
        "actors": actors,
        "entity_types": ENTITY_TYPES,
        "known_actions": KNOWN_ACTIONS,
        "entity_pages": ENTITY_PAGES,
        "filters": filters,
        "next_cursor": page.next_cursor if page else None,
        "prev_cursor": page.prev_cursor if page else None,
        "first_page": cursor is None,
    }
    return render(
        request, visitor, "console/audit.html", context, status_code=400 if problems else 200
    )
