"""Demo data (SPEC §10, `clientbook demo --customers N`): realistic, deterministic, validated.

What one run writes into an empty database:

* five sales reps: `super_admin`, `active`, no password (they cannot sign in until one is set;
  `active` because customers may only be assigned to active staff, SPEC §12);
* per customer, its owner's account (role `user`, status `invited`: no password until the
  person activates it, which is what SPEC §3 means by a null `passwordHash`), the record
  itself (Malaysian-flavoured, see `demo_records`), its tags in `customer_tags`, and for about
  one customer in ten, interactions and notes logged by the reps.

Every body goes through the same validators as the API (`validate_user`, `validate_customer`,
`validate_interaction`, `validate_note`) and every row through the same builders as the
single-record services (`services.bulk`), so derived columns and tags are what a create writes.

Determinism: the same `seed` and `as_of` give the same records, field for field; only the ids
differ between runs (ids are time-ordered and fresh by design). Each hundred customers draw
from a random stream of their own, so the data depends neither on the chunk size nor on how
many worker processes built it.

Audit: one `demo.generated` row (actor `system`) per committed transaction, with the running
counts (`customers: {from, to}`, ...), rather than a row per record. A run of up to a million
customers is one transaction, so one row; an interrupted run leaves nothing (and can simply be
run again). One row per transaction keeps SPEC §3's rule that no committed change lacks its
audit row.

Speed: chunks of customers are generated, validated and bound (`bulk.prepare_batch`) in worker
processes (spawn-safe), while this process only writes them through the one writer connection,
in transactions of `transaction_size` customers (a million by default). The first one fills
empty tables, so their plain indexes are built once at its end (`bulk.DeferredIndexes`), and
the per-row triggers of the full-text index and the counters are replayed once per chunk
(`bulk.BulkWriter`). Committing every 50,000 instead left all but the first 50,000 customers
to update ~25 indexes row by row (measured on 100,000 customers, the writer's CPU: 151 µs a
customer in transactions of 50,000, 89 in one). A bounded number of chunks is in flight, and
SQLite's page cache and sorter are capped (`bulk.sorting_on_disk`), so memory stays flat
whatever N is.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import closing
from dataclasses import dataclass, fields
from datetime import UTC, datetime, time
from random import Random

from sqlalchemy import Connection, select

from clientbook.access import SYSTEM
from clientbook.db.engine import Database
from clientbook.db.tables import customers as customers_table
from clientbook.domain.customers import validate_customer
from clientbook.domain.errors import Conflict, ValidationFailed
from clientbook.domain.ids import new_id
from clientbook.domain.interactions import validate_interaction
from clientbook.domain.notes import validate_note
from clientbook.domain.timestamps import to_millis
from clientbook.domain.users import validate_user
from clientbook.services import audit, demo_records
from clientbook.services import users as user_service
from clientbook.services.bulk import (
    BulkRows,
    BulkWriter,
    DeferredIndexes,
    PreparedBatch,
    build_customer_row,
    build_item_row,
    build_user_row,
    prepare_batch,
    sorting_on_disk,
)
from clientbook.services.demo_records import DemoCustomer
from clientbook.services.demo_vocabulary import STAFF

DEFAULT_SEED = 1957  # Merdeka
CHUNK_SIZE = 2_000  # customers one worker task builds: small, so memory stays low
STREAM_SIZE = 100  # customers drawn from one random stream (CHUNK_SIZE is a multiple)
# Below this many customers, starting worker processes costs more than it saves.
WORKERS_FROM = 20_000
# Customers per committed transaction. The first transaction fills empty tables, so its plain
# indexes are built once at its end (`bulk.DeferredIndexes`); later ones into full tables
# update them row by row (~3x the writer's cost), so a run up to the million of the target is
# one transaction. Its WAL grows to about the database's size (2.2 GB for a million), folded
# into the file by the checkpoint at the end (~1 s here).
TRANSACTION_SIZE = 1_000_000

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class DemoPlan:
    """Everything a worker needs to build any chunk: plain values, cheap to pickle."""

    customers: int
    seed: int
    as_of: datetime
    staff_ids: tuple[str, ...]
    dialect: str
    default_region: str = "MY"
    chunk_size: int = CHUNK_SIZE

    @property
    def chunks(self) -> int:
        return -(-self.customers // self.chunk_size)


@dataclass
class DemoCounts:
    """What a run wrote (`staff` counts reps created now, not ones reused)."""

    staff: int = 0
    users: int = 0
    customers: int = 0
    tags: int = 0
    interactions: int = 0
    notes: int = 0

    def add(self, batch: PreparedBatch) -> None:
        self.users += batch.count("users")
        self.customers += batch.count("customers")
        self.tags += batch.count("customer_tags")
        self.interactions += batch.count("customer_interactions")
        self.notes += batch.count("customer_notes")

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def default_as_of() -> datetime:
    """Midnight UTC today: a run is reproducible all day, and dates stay current."""
    return datetime.combine(datetime.now(UTC).date(), time(), tzinfo=UTC)


def default_workers(customers: int) -> int:
    """One generating process beside the writer when there is a second core; none for small
    runs. More do not pay: the writer and one worker each need about a core (~90 µs of CPU a
    customer each), and every worker adds ~75 MB to the memory budget."""
    if customers < WORKERS_FROM or (os.cpu_count() or 1) < 2:
        return 0
    return 1


# --- building chunks (runs in the workers) ---------------------------------------------------


def stream_rng(seed: int, stream: int) -> Random:
    # A string seed is hashed with SHA-512: the same stream in every process and Python run.
    return Random(f"clientbook-demo:{seed}:{stream}")


def generate_chunk(plan: DemoPlan, chunk: int) -> Iterator[DemoCustomer]:
    """The unvalidated bodies of chunk `chunk`, in order.

    Every `STREAM_SIZE` customers draw from a random stream of their own, so a customer is the
    same whatever the chunk size and the number of workers; a chunk that starts inside a stream
    replays (and drops) the customers before it.
    """
    start = chunk * plan.chunk_size
    end = min(start + plan.chunk_size, plan.customers)
    rng = stream_rng(plan.seed, start // STREAM_SIZE)
    for index in range(start - start % STREAM_SIZE, end):
        if index % STREAM_SIZE == 0:
            rng = stream_rng(plan.seed, index // STREAM_SIZE)
        user_id = new_id() if index >= start else ""
        demo = demo_records.customer(
            rng, index, plan.customers, plan.as_of, user_id=user_id, reps=plan.staff_ids
        )
        if index >= start:
            yield demo


def build_rows(plan: DemoPlan, chunk: int) -> BulkRows:
    """Chunk `chunk` validated and built into rows, as the single-record services would."""
    rows = BulkRows()
    for demo in generate_chunk(plan, chunk):
        _add_rows(plan, demo, rows)
    return rows


def build_chunk(plan: DemoPlan, chunk: int) -> PreparedBatch:
    """The worker task: rows of chunk `chunk`, bound for the plan's database."""
    return prepare_batch(build_rows(plan, chunk), plan.dialect)


def _add_rows(plan: DemoPlan, demo: DemoCustomer, rows: BulkRows) -> None:
    staff = plan.staff_ids
    owner = demo.customer["userId"]
    created = to_millis(demo.created_at)  # the account and its record share their creation
    rows.users.append(build_user_row(validate_user(demo.user), user_id=owner, created_at=created))
    updater = None if demo.updated_by_rep is None else staff[demo.updated_by_rep]
    customer_id = new_id()
    rows.customers.append(
        build_customer_row(
            validate_customer(demo.customer, default_region=plan.default_region),
            record_id=customer_id,
            created_at=created,
            created_by=owner if demo.created_by_rep is None else staff[demo.created_by_rep],
            updated_at=to_millis(demo.updated_at),
            updated_by=updater,
            version=1 if updater is None else 2,
            default_region=plan.default_region,
        )
    )
    items = [(validate_interaction(b), False) for b in demo.interactions]
    items += [(validate_note(b), True) for b in demo.notes]
    for (values, is_note), rep, at in zip(items, demo.item_reps, demo.item_times, strict=True):
        row = build_item_row(
            values,
            item_id=new_id(),
            customer_id=customer_id,
            created_at=to_millis(at),
            created_by=staff[rep],
            tracks_updated_by=is_note,
        )
        (rows.notes if is_note else rows.interactions).append(row)


# --- the pipeline (runs in this process) -----------------------------------------------------


def _batches(plan: DemoPlan, workers: int) -> Generator[PreparedBatch, None, None]:
    """Prepared chunks in chunk order, built here or by `workers` spawned processes."""
    if workers <= 0:
        for chunk in range(plan.chunks):
            yield build_chunk(plan, chunk)
        return
    # spawn, not fork: the parent holds an open SQLite connection a fork would copy.
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    try:
        # Two chunks in flight per worker keep them busy while bounding memory.
        ahead = min(plan.chunks, 2 * workers)
        pending: deque[Future[PreparedBatch]] = deque(
            pool.submit(build_chunk, plan, chunk) for chunk in range(ahead)
        )
        next_chunk = ahead
        while pending:
            batch = pending.popleft().result()
            if next_chunk < plan.chunks:
                pending.append(pool.submit(build_chunk, plan, next_chunk))
                next_chunk += 1
            yield batch
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def ensure_staff(conn: Connection) -> tuple[tuple[str, ...], int]:
    """The reps' user ids (existing active super_admins with their emails are reused) and how
    many were created now."""
    ids: list[str] = []
    created = 0
    for name, email in STAFF:
        user = user_service.find_user_by_email(conn, email)
        if user is None:
            data = {"email": email, "name": name, "role": "super_admin", "status": "active"}
            user = user_service.insert_user(conn, SYSTEM, data, password_hash=None)
            created += 1
        elif user["role"] != "super_admin" or user["status"] != "active":
            message = f"{email} exists but is not an active super_admin"
            raise Conflict(message, fields={"staff": message})
        ids.append(user["id"])
    return tuple(ids), created


def _assert_no_customers(conn: Connection) -> None:
    if conn.execute(select(customers_table.c.seq).limit(1)).first() is not None:
        message = "the demo only fills a database that has no customers yet"
        raise Conflict(message, fields={"customers": message})


def run_demo(
    db: Database,
    *,
    customers: int,
    seed: int = DEFAULT_SEED,
    as_of: datetime | None = None,
    workers: int | None = None,
    transaction_size: int = TRANSACTION_SIZE,
    chunk_size: int = CHUNK_SIZE,
    progress: Progress | None = None,
) -> DemoCounts:
    """Fill an empty (migrated) database with `customers` demo customers; see the module doc."""
    if customers < 1:
        raise ValidationFailed({"customers": "must be at least 1"})
    with db.transaction() as conn:
        _assert_no_customers(conn)
        staff_ids, created = ensure_staff(conn)
    plan = DemoPlan(
        customers=customers,
        seed=seed,
        as_of=to_millis(as_of or default_as_of()),
        staff_ids=staff_ids,
        dialect=db.dialect,
        default_region=db.settings.default_region,
        chunk_size=chunk_size,
    )
    counts = DemoCounts(staff=created)
    workers = default_workers(customers) if workers is None else workers
    chunks_per_transaction = max(1, transaction_size // plan.chunk_size)
    with closing(_batches(plan, workers)) as batches:
        for number in range(1, -(-plan.chunks // chunks_per_transaction) + 1):
            with sorting_on_disk(db), db.transaction() as conn:
                write_transaction(
                    conn, plan, batches, chunks_per_transaction, counts, number, progress
                )
    db.checkpoint()  # fold the last transactions' WAL into the file: it starts small and whole
    return counts


def write_transaction(
    conn: Connection,
    plan: DemoPlan,
    batches: Iterator[PreparedBatch],
    chunks: int,
    counts: DemoCounts,
    number: int,
    progress: Progress | None,
) -> None:
    """Up to `chunks` prepared chunks and their `demo.generated` audit row."""
    before = counts.as_dict()
    expected = min(chunks * plan.chunk_size, plan.customers - counts.customers)
    # What a demo customer brings along on average (tags ~0.6, interactions ~0.3, notes
    # ~0.15): only used to decide whether rebuilding a table's indexes pays.
    coming = {
        "users": expected,
        "customers": expected,
        "customer_tags": expected // 2,
        "customer_interactions": expected // 4,
        "customer_notes": expected // 8,
    }
    # All or nothing, so the unique indexes (emails, owners) may wait for the end too: a
    # duplicate (an owner's email already taken) fails their rebuild and the whole transaction.
    deferred = DeferredIndexes(conn, coming, unique=True)
    with deferred, BulkWriter(conn, expected_customers=expected) as writer:
        for _, batch in zip(range(chunks), batches, strict=False):
            writer.write(batch)
            counts.add(batch)
            if progress is not None:
                progress(counts.customers, plan.customers)
    after = counts.as_dict()
    changes = {k: {"from": before[k], "to": after[k]} for k in after if k != "staff"}
    audit.record(
        conn,
        SYSTEM,
        "demo.generated",
        entity_type="demo",
        entity_id=None,
        changes=changes,
        reason=f"demo data: seed {plan.seed}, {plan.customers} customers, transaction {number}",
    )
