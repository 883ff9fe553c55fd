"""The four collections of /v1 and the one service call behind each read and write.

`customers`, `customer_interactions` and `customer_notes` are the native API's records;
`users` is a read-only view of accounts (the seed reads `getRow(users, customer.userId)`).
Permissions are the services' business: every function here passes the principal on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection

from clientbook.access import Principal
from clientbook.appwrite.errors import (
    NO_SUCH_CUSTOMER,
    AppwriteError,
    argument_invalid,
    check_id,
)
from clientbook.appwrite.queries import CursorAt, Grammar, Parsed
from clientbook.domain.errors import NotFound, ValidationFailed
from clientbook.domain.ids import is_valid_id
from clientbook.query import fields
from clientbook.query.compiler import Page, find_cursor
from clientbook.query.model import Condition, Cursor, ListQuery, Op
from clientbook.services import customer_items
from clientbook.services import customers as customer_service
from clientbook.services import interactions as interaction_service
from clientbook.services import notes as note_service
from clientbook.services import users as user_service

Row = dict[str, Any]
Data = dict[str, Any]
Getter = Callable[[Connection, Principal | None, str], Row]
Lister = Callable[[Connection, Principal | None, ListQuery], Page]
Creator = Callable[[Connection, Principal | None, str | None, Data], Row]
Updater = Callable[[Connection, Principal | None, str, Data], Row]
Deleter = Callable[[Connection, Principal | None, str], None]
Owners = Callable[[Connection, Principal | None, Sequence[Row]], dict[str, str | None]]


@dataclass(frozen=True)
class Collection:
    """One collection: its query grammar, presenter, service calls and relationships."""

    id: str
    grammar: Grammar
    present: Callable[[Mapping[str, Any]], dict[str, Any]]
    get: Getter
    list: Lister
    owners: Owners
    # Relationship attribute → the collection it points to (for `select(['rel.*'])`).
    relations: Mapping[str, str] = field(default_factory=dict)
    create: Creator | None = None  # None: read-only
    update: Updater | None = None
    delete: Deleter | None = None

    def writable(self) -> tuple[Creator, Updater, Deleter]:
        if self.create is None or self.update is None or self.delete is None:
            raise argument_invalid(f"The `{self.id}` table is read-only on this server")
        return self.create, self.update, self.delete


def _grammar(
    resource: fields.Resource, columns: Sequence[str], relations: Mapping[str, str]
) -> Grammar:
    attributes = frozenset(c for c in columns if c not in ("id", "createdAt", "updatedAt"))
    return Grammar(resource, attributes, frozenset(relations))


def _by_ids(ids: Sequence[str]) -> ListQuery:
    """The rows with these ids, in one page (populating relations, finding owners)."""
    return ListQuery(
        where=Condition("$id", Op.IN, tuple(ids)), limit=max(1, len(ids)), with_total=False
    )


# --- customers -------------------------------------------------------------------------------


def _create_customer(
    conn: Connection, principal: Principal | None, record_id: str | None, data: Data
) -> Row:
    body = data if record_id is None else {**data, "$id": record_id}
    # The seed's createCustomer sends staff/system fields with the values clientbook would
    # store anyway (compat §3): the service accepts exactly those.
    return customer_service.create_customer(conn, principal, body, tolerate_unchanged=True)


def _update_customer(conn: Connection, principal: Principal | None, row_id: str, data: Data) -> Row:
    return customer_service.update_customer(conn, principal, row_id, data, tolerate_unchanged=True)


def _customer_owners(
    _conn: Connection, _principal: Principal | None, rows: Sequence[Row]
) -> dict[str, str | None]:
    return {row["id"]: row["userId"] for row in rows}


_USER_RELATIONS = {name: "users" for name in customer_service.RELATIONS}
CUSTOMERS = Collection(
    id="customers",
    grammar=_grammar(fields.CUSTOMERS, customer_service.PUBLIC_COLUMNS, _USER_RELATIONS),
    present=customer_service.present_customer,
    get=customer_service.get_customer,
    list=customer_service.list_customers,
    owners=_customer_owners,
    relations=_USER_RELATIONS,
    create=_create_customer,
    update=_update_customer,
    delete=customer_service.delete_customer,
)


# --- interactions and notes ------------------------------------------------------------------


def _parent_id(data: Data) -> str:
    """The `customerId` of a new item: a path segment in /api, an attribute here."""
    customer_id = data.pop("customerId", None)
    if customer_id is None:
        raise ValidationFailed({"customerId": "is required"})
    if isinstance(customer_id, dict):  # a populated relationship: its `$id`
        customer_id = customer_id.get("$id")
    if not isinstance(customer_id, str) or not is_valid_id(customer_id):
        raise ValidationFailed({"customerId": "must be a customer id"})
    return customer_id


def _item_creator(
    create: Callable[[Connection, Principal | None, str, Mapping[str, Any]], Row],
) -> Creator:
    def create_item(
        conn: Connection, principal: Principal | None, record_id: str | None, data: Data
    ) -> Row:
        data = dict(data)
        customer_id = _parent_id(data)
        body = data if record_id is None else {**data, "$id": record_id}
        try:
            return create(conn, principal, customer_id, body)
        except NotFound:
            # The parent is missing or not visible: a relationship to nothing (compat §6).
            raise ValidationFailed({"customerId": NO_SUCH_CUSTOMER}) from None

    return create_item


def _item_updater(get: Getter, update: Updater) -> Updater:
    def update_item(conn: Connection, principal: Principal | None, item_id: str, data: Data) -> Row:
        if "customerId" in data:
            # An item never moves to another customer; its own parent is accepted as sent.
            data = dict(data)
            sent = data.pop("customerId")
            if sent != get(conn, principal, item_id)["customerId"]:
                raise ValidationFailed({"customerId": "cannot be changed"})
        return update(conn, principal, item_id, data)

    return update_item


def _item_lister(kind: customer_items.ItemKind, resource: fields.Resource) -> Lister:
    def list_items(conn: Connection, principal: Principal | None, query: ListQuery) -> Page:
        return customer_items.list_items(conn, kind, principal, resource, query)

    return list_items


def _item_owners(
    conn: Connection, principal: Principal | None, rows: Sequence[Row]
) -> dict[str, str | None]:
    """An item's owner is its customer's: an internal item belongs to staff alone."""
    parents = sorted({row["customerId"] for row in rows})
    owner_of = {}
    if parents:
        page = customer_service.list_customers(conn, principal, _by_ids(parents))
        owner_of = {row["id"]: row["userId"] for row in page.rows}
    return {
        row["id"]: owner_of.get(row["customerId"]) if row["visibility"] == "shared" else None
        for row in rows
    }


_INTERACTION_RELATIONS = {"customerId": "customers", "createdBy": "users"}
INTERACTIONS = Collection(
    id="customer_interactions",
    grammar=_grammar(fields.INTERACTIONS, interaction_service.COLUMNS, _INTERACTION_RELATIONS),
    present=interaction_service.present_interaction,
    get=interaction_service.get_interaction,
    list=_item_lister(interaction_service.INTERACTIONS, fields.INTERACTIONS),
    owners=_item_owners,
    relations=_INTERACTION_RELATIONS,
    create=_item_creator(interaction_service.log_interaction),
    update=_item_updater(
        interaction_service.get_interaction, interaction_service.update_interaction
    ),
    delete=interaction_service.delete_interaction,
)

_NOTE_RELATIONS = {"customerId": "customers", "createdBy": "users", "updatedBy": "users"}
NOTES = Collection(
    id="customer_notes",
    grammar=_grammar(fields.NOTES, note_service.COLUMNS, _NOTE_RELATIONS),
    present=note_service.present_note,
    get=note_service.get_note,
    list=_item_lister(note_service.NOTES, fields.NOTES),
    owners=_item_owners,
    relations=_NOTE_RELATIONS,
    create=_item_creator(note_service.add_note),
    update=_item_updater(note_service.get_note, note_service.update_note),
    delete=note_service.delete_note,
)


# --- users (read-only) -----------------------------------------------------------------------


def _user_owners(
    _conn: Connection, _principal: Principal | None, rows: Sequence[Row]
) -> dict[str, str | None]:
    return {row["id"]: row["id"] for row in rows}


USERS = Collection(
    id="users",
    grammar=_grammar(fields.USERS, user_service.PUBLIC_COLUMNS, {}),
    present=user_service.present_user,
    get=user_service.read_visible_user,
    list=user_service.list_visible_users,
    owners=_user_owners,
)

COLLECTIONS: dict[str, Collection] = {c.id: c for c in (CUSTOMERS, INTERACTIONS, NOTES, USERS)}


# --- reading pages ---------------------------------------------------------------------------


def cursor_not_found(row_id: str) -> AppwriteError:
    return AppwriteError(
        400, "general_cursor_not_found", f'Cursor row with ID "{row_id}" could not be found.'
    )


def read_page(
    conn: Connection, collection: Collection, principal: Principal | None, parsed: Parsed
) -> Page:
    """One page of `parsed`, its row-id cursor placed where the principal can see it."""
    query = parsed.query
    if parsed.cursor is not None:
        query = replace(query, cursor=_place(conn, collection, principal, query, parsed.cursor))
    return collection.list(conn, principal, query)


def _place(
    conn: Connection,
    collection: Collection,
    principal: Principal | None,
    query: ListQuery,
    cursor: CursorAt,
) -> Cursor:
    try:
        # The service decides whether the row is visible: an unseen row is no cursor.
        collection.get(conn, principal, cursor.row_id)
    except NotFound:
        raise cursor_not_found(cursor.row_id) from None
    resource = collection.grammar.resource
    position = find_cursor(conn, resource, query, cursor.row_id, before=cursor.before)
    if position is None:
        raise cursor_not_found(cursor.row_id)
    return position


def related_rows(
    conn: Connection, collection: Collection, principal: Principal | None, ids: Sequence[str]
) -> list[Row]:
    """The rows of `collection` with these ids that the principal may read."""
    return collection.list(conn, principal, _by_ids(ids)).rows if ids else []


def record_id_of(value: object, face_id_key: str) -> str | None:
    """A create's id: `unique()` asks the server for one (compat §2)."""
    if value == "unique()":
        return None
    return check_id(value, name=face_id_key)
