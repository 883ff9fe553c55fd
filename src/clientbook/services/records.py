"""Row helpers shared by the services: settings of a connection, presenting rows as JSON-ready
dicts, and turning unique-constraint violations into field conflicts."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.exc import IntegrityError

from clientbook.config import Settings
from clientbook.db.types import Timestamp
from clientbook.domain.errors import Conflict
from clientbook.domain.timestamps import format_datetime

SYSTEM_NAMES = {"id": "$id", "createdAt": "$createdAt", "updatedAt": "$updatedAt"}


def settings_of(conn: Connection) -> Settings:
    settings = conn.info.get("settings")
    return settings if isinstance(settings, Settings) else Settings()


class Presenter:
    """How rows of one table become public JSON objects: `$id`/`$createdAt`/`$updatedAt`,
    instants as ISO text. Which columns hold instants comes from the table, once: a page of 50
    customers is 1,550 values, and testing each one's type cost more than formatting the 200
    instants among them."""

    def __init__(self, table: Table, columns: tuple[str, ...]) -> None:
        getter = itemgetter(*columns)  # one column's getter gives the value, not a tuple
        self._values = getter if len(columns) > 1 else lambda row: (getter(row),)
        self._names = tuple(SYSTEM_NAMES.get(column, column) for column in columns)
        self._instants = tuple(
            SYSTEM_NAMES.get(column, column)
            for column in columns
            if isinstance(table.c[column].type, Timestamp)
        )

    def __call__(self, row: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(zip(self._names, self._values(row), strict=True))
        for name in self._instants:
            value = out[name]
            if isinstance(value, datetime):
                out[name] = format_datetime(value)
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
