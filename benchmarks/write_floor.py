"""The floor of writing demo customers into clientbook's SQLite schema: what the one writer
connection spends per customer even if generating, validating and binding cost it nothing.

    .venv/bin/python benchmarks/write_floor.py                       # 200,000 customers
    .venv/bin/python benchmarks/write_floor.py --customers 1000000 --keep

A fresh database is migrated in a temporary directory and the demo's staff created
(`demo.ensure_staff`). Then, before any timing, this process builds every chunk exactly as the
demo's workers do (`demo.build_chunk`: generated, validated, bound) and spools them to a file
there, so memory stays flat whatever N is. The timed part is the demo's writer on its own: one
transaction with `sorting_on_disk`, `DeferredIndexes(..., unique=True)` and `BulkWriter`, the
batches read back from the spool (that reading is not counted), then the commit and the
checkpoint. Every statement on the writer connection is timed through SQLAlchemy's cursor
events and attributed to a piece: (1) the `executemany` of each table (with the `sqlite3`
module's C loop binding each tuple, which any Python writer pays), (2) the replays of the
full-text and counter triggers that `BulkWriter` runs after each batch, (3) the index rebuilds
when `DeferredIndexes` exits, (4) commit and checkpoint. What the writer spends outside
statements (SQLAlchemy, the loop) is reported as glue: a faster Python could shave it, so it is
shown but is not part of the floor.

`--schema seed` first strips the schema down to what issue 2 asks for and nothing more: the
seed's 18 indexes on `customers` (its unique `userId` and case-insensitive unique `email`
among them), the unique email of `users`, the full-text index without its prefix indexes, no
counters, no composite indexes. It measures whether any writer of that schema could meet the
targets here, whatever it gave up on the read side.

Issue 2's target, 25,000 customers/s for `clientbook demo`, leaves the writer 40 us of a
customer; issue 6's, 30,000 rows/s for CSV import, 33 us. CPU figures (`time.process_time`)
are the ones to compare on a shared machine; wall includes waiting for the disk and the cores.
"""

from __future__ import annotations

import argparse
import gc
import os
import pickle
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, event

from clientbook.config import Settings
from clientbook.db import migrate
from clientbook.db.engine import Database
from clientbook.domain.timestamps import to_millis
from clientbook.services import bulk, demo
from clientbook.services.bulk import PreparedBatch, sorting_on_disk

DEMO_TARGET = 25_000  # customers/s, issue 2
IMPORT_TARGET = 30_000  # rows/s, issue 6
INSERT_ORDER = ("users", "customers", "customer_tags", "customer_interactions", "customer_notes")


@dataclass
class Cost:
    cpu: float = 0.0  # seconds of this process's CPU
    wall: float = 0.0
    rows: int = 0  # rows an executemany wrote; 0 for other statements
    statements: int = 0


class Clock:
    """Start/stop pairs of (CPU, wall) seconds added into a `Cost`."""

    def __init__(self) -> None:
        self.cpu = time.process_time()
        self.wall = time.perf_counter()

    def add_to(self, cost: Cost) -> None:
        cost.cpu += time.process_time() - self.cpu
        cost.wall += time.perf_counter() - self.wall


# --- attributing statements to pieces ------------------------------------------------------

_REPLAYS = {
    bulk.REPLAYED_TRIGGERS[0].replay: "(2) replay full-text index",
    bulk.REPLAYED_TRIGGERS[1].replay: "(2) replay customer_counts",
    bulk.REPLAYED_TRIGGERS[2].replay: "(2) replay pair counts",
}
_INSERT = re.compile(r'^INSERT INTO "?(\w+)"?')
_CREATE_INDEX = re.compile(r'^CREATE (?:UNIQUE )?INDEX .*? ON "?(\w+)"?', re.DOTALL)


@cache
def piece_of(statement: str) -> str:
    """The row of the report a statement's cost belongs to."""
    if statement in _REPLAYS:
        return _REPLAYS[statement]
    if statement.startswith("SELECT coalesce(max(seq), 0) FROM customers"):
        return "(2) replay bookkeeping (max seq)"  # BulkWriter's `_last_seq` after each replay
    if match := _INSERT.match(statement):
        table = match.group(1)
        return f"(1) insert {table}" if table in INSERT_ORDER else "setup, restore, audit row"
    if match := _CREATE_INDEX.match(statement):
        table = match.group(1)
        return f"(3) rebuild indexes of {table if table in ('customers', 'users') else 'others'}"
    # BEGIN, the DROP INDEX/DROP TRIGGER and their lookups, CREATE TRIGGER on the way out.
    return "setup, restore, audit row"


class StatementLedger:
    """Times every statement the writer connection executes, by piece."""

    def __init__(self) -> None:
        self.costs: dict[str, Cost] = defaultdict(Cost)
        self._started: Clock | None = None

    def attach(self, conn: Connection) -> None:
        event.listen(conn, "before_cursor_execute", self._before)
        event.listen(conn, "after_cursor_execute", self._after)

    def detach(self, conn: Connection) -> None:
        event.remove(conn, "before_cursor_execute", self._before)
        event.remove(conn, "after_cursor_execute", self._after)

    def _before(self, *_: Any) -> None:
        self._started = Clock()

    def _after(
        self,
        _conn: Connection,
        _cursor: Any,
        statement: str,
        parameters: Any,
        _context: Any,
        executemany: bool,
    ) -> None:
        assert self._started is not None
        cost = self.costs[piece_of(statement)]
        self._started.add_to(cost)
        cost.statements += 1
        if executemany:
            cost.rows += len(parameters)
        self._started = None

    def total(self) -> Cost:
        return Cost(
            sum(c.cpu for c in self.costs.values()), sum(c.wall for c in self.costs.values())
        )


# --- the schema issue 2 requires, and no more (`--schema seed`) -----------------------------

SEED_SCHEMA_DROPS = (
    # Composite and derived-column indexes of migration 0001, shaped like the list queries.
    "ix_customers_status_lastContactAt",
    "ix_customers_assignedTo_status_name",
    "ix_customers_status_nextFollowUpAt",
    "ix_customers_status_name",
    "ix_customers_phoneNormalized",
    "ix_customers_emailKey",
    "ix_customers_duplicateNameKey",
    "ix_customers_updatedAt",
    # The staff console's user lists.
    "ix_users_role_status",
    "ix_users_role_seq",
    "ix_users_status_seq",
    "ix_users_name",
    "ix_users_createdAt",
)
SEED_INDEX_COUNT = 18  # the seed's "Key Indexes", unique userId and email among them
# The counters of migrations 0002 and 0005 (totals without a count over the table).
SEED_SCHEMA_TRIGGERS = ("customer_counts_insert", "customer_pair_counts_insert")


def strip_to_seed_schema(path: Path) -> None:
    """Drop what clientbook adds to issue 2's schema for its reads, and rebuild the full-text
    index over the same column without prefix indexes (a prefix search then scans a range)."""
    with closing(sqlite3.connect(path)) as db:
        for name in SEED_SCHEMA_DROPS:
            db.execute(f'DROP INDEX "{name}"')
        for name in SEED_SCHEMA_TRIGGERS:
            db.execute(f'DROP TRIGGER "{name}"')
        (sql,) = db.execute("SELECT sql FROM sqlite_master WHERE name = 'customers_fts'").fetchone()
        unprefixed = sql.replace(", prefix='1 2 3 4 5'", "")
        if unprefixed == sql:
            raise SystemExit("customers_fts no longer has the prefix option this script removes")
        db.execute("DROP TABLE customers_fts")
        db.execute(unprefixed)
        db.commit()
    with closing(sqlite3.connect(path)) as db:
        left = db.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'customers'"
            " AND sql IS NOT NULL"
        ).fetchone()[0]
    if left != SEED_INDEX_COUNT:  # a migration added an index this list does not know
        raise SystemExit(f"{left} indexes left on customers, not the seed's {SEED_INDEX_COUNT}")
    print(f"schema stripped to issue 2's: {left} indexes on customers, full-text without prefixes")


# --- generating (not timed) ---------------------------------------------------------------


def spool_batches(plan: demo.DemoPlan, spool: Path) -> tuple[float, int]:
    """Build every chunk as the demo's workers do and pickle it to `spool`: the whole run never
    sits in memory. Returns the CPU seconds spent and the spool's size."""
    print(f"building {plan.customers:,} demo customers (untimed) ...", flush=True)
    started = time.process_time()
    with spool.open("wb") as out:
        for chunk in range(plan.chunks):
            pickle.dump(demo.build_chunk(plan, chunk), out, protocol=pickle.HIGHEST_PROTOCOL)
    return time.process_time() - started, spool.stat().st_size


def read_batches(spool: IO[bytes], reading: Cost) -> Iterator[PreparedBatch]:
    """The spooled batches in order; the time spent unpickling goes to `reading`, so that it
    can be left out of the writer's cost."""
    while True:
        clock = Clock()
        try:
            batch = pickle.load(spool)
        except EOFError:
            return
        finally:
            clock.add_to(reading)
        yield batch


# --- the timed write ----------------------------------------------------------------------


@dataclass
class Run:
    statements: StatementLedger
    transaction: Cost  # BEGIN .. COMMIT returned, the spool's reading taken out
    commit: Cost
    checkpoint: Cost
    reading: Cost
    wal_bytes: int


def write(db: Database, plan: demo.DemoPlan, spool: Path, wal: Path) -> Run:
    """The demo's `write_transaction` for one transaction holding every customer."""
    ledger = StatementLedger()
    transaction, commit, checkpoint, reading = Cost(), Cost(), Cost(), Cost()
    n = plan.customers
    counts = demo.DemoCounts()
    # The floor excludes Python's own overheads: no collector passes over the loaded batches.
    gc.collect()
    gc.disable()
    try:
        with spool.open("rb") as source:
            whole = Clock()
            with sorting_on_disk(db), db.transaction() as conn:
                ledger.attach(conn)
                batches = read_batches(source, reading)
                demo.write_transaction(conn, plan, batches, plan.chunks, counts, 1, None)
                ledger.detach(conn)
                wal_bytes = wal.stat().st_size
                committing = Clock()
            committing.add_to(commit)
            whole.add_to(transaction)
        clock = Clock()
        db.checkpoint()
        clock.add_to(checkpoint)
    finally:
        gc.enable()
    transaction.cpu -= reading.cpu
    transaction.wall -= reading.wall
    if counts.customers != n:
        raise SystemExit(f"wrote {counts.customers} customers, expected {n}")
    return Run(ledger, transaction, commit, checkpoint, reading, wal_bytes)


# --- reporting ----------------------------------------------------------------------------


def report(run: Run, customers: int) -> None:
    costs = dict(run.statements.costs)
    stated = run.statements.total()
    # Time inside the transaction spent outside any statement or the commit: SQLAlchemy's
    # execute path, BulkWriter's loop, sorting_on_disk's pragmas.
    glue = Cost(
        run.transaction.cpu - stated.cpu - run.commit.cpu,
        run.transaction.wall - stated.wall - run.commit.wall,
    )
    order = [f"(1) insert {t}" for t in INSERT_ORDER]
    order += sorted(k for k in costs if k.startswith("(2)"))
    order += sorted(k for k in costs if k.startswith("(3)"))
    order += [k for k in costs if k not in order]
    rows: list[tuple[str, Cost]] = [(k, costs[k]) for k in order if k in costs]
    rows += [("(4) commit", run.commit), ("(4) checkpoint (TRUNCATE)", run.checkpoint)]
    floor = Cost(sum(c.cpu for _, c in rows), sum(c.wall for _, c in rows))

    def us(seconds: float) -> float:
        return seconds / customers * 1e6

    def line(name: str, cost: Cost, share: bool = True) -> str:
        per_row = f"{cost.cpu / cost.rows * 1e6:7.1f}" if cost.rows else " " * 7
        part = f"{cost.cpu / floor.cpu:6.1%}" if share else " " * 6
        rows = f"{cost.rows:,}" if cost.rows else ""
        return (
            f"{name:<40} {cost.statements or '':>6} {rows:>10} {per_row} "
            f"{cost.cpu:8.2f} {us(cost.cpu):8.1f} {cost.wall:8.2f} {us(cost.wall):8.1f} {part}"
        )

    head = (
        f"{'piece':<40} {'stmts':>6} {'rows':>10} {'us/row':>7} {'CPU s':>8} {'us/cust':>8} "
        f"{'wall s':>8} {'us/cust':>8} {'share':>6}"
    )
    print()
    print(head)
    print("-" * len(head))
    groups: dict[str, Cost] = defaultdict(Cost)
    for name, cost in rows:
        print(line(name, cost))
        group = groups[name[:3] if name.startswith("(") else "setup"]
        group.cpu += cost.cpu
        group.wall += cost.wall
        group.statements += cost.statements
    print("-" * len(head))
    titles = {
        "(1)": "(1) inserts, all tables",
        "(2)": "(2) trigger replays",
        "(3)": "(3) index rebuilds",
        "(4)": "(4) commit + checkpoint",
        "setup": "setup, restore, audit row",
    }
    for key, title in titles.items():
        if key in groups:
            print(line(title, groups[key]))
    print(line("WRITER FLOOR (SQLite statements)", floor))
    print(line("glue outside statements (not floor)", glue, share=False))
    total = Cost(floor.cpu + glue.cpu, floor.wall + glue.wall)
    print(line("writer total (floor + glue)", total, share=False))
    print(line("unpickling the spool (excluded)", run.reading, share=False))
    print()
    budget = 1e6 / DEMO_TARGET
    print(
        f"implied ceiling: {1e6 / us(floor.cpu):,.0f} customers/s on writer CPU "
        f"({1e6 / us(floor.wall):,.0f} on wall); with the glue {1e6 / us(total.cpu):,.0f}"
    )
    print(
        f"budget: {budget:.0f} us a customer for {DEMO_TARGET:,}/s (issue 2), "
        f"{1e6 / IMPORT_TARGET:.1f} us for {IMPORT_TARGET:,} rows/s (issue 6); "
        f"the floor is {us(floor.cpu) / budget:.2f}x the demo's"
    )
    print(f"WAL before the checkpoint: {run.wal_bytes / 2**20:,.0f} MB")


def describe_machine(db: Database) -> None:
    with db.writer.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        pragmas = {
            p: raw.execute(f"PRAGMA {p}").fetchone()[0]
            for p in ("journal_mode", "synchronous", "page_size")
        }
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"SQLite {sqlite3.sqlite_version}, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, load average {load}; {pragmas}, "
        f"cache {bulk.LOAD_CACHE_KIB // 1024} MiB and temp_store=FILE during the load"
    )


def check(path: Path, customers: int, *, counted: bool) -> None:
    """The write did what the demo's does: every customer indexed and counted."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        found = {
            "customers": db.execute("SELECT count(*) FROM customers").fetchone()[0],
            "full-text": db.execute("SELECT count(*) FROM customers_fts_docsize").fetchone()[0],
        }
        if counted:
            found["counted"] = db.execute(
                "SELECT \"count\" FROM customer_counts WHERE dimension = 'total'"
            ).fetchone()[0]
    wrong = {k: v for k, v in found.items() if v != customers}
    if wrong:
        raise SystemExit(f"check failed, expected {customers:,}: {wrong}")
    print(
        f"checked: {customers:,} customers, all in the full-text index"
        + (" and customer_counts" if counted else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--keep", action="store_true", help="keep the database and the spool")
    parser.add_argument(
        "--schema",
        choices=("clientbook", "seed"),
        default="clientbook",
        help="seed: only what issue 2 requires (see the module's docstring)",
    )
    options = parser.parse_args()
    if options.customers < 1:
        parser.error("--customers must be at least 1")

    workdir = Path(tempfile.mkdtemp(prefix="clientbook-write-floor-"))
    path = workdir / "floor.sqlite3"
    db = Database(Settings(database_url=f"sqlite:///{path}"))
    try:
        migrate.upgrade(db)
        if options.schema == "seed":
            db.dispose()
            strip_to_seed_schema(path)
        with db.transaction() as conn:
            staff_ids, _ = demo.ensure_staff(conn)
        plan = demo.DemoPlan(
            customers=options.customers,
            seed=demo.DEFAULT_SEED,
            as_of=to_millis(demo.default_as_of()),
            staff_ids=staff_ids,
            dialect=db.dialect,
            default_region=db.settings.default_region,
        )
        spool = workdir / "batches.pickle"
        seconds, size = spool_batches(plan, spool)
        print(
            f"built {plan.chunks} chunks in {seconds:.1f} s CPU "
            f"({seconds / plan.customers * 1e6:.0f} us a customer, not counted below); "
            f"spool {size / 2**20:,.0f} MB"
        )
        describe_machine(db)
        run = write(db, plan, spool, path.with_name(path.name + "-wal"))
        report(run, plan.customers)
        check(path, plan.customers, counted=options.schema == "clientbook")
    finally:
        db.dispose()
        if options.keep:
            print(f"kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
