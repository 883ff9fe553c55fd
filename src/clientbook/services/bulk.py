"""The fast path for writing many validated records at once (the demo loader, imports).

Callers validate every record with the domain validators first (`validate_customer`,
`validate_user`, `validate_interaction`, `validate_note`) and build rows with
`build_customer_row` / `build_user_row` / `build_item_row`, which assemble exactly the columns
the single-record services write (derived customer columns included). This module then writes
them with `executemany` in large batches inside the caller's transaction, together with the
`customer_tags` side table, which it derives from `metadata.tags` the way `services/customers.py`
does. It checks no permissions and writes no audit rows: the caller does both.

The work is split in two so that the expensive half can run in another process:
`prepare_batch` (pure, picklable result) turns row dicts into DBAPI parameter tuples with the
column types' own bind processors, so a value is stored exactly as a Core `insert()` would store
it; `BulkWriter` / `write_batch` only execute them on the caller's connection. Binding costs
~17 µs a customer; done in a worker process, it is off the one writer's core.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import OperationalError

from clientbook.db.engine import Database
from clientbook.db.tables import (
    audit_logs,
    customer_interactions,
    customer_notes,
    customer_tags,
    customers,
    users,
)
from clientbook.domain import tags as tag_rules
from clientbook.domain.customers import derive_customer_columns
from clientbook.domain.text import email_folded

Row = dict[str, Any]

# Parents before children, so that every foreign key points at a row already written.
_TABLES: dict[str, Table] = {
    t.name: t
    for t in (users, customers, customer_tags, customer_interactions, customer_notes, audit_logs)
}

# The per-row insert triggers on `customers` that the bulk writer sets aside on SQLite and
# replays once per batch instead (`BulkWriter`): each with its text exactly as its migration
# creates it, and one statement doing for every customer with `seq > ?` what the trigger does
# for one. A trigger is set aside only while its stored text is exactly the one here, so that
# what it does cannot drift from what we replay; one that differs keeps running per row.


@dataclass(frozen=True)
class _ReplayedTrigger:
    name: str
    sql: str  # as in sqlite_master
    replay: str  # one statement, its one parameter the last `seq` already accounted for


# Migration 0001: the full-text index. Per row it cost nearly as much as the rest of the
# customer insert (measured on 300,000 rows, replayed: ~37 -> ~12 µs a row).
FTS_TRIGGER = "customers_fts_insert"
_FTS = _ReplayedTrigger(
    FTS_TRIGGER,
    "CREATE TRIGGER customers_fts_insert AFTER INSERT ON customers BEGIN "
    'INSERT INTO customers_fts(rowid, "searchText") VALUES (new.seq, new."searchText"); END',
    'INSERT INTO customers_fts(rowid, "searchText") '
    'SELECT seq, "searchText" FROM customers WHERE seq > ? ORDER BY seq',
)

# Migration 0002: one upsert into `customer_counts` per counted value of each new row (the
# total, five columns and two days). Replayed as one grouped upsert per batch: the counts and
# `earning` are exactly the triggers'; `revenue` is the same sum added in another order, so
# equal up to floating-point rounding (as two orders of per-row triggers are).
_COUNTS_UPSERT = (
    'INSERT INTO customer_counts (dimension, value, "count", revenue, earning) '
    "SELECT dimension, value, {n}, {revenue}, {earning} FROM ({rows}) WHERE value IS NOT NULL"
    "{group} ON CONFLICT (dimension, value) DO UPDATE SET "
    '"count" = "count" + excluded."count", revenue = revenue + excluded.revenue, '
    "earning = earning + excluded.earning"
)
_COUNTED = (  # each dimension's value for the row prefix {0} ("new." or none), as in 0002
    ("status", '{0}"status"'),
    ("customerType", '{0}"customerType"'),
    ("source", '{0}"source"'),
    ("assignedTo", '{0}"assignedTo"'),
    ("country", '{0}"country"'),
    ("createdDay", 'substr({0}"createdAt", 1, 10)'),
    (
        "followUpDay",
        'CASE WHEN {0}"status" <> \'archived\' THEN substr({0}"nextFollowUpAt", 1, 10) END',
    ),
)
_COUNTS = _ReplayedTrigger(
    "customer_counts_insert",
    "CREATE TRIGGER customer_counts_insert AFTER INSERT ON customers BEGIN "
    + _COUNTS_UPSERT.format(
        n="n",
        revenue="revenue",
        earning="earning",
        rows="SELECT 'total' AS dimension, '' AS value, 1 AS n, "
        '1 * new."totalRevenue" AS revenue, 1 * (new."totalRevenue" > 0) AS earning'
        + "".join(f" UNION ALL SELECT '{d}', {v.format('new.')}, 1, 0, 0" for d, v in _COUNTED),
        group="",
    )
    + "; END",
    _COUNTS_UPSERT.format(
        n="count(*)",
        revenue="sum(revenue)",
        earning="sum(earning)",
        rows="SELECT 'total' AS dimension, '' AS value, "
        '"totalRevenue" AS revenue, ("totalRevenue" > 0) AS earning FROM customers WHERE seq > ?1'
        + "".join(
            f" UNION ALL SELECT '{d}', {v.format('')}, 0, 0 FROM customers WHERE seq > ?1"
            for d, v in _COUNTED
        ),
        group=" GROUP BY dimension, value",
    ),
)

# Migration 0005: one upsert of the row's (assignedTo, status) pair.
_PAIR = "\"assignedTo\" || '|' || status"
_PAIR_COUNTS = _ReplayedTrigger(
    "customer_pair_counts_insert",
    "CREATE TRIGGER customer_pair_counts_insert AFTER INSERT ON customers BEGIN "
    'INSERT INTO customer_counts (dimension, value, "count") '
    "SELECT 'assignedToStatus', new.\"assignedTo\" || '|' || new.status, 1 "
    'WHERE new."assignedTo" IS NOT NULL '
    'ON CONFLICT (dimension, value) DO UPDATE SET "count" = "count" + excluded."count"; END',
    'INSERT INTO customer_counts (dimension, value, "count") '
    f"SELECT 'assignedToStatus', {_PAIR}, count(*) FROM customers "
    f'WHERE seq > ? AND "assignedTo" IS NOT NULL GROUP BY {_PAIR} '
    'ON CONFLICT (dimension, value) DO UPDATE SET "count" = "count" + excluded."count"',
)
REPLAYED_TRIGGERS = (_FTS, _COUNTS, _PAIR_COUNTS)
# Below this many customers the per-row triggers are cheaper than dropping and re-creating them.
FTS_REPLAY_MIN_ROWS = 2_000


# --- building rows ---------------------------------------------------------------------------


def build_customer_row(
    values: Mapping[str, Any],
    *,
    record_id: str,
    created_at: datetime,
    created_by: str | None,
    updated_at: datetime | None = None,
    updated_by: str | None = None,
    version: int = 1,
    default_region: str = "MY",
) -> Row:
    """The row a new customer is inserted as (by `create_customer` and the bulk loaders), from
    `values` (the output of `validate_customer` on create), with the derived columns;
    `updated_*` and `version` let a loader write history."""
    return {
        **values,
        "id": record_id,
        "createdAt": created_at,
        "updatedAt": updated_at or created_at,
        "version": version,
        "createdBy": created_by,
        "updatedBy": updated_by,
        **derive_customer_columns(values, default_region=default_region),
    }


def build_user_row(
    values: Mapping[str, Any],
    *,
    user_id: str,
    created_at: datetime,
    password_hash: str | None = None,
) -> Row:
    """The row of a new account (`users.insert_user`, and the loaders' invited owners) for
    `values` (the output of `validate_user`), with its `emailFolded`."""
    row = {
        "role": "user",
        "status": "active",
        "name": "",
        **values,
        "id": user_id,
        "createdAt": created_at,
        "updatedAt": created_at,
        "passwordHash": password_hash,
        "passwordUpdatedAt": created_at if password_hash else None,
        "emailFolded": email_folded(values.get("email")),
    }
    row.pop("password", None)
    return row


def build_item_row(
    values: Mapping[str, Any],
    *,
    item_id: str,
    customer_id: str,
    created_at: datetime,
    created_by: str | None,
    tracks_updated_by: bool,
) -> Row:
    """The row `customer_items.create_item` inserts for an interaction or a note."""
    row = {
        **values,
        "id": item_id,
        "customerId": customer_id,
        "createdAt": created_at,
        "updatedAt": created_at,
        "createdBy": created_by,
    }
    if tracks_updated_by:
        row["updatedBy"] = None
    return row


def customer_tag_rows(customer_id: str, metadata: str | None) -> list[Row]:
    """The `customer_tags` rows of one record (every writer of tags uses these)."""
    return [
        {"customerId": customer_id, "tag": tag, "tagKey": tag_rules.tag_key(tag)}
        for tag in tag_rules.get_customer_tags(metadata)
    ]


@dataclass
class BulkRows:
    """Rows to write together: customers' owners in `users`, interactions/notes after them."""

    users: list[Row] = field(default_factory=list)
    customers: list[Row] = field(default_factory=list)
    interactions: list[Row] = field(default_factory=list)
    notes: list[Row] = field(default_factory=list)


# --- preparing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableRows:
    """DBAPI-ready rows for one table: column names and one tuple of bound values per row."""

    table: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


@dataclass(frozen=True)
class PreparedBatch:
    """What `write_batch` executes; plain data, cheap to pickle between processes."""

    dialect: str
    parts: tuple[TableRows, ...]

    def count(self, table: str) -> int:
        return sum(len(part.rows) for part in self.parts if part.table == table)


@cache
def dialect_for(name: str) -> Dialect:
    """A dialect object for bind processing only (no connection): `sqlite` or `postgresql`."""
    if name == "sqlite":
        return sqlite.dialect()
    if name == "postgresql":
        return postgresql.psycopg.dialect()
    raise ValueError(f"unsupported dialect {name!r}")


def _processors(dialect_name: str, table: str, columns: tuple[str, ...]) -> list[Any]:
    """Per column: (bind processor or None, the column type's class)."""
    dialect = dialect_for(dialect_name)
    t = _TABLES[table]
    out = []
    for name in columns:
        column_type = t.c[name].type
        out.append((column_type.dialect_impl(dialect).bind_processor(dialect), type(column_type)))
    return out


_cached_processors = cache(_processors)
Memo = dict[type, dict[datetime, Any]]


def _memoised(process: Any, memo: dict[datetime, Any]) -> Any:
    """Timestamps repeat within a batch (an owner's account and record share one, `updatedAt`
    is often `createdAt`): convert each instant once per column type. Equal instants in other
    time zones bind to the same UTC text, so keying on equality is safe for them."""

    def convert(value: Any) -> Any:
        if type(value) is not datetime:
            return process(value)
        bound = memo.get(value)
        if bound is None:
            bound = memo[value] = process(value)
        return bound

    return convert


def _prepare_table(dialect: str, table: str, rows: Sequence[Row], memos: Memo) -> TableRows:
    """Every row must have the first row's keys: the single-record builders always do."""
    columns = tuple(rows[0])
    converting = [
        (i, _memoised(process, memos.setdefault(kind, {})))
        for i, (process, kind) in enumerate(_cached_processors(dialect, table, columns))
        if process is not None
    ]
    values_of = itemgetter(*columns)
    if len(columns) == 1 or not converting:
        out = [(v,) if len(columns) == 1 else v for v in map(values_of, rows)]
        return TableRows(table, columns, out)
    out = []
    for row in rows:
        values = list(values_of(row))
        for i, process in converting:
            if values[i] is not None:
                values[i] = process(values[i])
        out.append(tuple(values))
    return TableRows(table, columns, out)


def prepare_batch(rows: BulkRows, dialect: str) -> PreparedBatch:
    """Bind every value as the column type would (timestamps to text on SQLite, ...)."""
    tags = [tag for c in rows.customers for tag in customer_tag_rows(c["id"], c.get("metadata"))]
    ordered = (
        ("users", rows.users),
        ("customers", rows.customers),
        ("customer_tags", tags),
        ("customer_interactions", rows.interactions),
        ("customer_notes", rows.notes),
    )
    memos: Memo = {}
    parts = tuple(_prepare_table(dialect, name, part, memos) for name, part in ordered if part)
    return PreparedBatch(dialect, parts)


# --- writing ---------------------------------------------------------------------------------


@cache
def _insert_sql(dialect_name: str, table: str, columns: tuple[str, ...]) -> str:
    dialect = dialect_for(dialect_name)
    quote = dialect.identifier_preparer.quote
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    names = ", ".join(quote(c) for c in columns)
    markers = ", ".join(marker for _ in columns)
    return f"INSERT INTO {quote(table)} ({names}) VALUES ({markers})"


class BulkWriter:
    """Executes prepared batches inside the caller's open transaction (never commits).

    On SQLite, when at least `FTS_REPLAY_MIN_ROWS` customers are expected, the per-row insert
    triggers of `REPLAYED_TRIGGERS` (full-text index, `customer_counts`) are set aside for the
    duration, and after each batch one statement per trigger does for all its customers what
    the trigger does for one (measured per customer: FTS upkeep ~37 -> ~12 µs; the counters' ten
    upserts ~24 -> ~6 µs). The triggers are dropped and re-created inside the same
    transaction: SQLite DDL is transactional, so no other connection and no committed state
    ever lacks them, and a rollback brings them back with everything else (the replayed rows
    too). Leaving on an error replays and restores too, so a caller that catches the error and
    commits still leaves the index, the counters and the triggers whole. Customers the caller
    inserts on this connection otherwise are replayed with the next batch (or on leaving), and
    must not be updated or deleted before: those triggers would see rows not yet counted.

        with db.transaction() as conn, BulkWriter(conn, expected_customers=n) as writer:
            for batch in batches:
                writer.write(batch)
    """

    def __init__(self, conn: Connection, *, expected_customers: int) -> None:
        if not conn.in_transaction():
            raise RuntimeError("BulkWriter needs the caller's open transaction")
        self.conn = conn
        self.dialect = conn.dialect.name
        self._replay_from: int | None = None
        self._set_aside: list[_ReplayedTrigger] = []
        self._expected = expected_customers

    def __enter__(self) -> BulkWriter:
        if self.dialect == "sqlite" and self._expected >= FTS_REPLAY_MIN_ROWS:
            self._set_triggers_aside()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._set_aside:
            self._replay_and_restore()

    def write(self, batch: PreparedBatch) -> None:
        if batch.dialect != self.dialect:
            raise ValueError(f"batch prepared for {batch.dialect}, connection is {self.dialect}")
        for part in batch.parts:
            self.conn.exec_driver_sql(
                _insert_sql(batch.dialect, part.table, part.columns), part.rows
            )
        if self._set_aside and batch.count("customers"):
            # Replay each batch as it lands: one statement over a few thousand rows is as fast
            # per row as one over the whole transaction, and keeps SQLite's memory low.
            self._replay()

    def _set_triggers_aside(self) -> None:
        query = "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?"
        stored = {name: sql for name, sql in self.conn.exec_driver_sql(query, ("customers",))}
        # AUTOINCREMENT: every new seq is above any seq ever used, and we are the only writer.
        self._replay_from = self._last_seq()
        for trigger in REPLAYED_TRIGGERS:
            if stored.get(trigger.name) != trigger.sql:
                continue  # not the trigger we know how to replay: let it run per row
            try:
                self.conn.exec_driver_sql(f"DROP TRIGGER {trigger.name}")
            except OperationalError:
                break  # e.g. a caller's open cursor locks the schema: the rest stay and run
            self._set_aside.append(trigger)

    def _last_seq(self) -> int:
        last = "SELECT coalesce(max(seq), 0) FROM customers"
        return int(self.conn.exec_driver_sql(last).scalar_one())

    def _replay(self) -> None:
        for trigger in self._set_aside:
            self.conn.exec_driver_sql(trigger.replay, (self._replay_from,))
        self._replay_from = self._last_seq()

    def _replay_and_restore(self) -> None:
        self._replay()  # rows written by a batch that failed halfway
        for trigger in self._set_aside:
            self.conn.exec_driver_sql(trigger.sql)
        self._set_aside = []
        self._replay_from = None


# --- deferring secondary indexes ----------------------------------------------------------------

# A table's plain indexes are set aside only when this many rows are coming and the table holds
# at most a quarter as many: below that, maintaining them row by row is cheaper than a rebuild.
DEFER_MIN_ROWS = 20_000
DEFER_MAX_EXISTING_SHARE = 4

_SQLITE_PLAIN_INDEXES = """
SELECT m.name, m.sql FROM pragma_index_list(?) AS i
JOIN sqlite_master AS m ON m.type = 'index' AND m.name = i.name
WHERE (i."unique" = 0 OR ?) AND i.origin = 'c' AND m.sql IS NOT NULL ORDER BY m.rowid
"""
_POSTGRES_PLAIN_INDEXES = """
SELECT c.relname, pg_get_indexdef(x.indexrelid) FROM pg_index AS x
JOIN pg_class AS c ON c.oid = x.indexrelid
JOIN pg_class AS t ON t.oid = x.indrelid
JOIN pg_namespace AS n ON n.oid = t.relnamespace
WHERE t.relname = %(table)s AND n.nspname = current_schema()
  AND (NOT x.indisunique OR %(unique)s) AND NOT x.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint AS k WHERE k.conindid = x.indexrelid)
ORDER BY c.oid
"""


class DeferredIndexes:
    """Sets aside the plain (non-unique) indexes of tables about to receive many more rows than
    they hold, and builds them again from their own stored definitions when the block ends, all
    inside the caller's open transaction (never commits).

    Building an index by sorting a full table is several times cheaper than updating it row by
    row (measured: ~26 indexes on `customers` cost more than the rest of an insert). Unique
    indexes are left alone, so uniqueness is enforced row by row as always and the lookups by
    id, email and owner stay indexed, unless `unique=True`: then the unique indexes made by
    CREATE UNIQUE INDEX are set aside too and a duplicate fails the rebuild, hence the whole
    transaction, for a caller that writes all or nothing (the demo: a million customers' two
    random email inserts cost ~21 µs a customer, their rebuild ~5). Constraints (primary keys,
    UNIQUE columns, what foreign keys point at) are never touched. DDL is transactional on both
    backends: no committed state ever lacks an index, and a rollback restores them with
    everything else. On SQLite readers keep their WAL snapshot meanwhile; on PostgreSQL
    `DROP INDEX` locks the table against readers until the transaction ends, which is why this
    is reserved for loads into (nearly) empty tables. The indexes are rebuilt whenever the
    block is left, on an error too, so a caller that catches the error and commits still
    leaves the schema whole.

        with db.transaction() as conn, DeferredIndexes(conn, {"customers": n, "users": n}):
            ...
    """

    def __init__(
        self,
        conn: Connection,
        expected_rows: Mapping[str, int],
        *,
        min_rows: int | None = None,
        unique: bool = False,
    ) -> None:
        if not conn.in_transaction():
            raise RuntimeError("DeferredIndexes needs the caller's open transaction")
        self.conn = conn
        self.expected_rows = dict(expected_rows)
        self.min_rows = DEFER_MIN_ROWS if min_rows is None else min_rows
        self.unique = unique
        self.dropped: list[tuple[str, str, str]] = []  # (table, index name, its CREATE SQL)

    def __enter__(self) -> DeferredIndexes:
        for table, expected in self.expected_rows.items():
            if expected < self.min_rows:
                continue
            if self._rows_at_most(table, expected // DEFER_MAX_EXISTING_SHARE):
                self._drop_plain_indexes(table)
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if not self.dropped:
            return
        try:
            self._rebuild()
        except Exception:
            if exc_type is None:
                raise
            # The transaction is failing anyway (on PostgreSQL it may be aborted, so the
            # rebuild cannot run): the rollback restores the indexes; keep the first error.

    def _rows_at_most(self, table: str, limit: int) -> bool:
        quote = self.conn.dialect.identifier_preparer.quote
        query = f"SELECT count(*) FROM (SELECT 1 FROM {quote(table)} LIMIT {limit + 1}) AS t"
        return int(self.conn.exec_driver_sql(query).scalar_one()) <= limit

    def _drop_plain_indexes(self, table: str) -> None:
        quote = self.conn.dialect.identifier_preparer.quote
        if self.conn.dialect.name == "sqlite":
            query = _SQLITE_PLAIN_INDEXES
            found = self.conn.exec_driver_sql(query, (table, self.unique)).all()
        else:
            params = {"table": table, "unique": self.unique}
            found = self.conn.exec_driver_sql(_POSTGRES_PLAIN_INDEXES, params).all()
        for name, sql in found:
            self.conn.exec_driver_sql(f"DROP INDEX {quote(name)}")
            self.dropped.append((table, name, sql))

    def _rebuild(self) -> None:
        # Each CREATE INDEX sorts in memory on SQLite (temp_store=MEMORY: its sorter runs no
        # helper threads and spills to memory), one index at a time.
        for _table, _name, sql in self.dropped:  # in the order they were first made
            self.conn.exec_driver_sql(sql)
        self.dropped = []


# The writer's SQLite page cache during a bulk load, KiB; the sorter of the index rebuilds holds
# about as much again. The usual 64 MiB put a million-customer demo writer at 210 MB, too near
# the 300 MB budget with a worker (~90 MB) beside it, and an import's process at 1M near it.
LOAD_CACHE_KIB = 32 * 1024


@contextmanager
def sorting_on_disk(db: Database, *, cache_kib: int = LOAD_CACHE_KIB) -> Iterator[None]:
    """For a bulk load on SQLite: the writer's temporary storage in files and its page cache of
    `cache_kib` while the block runs.

    With `temp_store=MEMORY` SQLite keeps a CREATE INDEX's whole sort in RAM; `DeferredIndexes`
    rebuilding indexes over a million rows then raised the writer's peak by ~120 MB (a million
    demo customers in one transaction: 296 MB). In files, the sorter holds about its cache in
    memory and spills the rest, so page cache and sorter together hold about twice the cache:
    a million demo customers in one transaction peaked at 210 MB for the writer with the usual
    64 MiB, 143 MB with 32 MiB (and ~7% more writer CPU while the unique email indexes were
    updated row by row: their random inserts miss the smaller cache more often). The pragmas
    are set on the one writer connection before the caller's transaction and restored after it
    (temp_store cannot change inside one)."""
    if not db.is_sqlite:
        yield
        return
    previous = _pragma(db, "temp_store", "FILE")
    cache = _pragma(db, "cache_size", -cache_kib)
    try:
        yield
    finally:
        _pragma(db, "temp_store", previous)
        _pragma(db, "cache_size", cache)


def _pragma(db: Database, name: str, value: str | int) -> int:
    """Set a pragma on the writer connection; returns its value before."""
    with db.writer.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        before = raw.execute(f"PRAGMA {name}").fetchone()[0]
        raw.execute(f"PRAGMA {name}={value}")
        return int(before)


def write_batch(conn: Connection, batch: PreparedBatch) -> None:
    """Execute one prepared batch inside the caller's open transaction (never commits)."""
    with BulkWriter(conn, expected_customers=batch.count("customers")) as writer:
        writer.write(batch)


def insert_rows(conn: Connection, table: str, rows: Sequence[Row]) -> None:
    """Rows of one table (`audit_logs` too), all with the same keys, in one executemany: what
    `conn.execute(insert(table), rows)` writes, without building each row's parameters in
    SQLAlchemy."""
    if rows:
        part = _prepare_table(conn.dialect.name, table, rows, {})
        conn.exec_driver_sql(_insert_sql(conn.dialect.name, table, part.columns), part.rows)


def insert_bulk(conn: Connection, rows: BulkRows) -> PreparedBatch:
    """Prepare and write `rows` in the caller's transaction; returns what was written."""
    batch = prepare_batch(rows, conn.dialect.name)
    write_batch(conn, batch)
    return batch
