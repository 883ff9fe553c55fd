"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from clientbook.domain.timestamps import to_millis


class Timestamp(TypeDecorator[datetime]):
    """UTC at millisecond precision.

    PostgreSQL stores `timestamptz`. SQLite stores fixed-width ISO text
    (`2025-01-15T09:30:00.000+00:00`) so that text order is time order and indexes work.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(29))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = to_millis(value)
        if dialect.name == "sqlite":
            return value.isoformat(timespec="milliseconds")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value)
        return value if value.tzinfo is UTC else value.astimezone(UTC)
