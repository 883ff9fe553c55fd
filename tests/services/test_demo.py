"""`clientbook demo`: deterministic, realistic, validated like API input, audited."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from clientbook.cli import app
from clientbook.config import Settings
from clientbook.db import migrate
from clientbook.db.engine import Database
from clientbook.db.tables import (
    audit_logs,
    customer_interactions,
    customer_notes,
    customer_tags,
    customers,
    users,
)
from clientbook.domain.customers import (
    CUSTOMER_ATTRIBUTES,
    derive_customer_columns,
    validate_customer,
)
from clientbook.domain.enums import ORGANISATION_TYPES
from clientbook.domain.errors import Conflict
from clientbook.domain.interactions import INTERACTION_FIELDS, validate_interaction
from clientbook.domain.notes import NOTE_FIELDS, validate_note
from clientbook.domain.tags import get_customer_tags, tag_key
from clientbook.domain.text import email_folded
from clientbook.domain.users import validate_user
from clientbook.services import bulk, demo
from clientbook.services.demo_records import slug
from clientbook.services.demo_vocabulary import STAFF
from tests.db.test_customer_counts import assert_counters_match
from tests.db.test_pair_counts import assert_pairs_match

AS_OF = datetime(2026, 1, 15, tzinfo=UTC)
STAFF_IDS = tuple(f"staff{n}" for n in range(len(STAFF)))
DERIVED = (
    "phoneNormalized", "phoneValid", "emailFolded", "emailKey", "duplicateNameKey", "searchText"
)  # fmt: skip


def plan(customers: int, *, seed: int = 7, chunk_size: int = 500) -> demo.DemoPlan:
    return demo.DemoPlan(
        customers=customers,
        seed=seed,
        as_of=AS_OF,
        staff_ids=STAFF_IDS,
        dialect="sqlite",
        chunk_size=chunk_size,
    )


def generated(customers: int, **kwargs: Any) -> list[dict[str, Any]]:
    """The customer rows of a plan, built without a database."""
    p = plan(customers, **kwargs)
    return [row for chunk in range(p.chunks) for row in demo.build_rows(p, chunk).customers]


def select_all(db: Database, table: Any) -> list[dict[str, Any]]:
    with db.read() as conn:
        order = table.c.seq if "seq" in table.c else table.c.customerId
        return [dict(r._mapping) for r in conn.execute(select(table).order_by(order))]


def count(db: Database, table: Any) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.fixture
def loaded(database: Database) -> Database:
    """A database holding 400 demo customers (three transactions of up to 150)."""
    demo.run_demo(
        database, customers=400, seed=11, as_of=AS_OF, transaction_size=150, chunk_size=50
    )
    return database


# --- determinism and realism, without a database ---------------------------------------------


def test_same_seed_gives_the_same_records() -> None:
    def shape(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [(r["name"], r["email"], r["phone"], r["createdAt"], r["metadata"]) for r in rows]

    assert shape(generated(300)) == shape(generated(300))
    assert shape(generated(300)) != shape(generated(300, seed=8))


def test_records_do_not_depend_on_the_chunk_size() -> None:
    # So neither can they depend on how many worker processes built the chunks.
    def shape(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [(r["name"], r["email"], r["phone"], r["createdAt"], r["notes"]) for r in rows]

    assert shape(generated(700, chunk_size=500)) == shape(generated(700, chunk_size=33))


def test_emails_are_unique_and_derived_from_names() -> None:
    rows = generated(3000)
    emails = [r["email"].lower() for r in rows]
    assert len(set(emails)) == len(emails)
    assert all(r["email"].endswith(".example") for r in rows)
    # Every address carries the person's (ASCII-folded) names: "José" → "jose".
    for r in rows:
        local = r["email"].split("@")[0]
        words = [slug(w) for w in r["name"].split() if w not in ("bin", "binti", "a/l", "a/p")]
        assert sum(w in local for w in words) >= 1, (r["name"], local)


def test_organisations_always_have_a_company() -> None:
    rows = generated(2000)
    organisations = [r for r in rows if r["customerType"] in ORGANISATION_TYPES]
    assert organisations
    assert all(r["company"] for r in organisations)


def test_proportions_are_plausible() -> None:
    rows = generated(4000)

    def share(field: str, value: Any) -> float:
        return sum(r[field] == value for r in rows) / len(rows)

    statuses = Counter(r["status"] for r in rows)
    assert statuses.most_common(1)[0][0] == "active"
    assert 0.5 < share("status", "active") < 0.75
    assert set(statuses) == {"active", "inactive", "lead", "prospect", "archived"}
    assert 0.65 < share("customerType", "individual") < 0.9
    assert len({r["customerType"] for r in rows}) == 4
    assert len({r["source"] for r in rows}) == 9  # all eight, and some unknown
    assert 0.8 < share("country", "Malaysia") < 0.97
    assert 0.75 < share("currency", "MYR") < 0.95
    assert 0.2 < share("language", "ms") < 0.5
    assert 0.22 < sum(bool(get_customer_tags(r["metadata"])) for r in rows) / len(rows) < 0.38
    assert sum(r["phoneValid"] is True for r in rows) / len(rows) > 0.9
    assert 0.3 < sum(r["totalRevenue"] > 0 for r in rows) / len(rows) < 0.6
    assert all(r["totalInvoices"] == 0 for r in rows)  # reserved by the seed, never computed


def test_names_mix_malaysian_communities_and_accents() -> None:
    names = [r["name"] for r in generated(3000)]
    assert any(" binti " in n for n in names)
    assert any(" bin " in n for n in names)
    assert any(" a/l " in n for n in names)
    assert any(" a/p " in n for n in names)
    assert any(n.split()[0] in ("Tan", "Lim", "Lee", "Wong") for n in names)
    assert any(not n.isascii() for n in names)


def test_dates_span_two_years_with_overdue_and_upcoming_follow_ups() -> None:
    rows = generated(3000)
    created = [r["createdAt"] for r in rows]
    assert created == sorted(created)  # creation order is insertion order
    assert (AS_OF - created[0]).days >= 725
    assert max(created) < AS_OF
    follow_ups = [r["nextFollowUpAt"] for r in rows if r["nextFollowUpAt"] is not None]
    assert 0.15 < len(follow_ups) / len(rows) < 0.6  # many have none
    assert any(f < AS_OF for f in follow_ups)
    assert any(f > AS_OF for f in follow_ups)
    assert all(r["lastContactAt"] is None or r["lastContactAt"] <= AS_OF for r in rows)


# --- what lands in the database (both backends) -----------------------------------------------


def test_counts_and_one_audit_row_per_transaction(loaded: Database) -> None:
    assert count(loaded, customers) == 400
    assert count(loaded, users) == 400 + len(STAFF)
    rows = [r for r in select_all(loaded, audit_logs) if r["action"] == "demo.generated"]
    assert len(rows) == 3  # 400 customers in transactions of 150
    assert all(r["actorType"] == "system" and r["actorId"] is None for r in rows)
    last = orjson.loads(rows[-1]["changes"])
    assert last["customers"] == {"from": 300, "to": 400}
    assert last["interactions"]["to"] == count(loaded, customer_interactions)
    assert last["tags"]["to"] == count(loaded, customer_tags)


def test_every_stored_record_revalidates_and_keeps_its_derived_columns(loaded: Database) -> None:
    for row in select_all(loaded, customers):
        body = {k: row[k] for k in CUSTOMER_ATTRIBUTES if k not in ("createdBy", "updatedBy")}
        values = validate_customer(body)
        assert values == {**body, "createdBy": None, "updatedBy": None}
        derived = derive_customer_columns(values)
        assert {k: row[k] for k in DERIVED} == derived
    for row in select_all(loaded, users):
        validate_user({k: row[k] for k in ("email", "name", "role", "status")})
        assert row["emailFolded"] == email_folded(row["email"])
    for row in select_all(loaded, customer_interactions):
        validate_interaction({k: row[k] for k in INTERACTION_FIELDS})
    for row in select_all(loaded, customer_notes):
        validate_note({k: row[k] for k in NOTE_FIELDS})


def test_owners_are_invited_and_reps_are_active_staff(loaded: Database) -> None:
    accounts = {u["id"]: u for u in select_all(loaded, users)}
    records = select_all(loaded, customers)
    assert {accounts[r["userId"]]["status"] for r in records} == {"invited"}
    assert all(accounts[r["userId"]]["passwordHash"] is None for r in records)
    assert all(accounts[r["userId"]]["email"] == r["email"] for r in records)
    reps = {r["assignedTo"] for r in records if r["assignedTo"]}
    assert len(reps) == len(STAFF)
    assert all(accounts[rep]["role"] == "super_admin" for rep in reps)
    assert all(accounts[rep]["status"] == "active" for rep in reps)


def test_tag_side_table_is_in_step_with_metadata(loaded: Database) -> None:
    stored: dict[str, set[tuple[str, str]]] = {}
    for tag in select_all(loaded, customer_tags):
        stored.setdefault(tag["customerId"], set()).add((tag["tagKey"], tag["tag"]))
    expected = {
        r["id"]: {(tag_key(t), t) for t in get_customer_tags(r["metadata"])}
        for r in select_all(loaded, customers)
        if get_customer_tags(r["metadata"])
    }
    assert stored == expected
    assert 0.2 < len(expected) / 400 < 0.4


def test_some_customers_have_interactions_and_notes(loaded: Database) -> None:
    records = {r["id"]: r for r in select_all(loaded, customers)}
    interactions = select_all(loaded, customer_interactions)
    with_activity = {i["customerId"] for i in interactions}
    assert 0.04 < len(with_activity) / len(records) < 0.2
    assert count(loaded, customer_notes) > 0
    for item in interactions:  # the seed: logging an interaction moves lastContactAt
        last_contact = records[item["customerId"]]["lastContactAt"]
        assert last_contact is not None and last_contact >= item["occurredAt"]


def test_counters_and_search_index_replayed_per_chunk_equal_the_rows(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real run replays the insert triggers once per chunk (from 2,000 customers); here from
    one, over two transactions, the second into tables already counted and indexed."""
    monkeypatch.setattr(bulk, "FTS_REPLAY_MIN_ROWS", 1)
    demo.run_demo(database, customers=300, seed=5, as_of=AS_OF, transaction_size=200, chunk_size=50)
    assert_counters_match(database)
    assert_pairs_match(database)
    if database.is_sqlite:
        with database.transaction() as conn:
            fts = "SELECT count(*) FROM customers_fts_docsize"
            assert conn.exec_driver_sql(fts).scalar_one() == 300
            conn.exec_driver_sql(
                "INSERT INTO customers_fts(customers_fts) VALUES ('integrity-check')"
            )


def test_demo_refuses_a_database_that_already_has_customers(loaded: Database) -> None:
    with pytest.raises(Conflict):
        demo.run_demo(loaded, customers=10, as_of=AS_OF)
    assert count(loaded, customers) == 400


def test_worker_processes_write_the_same_data_as_in_process(
    database: Database, tmp_path: Path
) -> None:
    if not database.is_sqlite:
        pytest.skip("the generation is the same on both backends; one spawn test is enough")
    demo.run_demo(database, customers=60, seed=3, as_of=AS_OF, chunk_size=20, workers=1)
    other = Database(Settings(database_url=f"sqlite:///{tmp_path}/other.sqlite3"))
    try:
        migrate.upgrade(other)
        demo.run_demo(other, customers=60, seed=3, as_of=AS_OF, chunk_size=20, workers=0)

        def shape(db: Database) -> list[tuple[Any, ...]]:
            return [(r["name"], r["email"], r["phone"]) for r in select_all(db, customers)]

        assert shape(database) == shape(other)
    finally:
        other.dispose()


# --- the command -----------------------------------------------------------------------------


def test_cli_demo_fills_an_empty_database_and_refuses_a_second_run(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"CLIENTBOOK_DATABASE_URL": f"sqlite:///{tmp_path}/demo.sqlite3"}
    args = ["demo", "--customers", "40", "--seed", "5", "--as-of", "2026-01-15"]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert "Generated 40 customers" in result.output

    again = runner.invoke(app, args, env=env)
    assert again.exit_code == 5  # Conflict: the demo only fills an empty database
    assert "no customers yet" in again.output


def test_cli_demo_rejects_a_malformed_date(tmp_path: Path) -> None:
    env = {"CLIENTBOOK_DATABASE_URL": f"sqlite:///{tmp_path}/demo.sqlite3"}
    result = CliRunner().invoke(app, ["demo", "--as-of", "15/01/2026"], env=env)
    assert result.exit_code == 2
