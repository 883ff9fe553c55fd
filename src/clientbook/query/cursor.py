"""Opaque keyset cursors: where a page ended, in a form only this module reads.

A token is unpadded base64url of the compact JSON array

    [fingerprint, direction, seq, [value, ...]]

`fingerprint` names the ordering the cursor belongs to (resource, sort keys and directions, and
the search text for a relevance order): a cursor from another ordering is refused rather than
silently misread. `direction` is 0 for "after this row", 1 for "before this row". `seq` is the
row's `$sequence` and the values are its sort-key values (datetimes as ISO 8601 text, the rank as
an int), one per key before the final `seq`. Cursors are not signed: every value is re-typed and
bound as a parameter, so a forged cursor can only point somewhere else in the same list.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from clientbook.domain.errors import BadQuery
from clientbook.domain.timestamps import format_datetime, parse_datetime
from clientbook.query.fields import Kind
from clientbook.query.model import Cursor, Scalar
from clientbook.query.ordering import TIERS, Key, Ordering

MAX_TOKEN_CHARS = 4096


def position_keys(ordering: Ordering) -> tuple[Key, ...]:
    """The keys whose values a cursor carries (all but a final `seq`, which it always has)."""
    keys = ordering.keys
    return keys[:-1] if keys[-1].is_seq else keys


def cursor_from_row(
    ordering: Ordering, row: Mapping[str, Any], *, rank: int | None = None, before: bool = False
) -> Cursor:
    """The position of `row` (raw column names) in `ordering`."""
    values = tuple(rank if key.is_rank else row[key.column] for key in position_keys(ordering))
    return Cursor(values, int(row["seq"]), ordering.fingerprint, before)


def encode(cursor: Cursor) -> str:
    payload = [cursor.fingerprint, int(cursor.before), cursor.seq, [_out(v) for v in cursor.values]]
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _out(value: Scalar | None) -> Any:
    return format_datetime(value) if isinstance(value, datetime) else value


def decode(token: str, ordering: Ordering, *, param: str = "cursor") -> Cursor:
    """The cursor in `token`, checked against `ordering`; BadQuery naming `param` otherwise."""

    def refuse(message: str) -> BadQuery:
        return BadQuery(message, fields={param: message})

    payload = _payload(token)
    if payload is None:
        raise refuse("malformed cursor")
    fingerprint, direction, seq, values = payload
    if fingerprint != ordering.fingerprint:
        raise refuse("this cursor belongs to a different sort order or search")
    keys = position_keys(ordering)
    if len(values) != len(keys):
        raise refuse("malformed cursor")
    typed = []
    for key, value in zip(keys, values, strict=True):
        try:
            typed.append(_in(key, value))
        except (TypeError, ValueError):
            raise refuse("malformed cursor") from None
    return Cursor(tuple(typed), seq, fingerprint, before=direction == 1)


def _payload(token: str) -> tuple[str, int, int, list[Any]] | None:
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError):
        return None
    if not (isinstance(payload, list) and len(payload) == 4):
        return None
    fingerprint, direction, seq, values = payload
    if not (
        isinstance(fingerprint, str)
        and direction in (0, 1)
        and _is_int(seq)
        and isinstance(values, list)
    ):
        return None
    return fingerprint, direction, seq, values


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**63


def _in(key: Key, value: object) -> Scalar | None:
    """Re-type one JSON value for `key`; TypeError/ValueError when it cannot be one."""
    if value is None:
        if key.nullable:
            return None
        raise ValueError("null for a non-null key")
    if isinstance(value, bool):
        if key.kind is Kind.BOOL:
            return value
    elif isinstance(value, int):
        if key.is_rank and value in TIERS:
            return value
        if key.kind is Kind.INT and _is_int(value):
            return value
        if key.kind is Kind.FLOAT:
            return float(value)
    elif isinstance(value, float):
        if key.kind is Kind.FLOAT and math.isfinite(value):
            return value
    elif isinstance(value, str):
        if key.kind is Kind.DATETIME:
            return parse_datetime(value)
        if key.kind in (Kind.STRING, Kind.ID, Kind.ENUM) and "\x00" not in value:
            return value
    raise TypeError(f"{value!r} is not a {key.kind or 'rank'}")
