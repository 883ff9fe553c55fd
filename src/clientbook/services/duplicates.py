"""Duplicate detection (SPEC §6): groups of customers that share a normalised email, a
normalised phone, or a near-identical name within one company.

The derived columns `emailKey`, `phoneNormalized` and `duplicateNameKey` (domain/customers.py)
already fold what makes two records "the same", so a group is simply a key held by more than one
record: `GROUP BY key HAVING count(*) > 1` walks that key's index in order, never comparing
records pairwise, and stops as soon as a page of groups is found or SCAN_BUDGET entries were
read. Groups come email first, then phone, then name within company, each in key order; the
cursor is where reading stopped: (reason, key).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Final

import orjson
from sqlalchemy import Column, Connection, func, select

from clientbook.access import Principal, require_staff
from clientbook.db.tables import customers
from clientbook.domain.errors import BadQuery
from clientbook.services.customers import PUBLIC_COLUMNS, present_customers

REASONS: Final[dict[str, Column[Any]]] = {
    "email": customers.c.emailKey,
    "phone": customers.c.phoneNormalized,
    "name_company": customers.c.duplicateNameKey,
}
DEFAULT_LIMIT: Final = 25
MAX_LIMIT: Final = 1000  # SPEC §12 Lists: "maximum 1000"
# A group's `count` is exact; its member list stops here (the oldest records, by creation), so
# that one number typed into ten thousand records cannot make a page of ten thousand objects.
MEMBERS_PER_GROUP: Final = 50
# Index entries one page reads at most (~10-20 ms of grouping on SQLite), so that a page costs
# the same whether duplicates are dense or rare; a rare-duplicate table takes more pages.
SCAN_BUDGET: Final = 200_000
_MAX_CURSOR_CHARS: Final = 2048
_MEMBER_COLUMNS = [customers.c[name] for name in PUBLIC_COLUMNS]


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page ended: the reason and key of its last group."""

    reason: str
    key: str


def find_duplicates(
    conn: Connection,
    principal: Principal | None,
    *,
    reason: str | None = None,
    limit: int | str | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    """A page of duplicate groups (staff only): `{"groups": [...], "cursor": next or null}`.

    `reason` limits the page to one kind of group; `limit` (groups per page, an int or the
    query-string text) defaults to 25; `cursor` continues after a previous page. A page reads
    at most SCAN_BUDGET index entries, so where duplicates are rare it may hold fewer groups
    than `limit` (even none) and still have a `cursor`: only a null cursor means "no more".
    """
    require_staff(principal)
    reasons = _reasons(reason)
    page_size = _limit(limit)
    after = decode_cursor(cursor, reasons) if cursor else None
    if after is not None:
        reasons = reasons[reasons.index(after.reason) :]
    found: list[tuple[str, str, int]] = []
    budget, next_position = SCAN_BUDGET, None
    for name in reasons:
        start = after.key if after is not None and after.reason == name else None
        window = _scan(conn, name, start, page_size - len(found), budget)
        found += [(name, key, count) for key, count in window.groups]
        budget -= window.scanned
        if len(found) == page_size:
            next_position = Position(name, found[-1][1])
            break
        if window.end is not None:  # the budget ran out inside this index
            next_position = Position(name, window.end)
            break
    groups = [_group(conn, name, key, count) for name, key, count in found]
    return {"groups": groups, "cursor": encode_cursor(next_position) if next_position else None}


def _limit(value: int | str | None) -> int:
    if value is None or value == "":
        return DEFAULT_LIMIT
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        message = f"must be an integer from 1 to {MAX_LIMIT}"
        raise BadQuery(f"limit {message}", fields={"limit": message})
    return int(text)


def _reasons(reason: str | None) -> tuple[str, ...]:
    if reason is None or reason == "":
        return tuple(REASONS)
    if reason not in REASONS:
        message = f"one of {', '.join(REASONS)}"
        raise BadQuery(f"Unknown duplicate reason {reason!r}", fields={"reason": message})
    return (reason,)


@dataclass(frozen=True, slots=True)
class _Window:
    groups: list[tuple[str, int]]  # (key, count), in key order
    scanned: int  # index entries read (about)
    end: str | None  # the last key read when the budget ran out before the index did


def _scan(conn: Connection, reason: str, after: str | None, want: int, budget: int) -> _Window:
    """Up to `want` keys held by two or more records, in key order after `after`, reading at
    most about `budget` entries of the key's index (a group straddling the end is read whole,
    so its count stays exact)."""
    key = REASONS[reason]
    lower = key.is_not(None) if after is None else key > after
    # The key `budget` entries on: stepping an index is cheap, grouping it is not.
    end = conn.execute(
        select(key).where(lower).order_by(key).offset(max(budget - 1, 0)).limit(1)
    ).scalar()
    where = [lower] if end is None else [lower, key <= end]
    query = (
        select(key, func.count())
        .where(*where)
        .group_by(key)
        .having(func.count() > 1)
        .order_by(key)
        .limit(want)
    )
    groups = [(value, count) for value, count in conn.execute(query)]
    if end is not None:
        return _Window(groups, budget, end)
    scanned = conn.execute(select(func.count()).where(lower)).scalar_one()
    return _Window(groups, int(scanned), None)


def _group(conn: Connection, reason: str, key: str, count: int) -> dict[str, Any]:
    column = REASONS[reason]
    rows = conn.execute(
        select(*_MEMBER_COLUMNS)
        .where(column == key)
        .order_by(customers.c.seq)
        .limit(MEMBERS_PER_GROUP)
    )
    members = present_customers(conn, [dict(zip(PUBLIC_COLUMNS, row, strict=True)) for row in rows])
    return {"reason": reason, "key": key, "count": count, "customers": members}


# --- cursors ---------------------------------------------------------------------------------


def encode_cursor(position: Position) -> str:
    raw = orjson.dumps([position.reason, position.key])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(token: str, reasons: tuple[str, ...]) -> Position:
    """The position in `token`; BadQuery naming `cursor` when it is not one of ours or belongs
    to another `reason`."""
    payload: Any = None
    if len(token) <= _MAX_CURSOR_CHARS:
        try:
            payload = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except (binascii.Error, ValueError):
            payload = None
    valid = (
        isinstance(payload, list)
        and len(payload) == 2
        and payload[0] in REASONS
        and isinstance(payload[1], str)
    )
    if not valid:
        raise BadQuery("malformed cursor", fields={"cursor": "malformed cursor"})
    if payload[0] not in reasons:
        message = "this cursor belongs to another reason"
        raise BadQuery(message, fields={"cursor": message})
    return Position(payload[0], payload[1])
