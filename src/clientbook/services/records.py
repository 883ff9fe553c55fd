"""Row helpers shared by the services: settings of a connection, presenting rows as JSON-ready
dicts, and turning unique-constraint violations into field conflicts."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from clientbook.config import Settings
from clientbook.domain.errors import Conflict
from clientbook.domain.timestamps import format_datetime

SYSTEM_NAMES = {"id": "$id", "createdAt": "$createdAt", "updatedAt": "$updatedAt"}


def settings_of(conn: Connection) -> Settings:
    settings = conn.info.get("settings")
    return settings if isinstance(settings, Settings) else Settings()


def present(row: Mapping[str, Any], columns: tuple[str, ...]) -> dict[str, Any]:
    """A row as its public JSON object: `$id`/`$createdAt`/`$updatedAt`, ISO datetimes."""
    out: dict[str, Any] = {}
    for column in columns:
        value = row[column]
        if isinstance(value, datetime):
            value = format_datetime(value)
        out[SYSTEM_NAMES.get(column, column)] = value
    return out


@contextmanager
def unique_conflicts(messages: Mapping[str, tuple[str, str]]) -> Iterator[None]:
    """Map a unique violation to Conflict: `messages` is {constraint fragment: (field, text)}."""
    try:
        yield
    except IntegrityError as exc:
        detail = str(exc.orig)
        for fragment, (field, text) in messages.items():
            if fragment in detail:
                raise Conflict(text, fields={field: text}) from exc
        raise
