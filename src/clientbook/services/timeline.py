"""Reading a customer's history (SPEC §5, §9): its interactions, its notes, and the timeline
that merges both with the record's own audit events.

What a principal sees is a query filter, as everywhere: staff see every item; the owner sees the
`shared` items of their own record; anyone else is told the customer does not exist (404).

The timeline's events are the audit rows of the customer record itself (created, updated,
status changed with its reason, assigned, tagged, contacted). The owner sees those too, since
their record's history is theirs and they can read every field of the record anyway, but without
the request origin (ip, user agent, request id) of whoever acted: that is the actor's data, not
theirs. Events of notes and interactions are never in the timeline, so an internal item cannot
surface through its history; the items themselves appear as they are now.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Column, ColumnElement, Connection, Table, and_, func, or_, select

from clientbook.access import Principal, require_authenticated
from clientbook.db.tables import audit_logs, customer_interactions, customer_notes
from clientbook.domain.errors import BadQuery
from clientbook.domain.timestamps import format_datetime
from clientbook.query import cursor as cursors
from clientbook.query.compiler import Page, run_list
from clientbook.query.fields import INTERACTIONS, NOTES, Kind, Resource
from clientbook.query.model import DEFAULT_LIMIT, MAX_LIMIT, Condition, Cursor, Group, Op
from clientbook.query.native import parse_list_query
from clientbook.query.ordering import Key, Ordering
from clientbook.services import customers as customer_service
from clientbook.services.audit_log import present_audit_entry, without_origin
from clientbook.services.interactions import present_interaction
from clientbook.services.notes import present_note

TimelineKind = Literal["interaction", "note", "event"]

# Newest first (interactions by when they happened, ties in creation order); notes pinned first,
# then by creation, newest first: `seq` is creation order, and unlike `$createdAt` it has no ties
# within a millisecond. Both are read within one customer's rows (the `customerId` indexes).
INTERACTIONS_SORT = "-occurredAt"
NOTES_SORT = "-isPinned,-$sequence"


# --- interactions and notes ------------------------------------------------------------------


def _item_scope(principal: Principal, customer_id: str) -> Group:
    """One customer's items, and for a non-staff reader only the shared ones."""
    items: tuple[Condition, ...] = (Condition("customerId", Op.EQ, customer_id),)
    if not principal.is_staff:
        items += (Condition("visibility", Op.EQ, "shared"),)
    return Group("and", items)


def _list_items(
    conn: Connection,
    principal: Principal | None,
    customer_id: str,
    params: Iterable[tuple[str, str]],
    *,
    resource: Resource,
    default_sort: str,
) -> Page:
    principal = require_authenticated(principal)
    # Raises NotFound for a record the principal may not see: its items do not exist for them.
    customer_service.get_customer(conn, principal, customer_id)
    params = list(params)
    if not any(key == "sort" for key, _ in params):
        params.append(("sort", default_sort))
    query = parse_list_query(resource, params)
    return run_list(conn, resource, query, scope=_item_scope(principal, customer_id))


def list_interactions(
    conn: Connection,
    principal: Principal | None,
    customer_id: str,
    params: Iterable[tuple[str, str]] = (),
) -> Page:
    """A page of a customer's interactions, newest `occurredAt` first (native query string:
    `limit`, `cursor`, `total`, `sort`, filters such as `type=call,email`)."""
    return _list_items(
        conn, principal, customer_id, params, resource=INTERACTIONS, default_sort=INTERACTIONS_SORT
    )


def list_notes(
    conn: Connection,
    principal: Principal | None,
    customer_id: str,
    params: Iterable[tuple[str, str]] = (),
) -> Page:
    """A page of a customer's notes, pinned first, then newest first."""
    return _list_items(
        conn, principal, customer_id, params, resource=NOTES, default_sort=NOTES_SORT
    )


# --- the timeline ----------------------------------------------------------------------------

# Kinds as sort values: at the same millisecond an interaction comes before a note before an
# event (descending), so that the order is total together with each source's `seq`.
KIND_RANK: dict[TimelineKind, int] = {"interaction": 2, "note": 1, "event": 0}
_TIMELINE_ORDER = Ordering(
    keys=(
        Key("at", "at", descending=True, kind=Kind.DATETIME),
        Key("kind", "kind", descending=True, kind=Kind.INT),
        Key("$sequence", "seq", descending=True, kind=Kind.INT),
    ),
    fingerprint="timeline",
)
_TIMELINE_PARAMS = frozenset({"limit", "offset", "cursor", "total"})


@dataclass(frozen=True)
class TimelineQuery:
    limit: int = DEFAULT_LIMIT
    cursor: Cursor | None = None
    with_total: bool = True
    offset: int = 0  # rows skipped past the cursor, as the other lists take it (SPEC §7)


@dataclass(frozen=True)
class TimelineItem:
    kind: TimelineKind
    at: datetime
    seq: int
    body: dict[str, Any]

    @property
    def sort_key(self) -> tuple[datetime, int, int]:
        return (self.at, KIND_RANK[self.kind], self.seq)

    def present(self) -> dict[str, Any]:
        return {"kind": self.kind, "at": format_datetime(self.at), self.kind: self.body}


@dataclass(frozen=True)
class TimelinePage:
    rows: list[TimelineItem]
    total: int | None
    next_cursor: str | None


def _whole_number(
    values: Mapping[str, str],
    name: str,
    default: int,
    low: int,
    high: int | None,
    errors: dict[str, str],
) -> int:
    """The parameter `name` as a whole number from `low` to `high` (no bound: None), or
    `default` when absent; a bad one is named in `errors`."""
    text = values.get(name)
    if not text:
        return default
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
    if (
        text.isascii()
        and text.isdigit()
        and low <= int(text)
        and (high is None or int(text) <= high)
    ):
        return int(text)
    bound = f"of at least {low}" if high is None else f"from {low} to {high}"
    errors[name] = f"must be an integer {bound}"
    return default


def parse_timeline_query(params: Iterable[tuple[str, str]]) -> TimelineQuery:
    """`limit` (1-1000, default 25), `offset`, `cursor`, `total`; BadQuery names every bad
    parameter."""
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    for key, raw in params:
        if key not in _TIMELINE_PARAMS:
            errors[key] = "unknown query parameter (use limit, offset, cursor, total)"
        elif key in values:
            errors[key] = "given more than once"
        else:
            values[key] = raw.strip()
    limit = _whole_number(values, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT, errors)
    offset = _whole_number(values, "offset", 0, 0, None, errors)
    total = values.get("total", "").lower()
    if total not in ("", "true", "1", "false", "0"):
        errors["total"] = "must be true or false"
    cursor = None
    if values.get("cursor"):
        try:
            cursor = cursors.decode(values["cursor"], _TIMELINE_ORDER)
        except BadQuery as exc:
            errors.update(exc.fields)
        else:
            if cursor.before:
                errors["cursor"] = "malformed cursor"
    if errors:
        raise BadQuery(f"Invalid query parameter(s): {', '.join(sorted(errors))}", fields=errors)
    return TimelineQuery(limit, cursor, total not in ("false", "0"), offset)


@dataclass(frozen=True)
class _Source:
    """One stream of the timeline: a table, its time column and the rows a principal sees."""

    kind: TimelineKind
    table: Table
    at: Column[Any]

    def where(self, principal: Principal, customer_id: str) -> list[ColumnElement[bool]]:
        table = self.table
        if self.kind == "event":
            return [table.c.entityType == "customer", table.c.entityId == customer_id]
        where = [table.c.customerId == customer_id]
        if not principal.is_staff:
            where.append(table.c.visibility == "shared")
        return where

    def after(self, cursor: Cursor) -> ColumnElement[bool]:
        """The rows of this source that sort strictly after `cursor` (descending order)."""
        at, kind = cursor.values
        assert isinstance(kind, int), "the cursor was decoded against _TIMELINE_ORDER"
        rank = KIND_RANK[self.kind]
        if rank < kind:
            return self.at <= at
        if rank > kind:
            return self.at < at
        same_time_older = and_(self.at == at, self.table.c.seq < cursor.seq)
        return or_(self.at < at, same_time_older)


_SOURCES = (
    _Source("interaction", customer_interactions, customer_interactions.c.occurredAt),
    _Source("note", customer_notes, customer_notes.c.createdAt),
    _Source("event", audit_logs, audit_logs.c.occurredAt),
)


def _present_body(kind: TimelineKind, principal: Principal, row: Mapping[str, Any]) -> dict:
    if kind == "interaction":
        return present_interaction(row)
    if kind == "note":
        return present_note(row)
    event = present_audit_entry(row)
    return event if principal.is_staff else without_origin(event)


def _read_source(
    conn: Connection,
    source: _Source,
    principal: Principal,
    customer_id: str,
    query: TimelineQuery,
) -> list[TimelineItem]:
    where = source.where(principal, customer_id)
    if query.cursor is not None:
        where.append(source.after(query.cursor))
    statement = (
        select(source.table)
        .where(*where)
        .order_by(source.at.desc(), source.table.c.seq.desc())
        .limit(query.offset + query.limit + 1)
    )
    at = source.at.name
    return [
        TimelineItem(source.kind, row[at], row["seq"], _present_body(source.kind, principal, row))
        for row in map(dict, conn.execute(statement).mappings())
    ]


def _count(conn: Connection, source: _Source, principal: Principal, customer_id: str) -> int:
    statement = select(func.count()).select_from(source.table)
    return int(conn.execute(statement.where(*source.where(principal, customer_id))).scalar_one())


def customer_timeline(
    conn: Connection,
    principal: Principal | None,
    customer_id: str,
    params: Iterable[tuple[str, str]] = (),
) -> TimelinePage:
    """A page of the record's interactions, notes and events, newest first.

    Each source is read in the merged order past the cursor, `offset + limit + 1` rows at most
    (each an index range on the customer), and the three are merged: a page reached by cursor
    costs the same at any depth.
    """
    principal = require_authenticated(principal)
    customer_service.get_customer(conn, principal, customer_id)
    query = parse_timeline_query(params)
    merged = sorted(
        (item for s in _SOURCES for item in _read_source(conn, s, principal, customer_id, query)),
        key=lambda item: item.sort_key,
        reverse=True,
    )
    rows = merged[query.offset : query.offset + query.limit]
    next_cursor = None
    if len(merged) > query.offset + query.limit:
        last = rows[-1]
        position = Cursor((last.at, KIND_RANK[last.kind]), last.seq, _TIMELINE_ORDER.fingerprint)
        next_cursor = cursors.encode(position)
    total = None
    if query.with_total:
        total = sum(_count(conn, s, principal, customer_id) for s in _SOURCES)
    return TimelinePage(rows, total, next_cursor)
