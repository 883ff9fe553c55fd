"""Which fields of which resource may be filtered and sorted, and how their values are typed.

Only indexed fields are listed as filterable (SPEC §7: "nothing can full-scan a million rows by
accident"). Public names are the JSON names: `$id`, `$sequence`, `$createdAt`, `$updatedAt` and the
camelCase attributes. The native API also accepts `id`, `createdAt` and `updatedAt` without the
`$` (awkward in URLs and shells; no resource has an attribute of those names), the Appwrite face
does not. A field marked `needs="customerId"` is filterable and sortable only next to an equality
on `customerId`: any attribute of one customer's interactions or notes is cheap to filter, the
whole table is not.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Any

from sqlalchemy import Column, ColumnElement, Select, Table, select

from clientbook.db import tables
from clientbook.domain import enums
from clientbook.domain.errors import BadQuery
from clientbook.domain.ids import is_valid_id
from clientbook.domain.text import lower_letters
from clientbook.domain.timestamps import parse_datetime, to_millis, utcnow
from clientbook.query.model import Op, Scalar


class Kind(StrEnum):
    STRING = "string"
    ENUM = "enum"
    DATETIME = "datetime"
    FLOAT = "float"
    INT = "int"
    BOOL = "bool"
    ID = "id"  # a record id: `$id` or a relation (`userId`, `assignedTo`, `customerId`, ...)
    TAGS = "tags"  # the virtual set of a customer's tags (side table `customer_tags`)


_EQUALITY = frozenset({Op.EQ, Op.NE, Op.IN, Op.NOT_IN, Op.IS_NULL, Op.IS_NOT_NULL})
_RANGE = frozenset({Op.LT, Op.LTE, Op.GT, Op.GTE, Op.BETWEEN, Op.NOT_BETWEEN})
_TEXT = frozenset(
    {
        Op.STARTS_WITH,
        Op.NOT_STARTS_WITH,
        Op.ENDS_WITH,
        Op.NOT_ENDS_WITH,
        Op.CONTAINS,
        Op.NOT_CONTAINS,
    }
)
OPS_BY_KIND: dict[Kind, frozenset[Op]] = {
    Kind.STRING: _EQUALITY | _RANGE | _TEXT,
    Kind.ID: _EQUALITY | _RANGE | _TEXT,
    # An order over enum values means nothing to a user; prefixes neither.
    Kind.ENUM: _EQUALITY,
    Kind.DATETIME: _EQUALITY | _RANGE,
    Kind.FLOAT: _EQUALITY | _RANGE,
    Kind.INT: _EQUALITY | _RANGE,
    Kind.BOOL: _EQUALITY,
    Kind.TAGS: frozenset({Op.CONTAINS, Op.NOT_CONTAINS, Op.CONTAINS_ANY, Op.CONTAINS_ALL}),
}
SEARCH_OPS = frozenset({Op.SEARCH, Op.NOT_SEARCH})

_FLOAT_TEXT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_INT_TEXT = re.compile(r"[+-]?\d{1,19}")
_INT_RANGE = (-(2**63), 2**63 - 1)
_TRUE, _FALSE = frozenset({"true", "1"}), frozenset({"false", "0"})
MAX_VALUE_CHARS = 1000


@dataclass(frozen=True, slots=True)
class Field:
    """One public field: its column, value type and what may be done with it."""

    name: str
    column: ColumnElement[Any]
    kind: Kind
    choices: tuple[str, ...] = ()
    nullable: bool = True
    sortable: bool = True
    # Non-null and unique: an ordering needs no tie-break after it.
    unique: bool = False
    # Compared and sorted as this stored column, `domain.text.lower_letters` of `column` (every
    # letter, as on PostgreSQL: SQLite's lower() folds ASCII only); the value is folded here.
    folded: ColumnElement[Any] | None = None
    # Only filterable/sortable next to an equality filter on this field.
    needs: str | None = None
    # `search` on this field is the resource's full-text search (SPEC §7).
    searchable: bool = False

    @property
    def case_insensitive(self) -> bool:
        return self.folded is not None

    @property
    def expr(self) -> ColumnElement[Any]:
        """What comparisons and ORDER BY use."""
        return self.column if self.folded is None else self.folded

    def compared(self, value: Scalar) -> Scalar:
        """`value` as `expr` holds it: lowercased like the folded column, else as it is."""
        if self.folded is not None and isinstance(value, str):
            return lower_letters(value)
        return value

    def allows(self, op: Op) -> bool:
        if op in SEARCH_OPS:
            return self.searchable
        return op in OPS_BY_KIND[self.kind]

    def coerce(self, raw: object) -> Scalar:
        """The typed value of `raw` (query-string text or a JSON value); ValueError says why not."""
        if isinstance(raw, str) and len(raw) > MAX_VALUE_CHARS:
            raise ValueError(f"longer than {MAX_VALUE_CHARS} characters")
        return _COERCE[self.kind](self, raw)


def _string(spec: Field, raw: object) -> Scalar:
    if not isinstance(raw, str):
        raise ValueError("not a string")
    if "\x00" in raw:
        raise ValueError("contains a NUL character")
    return raw


def _enum(spec: Field, raw: object) -> Scalar:
    if raw not in spec.choices:
        raise ValueError("not one of: " + ", ".join(spec.choices))
    assert isinstance(raw, str)
    return raw


def _id(spec: Field, raw: object) -> Scalar:
    if not isinstance(raw, str) or not is_valid_id(raw):
        raise ValueError("not a valid id")
    return raw


def _datetime(spec: Field, raw: object) -> Scalar:
    if isinstance(raw, datetime):
        return to_millis(raw)
    if not isinstance(raw, str):
        raise ValueError("not a datetime")
    if raw.strip().lower() == "now":
        return utcnow()
    try:
        return parse_datetime(raw)
    except (ValueError, OverflowError):
        raise ValueError("not an ISO 8601 date or datetime (or `now`)") from None


def _float(spec: Field, raw: object) -> Scalar:
    if isinstance(raw, str):
        if not _FLOAT_TEXT.fullmatch(raw.strip()):
            raise ValueError("not a number")
        value = float(raw)
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        value = float(raw)
    else:
        raise ValueError("not a number")
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


def _int(spec: Field, raw: object) -> Scalar:
    if isinstance(raw, str):
        if not _INT_TEXT.fullmatch(raw.strip()):
            raise ValueError("not an integer")
        value = int(raw)
    elif isinstance(raw, float) and raw.is_integer():
        value = int(raw)
    elif isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    else:
        raise ValueError("not an integer")
    if not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
        raise ValueError("out of range")
    return value


def _bool(spec: Field, raw: object) -> Scalar:
    if isinstance(raw, bool):
        return raw
    text = raw.strip().lower() if isinstance(raw, str) else None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("not true or false")


def _tag(spec: Field, raw: object) -> Scalar:
    if not isinstance(raw, str) or not raw.strip() or "\x00" in raw:
        raise ValueError("not a tag")
    # Tags compare case-insensitively (SPEC §12): `customer_tags.tagKey` holds the casefold.
    return raw.strip().casefold()


_COERCE = {
    Kind.STRING: _string,
    Kind.ENUM: _enum,
    Kind.ID: _id,
    Kind.DATETIME: _datetime,
    Kind.FLOAT: _float,
    Kind.INT: _int,
    Kind.BOOL: _bool,
    Kind.TAGS: _tag,
}


@dataclass(frozen=True)
class Resource:
    """A listable collection: its table and its public fields."""

    name: str
    table: Table
    fields: Mapping[str, Field]
    # Attributes that exist but have no index: named in the error instead of "unknown".
    unindexed: frozenset[str] = frozenset()
    # Native-API spellings of `$` names.
    aliases: Mapping[str, str] = field(default_factory=dict)
    # The table has the `customers_fts` / tsvector full-text index over `searchText`.
    searchable: bool = False
    # Columns never returned in rows (internal, derived).
    hidden: frozenset[str] = frozenset()

    @cached_property
    def columns(self) -> tuple[Column[Any], ...]:
        """The columns a list returns (raw names: `id`, `seq`, `createdAt`, ...)."""
        return tuple(c for c in self.table.c if c.name not in self.hidden)

    @cached_property
    def listing(self) -> Select[Any]:
        """`SELECT <columns>`, built once: coercing the columns costs ~0.1 ms per statement."""
        return select(*self.columns)

    @property
    def seq(self) -> ColumnElement[int]:
        return self.table.c.seq

    def lookup(self, name: str, *, param: str, native: bool = False) -> Field:
        """The field called `name`, or BadQuery naming `param`."""
        spec = self.fields.get(self.aliases.get(name, name) if native else name)
        if spec is not None:
            return spec
        if name in self.unindexed:
            message = f"`{name}` has no index, so it cannot be used to filter or sort"
        else:
            message = f"`{name}` is not a field of {self.name} that can be filtered or sorted"
        raise BadQuery(message, fields={param: message})


def _system(table: Table, *, created: bool = True, indexed_created: bool = True) -> list[Field]:
    """`$id`, `$sequence`, and `$createdAt`/`$updatedAt` where the table has them."""
    specs = [
        Field("$id", table.c.id, Kind.ID, nullable=False, unique=True),
        Field("$sequence", table.c.seq, Kind.INT, nullable=False, unique=True),
    ]
    if created:
        needs = None if indexed_created else "customerId"
        specs += [
            Field("$createdAt", table.c.createdAt, Kind.DATETIME, nullable=False, needs=needs),
            Field("$updatedAt", table.c.updatedAt, Kind.DATETIME, nullable=False, needs=needs),
        ]
    return specs


def _by_name(specs: Iterable[Field]) -> dict[str, Field]:
    return {spec.name: spec for spec in specs}


_SYSTEM_ALIASES = {"id": "$id", "createdAt": "$createdAt", "updatedAt": "$updatedAt"}

_c = tables.customers.c
CUSTOMERS = Resource(
    name="customers",
    table=tables.customers,
    fields=_by_name(
        [
            *_system(tables.customers),
            Field("userId", _c.userId, Kind.ID, nullable=False),
            Field("name", _c.name, Kind.STRING, nullable=False, searchable=True),
            Field("email", _c.email, Kind.STRING, folded=_c.emailFolded, searchable=True),
            Field("phone", _c.phone, Kind.STRING, searchable=True),
            Field("company", _c.company, Kind.STRING, searchable=True),
            Field("status", _c.status, Kind.ENUM, enums.CUSTOMER_STATUSES, nullable=False),
            Field("assignedTo", _c.assignedTo, Kind.ID),
            Field("source", _c.source, Kind.ENUM, enums.CUSTOMER_SOURCES),
            Field("industry", _c.industry, Kind.STRING),
            Field("customerType", _c.customerType, Kind.ENUM, enums.CUSTOMER_TYPES, False),
            Field("city", _c.city, Kind.STRING),
            Field("state", _c.state, Kind.STRING),
            Field("country", _c.country, Kind.STRING),
            Field("lastContactAt", _c.lastContactAt, Kind.DATETIME),
            Field("nextFollowUpAt", _c.nextFollowUpAt, Kind.DATETIME),
            Field("totalRevenue", _c.totalRevenue, Kind.FLOAT, nullable=False),
            Field("totalInvoices", _c.totalInvoices, Kind.INT, nullable=False),
            Field("tags", _c.id, Kind.TAGS, nullable=False, sortable=False),
        ]
    ),
    unindexed=frozenset(
        {"jobTitle", "address", "zipCode", "website", "currency", "language", "timezone"}
        | {"notes", "metadata", "createdBy", "updatedBy"}
    ),
    aliases={**_SYSTEM_ALIASES, "tag": "tags"},
    searchable=True,
    hidden=frozenset({"searchText", "emailFolded", "emailKey", "duplicateNameKey"}),
)


def _child(table: Table, name: str, specific: list[Field], unindexed: Iterable[str]) -> Resource:
    """Interactions and notes: cheap to filter by anything within one customer."""
    return Resource(
        name=name,
        table=table,
        fields=_by_name(
            [
                *_system(table, indexed_created=False),
                Field("customerId", table.c.customerId, Kind.ID, nullable=False),
                *specific,
            ]
        ),
        unindexed=frozenset(unindexed),
        aliases=_SYSTEM_ALIASES,
    )


_i = tables.customer_interactions.c
_NEEDS = "customerId"
INTERACTIONS = _child(
    tables.customer_interactions,
    "customer_interactions",
    [
        Field("occurredAt", _i.occurredAt, Kind.DATETIME, nullable=False),
        Field("type", _i.type, Kind.ENUM, enums.INTERACTION_TYPES, False, needs=_NEEDS),
        Field("direction", _i.direction, Kind.ENUM, enums.INTERACTION_DIRECTIONS, needs=_NEEDS),
        Field("visibility", _i.visibility, Kind.ENUM, enums.VISIBILITIES, False, needs=_NEEDS),
        Field("subject", _i.subject, Kind.STRING, nullable=False, needs=_NEEDS),
        Field("outcome", _i.outcome, Kind.STRING, needs=_NEEDS),
        Field("durationMinutes", _i.durationMinutes, Kind.INT, needs=_NEEDS),
        Field("createdBy", _i.createdBy, Kind.ID, needs=_NEEDS),
        Field("description", _i.description, Kind.STRING, needs=_NEEDS),
    ],
    unindexed=(),
)

_n = tables.customer_notes.c
NOTES = _child(
    tables.customer_notes,
    "customer_notes",
    [
        Field("isPinned", _n.isPinned, Kind.BOOL, nullable=False),
        Field("category", _n.category, Kind.ENUM, enums.NOTE_CATEGORIES, False, needs=_NEEDS),
        Field("visibility", _n.visibility, Kind.ENUM, enums.VISIBILITIES, False, needs=_NEEDS),
        Field("title", _n.title, Kind.STRING, needs=_NEEDS),
        Field("createdBy", _n.createdBy, Kind.ID, needs=_NEEDS),
        Field("updatedBy", _n.updatedBy, Kind.ID, needs=_NEEDS),
        Field("content", _n.content, Kind.STRING, nullable=False, needs=_NEEDS),
    ],
    unindexed=(),
)

_u = tables.users.c
USERS = Resource(
    name="users",
    table=tables.users,
    fields=_by_name(
        [
            *_system(tables.users),
            Field("email", _u.email, Kind.STRING, folded=_u.emailFolded),
            Field("name", _u.name, Kind.STRING, nullable=False),
            Field("role", _u.role, Kind.ENUM, enums.USER_ROLES, nullable=False),
            Field("status", _u.status, Kind.ENUM, enums.USER_STATUSES, nullable=False),
        ]
    ),
    unindexed=frozenset({"lastLoginAt", "passwordUpdatedAt"}),
    aliases=_SYSTEM_ALIASES,
    hidden=frozenset({"passwordHash", "emailFolded"}),
)

_a = tables.audit_logs.c
AUDIT_LOGS = Resource(
    name="audit_logs",
    table=tables.audit_logs,
    fields=_by_name(
        [
            *_system(tables.audit_logs, created=False),
            Field("occurredAt", _a.occurredAt, Kind.DATETIME, nullable=False),
            Field("entityType", _a.entityType, Kind.STRING, nullable=False),
            Field("entityId", _a.entityId, Kind.ID, needs="entityType"),
            Field("actorId", _a.actorId, Kind.ID),
            Field("action", _a.action, Kind.STRING, nullable=False),
        ]
    ),
    unindexed=frozenset({"actorType", "changes", "reason", "requestId", "ip", "userAgent"}),
    aliases={"id": "$id"},
)

RESOURCES: dict[str, Resource] = {
    r.name: r for r in (CUSTOMERS, INTERACTIONS, NOTES, USERS, AUDIT_LOGS)
}
