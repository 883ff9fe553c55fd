"""Customer notes (SPEC §3), pinned first. Not the customer's own `notes` attribute (a JSON
string on the record): these are separate rows, `shared` or staff-only `internal`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from clientbook.access import Principal
from clientbook.db.tables import customer_notes
from clientbook.domain.notes import validate_note
from clientbook.services.customer_items import (
    ItemKind,
    create_item,
    delete_item,
    get_item,
    get_item_to_change,
    update_item,
)

COLUMNS = (
    "id", "createdAt", "updatedAt", "customerId", "title", "content", "category", "isPinned",
    "visibility", "createdBy", "updatedBy",
)  # fmt: skip
NOTES = ItemKind(
    table=customer_notes,
    entity="note",
    label="Note",
    columns=COLUMNS,
    validate=validate_note,
    tracks_updated_by=True,
)

Note = dict[str, Any]


def present_note(row: Mapping[str, Any]) -> dict[str, Any]:
    return NOTES.present(row)


def add_note(
    conn: Connection, principal: Principal | None, customer_id: str, data: Mapping[str, Any]
) -> Note:
    return create_item(conn, NOTES, principal, customer_id, data)


def get_note(conn: Connection, principal: Principal | None, note_id: str) -> Note:
    return get_item(conn, NOTES, principal, note_id)


def get_note_to_change(conn: Connection, principal: Principal | None, note_id: str) -> Note:
    """A note this principal may edit (Forbidden for a customer's view of staff's note)."""
    return get_item_to_change(conn, NOTES, principal, note_id)


def update_note(
    conn: Connection, principal: Principal | None, note_id: str, data: Mapping[str, Any]
) -> Note:
    return update_item(conn, NOTES, principal, note_id, data)


def delete_note(conn: Connection, principal: Principal | None, note_id: str) -> None:
    delete_item(conn, NOTES, principal, note_id)
