"""Plain Core inserts of users, customers and tags for the query tests."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select

from clientbook.db import tables
from clientbook.domain.customers import derive_customer_columns
from clientbook.domain.ids import new_id

BASE_TIME = datetime(2025, 1, 1, tzinfo=UTC)
_counter = itertools.count()


def user_row(*, role: str = "user", name: str | None = None) -> dict[str, Any]:
    n = next(_counter)
    return {
        "id": new_id(),
        "createdAt": BASE_TIME,
        "updatedAt": BASE_TIME,
        "email": f"user{n}@users.example",
        "emailFolded": f"user{n}@users.example",
        "name": name or f"User {n}",
        "role": role,
        "status": "active",
    }


def add_users(conn: Connection, count: int, *, role: str = "user") -> list[str]:
    rows = [user_row(role=role) for _ in range(count)]
    conn.execute(insert(tables.users), rows)
    return [row["id"] for row in rows]


def customer_row(user_id: str, **fields: Any) -> dict[str, Any]:
    """A full customer row; `fields` override the defaults (and may include `tags`)."""
    row: dict[str, Any] = {
        "id": new_id(),
        "createdAt": BASE_TIME,
        "updatedAt": BASE_TIME,
        "userId": user_id,
        "name": "Ada Lovelace",
        "email": None,
        "phone": None,
        "company": None,
        "city": None,
        "state": None,
        "country": None,
        "status": "active",
        "assignedTo": None,
        "source": None,
        "industry": None,
        "customerType": "individual",
        "lastContactAt": None,
        "nextFollowUpAt": None,
        "totalRevenue": 0.0,
        "totalInvoices": 0,
    }
    row.update(fields)
    row.pop("tags", None)
    # The service's own derivation, so that the indexes hold exactly what production writes.
    derived = derive_customer_columns(row)
    row["searchText"], row["emailFolded"] = derived["searchText"], derived["emailFolded"]
    return row


def add_customers(conn: Connection, specs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Insert customers in order (so `seq` follows the list), each with a user of its own.

    Returns the rows as inserted, plus `seq` and `tags` (the tag keys)."""
    specs = [dict(spec) for spec in specs]
    if not specs:
        return []
    tags = [list(spec.pop("tags", ())) for spec in specs]
    user_ids = add_users(conn, len(specs))
    rows = [customer_row(uid, **spec) for uid, spec in zip(user_ids, specs, strict=True)]
    conn.execute(insert(tables.customers), rows)
    tag_rows = []
    for row, names in zip(rows, tags, strict=True):
        keys = {name.casefold(): name for name in reversed(names)}
        row["tags"] = sorted(keys)
        tag_rows += [{"customerId": row["id"], "tagKey": k, "tag": v} for k, v in keys.items()]
    if tag_rows:
        conn.execute(insert(tables.customer_tags), tag_rows)
    c = tables.customers.c
    seqs = dict(conn.execute(select(c.id, c.seq).where(c.id.in_([r["id"] for r in rows]))).all())
    for row in rows:
        row["seq"] = seqs[row["id"]]
    return rows


def add_customer(conn: Connection, **fields: Any) -> dict[str, Any]:
    return add_customers(conn, [fields])[0]


def at(days: float) -> datetime:
    return BASE_TIME + timedelta(days=days)
