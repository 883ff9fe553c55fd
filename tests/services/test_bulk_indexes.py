"""Bulk loads into (nearly) empty tables build their plain indexes once, at the end
(`bulk.DeferredIndexes`), and leave the schema exactly as the migrations made it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError

from clientbook.access import SYSTEM
from clientbook.db.engine import Database
from clientbook.db.tables import audit_logs, customer_tags, customers, users
from clientbook.domain.ids import new_id
from clientbook.domain.timestamps import utcnow
from clientbook.domain.users import validate_user
from clientbook.services import bulk, demo
from clientbook.services.imports import ImportOptions, engine, open_source, run_import
from tests.factories import make_customer

TABLES = ("users", "customers", "customer_tags", "audit_logs")


def index_definitions(conn: Connection) -> dict[str, tuple[str, str]]:
    """Every index of the bulk-loaded tables: name -> (table, definition), from the catalog."""
    if conn.dialect.name == "sqlite":
        query = (
            "SELECT name, tbl_name, coalesce(sql, '') FROM sqlite_master "
            "WHERE type = 'index' AND tbl_name IN (?, ?, ?, ?)"
        )
        rows = conn.exec_driver_sql(query, TABLES).all()
    else:
        query = (
            "SELECT indexname, tablename, indexdef FROM pg_indexes "
            "WHERE schemaname = current_schema() AND tablename IN (%s, %s, %s, %s)"
        )
        rows = conn.exec_driver_sql(query, TABLES).all()
    return {name: (table, definition) for name, table, definition in rows}


def triggers(conn: Connection) -> set[str]:
    if conn.dialect.name != "sqlite":
        return set()
    query = "SELECT name || ':' || sql FROM sqlite_master WHERE type = 'trigger'"
    return set(conn.exec_driver_sql(query).scalars())


def schema(db: Database) -> tuple[dict[str, tuple[str, str]], set[str]]:
    with db.read() as conn:
        return index_definitions(conn), triggers(conn)


def write_csv(tmp_path: Path, rows: int, *, start: int = 0) -> Path:
    lines = ["name,email,city,metadata"]
    lines += [
        f'Person {n},person{n}@example.my,Ipoh,"{{""tags"": [""t{n % 3}""]}}"'
        for n in range(start, start + rows)
    ]
    path = tmp_path / "customers.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_plain_indexes_are_dropped_inside_and_rebuilt_exactly(database: Database) -> None:
    before = schema(database)
    plain = {name for name in before[0] if name.startswith("ix_customers_")}
    assert len(plain) > 20
    coming = {"customers": 10, "users": 10}
    with database.transaction() as conn, bulk.DeferredIndexes(conn, coming, min_rows=1) as deferred:
        inside = index_definitions(conn)
        assert plain.isdisjoint(inside)  # really set aside while loading
        assert {name for _, name, _ in deferred.dropped} >= plain
        # Unique indexes stay: uniqueness is enforced row by row as always.
        assert "ux_customers_emailFolded" in inside
        assert "ux_users_emailFolded" in inside
    assert schema(database) == before


def test_unique_indexes_wait_for_the_end_only_when_asked(database: Database) -> None:
    """`unique=True` (the all-or-nothing demo): a duplicate fails the rebuild at the end, and
    with it the whole transaction; constraints (the primary key, `id`) stay throughout."""
    before = schema(database)
    unique = {name for name in before[0] if name.startswith("ux_users_")}
    assert unique
    now = utcnow()
    rows = [
        bulk.build_user_row(validate_user({"email": email, "status": "invited"}),
                            user_id=new_id(), created_at=now)
        for email in ("same@example.com", "SAME@example.com")
    ]  # fmt: skip
    with (
        pytest.raises(IntegrityError),
        database.transaction() as conn,
        bulk.DeferredIndexes(conn, {"users": 10}, min_rows=1, unique=True) as deferred,
    ):
        inside = index_definitions(conn)
        assert unique.isdisjoint(inside)
        assert unique <= {name for _, name, _ in deferred.dropped}
        assert any(table == "users" for table, _ in inside.values())  # the constraints
        bulk.insert_rows(conn, "users", rows)  # the duplicate goes in unnoticed...
    assert schema(database) == before  # ...until the rebuild, which rolls everything back
    assert count(database, users) == 0
    with (
        database.transaction() as conn,
        bulk.DeferredIndexes(conn, {"users": 10}, min_rows=1, unique=True),
    ):
        bulk.insert_rows(conn, "users", rows[:1])
    assert schema(database) == before
    assert count(database, users) == 1


def test_tables_holding_rows_keep_their_indexes(database: Database) -> None:
    make_customer(database, name="Already Here")
    with database.transaction() as conn:
        # One row there, three coming: more than a quarter, so a rebuild would not pay.
        with bulk.DeferredIndexes(conn, {"customers": 3}, min_rows=1) as deferred:
            assert deferred.dropped == []
        # Below the threshold nothing is touched either.
        with bulk.DeferredIndexes(conn, {"users": 10}, min_rows=11) as deferred:
            assert deferred.dropped == []


def test_an_error_inside_leaves_the_indexes_whole(database: Database) -> None:
    before = schema(database)
    with (
        pytest.raises(RuntimeError),
        database.transaction() as conn,
        bulk.DeferredIndexes(conn, {"customers": 10}, min_rows=1),
    ):
        raise RuntimeError("boom")
    assert schema(database) == before
    # A caller that catches the error and commits keeps them too: they are rebuilt on exit.
    with database.transaction() as conn:
        try:
            with bulk.DeferredIndexes(conn, {"customers": 10}, min_rows=1):
                raise RuntimeError("caught")
        except RuntimeError:
            pass
    assert schema(database) == before


def count(db: Database, table: Any) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_fast_path_import_leaves_the_migrated_schema_and_searchable_rows(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = schema(database)
    monkeypatch.setattr(bulk, "DEFER_MIN_ROWS", 5)
    dropped: list[int] = []
    real_enter = bulk.DeferredIndexes.__enter__

    def spy(self: bulk.DeferredIndexes) -> bulk.DeferredIndexes:
        result = real_enter(self)
        dropped.append(len(self.dropped))
        return result

    monkeypatch.setattr(bulk.DeferredIndexes, "__enter__", spy)
    source = open_source(write_csv(tmp_path, 40), filename="customers.csv", fmt=None)
    report = run_import(database, SYSTEM, source, ImportOptions())
    assert report.applied and report.created == 40
    if database.is_sqlite:
        assert dropped and dropped[0] > 20  # the fast path ran
    else:
        # On PostgreSQL DROP INDEX would lock readers (sign-ins too) out for the import.
        assert dropped == [0]
    assert schema(database) == before
    assert count(database, customers) == 40
    assert count(database, customer_tags) == 40
    with database.read() as conn:
        # The rebuilt indexes answer queries; the full-text index holds every row.
        query = select(func.count()).select_from(customers).where(customers.c.city == "Ipoh")
        assert conn.execute(query).scalar_one() == 40
        if conn.dialect.name == "sqlite":
            fts = "SELECT count(*) FROM customers_fts WHERE customers_fts MATCH 'person'"
            assert conn.exec_driver_sql(fts).scalar_one() == 40


def test_failed_all_or_nothing_import_leaves_the_schema_and_no_rows(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = schema(database)
    monkeypatch.setattr(bulk, "DEFER_MIN_ROWS", 5)
    path = write_csv(tmp_path, 30)
    path.write_text(path.read_text() + "Bad Row,not-an-email,Ipoh,\n")
    source = open_source(path, filename="customers.csv", fmt=None)
    report = run_import(database, SYSTEM, source, ImportOptions())
    assert report.failed == 1 and not report.applied
    assert schema(database) == before
    assert count(database, customers) == 0
    assert count(database, users) == 0
    assert count(database, audit_logs) == 0


def test_a_conflict_the_checks_missed_costs_only_its_row(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database still guards uniqueness: when a batch write fails (on SQLite without a
    savepoint), what it wrote is taken back and the rows are written one by one."""
    make_customer(database, name="Holder", email="person7@example.my")
    # Blind the batch lookup, so that the row repeating the email reaches the database.
    monkeypatch.setattr(engine.Importer, "_lookup", lambda self, rows: engine._Known())
    source = open_source(write_csv(tmp_path, 12), filename="customers.csv", fmt=None)
    report = run_import(database, SYSTEM, source, ImportOptions(skip_errors=True))
    assert report.applied and report.created == 11 and report.failed == 1
    assert report.failures[0].row == 8  # data rows count from 1: person7 is the eighth
    assert "email" in report.failures[0].errors
    assert count(database, customers) == 12
    assert count(database, users) == 12  # no invited account left over for the failed row
    assert count(database, customer_tags) == 11
    with database.read() as conn:
        created = conn.execute(
            select(func.count())
            .select_from(audit_logs)
            .where(audit_logs.c.action == "customer.created")
        ).scalar_one()
        assert created == 12  # the holder's and the eleven imported rows', not the failed one's
    if database.is_sqlite:
        with database.transaction() as conn:
            fts = "SELECT count(*) FROM customers_fts WHERE customers_fts MATCH 'person'"
            assert conn.exec_driver_sql(fts).scalar_one() == 11
            # Raises when the full-text index and the table disagree.
            conn.exec_driver_sql(
                "INSERT INTO customers_fts(customers_fts, rank) VALUES ('integrity-check', 1)"
            )


def test_demo_is_one_transaction_that_leaves_the_migrated_schema(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = schema(database)
    monkeypatch.setattr(bulk, "DEFER_MIN_ROWS", 5)
    seen: list[int] = []
    real_enter = bulk.DeferredIndexes.__enter__

    def spy(self: bulk.DeferredIndexes) -> bulk.DeferredIndexes:
        result = real_enter(self)
        seen.append(len(self.dropped))
        return result

    monkeypatch.setattr(bulk.DeferredIndexes, "__enter__", spy)
    demo.run_demo(database, customers=120, seed=5, chunk_size=40, workers=0)
    assert len(seen) == 1 and seen[0] > 20  # one transaction, indexes set aside in it
    assert schema(database) == before
    assert count(database, customers) == 120
    with database.read() as conn:
        generated = select(func.count()).where(audit_logs.c.action == "demo.generated")
        assert conn.execute(generated).scalar_one() == 1
