"""Reading the audit trail (SPEC §3): staff list and filter it; nobody changes it.

Writing lives in `audit.py` (one row per change, inside the change's transaction); this module
only reads. There is deliberately no update or delete here: the one rewrite of audit rows is the
GDPR erase's pseudonymisation (`gdpr.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from sqlalchemy import Connection, select

from clientbook.access import Principal, require_staff
from clientbook.db.tables import audit_logs
from clientbook.domain.errors import NotFound
from clientbook.domain.timestamps import format_datetime
from clientbook.query.compiler import Page, run_list
from clientbook.query.fields import AUDIT_LOGS
from clientbook.query.native import parse_list_query

# Newest first; `seq` is insertion order, and every audit index ends in `seq`, so this order is
# read straight from whichever index the filters pick.
DEFAULT_SORT = "-$sequence"
# Who was where: another person's data in a row someone else may read (timeline, export).
ORIGIN_FIELDS = ("requestId", "ip", "userAgent")

AuditEntry = dict[str, Any]


def present_audit_entry(row: Mapping[str, Any]) -> AuditEntry:
    """The public object of an audit row: `changes` as an object, ISO datetimes."""
    changes = row["changes"]
    return {
        "$id": row["id"],
        "$sequence": row["seq"],
        "occurredAt": format_datetime(row["occurredAt"]),
        "actorType": row["actorType"],
        "actorId": row["actorId"],
        "action": row["action"],
        "entityType": row["entityType"],
        "entityId": row["entityId"],
        "changes": orjson.loads(changes) if changes else None,
        "reason": row["reason"],
        "requestId": row["requestId"],
        "ip": row["ip"],
        "userAgent": row["userAgent"],
    }


def without_origin(entry: AuditEntry) -> AuditEntry:
    """An entry with its request origin (ip, user agent, request id) left out."""
    return {key: value for key, value in entry.items() if key not in ORIGIN_FIELDS}


def list_audit_logs(
    conn: Connection, principal: Principal | None, params: Iterable[tuple[str, str]]
) -> Page:
    """One page of the audit log (staff only), newest first unless `sort` says otherwise.

    Filters are the native query string's: `entityType`, `entityId` (with `entityType`),
    `actorId`, `action` (a comma list means any of), `occurredAt[gte]`, `occurredAt[lt]`, ...
    """
    require_staff(principal)
    params = list(params)
    if not any(key == "sort" for key, _ in params):
        params.append(("sort", DEFAULT_SORT))
    return run_list(conn, AUDIT_LOGS, parse_list_query(AUDIT_LOGS, params))


def get_audit_entry(conn: Connection, principal: Principal | None, entry_id: str) -> AuditEntry:
    """One audit row by `$id` (staff only)."""
    require_staff(principal)
    row = conn.execute(select(audit_logs).where(audit_logs.c.id == entry_id)).first()
    if row is None:
        raise NotFound("Audit entry not found")
    return dict(row._mapping)
