"""A statement built once, with parameters, and the values of one use of it.

Building a SQLAlchemy statement took more Python than PostgreSQL took to run the cheap ones a
list needs (its total, a search's lead and tiers). Those are built once per shape, cached, and
each request binds its own values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, CursorResult, Select


@dataclass(frozen=True, slots=True)
class Prepared:
    statement: Select[Any]
    params: dict[str, Any]

    def execute(self, conn: Connection) -> CursorResult[*tuple[Any, ...]]:
        return conn.execute(self.statement, self.params)
