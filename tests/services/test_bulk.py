"""The bulk path writes exactly what the single-record services write, only faster."""

from __future__ import annotations

import contextlib
import itertools
import random
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from clientbook.access import SYSTEM
from clientbook.db.engine import Database
from clientbook.db.tables import (
    customer_interactions,
    customer_notes,
    customer_tags,
    customers,
    users,
)
from clientbook.domain.customers import validate_customer
from clientbook.domain.ids import new_id
from clientbook.domain.interactions import validate_interaction
from clientbook.domain.notes import validate_note
from clientbook.domain.timestamps import utcnow
from clientbook.domain.users import validate_user
from clientbook.services import bulk, stats
from clientbook.services import customers as customer_service
from clientbook.services import users as user_service
from tests.db.test_customer_counts import assert_counters_match, random_fields
from tests.db.test_pair_counts import assert_pairs_match
from tests.factories import make_customer, make_staff, make_user

BODY: dict[str, Any] = {
    "name": "Tan Mei Ling",
    "phone": "012-345 6789",
    "company": "Sunrise Trading Sdn Bhd",
    "customerType": "company",
    "country": "Malaysia",
    "metadata": {"tags": ["VIP", "vip", " wholesale "], "customFields": {"tier": "Gold"}},
    "notes": {"general": "Prefers WhatsApp"},
    "lastContactAt": "2025-03-01T10:00:00Z",
}
_emails = itertools.count()
# Set by the system, or different on purpose between the two writes.
NOT_COMPARED = {
    "seq", "id", "userId", "email", "emailFolded", "emailKey", "searchText", "createdAt",
    "updatedAt",
}  # fmt: skip


def _customer_row(db: Database, customer_id: str) -> dict[str, Any]:
    with db.read() as conn:
        row = conn.execute(select(customers).where(customers.c.id == customer_id)).one()
        return dict(row._mapping)


def _tags(db: Database, customer_id: str) -> list[tuple[str, str]]:
    with db.read() as conn:
        query = select(customer_tags.c.tagKey, customer_tags.c.tag).where(
            customer_tags.c.customerId == customer_id
        )
        return sorted((r.tagKey, r.tag) for r in conn.execute(query))


def _bulk_customer(db: Database, body: dict[str, Any], *, count: int = 1) -> list[str]:
    """`count` customers with `body` (emails made unique) written through the bulk path."""
    now = utcnow()
    rows = bulk.BulkRows()
    for _ in range(count):
        user_id = new_id()
        email = f"bulk{next(_emails)}@example.com"
        account = validate_user({"email": email, "name": body["name"], "status": "invited"})
        rows.users.append(bulk.build_user_row(account, user_id=user_id, created_at=now))
        values = validate_customer({**body, "userId": user_id, "email": email})
        rows.customers.append(
            bulk.build_customer_row(values, record_id=new_id(), created_at=now, created_by=None)
        )
    with db.transaction() as conn:
        bulk.insert_bulk(conn, rows)
    return [row["id"] for row in rows.customers]


def test_bulk_customer_row_matches_the_single_record_create(database: Database) -> None:
    owner = make_user(database)
    with database.transaction() as conn:
        single = customer_service.create_customer(
            conn, SYSTEM, {**BODY, "userId": owner["id"], "email": "single@example.com"}
        )
    [bulk_id] = _bulk_customer(database, BODY)

    one, other = _customer_row(database, single["id"]), _customer_row(database, bulk_id)
    assert {k: v for k, v in one.items() if k not in NOT_COMPARED} == {
        k: v for k, v in other.items() if k not in NOT_COMPARED
    }
    email_word = other["email"].split("@")[0]
    assert one["searchText"].replace("single", email_word) == other["searchText"]
    assert _tags(database, single["id"]) == _tags(database, bulk_id)
    assert _tags(database, bulk_id) == [("vip", "VIP"), ("wholesale", "wholesale")]


def test_bulk_user_row_matches_insert_user(database: Database) -> None:
    data = {"name": "Owner", "status": "invited"}
    with database.transaction() as conn:
        single = user_service.insert_user(
            conn, SYSTEM, {**data, "email": "one@example.com"}, password_hash=None
        )
        values = validate_user({**data, "email": "two@example.com"})
        row = bulk.build_user_row(values, user_id=new_id(), created_at=utcnow())
        bulk.insert_bulk(conn, bulk.BulkRows(users=[row]))
    with database.read() as conn:
        stored = [
            {k: v for k, v in r._mapping.items() if k not in NOT_COMPARED}
            for r in conn.execute(select(users).where(users.c.id.in_([single["id"], row["id"]])))
        ]
    assert len(stored) == 2
    assert stored[0] == stored[1]


def test_bulk_writes_interactions_and_notes(database: Database) -> None:
    rep = make_staff(database)
    [customer_id] = _bulk_customer(database, BODY)
    now = utcnow()
    interaction = validate_interaction({"type": "call", "subject": "Follow-up", "occurredAt": now})
    note = validate_note({"content": "Halal only", "category": "important", "isPinned": True})
    rows = bulk.BulkRows(
        interactions=[
            bulk.build_item_row(interaction, item_id=new_id(), customer_id=customer_id,
                                created_at=now, created_by=rep["id"], tracks_updated_by=False)
        ],
        notes=[
            bulk.build_item_row(note, item_id=new_id(), customer_id=customer_id,
                                created_at=now, created_by=rep["id"], tracks_updated_by=True)
        ],
    )  # fmt: skip
    with database.transaction() as conn:
        batch = bulk.insert_bulk(conn, rows)
    assert batch.count("customer_interactions") == 1
    with database.read() as conn:
        stored = conn.execute(select(customer_interactions)).one()
        pinned = conn.execute(select(customer_notes.c.isPinned, customer_notes.c.updatedBy)).one()
    assert (stored.subject, stored.occurredAt, stored.createdBy) == ("Follow-up", now, rep["id"])
    assert (pinned.isPinned, pinned.updatedBy) == (True, None)


def _search(db: Database, word: str) -> int:
    with db.read() as conn:
        query = "SELECT count(*) FROM customers_fts WHERE customers_fts MATCH ?"
        return int(conn.exec_driver_sql(query, (word,)).scalar_one())


def _trigger_sql(db: Database) -> str | None:
    with db.read() as conn:
        query = "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?"
        return conn.exec_driver_sql(query, (bulk.FTS_TRIGGER,)).scalar()


@pytest.fixture
def sqlite_database(database: Database) -> Database:
    if not database.is_sqlite:
        pytest.skip("the full-text trigger is SQLite's")
    return database


def test_batched_search_indexing_matches_the_trigger(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _trigger_sql(sqlite_database)
    _bulk_customer(sqlite_database, BODY, count=3)  # below the threshold: the trigger indexes
    monkeypatch.setattr(bulk, "FTS_REPLAY_MIN_ROWS", 1)
    _bulk_customer(sqlite_database, {**BODY, "name": "Rajesh a/l Kumar"}, count=4)
    assert _search(sqlite_database, "sunrise") == 7
    assert _search(sqlite_database, "rajesh") == 4
    assert _search(sqlite_database, "0123456789") == 7
    assert _trigger_sql(sqlite_database) == before  # put back exactly as the migration made it
    with sqlite_database.transaction() as conn:  # FTS5's own consistency check
        conn.exec_driver_sql("INSERT INTO customers_fts(customers_fts) VALUES ('integrity-check')")


def test_a_rolled_back_bulk_write_leaves_the_trigger_in_place(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "FTS_REPLAY_MIN_ROWS", 1)
    before = _trigger_sql(sqlite_database)
    with pytest.raises(RuntimeError), sqlite_database.transaction() as conn:
        rows = bulk.BulkRows()
        user_id = new_id()
        account = validate_user({"email": "r@example.com", "status": "invited"})
        rows.users.append(bulk.build_user_row(account, user_id=user_id, created_at=utcnow()))
        values = validate_customer({"name": "Rolled Back", "userId": user_id})
        rows.customers.append(
            bulk.build_customer_row(values, record_id=new_id(), created_at=utcnow(),
                                    created_by=None)
        )  # fmt: skip
        bulk.insert_bulk(conn, rows)
        raise RuntimeError("stop")
    assert _trigger_sql(sqlite_database) == before
    assert _search(sqlite_database, "rolled") == 0
    assert_counters_match(sqlite_database)
    _bulk_customer(sqlite_database, {"name": "After Rollback"})  # the trigger still indexes
    assert _search(sqlite_database, "rollback") == 1


def test_write_batch_refuses_to_run_outside_a_transaction(database: Database) -> None:
    batch = bulk.prepare_batch(bulk.BulkRows(), database.dialect)
    with database.writer.connect() as conn, pytest.raises(RuntimeError):
        bulk.write_batch(conn, batch)


def test_a_caught_error_inside_the_writer_still_restores_index_and_trigger(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "FTS_REPLAY_MIN_ROWS", 1)
    before = _trigger_sql(sqlite_database)
    [first] = _bulk_customer(sqlite_database, {"name": "Existing Customer"})
    with sqlite_database.transaction() as conn:
        try:
            with bulk.BulkWriter(conn, expected_customers=10) as writer:
                rows = bulk.BulkRows()
                user_id = new_id()
                account = validate_user({"email": "late@example.com", "status": "invited"})
                rows.users.append(
                    bulk.build_user_row(account, user_id=user_id, created_at=utcnow())
                )
                values = validate_customer({"name": "Written Before Error", "userId": user_id})
                row = bulk.build_customer_row(
                    values, record_id=new_id(), created_at=utcnow(), created_by=None
                )
                rows.customers.append(row)
                writer.write(bulk.prepare_batch(rows, "sqlite"))
                duplicate = bulk.BulkRows(customers=[{**row, "id": first}])
                writer.write(bulk.prepare_batch(duplicate, "sqlite"))  # unique id violated
        except IntegrityError:
            pass  # the caller decides to keep what was written and commit
    assert _trigger_sql(sqlite_database) == before
    assert _search(sqlite_database, "written") == 1
    assert_counters_match(sqlite_database)  # the rows before the failed one are counted
    assert_pairs_match(sqlite_database)


# --- the counters' triggers, replayed per batch ------------------------------------------------


def test_replayed_triggers_are_exactly_the_migrations_own(sqlite_database: Database) -> None:
    """Otherwise the bulk writer leaves them to run per row: correct, but the fast path is lost
    without a sound. A migration that changes one must change its replay here too."""
    with sqlite_database.read() as conn:
        query = "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
        stored = {name: sql for name, sql in conn.exec_driver_sql(query)}
    assert {t.name: stored.get(t.name) for t in bulk.REPLAYED_TRIGGERS} == {
        t.name: t.sql for t in bulk.REPLAYED_TRIGGERS
    }


# Multiples of 1/4: their sums are exact in any order, so the totals can be compared exactly.
EXACT_REVENUES = (0.0, 12.5, 99.25, 1024.75)


def _random_customers(rng: random.Random, reps: list[str], count: int) -> bulk.BulkRows:
    """`count` customers spread over every counted value, nulls and archived ones included."""
    rows = bulk.BulkRows()
    now = utcnow()
    for _ in range(count):
        user_id = new_id()
        email = f"counted{next(_emails)}@example.com"
        account = validate_user({"email": email, "status": "invited"})
        rows.users.append(bulk.build_user_row(account, user_id=user_id, created_at=now))
        fields = random_fields(rng, reps) | {"totalRevenue": rng.choice(EXACT_REVENUES)}
        values = validate_customer({**fields, "name": "Counted", "userId": user_id})
        created = now - timedelta(days=rng.randint(0, 3), hours=rng.randint(0, 23))
        rows.customers.append(
            bulk.build_customer_row(values, record_id=new_id(), created_at=created,
                                    created_by=None)
        )  # fmt: skip
    return rows


class RolledBack(Exception):
    pass


def _counts(conn: Connection) -> stats.Counts:
    counts = stats.read_counts(conn)
    by_value = {d: {v: n for v, n in values.items() if n} for d, values in counts.by_value.items()}
    return stats.Counts(counts.total, counts.revenue, counts.earning, by_value)


def _customer_triggers(conn: Connection) -> set[str]:
    if conn.dialect.name != "sqlite":
        return set()
    query = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'customers'"
    return set(conn.exec_driver_sql(query).scalars())


def test_replayed_counters_equal_the_per_row_triggers(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(11)
    reps = [make_staff(database)["id"] for _ in range(3)]
    for _ in range(6):  # keys already counted: the replay must add to them
        make_customer(database, **random_fields(rng, reps))
    batches = [_random_customers(rng, reps, n) for n in (40, 1, 75)]

    def write(min_rows: int, *, commit: bool) -> tuple[stats.Counts, set[str]]:
        monkeypatch.setattr(bulk, "FTS_REPLAY_MIN_ROWS", min_rows)
        found: list[tuple[stats.Counts, set[str]]] = []
        with contextlib.suppress(RolledBack), database.transaction() as conn:
            with bulk.BulkWriter(conn, expected_customers=116) as writer:
                inside = _customer_triggers(conn)
                for rows in batches:
                    writer.write(bulk.prepare_batch(rows, database.dialect))
            found.append((_counts(conn), inside))
            if not commit:
                raise RolledBack
        return found[0]

    before = _customer_triggers_of(database)
    per_row, kept = write(10**9, commit=False)
    replayed, inside = write(1, commit=True)
    assert kept == before
    if database.is_sqlite:
        set_aside = {t.name for t in bulk.REPLAYED_TRIGGERS}
        assert before - inside == set_aside  # the counters really were replayed, not triggered
    assert replayed == per_row
    assert replayed.total == 6 + 116
    assert _customer_triggers_of(database) == before
    assert_counters_match(database)  # and both equal a GROUP BY of the rows themselves
    assert_pairs_match(database)


def _customer_triggers_of(db: Database) -> set[str]:
    with db.read() as conn:
        return _customer_triggers(conn)
