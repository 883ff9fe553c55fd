"""Staff tools over the whole customer table (SPEC §6, §9): bulk actions, statistics, duplicates.

    POST /api/customers/bulk         status / assign / unassign / tag / untag / delete / export
    GET  /api/customers/stats        counts, revenue, follow-ups due, new records per month
    GET  /api/customers/duplicates   groups sharing an email, a phone, or a name at one company

Thin routes over services.bulk_actions, services.stats and services.duplicates, which check
that the caller is staff. This router is included before the customers router, whose
`/api/customers/{customer_id}` would otherwise take `stats` and `duplicates` for ids. Every
route runs in the thread pool: on a million records statistics take a few hundred milliseconds
and a bulk write up to seconds, which must not stall the event loop (PERFORMANCE.md).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from clientbook.access import Principal
from clientbook.api.deps import get_principal
from clientbook.api.http import JSONBytes, json_object
from clientbook.api.query_params import CHECKED_QUERY
from clientbook.api.schemas import CUSTOMER_OUTPUT, ERROR_RESPONSES, json_response
from clientbook.api.transfer import export_response
from clientbook.services import bulk_actions, duplicates, exports, stats
from clientbook.services.runtime import Database

router = APIRouter(prefix="/api/customers", tags=["customer tools"], dependencies=CHECKED_QUERY)


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


# --- bulk ------------------------------------------------------------------------------------

_IDS = {"type": "array", "items": {"type": "string"}, "maxItems": bulk_actions.MAX_IDS}
BULK_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["action"],
    "additionalProperties": False,
    "properties": {
        "action": {
            "type": "string",
            "enum": list(bulk_actions.ACTIONS),
            "description": "`export` answers the export file itself (as GET "
            "/api/customers/export) instead of counts",
        },
        "ids": {**_IDS, "description": "the records to act on (exactly one of ids and filter)"},
        "filter": {
            "type": "string",
            "description": "a native list query string, e.g. `status=lead&country=Malaysia` "
            f"(`q` allowed; no sort/paging); at most {bulk_actions.MAX_FILTER_MATCHES} matches",
        },
        "status": {"type": "string", "description": "action `status`: the new status"},
        "reason": {"type": "string", "description": "action `status`: why (optional)"},
        "assignedTo": {"type": "string", "description": "action `assign`: an active staff id"},
        "tags": {
            "type": "array",
            "items": {"type": "string", "maxLength": 50},
            "description": "actions `tag` / `untag` (case-insensitive)",
        },
        "format": {
            "type": "string",
            "enum": list(exports.FORMAT_NAMES),
            "description": "action `export`: the file's format (default json; excel = xlsx)",
        },
        "dryRun": {
            "type": "boolean",
            "description": "count what would change, write nothing (not with `export`)",
        },
    },
}
BULK_RESULT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["action", "matched", "changed", "dryRun"],
    "properties": {
        "action": {"type": "string"},
        "matched": {"type": "integer", "description": "records the ids or filter selected"},
        "changed": {"type": "integer", "description": "records changed (one audit row each)"},
        "dryRun": {"type": "boolean"},
    },
}


@router.post(
    "/bulk",
    responses={
        200: {
            "description": "What changed (or would); for `export`, the file, streamed",
            "content": {
                "application/json": {"schema": BULK_RESULT_SCHEMA},
                **{
                    media.split(";")[0]: {"schema": {"type": "string", "format": "binary"}}
                    for media in exports.MEDIA_TYPES.values()
                    if not media.startswith("application/json")
                },
            },
        },
        **ERROR_RESPONSES,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": BULK_BODY_SCHEMA}},
        }
    },
)
async def bulk_action(
    request: Request, principal: Principal | None = Depends(get_principal)
) -> Response:
    """Apply one action to many records (staff), all or nothing, one audit row per change.
    Unknown ids are a 404 naming them; a record that cannot take the change is a 422 naming
    it; in both cases nothing is changed. `export` answers the export file of the records."""
    data = await json_object(request)
    db = _db(request)

    def work() -> dict[str, Any] | exports.ExportPlan:
        bulk = bulk_actions.parse_bulk_request(principal, data)
        if bulk.action == "export":
            with db.read() as conn:
                return bulk_actions.plan_bulk_export(conn, principal, bulk)
        # A dry run reads on a read-only connection: it cannot write, and does not hold the
        # single SQLite writer while it counts.
        with db.read() if bulk.dry_run else db.transaction() as conn:
            return bulk_actions.run_bulk_action(conn, principal, bulk).as_json()

    result = await run_in_threadpool(work)
    if isinstance(result, exports.ExportPlan):
        return export_response(db, principal, result)
    return JSONBytes(result)


# --- statistics ------------------------------------------------------------------------------


def _counts(value: dict[str, Any]) -> dict[str, Any]:
    item = {"type": "object", "properties": {"value": value, "count": {"type": "integer"}}}
    return {"type": "array", "items": item}


_TEXT_OR_NULL = {"type": ["string", "null"]}
STATS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "total": {"type": "integer"},
        "byStatus": _counts(_TEXT_OR_NULL),
        "byCustomerType": _counts(_TEXT_OR_NULL),
        "bySource": _counts(_TEXT_OR_NULL),
        "byAssignedTo": {
            **_counts(_TEXT_OR_NULL),
            "description": "largest first; each item also has the rep's `name` (null value: "
            "unassigned)",
        },
        "byCountry": {**_counts(_TEXT_OR_NULL), "description": "the 50 largest, as stored"},
        "otherCountries": {
            "type": "object",
            "properties": {"groups": {"type": "integer"}, "count": {"type": "integer"}},
        },
        "revenue": {
            "type": "object",
            "properties": {
                "total": {"type": "number"},
                "average": {"type": "number"},
                "customersWithRevenue": {"type": "integer"},
            },
        },
        "followUps": {
            "type": "object",
            "description": "records not archived: due before now, from now to the end of today, "
            "from now to the end of Sunday (in `tz`)",
            "properties": {
                "overdue": {"type": "integer"},
                "dueToday": {"type": "integer"},
                "dueThisWeek": {"type": "integer"},
            },
        },
        "newPerMonth": {
            "type": "array",
            "description": "the last 12 calendar months in `tz`, oldest first, zero-filled",
            "items": {
                "type": "object",
                "properties": {"month": {"type": "string"}, "count": {"type": "integer"}},
            },
        },
        "timezone": {"type": "string"},
        "generatedAt": {"type": "string", "format": "date-time"},
    },
}


@router.get("/stats", responses={200: json_response("Statistics", STATS_SCHEMA), **ERROR_RESPONSES})
async def customer_stats(
    request: Request,
    principal: Principal | None = Depends(get_principal),
    tz: str | None = Query(
        None, description="IANA time zone for today / this week / months (default UTC)"
    ),
) -> JSONBytes:
    """Counts by status, type, source, rep and country; revenue; follow-ups; new per month."""
    db = _db(request)

    def work() -> dict[str, Any]:
        with db.read() as conn:
            return stats.customer_stats(conn, principal, tz=tz)

    return JSONBytes(await run_in_threadpool(work))


# --- duplicates ------------------------------------------------------------------------------

DUPLICATES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["groups", "cursor"],
    "properties": {
        "groups": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "reason": {"type": "string", "enum": list(duplicates.REASONS)},
                    "key": {"type": "string", "description": "the shared normalised value"},
                    "count": {"type": "integer", "description": "records in the group"},
                    "customers": {
                        "type": "array",
                        "items": CUSTOMER_OUTPUT,
                        "description": f"the oldest {duplicates.MEMBERS_PER_GROUP} members",
                    },
                },
            },
        },
        "cursor": {
            **_TEXT_OR_NULL,
            "description": "pass as `cursor` for the next page; null when there is none. A page "
            "reads a bounded part of the indexes, so it may hold fewer groups than `limit` (even "
            "none) and still have a cursor",
        },
    },
}


@router.get(
    "/duplicates",
    responses={200: json_response("Duplicate groups", DUPLICATES_SCHEMA), **ERROR_RESPONSES},
)
async def find_duplicates(
    request: Request,
    principal: Principal | None = Depends(get_principal),
    reason: str | None = Query(None, description="email, phone or name_company (default all)"),
    limit: str | None = Query(
        None, description=f"groups per page, 1-{duplicates.MAX_LIMIT} (default 25)"
    ),
    cursor: str | None = Query(None, description="the `cursor` of the previous page"),
) -> JSONBytes:
    """Groups of records sharing a normalised email or phone, or a near-identical name within
    one company; paginated by group."""
    db = _db(request)

    def work() -> dict[str, Any]:
        with db.read() as conn:
            return duplicates.find_duplicates(
                conn, principal, reason=reason, limit=limit, cursor=cursor
            )

    return JSONBytes(await run_in_threadpool(work))
