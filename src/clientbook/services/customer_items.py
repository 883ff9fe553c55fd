"""What interactions and notes share (SPEC §5): both hang off a customer, both have a
`visibility`, and the rules for who sees and changes them are the same.

* Staff see and manage every item, `shared` and `internal`.
* An owner sees the `shared` items of their own record (internal ones are simply absent), and
  creates, edits and deletes only the `shared` items they wrote themselves; asking for an
  `internal` one is 403.
* Anyone else gets 404: the customer is not visible to them at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import Connection, Table, delete, insert, select, update

from clientbook.access import Principal, forbid, require_authenticated, system_fields_refused
from clientbook.db.tables import customers
from clientbook.domain.errors import Forbidden, NotFound, ValidationFailed
from clientbook.domain.ids import is_valid_id, new_id
from clientbook.domain.timestamps import utcnow
from clientbook.query.compiler import Page, run_list
from clientbook.query.fields import Resource
from clientbook.query.model import ListQuery
from clientbook.services import audit
from clientbook.services import customers as customer_service
from clientbook.services.records import Presenter, unique_conflicts

Item = dict[str, Any]


@dataclass(frozen=True)
class ItemKind:
    """One kind of customer item: its table, validation, public columns and audit names."""

    table: Table
    entity: str  # "interaction" | "note"
    label: str  # for messages: "Interaction" | "Note"
    columns: tuple[str, ...]
    validate: Callable[..., dict[str, Any]]
    tracks_updated_by: bool

    @cached_property
    def _presenter(self) -> Presenter:
        return Presenter(self.table, self.columns)

    def present(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return self._presenter(row)


def _assert_can_send(kind: ItemKind, principal: Principal, data: Mapping[str, Any]) -> None:
    """Forbidden naming every field of `data` this principal may not send, all at once
    (docs/design.md): the system's, and an owner's `visibility: internal` (SPEC §12)."""
    refused = system_fields_refused(data)
    if not principal.is_staff and _visibility_sent(kind, data) == "internal":
        refused["visibility"] = "only staff may use internal"
    forbid(refused)


def _visibility_sent(kind: ItemKind, data: Mapping[str, Any]) -> Any:
    """The `visibility` sent, cleaned as validation cleans it; None when absent or invalid
    (validation then names it)."""
    if "visibility" not in data:
        return None
    try:
        return kind.validate({"visibility": data["visibility"]}, current={}).get("visibility")
    except ValidationFailed:
        return None


def visible_clause(kind: ItemKind, principal: Principal) -> Any:
    """The items this principal may read (owners: shared items of their own record)."""
    table = kind.table
    if principal.is_staff:
        return None
    own_records = select(customers.c.id).where(customers.c.userId == principal.id)
    return table.c.customerId.in_(own_records) & (table.c.visibility == "shared")


def get_item(conn: Connection, kind: ItemKind, principal: Principal | None, item_id: str) -> Item:
    principal = require_authenticated(principal)
    query = select(kind.table).where(kind.table.c.id == item_id)
    clause = visible_clause(kind, principal)
    if clause is not None:
        query = query.where(clause)
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"{kind.label} not found")
    return dict(row._mapping)


def list_items(
    conn: Connection,
    kind: ItemKind,
    principal: Principal | None,
    resource: Resource,
    query: ListQuery,
) -> Page:
    """A page of the items this principal may read, across customers (the Appwrite face's
    lists: the customer is a filter there, not a path). `resource` is `kind`'s query fields."""
    principal = require_authenticated(principal)
    return run_list(conn, resource, query, scope=visible_clause(kind, principal))


def _assert_can_change(kind: ItemKind, principal: Principal, item: Item) -> None:
    if not principal.is_staff and item["createdBy"] != principal.id:
        raise Forbidden(f"You can only change {kind.entity}s you wrote yourself")


def get_item_to_change(
    conn: Connection, kind: ItemKind, principal: Principal | None, item_id: str
) -> Item:
    """An item this principal may change: NotFound if unseen, Forbidden if only readable (an
    owner's view of an item staff wrote). An edit form asks this before it is shown."""
    principal = require_authenticated(principal)
    current = get_item(conn, kind, principal, item_id)
    _assert_can_change(kind, principal, current)
    return current


def create_item(
    conn: Connection,
    kind: ItemKind,
    principal: Principal | None,
    customer_id: str,
    data: Mapping[str, Any],
) -> Item:
    """Insert an item for a visible customer (NotFound for another's)."""
    principal = require_authenticated(principal)
    customer_service.get_customer(conn, principal, customer_id)
    _assert_can_send(kind, principal, data)
    data = dict(data)
    item_id = data.pop("$id", None)
    if item_id is not None and (not isinstance(item_id, str) or not is_valid_id(item_id)):
        raise ValidationFailed({"$id": "1-36 characters of a-z A-Z 0-9 . _ -"})
    values = kind.validate(data)
    now = utcnow()
    row = {
        **values,
        "id": item_id or new_id(),
        "customerId": customer_id,
        "createdAt": now,
        "updatedAt": now,
        "createdBy": principal.user_id,
    }
    if kind.tracks_updated_by:
        row["updatedBy"] = None
    taken = ("$id", "This id is already used")
    with unique_conflicts({f"{kind.table.name}.id": taken, f"uq_{kind.table.name}_id": taken}):
        conn.execute(insert(kind.table), [row])
    audit.record(
        conn,
        principal,
        f"{kind.entity}.created",
        entity_type=kind.entity,
        entity_id=row["id"],
        changes={"customerId": {"from": None, "to": customer_id}, **audit.diff({}, values)},
    )
    return get_item(conn, kind, principal, row["id"])


def update_item(
    conn: Connection,
    kind: ItemKind,
    principal: Principal | None,
    item_id: str,
    data: Mapping[str, Any],
) -> Item:
    principal = require_authenticated(principal)
    current = get_item_to_change(conn, kind, principal, item_id)
    _assert_can_send(kind, principal, data)
    values = kind.validate(data, current=current)
    changed = {k: v for k, v in values.items() if current.get(k) != v}
    if not changed:
        return current
    extra = {"updatedBy": principal.user_id} if kind.tracks_updated_by else {}
    conn.execute(
        update(kind.table)
        .where(kind.table.c.id == item_id)
        .values(**changed, **extra, updatedAt=utcnow())
    )
    audit.record(
        conn,
        principal,
        f"{kind.entity}.updated",
        entity_type=kind.entity,
        entity_id=item_id,
        changes=audit.diff(current, changed),
    )
    return get_item(conn, kind, principal, item_id)


def delete_item(
    conn: Connection, kind: ItemKind, principal: Principal | None, item_id: str
) -> None:
    principal = require_authenticated(principal)
    current = get_item_to_change(conn, kind, principal, item_id)
    conn.execute(delete(kind.table).where(kind.table.c.id == item_id))
    audit.record(
        conn,
        principal,
        f"{kind.entity}.deleted",
        entity_type=kind.entity,
        entity_id=item_id,
        changes={"customerId": {"from": current["customerId"], "to": None}},
    )
