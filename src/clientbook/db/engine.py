"""Engines and transactions.

On SQLite every write goes through one writer connection (SPEC §3: the machine's SQLite has a
WAL-reset corruption bug that needs two writers, and one writer also ends "database is locked"),
while reads use a pool of read-only connections. On PostgreSQL one pool serves both, and the
round trips around a short read are cut:

* a pooled connection is pinged only when it has sat idle for `PING_AFTER_IDLE_SECONDS`: a ping
  at every checkout (`pool_pre_ping`) was one more round trip per read. A connection that the
  server dropped while it was in use fails its statement, and SQLAlchemy then replaces every
  connection opened before it (as after a failed ping);
* `read()` runs its statements in autocommit: under READ COMMITTED each statement is its own
  snapshot anyway, so a transaction bought nothing and cost a BEGIN and a ROLLBACK, ~180 µs
  a read (the credential lookups already ran so; the routes' own reads did not). Reads take
  no transaction-scoped setting (`SET LOCAL`); writes have their transaction.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection, QueuePool

from clientbook.config import Settings
from clientbook.domain.errors import Busy

BUSY_TIMEOUT_MS = 10_000
WRITER_WAIT_SECONDS = 30
BUSY_RETRY_AFTER_SECONDS = 5
PING_AFTER_IDLE_SECONDS = 10.0
_IDLE_SINCE = "clientbook_idle_since"


def normalise_url(url: str) -> str:
    """Accept plain `postgresql://` URLs and use psycopg 3 for them."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_engine(url: str, *, pool_size: int, writer: bool, synchronous: str) -> Engine:
    engine = create_engine(
        url,
        poolclass=QueuePool,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=WRITER_WAIT_SECONDS,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # The driver must not open transactions itself: we emit BEGIN below.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        if writer:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
        else:
            # Readers never write and never checkpoint: only the writer touches the WAL.
            cursor.execute("PRAGMA query_only=ON")
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    return engine


def _postgres_engine(url: str) -> Engine:
    engine = create_engine(url, pool_size=10, max_overflow=20)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
        # No parallel workers: a request's statements read a page or a few index entries, and
        # a blind estimate (prefix searches) made the planner start two workers for a 0.3 ms
        # read, 4 ms of startup and two more processes competing for the cores with the
        # other requests. Time zone named `UTC`: psycopg then loads every timestamptz with
        # `datetime.UTC`, with no zone to convert from per value (the server's default is
        # `Etc/UTC`, a zoneinfo zone, or the host's own zone), and the database's date
        # arithmetic is in UTC like the app's. Both in one round trip, outside a transaction,
        # so that no rollback undoes them.
        dbapi_conn.autocommit = True
        dbapi_conn.execute("SET max_parallel_workers_per_gather = 0; SET TimeZone = 'UTC'")
        dbapi_conn.autocommit = False

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(
        dbapi_conn: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
    ) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            # The pool replaces this connection with a new one and checks out again.
            raise DisconnectionError("idle connection failed its ping") from exc

    return engine


class Database:
    """The process's handle on storage: `transaction()` to write, `read()` to read."""

    def __init__(self, settings: Settings, *, read_pool_size: int = 8) -> None:
        self.settings = settings
        self._local = threading.local()
        self.url = normalise_url(settings.database_url)
        self.dialect = "sqlite" if self.url.startswith("sqlite") else "postgresql"
        if self.dialect == "sqlite":
            path = settings.sqlite_path()
            if path is None:
                raise ValueError("clientbook needs a SQLite file, not an in-memory database")
            path.parent.mkdir(parents=True, exist_ok=True)
            sync = settings.sqlite_synchronous
            self.writer = _sqlite_engine(self.url, pool_size=1, writer=True, synchronous=sync)
            # Open the writer first so the file is in WAL mode before any reader attaches.
            with self.writer.connect():
                pass
            self.reader = _sqlite_engine(
                self.url, pool_size=read_pool_size, writer=False, synchronous=sync
            )
        else:
            self.writer = _postgres_engine(self.url)
            self.reader = self.writer
        # PostgreSQL: the same pool, its connections in autocommit while a read holds them.
        self._reads = (
            self.reader
            if self.dialect == "sqlite"
            else self.writer.execution_options(isolation_level="AUTOCOMMIT")
        )

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One unit of work: commits when the block ends, rolls back on any exception."""
        if getattr(self._local, "writing", False) and self.is_sqlite:
            # The one writer is already held by this thread: waiting would deadlock.
            raise RuntimeError("nested write transaction on the SQLite writer")
        self._local.writing = True
        try:
            with self._writer_connection() as conn, conn.begin():
                conn.info["settings"] = self.settings
                yield conn
        finally:
            self._local.writing = False

    def _writer_connection(self) -> Connection:
        try:
            return self.writer.connect()
        except PoolTimeout:
            # Every writer connection stayed busy for the whole wait (SQLite: a long import
            # holds the one writer): a clear "try again", not an internal error.
            raise Busy(
                "The database is busy with a long write (such as an import); nothing was "
                "written, try again shortly",
                retry_after=BUSY_RETRY_AFTER_SECONDS,
            ) from None

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection to read with: on SQLite one consistent snapshot for the whole block; on
        PostgreSQL one per statement (READ COMMITTED), in autocommit."""
        with self._reads.connect() as conn:
            conn.info["settings"] = self.settings
            try:
                yield conn
            finally:
                conn.rollback()

    def checkpoint(self) -> None:
        """Fold the WAL into the main file (SQLite), outside any transaction."""
        if not self.is_sqlite:
            return
        with self.writer.connect() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def sqlite_file(self) -> Path | None:
        return self.settings.sqlite_path() if self.is_sqlite else None

    def dispose(self) -> None:
        self.reader.dispose()
        self.writer.dispose()
