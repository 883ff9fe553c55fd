"""The schema the migrations build: every seed attribute, index and relation rule, enforced by
the database itself on both backends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Connection, delete, insert, inspect, select, text, update
from sqlalchemy.exc import DataError, IntegrityError

from clientbook.db.engine import Database
from clientbook.db.tables import customer_interactions, customer_notes, customers, users
from clientbook.domain.text import email_folded
from clientbook.domain.timestamps import utcnow

# The seed's attribute table: name -> (size or None, required, default).
SEED_ATTRIBUTES: dict[str, tuple[int | None, bool, Any]] = {
    "userId": (None, True, None),
    "name": (200, True, None),
    "email": (255, False, None),
    "phone": (50, False, None),
    "company": (200, False, None),
    "jobTitle": (100, False, None),
    "address": (500, False, None),
    "city": (100, False, None),
    "state": (100, False, None),
    "zipCode": (20, False, None),
    "country": (100, False, None),
    "website": (255, False, None),
    "status": (20, True, "active"),
    "assignedTo": (None, False, None),
    "source": (50, False, None),
    "industry": (100, False, None),
    "customerType": (50, True, "individual"),
    "currency": (3, False, "MYR"),
    "language": (10, False, "en"),
    "timezone": (50, False, None),
    "notes": (5000, False, None),
    "metadata": (5000, False, None),
    "lastContactAt": (None, False, None),
    "nextFollowUpAt": (None, False, None),
    "totalRevenue": (None, True, 0),
    "totalInvoices": (None, True, 0),
    "createdBy": (None, False, None),
    "updatedBy": (None, False, None),
}
SEED_INDEXED = [
    "userId", "name", "phone", "company", "status", "assignedTo", "source", "industry",
    "customerType", "city", "state", "country", "lastContactAt", "nextFollowUpAt",
    "totalRevenue", "totalInvoices", "createdAt",
]  # fmt: skip


def test_every_seed_attribute_has_its_size_required_flag_and_default() -> None:
    for name, (size, required, default) in SEED_ATTRIBUTES.items():
        column = customers.c[name]
        assert column.nullable is not required, name
        if size is not None:
            assert column.type.length == size, name  # type: ignore[attr-defined]
        if default is not None:
            assert str(column.server_default.arg) == str(default), name  # type: ignore[union-attr]


@pytest.mark.parametrize("attribute", SEED_INDEXED)
def test_every_seed_key_index_exists(database: Database, attribute: str) -> None:
    with database.read() as conn:
        indexes = inspect(conn).get_indexes("customers")
    leading = {ix["column_names"][0] for ix in indexes if ix["column_names"]}
    assert attribute in leading


@pytest.mark.parametrize("table", ["users", "customers"])
def test_email_has_a_unique_index_on_its_folded_form(database: Database, table: str) -> None:
    catalogue = (
        "SELECT sql FROM sqlite_master WHERE name = :n"
        if database.is_sqlite
        else "SELECT indexdef FROM pg_indexes WHERE indexname = :n"
    )
    with database.read() as conn:
        definition = conn.execute(text(catalogue), {"n": f"ux_{table}_emailFolded"}).scalar()
    assert "UNIQUE" in definition.upper()
    assert '"emailFolded"' in definition
    if not database.is_sqlite:  # nulls lowest, as a sort by email reads them (SPEC §12)
        assert "NULLS FIRST" in definition


# --- enforcement by the database, below the service layer ----------------------------------


def _user(conn: Connection, uid: str, **extra: Any) -> str:
    now = utcnow()
    values = {"id": uid, "email": f"{uid}@x.io", "createdAt": now, "updatedAt": now, **extra}
    conn.execute(insert(users).values(**values, emailFolded=email_folded(values["email"])))
    return uid


def _customer(conn: Connection, cid: str, owner: str, **extra: Any) -> str:
    now = utcnow()
    values = {"id": cid, "userId": owner, "name": cid, "createdAt": now, "updatedAt": now}
    values |= {**extra, "emailFolded": email_folded(extra.get("email"))}
    conn.execute(insert(customers).values(**values))
    return cid


def _rejects(database: Database, act: Callable[[Connection], None]) -> None:
    with pytest.raises((IntegrityError, DataError)), database.transaction() as conn:
        act(conn)


def test_database_rejects_a_second_record_per_user(database: Database) -> None:
    with database.transaction() as conn:
        _customer(conn, "c1", _user(conn, "u1"))
    _rejects(database, lambda conn: _customer(conn, "c2", "u1") and None)


@pytest.mark.parametrize(
    ("stored", "again"), [("Mei@Example.com", "mei@example.COM"), ("Ösa@Ünï.de", "öSA@üNÏ.DE")]
)
def test_database_rejects_duplicate_email_in_any_case(
    database: Database, stored: str, again: str
) -> None:
    with database.transaction() as conn:
        _customer(conn, "c1", _user(conn, "u1", email=stored), email=stored)
        _user(conn, "u2")
    _rejects(database, lambda conn: _customer(conn, "c2", "u2", email=again) and None)
    _rejects(database, lambda conn: _user(conn, "u3", email=again) and None)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("totalRevenue", -0.01),
        ("totalInvoices", -1),
        ("status", "deleted"),
        ("customerType", "alien"),
        ("source", "tv"),
        ("name", "x" * 201),
        ("currency", "MYRR"),
    ],
)
def test_database_checks_values(database: Database, column: str, value: Any) -> None:
    with database.transaction() as conn:
        _user(conn, "u1")
    _rejects(database, lambda conn: _customer(conn, "c1", "u1", **{column: value}) and None)


def test_deleting_an_owner_with_a_record_is_restricted(database: Database) -> None:
    with database.transaction() as conn:
        _customer(conn, "c1", _user(conn, "u1"))
    _rejects(database, lambda conn: conn.execute(delete(users).where(users.c.id == "u1")) and None)


def test_deleting_a_rep_sets_assigned_created_and_updated_by_to_null(database: Database) -> None:
    with database.transaction() as conn:
        _user(conn, "rep", role="super_admin")
        _customer(conn, "c1", _user(conn, "u1"), assignedTo="rep", createdBy="rep", updatedBy="rep")
    with database.transaction() as conn:
        conn.execute(delete(users).where(users.c.id == "rep"))
    with database.read() as conn:
        row = conn.execute(select(customers).where(customers.c.id == "c1")).one()
    assert (row.assignedTo, row.createdBy, row.updatedBy) == (None, None, None)


def test_deleting_a_customer_cascades_to_notes_and_interactions(database: Database) -> None:
    now = utcnow()
    with database.transaction() as conn:
        _customer(conn, "c1", _user(conn, "u1"))
        conn.execute(
            insert(customer_interactions).values(
                id="i1",
                customerId="c1",
                type="call",
                subject="Hi",
                occurredAt=now,
                createdAt=now,
                updatedAt=now,
            )
        )
        conn.execute(
            insert(customer_notes).values(
                id="n1", customerId="c1", content="Hello", createdAt=now, updatedAt=now
            )
        )
    with database.transaction() as conn:
        conn.execute(delete(customers).where(customers.c.id == "c1"))
    with database.read() as conn:
        assert conn.execute(select(customer_interactions)).first() is None
        assert conn.execute(select(customer_notes)).first() is None


def test_user_id_must_reference_a_user(database: Database) -> None:
    _rejects(database, lambda conn: _customer(conn, "c1", "ghost") and None)


def test_sqlite_runs_in_wal_with_full_sync_and_foreign_keys(database: Database) -> None:
    if not database.is_sqlite:
        pytest.skip("SQLite pragmas")
    with database.transaction() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() > 0


def test_updating_search_text_keeps_the_fts_index_in_step(database: Database) -> None:
    if not database.is_sqlite:
        pytest.skip("FTS5 triggers are SQLite's")
    with database.transaction() as conn:
        _customer(conn, "c1", _user(conn, "u1"), searchText="tan mei ling")
        conn.execute(update(customers).where(customers.c.id == "c1").values(searchText="lim"))
    with database.read() as conn:
        match = "SELECT count(*) FROM customers_fts WHERE customers_fts MATCH :q"
        assert conn.execute(text(match), {"q": "tan"}).scalar() == 0
        assert conn.execute(text(match), {"q": "lim"}).scalar() == 1
