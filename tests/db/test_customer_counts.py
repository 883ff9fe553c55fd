"""`customer_counts` (migration 0002): the counters the statistics read equal a GROUP BY of the
customers after any mix of writes, through every write path (service, bulk actions, import,
demo loader, GDPR erase, plain SQL, foreign-key SET NULL, rollbacks, PostgreSQL compaction), on
both backends; and the migration backfills a database that already holds customers, and
downgrades."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from sqlalchemy import Connection, case, delete, func, inspect, select, text, update

from clientbook.access import SYSTEM, Principal
from clientbook.db import migrate
from clientbook.db.engine import Database
from clientbook.db.tables import customers, users
from clientbook.domain.enums import CUSTOMER_SOURCES, CUSTOMER_STATUSES, CUSTOMER_TYPES
from clientbook.services import bulk_actions, demo, gdpr, stats
from clientbook.services import customers as customer_service
from clientbook.services.imports import ImportOptions, open_source, run_import
from tests.db.old_rows import old_customer, old_user
from tests.factories import TEST_PASSWORD, make_customer, make_staff

DIMENSIONS = ("status", "customerType", "source", "assignedTo", "country")
DAYS = ("createdDay", "followUpDay")
COUNTRIES = ("Malaysia", "Singapore", "Japan", None)
REVENUES = (0.0, 12.5, 99.25, 1234.56)
# Follow-ups either side of UTC midnights (the day counters count UTC days).
FOLLOW_UPS = (
    None,
    datetime(2025, 3, 1, 23, 59, tzinfo=UTC),
    datetime(2025, 3, 2, 0, 0, tzinfo=UTC),
    datetime(2025, 3, 2, 16, 30, tzinfo=UTC),
)
_c = customers.c


def group_by(conn: Connection) -> dict[str, Any]:
    """What the counters must hold, counted from the rows themselves."""
    total, revenue, earning = conn.execute(
        select(
            func.count(),
            func.coalesce(func.sum(_c.totalRevenue), 0.0),
            func.count(case((_c.totalRevenue > 0, 1))),
        )
    ).one()
    by_value = {}
    for d in DIMENSIONS:
        query = select(_c[d], func.count()).where(_c[d].is_not(None)).group_by(_c[d])
        by_value[d] = {value: n for value, n in conn.execute(query)}
    created: Counter[str] = Counter()
    due: Counter[str] = Counter()
    for row in conn.execute(select(_c.createdAt, _c.nextFollowUpAt, _c.status)):
        created[row.createdAt.astimezone(UTC).date().isoformat()] += 1
        if row.nextFollowUpAt is not None and row.status != "archived":
            due[row.nextFollowUpAt.astimezone(UTC).date().isoformat()] += 1
    by_value |= {"createdDay": dict(created), "followUpDay": dict(due)}
    return {"total": total, "revenue": float(revenue), "earning": earning, "by": by_value}


def counters(conn: Connection) -> dict[str, Any]:
    counts = stats.read_counts(conn)
    by_value = {
        d: {v: n for v, n in counts.by_value.get(d, {}).items() if n} for d in (*DIMENSIONS, *DAYS)
    }
    return {"total": counts.total, "revenue": counts.revenue, "earning": counts.earning,
            "by": by_value}  # fmt: skip


def assert_counters_match(db: Database) -> dict[str, Any]:
    with db.read() as conn:
        expected, found = group_by(conn), counters(conn)
    assert found["revenue"] == pytest.approx(expected["revenue"], rel=1e-9, abs=1e-6)
    assert {**found, "revenue": None} == {**expected, "revenue": None}
    return expected


def random_fields(rng: random.Random, reps: list[str]) -> dict[str, Any]:
    kind = rng.choice(CUSTOMER_TYPES)
    return {
        "status": rng.choice(CUSTOMER_STATUSES),
        "customerType": kind,
        "company": None if kind == "individual" else f"Company {rng.randint(1, 5)}",
        "source": rng.choice([*CUSTOMER_SOURCES, None]),
        "assignedTo": rng.choice([*reps, None]),
        "country": rng.choice(COUNTRIES),
        "totalRevenue": rng.choice(REVENUES),
        "nextFollowUpAt": rng.choice(FOLLOW_UPS),
    }


def customer_ids(db: Database) -> list[str]:
    with db.read() as conn:
        return list(conn.execute(select(_c.id).order_by(_c.seq)).scalars())


class Rollback(Exception):
    pass


class Writes:
    """Every way a customer row is written, each applied to randomly chosen records."""

    def __init__(self, db: Database, rng: random.Random, tmp_path: Path) -> None:
        self.db, self.rng, self.tmp_path = db, rng, tmp_path
        self.reps = [make_staff(db)["id"] for _ in range(3)]
        self.staff = Principal(kind="user", id=self.reps[0], role="super_admin")
        self.imports = 0

    def some(self, most: int) -> list[str]:
        ids = customer_ids(self.db)
        return self.rng.sample(ids, min(len(ids), self.rng.randint(1, most)))

    def create(self) -> None:
        make_customer(self.db, **random_fields(self.rng, self.reps))

    def update(self) -> None:
        for customer_id in self.some(3):
            fields = random_fields(self.rng, self.reps)
            keep = self.rng.sample(sorted(fields), self.rng.randint(1, len(fields)))
            data = {k: fields[k] for k in keep}
            if "customerType" in data or "company" in data:
                # Only a business has a company: the two change together.
                data["customerType"], data["company"] = fields["customerType"], fields["company"]
            with self.db.transaction() as conn:
                customer_service.update_customer(conn, SYSTEM, customer_id, data)

    def change_status(self) -> None:
        for customer_id in self.some(2):
            with self.db.transaction() as conn:
                status = self.rng.choice(CUSTOMER_STATUSES)
                customer_service.change_status(conn, SYSTEM, customer_id, status, reason="test")

    def delete(self) -> None:
        for customer_id in self.some(2):
            with self.db.transaction() as conn:
                customer_service.delete_customer(conn, SYSTEM, customer_id)

    def bulk(self) -> None:
        action = self.rng.choice(["status", "assign", "unassign", "delete"])
        body: dict[str, Any] = {"action": action, "ids": self.some(6)}
        if action == "status":
            body |= {"status": self.rng.choice(CUSTOMER_STATUSES), "reason": "bulk"}
        if action == "assign":
            body["assignedTo"] = self.rng.choice(self.reps)
        request = bulk_actions.parse_bulk_request(self.staff, body)
        with self.db.transaction() as conn:
            bulk_actions.run_bulk_action(conn, self.staff, request)

    def plain_sql(self) -> None:
        """Multi-row statements below the service layer: one UPDATE, one DELETE."""
        with self.db.transaction() as conn:
            conn.execute(
                update(customers)
                .where(_c.seq % 3 == self.rng.randint(0, 2))
                .values(country=self.rng.choice(COUNTRIES), totalRevenue=_c.totalRevenue + 1)
            )
            conn.execute(
                update(customers)
                .where(_c.seq % 4 == self.rng.randint(0, 3))
                .values(createdAt=self.rng.choice(FOLLOW_UPS[1:]), nextFollowUpAt=None)
            )
            conn.execute(delete(customers).where(_c.seq % 7 == self.rng.randint(0, 6)))

    def rolled_back(self) -> None:
        with pytest.raises(Rollback), self.db.transaction() as conn:
            conn.execute(update(customers).values(status="archived", totalRevenue=5))
            conn.execute(delete(customers).where(_c.seq % 2 == 0))
            raise Rollback

    def delete_rep(self) -> None:
        """A rep other than the acting one (bulk actions audit as `reps[0]`) deleted below the
        service: the foreign key's SET NULL unassigns their records."""
        rep = self.reps.pop(self.rng.randrange(1, len(self.reps)))
        with self.db.transaction() as conn:
            conn.execute(delete(users).where(users.c.id == rep))
        self.reps.append(make_staff(self.db)["id"])

    def import_csv(self) -> None:
        """New rows, then the same rows again with `overwrite`, changing what is counted."""
        self.imports += 1
        lines = ["name,email,status,country,source,totalRevenue"]
        for k in range(self.rng.randint(1, 5)):
            status, country = self.rng.choice(CUSTOMER_STATUSES), self.rng.choice(COUNTRIES)
            source = self.rng.choice(CUSTOMER_SOURCES)
            lines.append(
                f"Imported {k},imp{self.imports}.{k}@example.com,{status},{country or ''},"
                f"{source},{self.rng.choice(REVENUES)}"
            )
        for overwrite in (False, True):
            path = self.tmp_path / f"import{self.imports}-{overwrite}.csv"
            path.write_text("\n".join(lines) + "\n")
            source = open_source(path, filename=path.name, fmt=None)
            report = run_import(self.db, SYSTEM, source, ImportOptions(overwrite=overwrite))
            assert not report.failures, report.failures
            lines = [lines[0]] + [line.replace(",lead,", ",active,") for line in lines[1:]]

    def erase(self) -> None:
        """A customer erasing themselves (GDPR) deletes their record."""
        ids = self.some(1)
        with self.db.read() as conn:
            owner = conn.execute(select(_c.userId).where(_c.id == ids[0])).scalar_one()
            has_password = conn.execute(
                select(users.c.passwordHash).where(users.c.id == owner)
            ).scalar_one()
        if has_password:  # imported records' owners are invited users without one
            principal = Principal(kind="user", id=owner, role="user")
            gdpr.erase_me(self.db, principal, TEST_PASSWORD)

    def compact(self) -> None:
        """PostgreSQL: fold the deltas now, or make the next trigger run do it."""
        if self.db.is_sqlite:
            return
        with self.db.transaction() as conn:
            if self.rng.random() < 0.5:
                conn.execute(text("SELECT customer_counts_compact()"))
            else:
                conn.execute(text("SELECT setval('customer_counts_ticks', 999)"))


def random_writes(writes: Writes, check: Callable[[], object], *, steps: int = 40) -> None:
    """12 creates, then `steps` writes of every kind drawn at random, `check` after each."""
    for _ in range(12):
        writes.create()
    kinds = [
        writes.create, writes.update, writes.change_status, writes.delete, writes.bulk,
        writes.plain_sql, writes.rolled_back, writes.delete_rep, writes.import_csv,
        writes.erase, writes.compact,
    ]  # fmt: skip
    for step in writes.rng.choices(kinds, k=steps):
        if not customer_ids(writes.db):
            writes.create()
        step()
        check()


@pytest.mark.parametrize("seed", [1, 2])
def test_counters_equal_group_by_after_random_writes(
    database: Database, tmp_path: Path, seed: int
) -> None:
    writes = Writes(database, random.Random(seed), tmp_path)
    random_writes(writes, lambda: assert_counters_match(database))
    final = assert_counters_match(database)
    assert final["total"] > 0


def test_the_demo_loader_keeps_the_counters(database: Database) -> None:
    demo.run_demo(database, customers=300, seed=5, transaction_size=120, chunk_size=50)
    assert assert_counters_match(database)["total"] == 300


def test_statistics_come_from_the_counters(database: Database) -> None:
    """The counters are what the statistics read: a counter set by hand shows in the figures."""
    make_customer(database, status="lead", country="Japan", totalRevenue=10.0)
    with database.transaction() as conn:
        conn.execute(text("UPDATE customer_counts SET value = 'Atlantis' WHERE value = 'Japan'"))
        conn.execute(text("UPDATE customer_counts SET revenue = 99 WHERE dimension = 'total'"))
    with database.read() as conn:
        result = stats.customer_stats(conn, SYSTEM)
    assert result["byCountry"] == [{"value": "Atlantis", "count": 1}]
    assert result["total"] == 1 and result["revenue"]["total"] == 99.0


def test_postgres_compaction_folds_deltas_into_one_row_per_key(database: Database) -> None:
    if database.is_sqlite:
        pytest.skip("SQLite keeps one row per key")
    rep = make_staff(database)["id"]
    for n in range(4):
        make_customer(database, status="lead", country="Japan", assignedTo=rep, totalRevenue=n)
    with database.transaction() as conn:
        conn.execute(update(customers).values(status="active"))
    with database.transaction() as conn:
        before = conn.execute(text("SELECT count(*) FROM customer_counts")).scalar_one()
        conn.execute(text("SELECT customer_counts_compact()"))
        keys = conn.execute(
            text("SELECT count(*), count(DISTINCT (dimension, value)) FROM customer_counts")
        ).one()
    assert before > keys[0]
    assert keys[0] == keys[1]  # one row per key, and no key whose counts are all zero
    assert assert_counters_match(database)["by"]["status"] == {"active": 4}


# --- the migration ---------------------------------------------------------------------------


def test_a_fresh_database_has_no_counter_rows(database: Database) -> None:
    """Every table of a fresh database is empty (a restore checks that it is restoring into an
    empty database by counting every table's rows)."""
    with database.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM customer_counts")).scalar_one() == 0


def customers_at(
    db: Database, revision: str, *, count: int, reps: int, seed: int
) -> tuple[random.Random, list[str]]:
    """Migrate `db` to `revision` and give it `count` customers with random counted fields,
    assigned among `reps` new staff; the generator and the staff, for more of them."""
    migrate.upgrade(db, revision)
    rng = random.Random(seed)
    staff = [old_user(db, role="super_admin")["id"] for _ in range(reps)]
    for _ in range(count):
        old_customer(db, **random_fields(rng, staff))
    return rng, staff


def _downgrade(db: Database, revision: str) -> None:
    config = migrate._config()
    with db.transaction() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def _count_objects(db: Database) -> tuple[bool, int]:
    """Whether the table exists, and how many customer_counts triggers there are."""
    catalogue = (
        "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'customer_counts%'"
        if db.is_sqlite
        else "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'customers'::regclass "
        "AND tgname LIKE 'customer_counts%'"
    )
    with db.read() as conn:
        return inspect(conn).has_table("customer_counts"), conn.execute(
            text(catalogue)
        ).scalar_one()


def test_upgrade_backfills_existing_customers_and_downgrade_removes_the_counters(
    unmigrated: Database,
) -> None:
    db = unmigrated
    rng, reps = customers_at(db, "0001", count=25, reps=2, seed=3)
    assert _count_objects(db) == (False, 0)

    migrate.upgrade(db)
    assert _count_objects(db) == (True, 3)
    assert assert_counters_match(db)["total"] == 25
    make_customer(db, **random_fields(rng, reps))
    assert assert_counters_match(db)["total"] == 26

    _downgrade(db, "0001")
    assert _count_objects(db) == (False, 0)
    old_customer(db, **random_fields(rng, reps))  # writes work without the triggers
    migrate.upgrade(db)
    assert assert_counters_match(db)["total"] == 27


# --- periods: whole days from the counters, partial days on the index ------------------------


@pytest.mark.parametrize("tz", ["UTC", "Asia/Kuala_Lumpur", "America/St_Johns"])
def test_periods_in_any_zone_equal_a_plain_count(database: Database, tz: str) -> None:
    """Follow-ups due and new records per month, for instants all around UTC and local
    midnights, equal a count in Python of the same rows."""
    rng = random.Random(tz)
    now = datetime(2025, 6, 18, 21, 30, tzinfo=UTC)  # a Wednesday
    for _ in range(30):
        record = make_customer(database, status=rng.choice(CUSTOMER_STATUSES))
        created = now - timedelta(days=rng.randint(0, 400), hours=rng.choice([0, 3, 8, 16, 23]))
        due = now + timedelta(days=rng.randint(-9, 9), hours=rng.randint(-12, 12))
        with database.transaction() as conn:
            conn.execute(
                update(customers)
                .where(_c.id == record["id"])
                .values(createdAt=created, nextFollowUpAt=rng.choice([due, due, None]))
            )
    with database.read() as conn:
        result = stats.customer_stats(conn, SYSTEM, tz=tz, now=now)
        rows = conn.execute(select(_c.createdAt, _c.nextFollowUpAt, _c.status)).all()

    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    midnight = datetime(local.year, local.month, local.day, tzinfo=zone)
    tomorrow = (midnight + timedelta(days=1)).astimezone(UTC)
    monday = (midnight + timedelta(days=7 - local.weekday())).astimezone(UTC)
    due_at = [r.nextFollowUpAt for r in rows if r.nextFollowUpAt and r.status != "archived"]
    assert result["followUps"] == {
        "overdue": sum(d < now for d in due_at),
        "dueToday": sum(now <= d < tomorrow for d in due_at),
        "dueThisWeek": sum(now <= d < monday for d in due_at),
    }
    months = Counter(r.createdAt.astimezone(zone).strftime("%Y-%m") for r in rows)
    assert {m["month"]: m["count"] for m in result["newPerMonth"]} == {
        m["month"]: months[m["month"]] for m in result["newPerMonth"]
    }
    assert sum(m["count"] for m in result["newPerMonth"]) > 0
