"""`/admin/customers`: the customers table — filters, search, sorting, paging — and bulk actions.

The page's query string is a friendlier spelling of the REST list query (SPEC §7): `company=`
means the whole value (`company[eq]`), `assignedTo=none` the unassigned records, and `due=overdue|
today|week` the follow-up periods of the statistics. `api_params` turns it into native query
parameters, and `parse_list_query` + `services.customers.list_customers` do the rest, so every
filter, sort and cursor rule is the API's.

Counting matches is the one part of a page that grows with the table (a count over a filter
walks every matching index entry), so the total is counted only when asked for (`count=1`, the
"Count matches" link) or when there is no filter at all (one walk of the smallest index). Pages
move by keyset cursor, which costs the same on the last page as on the first.

`?fragment=rows` (or the header `X-Requested-With`, which `console.js` sends) answers only the
results region, for search-as-you-type.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse

from clientbook.access import Principal
from clientbook.domain.errors import BadQuery, ValidationFailed
from clientbook.query.fields import CUSTOMERS
from clientbook.query.native import parse_list_query
from clientbook.services import bulk_actions, exports, users
from clientbook.services import customers as customer_service
from clientbook.services.follow_up_due import due_params
from clientbook.web.console import labels
from clientbook.web.console.staff import StaffDep
from clientbook.web.forms import read_form, read_list, split_tags
from clientbook.web.i18n import gettext as _
from clientbook.web.session import Visitor, db_of
from clientbook.web.templating import PageRoute, redirect, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)

PATH: Final = "/admin/customers"
PAGE_SIZES: Final = ("25", "50", "100")
FILTERS: Final = (
    "status",
    "assignedTo",
    "company",
    "source",
    "customerType",
    "industry",
    "country",
    "tag",
)
# Free-text filters taken whole (a company name may hold a comma).
_WHOLE: Final = frozenset({"company", "industry", "country"})
# The page's own query parameters that links keep (the cursor and `count` are per page).
LIST_KEYS: Final = ("q", *FILTERS, "due", "sort", "limit")
# The parameters the filter form has an input for (a problem is marked next to it there).
FILTER_INPUTS: Final = ("q", *FILTERS, "due", "limit")
UNASSIGNED: Final = "none"
# Newest first by `$sequence` (the creation order), not `$createdAt`: every indexed column's
# index ends in `seq`, so an equality filter on any of them reads its own index backwards and
# stops after one page. SQLite, without statistics, would rather take the filter's index and
# sort every match by `createdAt` — all of them, on a filter that matches most of the table.
_DEFAULT_SORT: Final = "-$sequence"
# Follow-ups due: soonest first, read straight from the `nextFollowUpAt` range.
_DUE_SORT: Final = "nextFollowUpAt"
_RETURN_FIELD: Final = "return"


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    sort: str | None  # the sort field, when the column is sortable


def columns() -> list[Column]:
    """The table's columns in the page's language. The rep column is not sortable: it would
    sort by user id, not by name."""
    return [
        Column("name", _("Name"), "name"),
        Column("email", _("Email"), "email"),
        Column("company", _("Company"), "company"),
        Column("status", _("Status"), "status"),
        Column("assignedTo", _("Assigned rep"), None),
        Column("source", _("Source"), "source"),
        Column("country", _("Country"), "country"),
        Column("nextFollowUpAt", _("Next follow-up"), "nextFollowUpAt"),
        Column("lastContactAt", _("Last contact"), "lastContactAt"),
        Column("createdAt", _("Created"), "$sequence"),
    ]


# --- the page's query string -----------------------------------------------------------------


def page_values(params: Mapping[str, str] | Any) -> dict[str, str]:
    """The page's own parameters (first value of each, trimmed); anything else is ignored."""
    values = {key: str(params.get(key, "")).strip() for key in (*LIST_KEYS, "cursor", "count")}
    return {key: value for key, value in values.items() if value}


def is_filtered(values: Mapping[str, str]) -> bool:
    return any(values.get(key) for key in ("q", *FILTERS, "due"))


def current_sort(values: Mapping[str, str]) -> str:
    """The requested sort; none given: best match first for a search, the soonest follow-up
    first for the follow-ups due, otherwise newest first."""
    if values.get("sort"):
        return values["sort"]
    if values.get("q"):
        return ""
    return _DUE_SORT if values.get("due") else _DEFAULT_SORT


def api_params(values: Mapping[str, str], *, now: datetime | None = None) -> list[tuple[str, str]]:
    """The native list query (SPEC §7) for the page's parameters."""
    params: list[tuple[str, str]] = []
    for name in FILTERS:
        value = values.get(name)
        if not value:
            continue
        if name == "assignedTo" and value == UNASSIGNED:
            params.append(("assignedTo[isnull]", "true"))
        elif name in _WHOLE:
            params.append((f"{name}[eq]", value))
        else:
            params.append((name, value))
    if values.get("due"):
        params += due_params(values["due"], now=now)
    limit = values.get("limit") or PAGE_SIZES[0]
    if limit not in PAGE_SIZES:
        message = f"must be one of {', '.join(PAGE_SIZES)}"
        raise BadQuery(message, fields={"limit": message})
    counting = values.get("count") == "1" or not is_filtered(values)
    params += [
        ("q", values.get("q", "")),
        ("sort", current_sort(values)),
        ("limit", limit),
        ("cursor", values.get("cursor", "")),
        ("total", "true" if counting else "false"),
    ]
    return params


def _page_field(param: str) -> str:
    """The page's field for a problem found in an API parameter (`company[eq]` → company)."""
    name = param.split("[", 1)[0]
    if name == "nextFollowUpAt" or param == "status[ne]":
        return "due"
    if name in LIST_KEYS or name in ("cursor", "count"):
        return name
    return "q"


def list_url(values: Mapping[str, str], **changes: str | None) -> str:
    """This list with some parameters changed (None: removed); the cursor is dropped unless
    given, since a new filter or order starts from the first page."""
    kept = {key: values[key] for key in LIST_KEYS if values.get(key)}
    for key, value in changes.items():
        if value is None:
            kept.pop(key, None)
        else:
            kept[key] = value
    return PATH + ("?" + urlencode(kept) if kept else "")


def sort_state(values: Mapping[str, str], field: str) -> tuple[str | None, str]:
    """(aria-sort value or None, the link's sort) of a column: a click on the sorted column
    turns its direction, on another column sorts by it ascending."""
    sort = current_sort(values)
    if sort == field:
        return "ascending", "-" + field
    if sort == "-" + field:
        return "descending", field
    return None, field


# --- reading ---------------------------------------------------------------------------------


@dataclass
class Listing:
    rows: list[dict[str, Any]]
    total: int | None
    next_cursor: str | None
    prev_cursor: str | None
    errors: dict[str, str]


def read_listing(
    request: Request, principal: Principal, values: Mapping[str, str]
) -> tuple[Listing, list[dict[str, Any]]]:
    """The page of customers for `values` and the assignable reps (for the filter and the bulk
    assignment). A bad parameter is reported next to its filter, with an empty table."""
    with db_of(request).read() as conn:
        reps = users.list_staff(conn, principal)
        try:
            query = parse_list_query(CUSTOMERS, api_params(values))
        except BadQuery as exc:
            errors = {_page_field(key): message for key, message in exc.fields.items()}
            return Listing([], None, None, None, errors or {"q": exc.message}), reps
        page = customer_service.list_customers(conn, principal, query)
        rows = customer_service.present_customers(conn, page.rows, expand=("assignedTo",))
    return Listing(rows, page.total, page.next_cursor, page.prev_cursor, {}), reps


def _context(
    request: Request,
    visitor: Visitor,
    values: dict[str, str],
    *,
    selected: Collection[str] = (),
    **extra: Any,
) -> dict[str, Any]:
    """The page's context; `selected`: the ids of the rows to show ticked (a bulk form sent
    back with its problems keeps its selection)."""
    principal = visitor.require()
    listing, reps = read_listing(request, principal, values)
    chosen = set(selected)
    result = _bulk_result(request)
    return {
        "nav": "customers",
        "values": values,
        "listing": listing,
        "reps": reps,
        "columns": columns(),
        "statuses": labels.statuses(),
        "sources": labels.sources(),
        "types": labels.customer_types(),
        "due_windows": labels.due_windows(),
        # The default size is sent as "" (no `limit=` in the URL), like every unset filter.
        "page_size_options": [("" if s == PAGE_SIZES[0] else s, s) for s in PAGE_SIZES],
        "rep_options": [(rep["id"], rep["name"]) for rep in reps],
        "filters_open": any(values.get(key) for key in (*FILTERS, "due", "limit")),
        "sort": current_sort(values),
        "list_url": lambda **changes: list_url(values, **changes),
        "sort_state": lambda field: sort_state(values, field),
        "return_query": urlencode({k: values[k] for k in LIST_KEYS if values.get(k)}),
        "filtered": is_filtered(values),
        "link_problems": link_problems(values, listing.errors),
        "bulk_result": result,
        "bulk_errors": {},
        "bulk_values": {},
        "selected_ids": {row["$id"] for row in listing.rows if row["$id"] in chosen},
        **extra,
    }


def link_problems(values: Mapping[str, str], errors: Mapping[str, str]) -> list[dict[str, str]]:
    """The problems of parameters the filter form has no input for (`sort`, `cursor`, `count`,
    from a link): each with its reason and the list without it."""
    return [
        {"name": name, "message": message, "url": list_url(values, **{name: None})}
        for name, message in errors.items()
        if name not in FILTER_INPUTS
    ]


def _bulk_result(request: Request) -> dict[str, Any] | None:
    """The outcome of the bulk action just done (shown after its redirect)."""
    params = request.query_params
    action = params.get("done", "")
    matched, changed = params.get("matched", ""), params.get("changed", "")
    if action not in (*bulk_actions.ACTIONS, "export") or not (
        matched.isdigit() and changed.isdigit()
    ):
        return None
    return {"action": action, "matched": int(matched), "changed": int(changed)}


def _wants_fragment(request: Request) -> bool:
    return (
        request.query_params.get("fragment") == "rows"
        or request.headers.get("x-requested-with") is not None
    )


@router.get("/customers")
def customers_page(request: Request, visitor: StaffDep) -> Response:
    values = page_values(request.query_params)
    context = _context(request, visitor, values)
    status = 400 if context["listing"].errors else 200
    if _wants_fragment(request):
        return render(request, visitor, "console/customers_rows.html", context, status_code=status)
    return render(request, visitor, "console/customers.html", context, status_code=status)


# --- bulk actions ----------------------------------------------------------------------------


def _return_values(text: str) -> dict[str, str]:
    """The list the bulk form was posted from (its query string), to go back to."""
    return page_values(dict(parse_qsl(text[:4000].removeprefix("?"))))


def bulk_body(action: str, ids: list[str], form: Mapping[str, str]) -> dict[str, Any]:
    """The API's bulk body (api/customer_tools.py) from the bulk form: only the fields the
    chosen action takes; an empty reason is no reason, tags are a comma list."""
    data: dict[str, Any] = {"action": action, "ids": ids}
    for key in bulk_actions.ACTION_PARAMS.get(action, ()):
        value = form.get(key, "")
        if key == "tags":
            data[key] = split_tags(value)
        elif key == "reason":
            if value:
                data[key] = value
        else:
            data[key] = value or None
    return data


@router.post("/customers/bulk")
async def bulk_action(request: Request, visitor: StaffDep) -> Response:
    principal = visitor.require()
    form = await read_form(request)
    ids = await read_list(request, "ids")
    values = _return_values(form.get(_RETURN_FIELD, ""))
    action = form.get("action", "")
    db = db_of(request)
    if action == "export":
        return await _export(request, visitor, principal, ids, values)
    if action == "delete" and form.get("confirmed") != "1" and ids:
        context = {"nav": "customers", "ids": ids, "return_query": urlencode(values)}
        return render(request, visitor, "console/customers_confirm.html", context)
    data = bulk_body(action, ids, form)

    def work() -> bulk_actions.BulkResult:
        bulk = bulk_actions.parse_bulk_request(principal, data)
        with db.transaction() as conn:
            return bulk_actions.run_bulk_action(conn, principal, bulk)

    try:
        result = await run_in_threadpool(work)
    except ValidationFailed as exc:
        return await _bulk_failed(request, visitor, values, form, exc, ids)
    done = {"done": action, "matched": str(result.matched), "changed": str(result.changed)}
    kept = {key: values[key] for key in LIST_KEYS if values.get(key)}
    return redirect(PATH + "?" + urlencode({**kept, **done}))


async def _bulk_failed(
    request: Request,
    visitor: Visitor,
    values: dict[str, str],
    form: Mapping[str, str],
    exc: ValidationFailed,
    ids: list[str],
) -> Response:
    """The list again, with the bulk form's problems next to its fields and the rows it was
    sent for still ticked (422)."""
    errors = dict(exc.fields)
    if "ids" in errors:
        errors["ids"] = "Select at least one record"
    context = await run_in_threadpool(
        lambda: _context(
            request, visitor, values, selected=ids, bulk_errors=errors, bulk_values=dict(form)
        )
    )
    return render(request, visitor, "console/customers.html", context, status_code=422)


async def _export(
    request: Request,
    visitor: Visitor,
    principal: Principal,
    ids: list[str],
    values: dict[str, str],
) -> Response:
    """The selected records as a CSV file (the export of `services.exports`, audited there)."""
    if not ids:
        failure = ValidationFailed({"ids": "Select at least one record"})
        return await _bulk_failed(request, visitor, values, {"action": "export"}, failure, ids)
    plan = exports.plan_export(principal, [("ids", ",".join(ids))], fmt="csv")
    filename = plan.filename(datetime.now(UTC).date())
    return StreamingResponse(
        exports.stream_export(db_of(request), principal, plan),
        media_type=plan.media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
