"""`customer_counts`' (assignedTo, status) pairs (migration 0005): equal a GROUP BY of the
customers after any mix of writes through every write path, on both backends; backfilled by
the migration and removed by its downgrade; read by their index on PostgreSQL."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select, text

from clientbook.db import migrate
from clientbook.db.engine import Database
from clientbook.db.tables import customers
from clientbook.services import stats
from tests.db.old_rows import old_customer
from tests.db.test_customer_counts import (
    Writes,
    _downgrade,
    assert_counters_match,
    customers_at,
    random_fields,
    random_writes,
)
from tests.factories import make_customer

PAIRS = "assignedToStatus"
_c = customers.c


def grouped(conn: Connection) -> dict[tuple[str, str], int]:
    query = (
        select(_c.assignedTo, _c.status, func.count())
        .where(_c.assignedTo.is_not(None))
        .group_by(_c.assignedTo, _c.status)
    )
    return {(rep, status): n for rep, status, n in conn.execute(query)}


def counted(conn: Connection) -> dict[tuple[str, str], int]:
    by_key = stats.read_counts(conn).by_value.get(PAIRS, {})
    return {tuple(key.rsplit("|", 1)): n for key, n in by_key.items() if n}  # type: ignore[misc]


def assert_pairs_match(db: Database) -> dict[tuple[str, str], int]:
    with db.read() as conn:
        expected = grouped(conn)
        assert counted(conn) == expected
    return expected


@pytest.mark.parametrize("seed", [3, 4])
def test_pair_counters_equal_group_by_after_random_writes(
    database: Database, tmp_path: Path, seed: int
) -> None:
    writes = Writes(database, random.Random(seed), tmp_path)
    assigned: list[int] = []
    random_writes(writes, lambda: assigned.append(len(assert_pairs_match(database))))
    assert max(assigned) > 1


def _pair_objects(db: Database) -> int:
    catalogue = (
        "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' "
        "AND name LIKE 'customer_pair_counts%'"
        if db.is_sqlite
        else "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'customers'::regclass "
        "AND tgname LIKE 'customer_pair_counts%'"
    )
    with db.read() as conn:
        return int(conn.execute(text(catalogue)).scalar_one())


def test_upgrade_backfills_the_pairs_and_downgrade_removes_them(
    unmigrated: Database,
) -> None:
    db = unmigrated
    rng, reps = customers_at(db, "0004", count=30, reps=3, seed=5)
    assert _pair_objects(db) == 0

    migrate.upgrade(db)
    assert _pair_objects(db) == 3
    assert sum(assert_pairs_match(db).values()) > 0
    make_customer(db, **random_fields(rng, reps))
    assert_pairs_match(db)

    _downgrade(db, "0004")
    assert _pair_objects(db) == 0
    with db.read() as conn:
        assert counted(conn) == {}
    old_customer(db, **random_fields(rng, reps))  # writes work without the triggers
    assert_counters_match(db)  # and 0002's counters are untouched
    migrate.upgrade(db)
    assert_pairs_match(db)


def test_postgres_reads_a_key_by_the_counters_index(database: Database) -> None:
    """Compaction rewrites every row: a reader of one key must not scan them all."""
    if database.is_sqlite:
        pytest.skip("SQLite reads its unique (dimension, value) index")
    with database.transaction() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = conn.execute(
            text(
                "EXPLAIN SELECT sum(count) FROM customer_counts "
                "WHERE dimension = 'status' AND value = 'active'"
            )
        ).scalars()
        assert "ix_customer_counts_key" in "\n".join(plan)
