"""The audit trail: one row per change, written in the same transaction as the change."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, insert

from clientbook.access import Principal
from clientbook.db.tables import audit_logs
from clientbook.domain.ids import new_id
from clientbook.domain.timestamps import format_datetime, utcnow

Changes = dict[str, dict[str, Any]]


def _plain(value: Any) -> Any:
    return format_datetime(value) if isinstance(value, datetime) else value


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> Changes:
    """`{field: {from, to}}` for the fields of `after` whose value differs from `before`."""
    return {
        field: {"from": _plain(before.get(field)), "to": _plain(value)}
        for field, value in after.items()
        if before.get(field) != value
    }


def audit_row(
    principal: Principal,
    action: str,
    *,
    entity_type: str,
    entity_id: str | None,
    changes: Changes | None = None,
    reason: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "occurredAt": at or utcnow(),
        "actorType": principal.kind,
        "actorId": principal.id,
        "action": action,
        "entityType": entity_type,
        "entityId": entity_id,
        "changes": orjson.dumps(changes).decode() if changes else None,
        "reason": reason,
        "requestId": principal.request_id,
        "ip": principal.ip,
        "userAgent": principal.user_agent,
    }


def record(
    conn: Connection,
    principal: Principal,
    action: str,
    *,
    entity_type: str,
    entity_id: str | None,
    changes: Changes | None = None,
    reason: str | None = None,
) -> None:
    """Append one audit row inside the caller's transaction."""
    conn.execute(
        insert(audit_logs),
        [
            audit_row(
                principal,
                action,
                entity_type=entity_type,
                entity_id=entity_id,
                changes=changes,
                reason=reason,
            )
        ],
    )


def record_many(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Append prepared audit rows (bulk actions: one row per record, one statement)."""
    if rows:
        conn.execute(insert(audit_logs), rows)
