"""Customer interactions (SPEC §3): calls, emails, meetings... Logging one whose `occurredAt`
is not in the future moves the customer's `lastContactAt` to the later of the two (the seed:
"Update lastContactAt when interactions are logged")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from clientbook.access import Principal, require_authenticated
from clientbook.db.tables import customer_interactions
from clientbook.domain.interactions import validate_interaction
from clientbook.services import customers as customer_service
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


def log_interaction(
    conn: Connection, principal: Principal | None, customer_id: str, data: Mapping[str, Any]
) -> Interaction:
    """Log an interaction against a visible customer and move its `lastContactAt`."""
    row = create_item(conn, INTERACTIONS, principal, customer_id, data)
    customer_service.note_contact(
        conn, require_authenticated(principal), customer_id, row["occurredAt"]
    )
    return row


def get_interaction(conn: Connection, principal: Principal | None, item_id: str) -> Interaction:
    return get_item(conn, INTERACTIONS, principal, item_id)


def update_interaction(
    conn: Connection, principal: Principal | None, item_id: str, data: Mapping[str, Any]
) -> Interaction:
    row = _update_item(conn, INTERACTIONS, principal, item_id, data)
    if "occurredAt" in data:
        customer_service.note_contact(
            conn, require_authenticated(principal), row["customerId"], row["occurredAt"]
        )
    return row


def delete_interaction(conn: Connection, principal: Principal | None, item_id: str) -> None:
    delete_item(conn, INTERACTIONS, principal, item_id)
