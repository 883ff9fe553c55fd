"""Customer interactions (SPEC §3): calls, emails, meetings... Logging one whose `occurredAt`
is not in the future moves the customer's `lastContactAt` to the later of the two (the seed:
"Update lastContactAt when interactions are logged")."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, or_, update

from clientbook.access import Principal
from clientbook.db.tables import customer_interactions, customers
from clientbook.domain.interactions import validate_interaction
from clientbook.domain.timestamps import utcnow
from clientbook.services.customer_items import ItemKind, create_item, delete_item, get_item
from clientbook.services.customer_items import update_item as _update_item

COLUMNS = (
    "id", "createdAt", "updatedAt", "customerId", "type", "direction", "subject",
    "description", "occurredAt", "durationMinutes", "outcome", "visibility", "createdBy",
)  # fmt: skip
INTERACTIONS = ItemKind(
    table=customer_interactions,
    entity="interaction",
    label="Interaction",
    columns=COLUMNS,
    validate=validate_interaction,
    tracks_updated_by=False,
)

Interaction = dict[str, Any]


def present_interaction(row: Mapping[str, Any]) -> dict[str, Any]:
    return INTERACTIONS.present(row)


def _bump_last_contact(conn: Connection, customer_id: str, occurred_at: datetime) -> None:
    """`lastContactAt` becomes the later of itself and a past `occurredAt` (SPEC §3)."""
    now = utcnow()
    if occurred_at > now:
        return
    later = or_(customers.c.lastContactAt.is_(None), customers.c.lastContactAt < occurred_at)
    conn.execute(
        update(customers)
        .where(customers.c.id == customer_id, later)
        .values(lastContactAt=occurred_at, updatedAt=now, version=customers.c.version + 1)
    )


def log_interaction(
    conn: Connection, principal: Principal | None, customer_id: str, data: Mapping[str, Any]
) -> Interaction:
    """Log an interaction against a visible customer and move its `lastContactAt`."""
    row, _customer = create_item(conn, INTERACTIONS, principal, customer_id, data)
    _bump_last_contact(conn, customer_id, row["occurredAt"])
    return row


def get_interaction(conn: Connection, principal: Principal | None, item_id: str) -> Interaction:
    return get_item(conn, INTERACTIONS, principal, item_id)


def update_interaction(
    conn: Connection, principal: Principal | None, item_id: str, data: Mapping[str, Any]
) -> Interaction:
    row = _update_item(conn, INTERACTIONS, principal, item_id, data)
    if "occurredAt" in data:
        _bump_last_contact(conn, row["customerId"], row["occurredAt"])
    return row


def delete_interaction(conn: Connection, principal: Principal | None, item_id: str) -> None:
    delete_item(conn, INTERACTIONS, principal, item_id)
