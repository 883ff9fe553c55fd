"""Migration 0008 and the folded email columns: an address is unique and found whatever the case
of any of its letters, on SQLite as on PostgreSQL (SPEC §3, §12), and still by an index."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, event, inspect, select, text, update

from clientbook.access import SYSTEM
from clientbook.db import migrate
from clientbook.db.engine import Database
from clientbook.db.tables import customers, users
from clientbook.domain.errors import Conflict
from clientbook.domain.text import email_folded, lower_letters
from clientbook.query.fields import CUSTOMERS
from clientbook.query.native import parse_list_query
from clientbook.services import customers as customer_service
from clientbook.services import users as user_service
from tests.db.old_rows import old_customer, old_user
from tests.factories import make_customer, make_user


def _folded(db: Database, table: Any) -> dict[str, tuple[str | None, str | None]]:
    with db.read() as conn:
        rows = conn.execute(select(table.c.id, table.c.email, table.c.emailFolded))
        return {row.id: (row.email, row.emailFolded) for row in rows}


def _email_indexes(db: Database, table: str) -> set[str]:
    catalogue = (
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t"
        if db.is_sqlite
        else "SELECT indexname FROM pg_indexes WHERE tablename = :t "
        "AND schemaname = current_schema()"
    )
    with db.read() as conn:
        names = conn.execute(text(catalogue), {"t": table}).scalars()
        return {name for name in names if name.startswith("ux_") and "email" in name}


def _downgrade(db: Database, revision: str) -> None:
    config = migrate._config()
    with db.transaction() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def test_the_fold_is_postgresqls_lower_letter_by_letter() -> None:
    # str.lower() would give "i̇" (two characters) and a final "ς": PostgreSQL's lower() not.
    assert lower_letters("İSTANBUL") == "istanbul"
    assert lower_letters("ΟΔΟΣ@ΟΔΟΣ.GR") == "οδοσ@οδοσ.gr"
    assert email_folded("  Ösa@Example.COM ") == "ösa@example.com"
    assert email_folded(None) is None


def test_upgrade_fills_the_folded_emails_and_moves_the_unique_indexes(
    unmigrated: Database,
) -> None:
    db = unmigrated
    migrate.upgrade(db, "0007")
    record = old_customer(db, name="Ösa", email="Ösa@Example.com")
    plain = old_customer(db, name="No Email")
    invited = old_user(db, email=None, status="invited")

    migrate.upgrade(db)

    people = _folded(db, users)
    assert people[record["userId"]] == ("Ösa@Example.com", "ösa@example.com")
    assert people[invited["id"]] == (None, None)
    assert _folded(db, customers)[record["id"]] == ("Ösa@Example.com", "ösa@example.com")
    assert _folded(db, customers)[plain["id"]] == (None, None)
    assert _email_indexes(db, "users") == {"ux_users_emailFolded"}
    assert _email_indexes(db, "customers") == {"ux_customers_emailFolded"}
    with db.read() as conn:
        account = user_service.find_user_by_email(conn, "ÖSA@example.com")
    assert account is not None and account["id"] == record["userId"]
    data = {"name": "Again", "email": "öSA@EXAMPLE.com", "userId": make_user(db)["id"]}
    with pytest.raises(Conflict) as taken, db.transaction() as conn:
        customer_service.create_customer(conn, SYSTEM, data)
    assert set(taken.value.fields) == {"email"}


def test_upgrade_stops_naming_the_addresses_that_differ_only_in_case(tmp_path: Any) -> None:
    """Only SQLite can hold them (its lower() folds ASCII only); nothing changes until the
    operator keeps one of each."""
    from tests.conftest import settings_for

    db = Database(settings_for(f"sqlite:///{tmp_path / 'clash.sqlite3'}"))
    try:
        migrate.upgrade(db, "0007")
        first = old_customer(db, email="Ösa@example.com")
        second = old_customer(db, email="ösa@example.com")
        old_customer(db, email="Ösa.other@example.com")

        with pytest.raises(Conflict) as stopped:
            migrate.upgrade(db)

        fields = stopped.value.fields
        assert set(fields) == {"users.email", "customers.email"}
        for record in (first, second):
            assert f"(id {record['id']})" in fields["customers.email"]
            assert f"(id {record['userId']})" in fields["users.email"]
        assert "'Ösa@example.com'" in fields["customers.email"]
        assert "'ösa@example.com'" in fields["customers.email"]
        assert "other" not in fields["customers.email"]
        assert migrate.current_revision(db) == "0007"
        with db.read() as conn:
            assert "emailFolded" not in {c["name"] for c in inspect(conn).get_columns("users")}

        with db.transaction() as conn:  # the operator's fix
            for table in (users, customers):
                renamed = update(table).where(table.c.email == "ösa@example.com")
                conn.execute(renamed.values(email="osa2@example.com"))
        migrate.upgrade(db)
        assert migrate.is_current(db)
    finally:
        db.dispose()


def test_downgrade_restores_the_lower_indexes(unmigrated: Database) -> None:
    db = unmigrated
    migrate.upgrade(db)
    make_customer(db, email="Ösa@example.com")
    _downgrade(db, "0007")
    assert _email_indexes(db, "users") == {"ux_users_email_lower"}
    assert _email_indexes(db, "customers") == {"ux_customers_email_lower"}
    with db.read() as conn:
        assert "emailFolded" not in {c["name"] for c in inspect(conn).get_columns("customers")}
    migrate.upgrade(db)
    assert _folded(db, customers) and all(
        folded == email_folded(email) for email, folded in _folded(db, customers).values()
    )


# --- every lookup by address reads the unique index ------------------------------------------


@contextmanager
def _statements(conn: Connection) -> Iterator[list[tuple[str, Any]]]:
    """The SQL `conn` runs meanwhile, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(conn, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(conn, "before_cursor_execute", record)


def _plan(conn: Connection, statement: str, parameters: Any) -> str:
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
        return " | ".join(row[3] for row in rows)
    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # a table of a few rows
    return "\n".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {statement}", parameters))


def _find_account(conn: Connection, owner: str) -> object:
    return user_service.find_user_by_email(conn, "ÖSA@example.com")


def _filter_customers(conn: Connection, owner: str) -> object:
    query = parse_list_query(CUSTOMERS, [("email", "ÖSA@example.com")])
    return customer_service.list_customers(conn, SYSTEM, query)


def _filter_accounts(conn: Connection, owner: str) -> object:
    return user_service.list_user_page(conn, SYSTEM, [("email", "ÖSA@example.com")])


def _taken_record_email(conn: Connection, owner: str) -> object:
    data = {"name": "Again", "email": "ÖSA@example.com", "userId": owner}
    with pytest.raises(Conflict):
        customer_service.create_customer(conn, SYSTEM, data)
    return None


@pytest.mark.parametrize(
    ("lookup", "index"),
    [
        (_find_account, "ux_users_emailFolded"),
        (_filter_accounts, "ux_users_emailFolded"),
        (_filter_customers, "ux_customers_emailFolded"),
        (_taken_record_email, "ux_customers_emailFolded"),
    ],
)
def test_a_lookup_by_email_reads_the_unique_index(
    database: Database, lookup: Callable[[Connection, str], object], index: str
) -> None:
    make_customer(database, email="ösa@example.com")
    spare = make_user(database)
    with database.transaction() as conn, _statements(conn) as seen:
        lookup(conn, spare["id"])
        by_email = [(sql, params) for sql, params in seen if '"emailFolded" =' in sql]
        assert by_email, seen
        for sql, params in by_email:
            plan = _plan(conn, sql, params)
            assert index in plan, plan
            assert "SCAN customers" not in plan and "SCAN users" not in plan, plan
