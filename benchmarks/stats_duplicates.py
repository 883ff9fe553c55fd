"""Statistics and duplicate detection over a million customers (SQLite): p50/p95 timings.

    .venv/bin/python benchmarks/stats_duplicates.py                      # build ./data/bench-1m
    .venv/bin/python benchmarks/stats_duplicates.py --database PATH      # reuse (or build) PATH
    .venv/bin/python benchmarks/stats_duplicates.py --customers 200000 --runs 30
    .venv/bin/python benchmarks/stats_duplicates.py --stats-only --postgres postgresql://...

The database is built once with `clientbook demo --customers N` when that command exists, and
otherwise with the synthetic loader below (realistic spreads of status, type, source, owner,
country, revenue, follow-ups and creation dates over three years, and about 1% of records that
duplicate another by email variant, phone or reordered name within a company). The timings go
through the service layer, then through HTTP (FastAPI TestClient with an API key), each warmed
up once and then run `--runs` times. A database built before migration 0002 is upgraded first
(the counters backfilled; the time is printed).

`--postgres URL` copies the SQLite database's users, customers and tags into the schema
`bench_stats` of that server (once: reused while it holds as many customers), migrated and
vacuumed as autovacuum would leave it, and times the same calls there. `--stats-only` skips
the duplicates.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, text

from clientbook.access import SYSTEM
from clientbook.app import create_app
from clientbook.config import Settings
from clientbook.db import migrate
from clientbook.db.engine import Database, normalise_url
from clientbook.domain.customers import derive_customer_columns
from clientbook.domain.enums import CUSTOMER_SOURCES, CUSTOMER_STATUSES, CUSTOMER_TYPES
from clientbook.domain.fields import dump_json
from clientbook.domain.ids import new_id
from clientbook.domain.tags import get_customer_tags, tag_key
from clientbook.services import auth, duplicates, stats

DEFAULT_PATH = Path("data/bench-1m.sqlite3")
BATCH = 20_000
STAFF = 20
FIRST = "Ahmad Siti Mei Ling Wei Jie Raj Priya Nur Aisyah Muhammad Hafiz Kumar Chen Li Farah Amir"
LAST = "Tan Lim Lee Wong Ng Abdullah Ismail Rahman Singh Kaur Chong Goh Ong Teo Yusof Hassan"
FIRST_NAMES, LAST_NAMES = FIRST.split(), LAST.split()
COUNTRIES = [("Malaysia", 60), ("Singapore", 12), ("Indonesia", 6), ("Thailand", 4),
             ("Philippines", 3), ("Vietnam", 3), ("United States", 3), ("United Kingdom", 2),
             ("Australia", 2), ("India", 2), ("China", 2), ("Japan", 1)]  # fmt: skip
DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "example.my", "company.com.my"]
TAGS = ["vip", "enterprise", "priority", "newsletter", "churn-risk"]


def _weighted(pairs: list[tuple[str, int]]) -> tuple[list[str], list[int]]:
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _ts(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds")


def _name(i: int) -> tuple[str, str]:
    return FIRST_NAMES[i % len(FIRST_NAMES)], LAST_NAMES[(i // len(FIRST_NAMES)) % len(LAST_NAMES)]


def _company(i: int) -> str | None:
    """About 70% of records name a company; ~5,000 companies are shared by many records."""
    return None if i % 10 < 3 else f"{LAST_NAMES[i % len(LAST_NAMES)]} Group {i % 5000}"


def _email(i: int) -> str:
    return f"customer.{i}@{DOMAINS[i % len(DOMAINS)]}"


def _phone(i: int) -> str:
    return f"+60 12-{(i // 10000) % 1000:03d} {i % 10000:04d}"


def _customer(
    rng: random.Random, i: int, owner: str, staff: list[str], now: datetime
) -> dict[str, Any]:
    """One synthetic record; one in a hundred duplicates an earlier one (an email variant, the
    phone in national format, or the name reordered at the same company)."""
    first, last = _name(i)
    name, company, email, phone = f"{first} {last} {i}", _company(i), _email(i), _phone(i)
    j = rng.randint(1, i - 1) if i > 1 else 0
    kind = i % 300 if j else 0
    if kind == 1:
        email = f"customer.{j}+crm{i}@{DOMAINS[j % len(DOMAINS)]}"  # same emailKey as j
    elif kind == 2:
        phone = f"012{(j // 10000) % 1000:03d}{j % 10000:04d}"  # same E.164 as j
    elif kind == 3 and _company(j):
        jfirst, jlast = _name(j)
        name, company = f"{jlast.upper()} {jfirst} {j}", _company(j)  # same duplicateNameKey
    countries, weights = _weighted(COUNTRIES)
    created = now - timedelta(seconds=rng.randint(0, 3 * 365 * 86400))
    follow = None
    if rng.random() < 0.4:
        follow = now + timedelta(seconds=rng.randint(-60 * 86400, 60 * 86400))
    tags = rng.sample(TAGS, rng.randint(0, 2))
    record: dict[str, Any] = {
        "id": new_id(),
        "createdAt": _ts(created),
        "updatedAt": _ts(created),
        "userId": owner,
        "name": name,
        "email": email,
        "phone": phone,
        "company": company,
        "country": rng.choices(countries, weights)[0] if rng.random() < 0.9 else None,
        "status": rng.choices(CUSTOMER_STATUSES, [50, 15, 15, 12, 8])[0],
        "customerType": rng.choices(CUSTOMER_TYPES, [70, 25, 3, 2])[0],
        "source": rng.choice(CUSTOMER_SOURCES) if rng.random() < 0.8 else None,
        "assignedTo": rng.choice(staff) if rng.random() < 0.75 else None,
        "totalRevenue": round(rng.expovariate(1 / 5000), 2) if rng.random() < 0.6 else 0.0,
        "totalInvoices": rng.randint(0, 40),
        "nextFollowUpAt": _ts(follow) if follow else None,
        "lastContactAt": _ts(created + timedelta(days=rng.randint(0, 30))),
        "metadata": dump_json({"tags": tags}) if tags else None,
    }
    if record["customerType"] != "individual" and not record["company"]:
        record["customerType"] = "individual"
    record.update(derive_customer_columns(record))
    return record


def build_synthetic(path: Path, customers: int, *, seed: int = 1) -> None:
    """Migrate an empty database at `path` and bulk-load `customers` records into it."""
    db = Database(Settings(database_url=f"sqlite:///{path}"))
    migrate.upgrade(db)
    db.dispose()
    rng = random.Random(seed)
    now = datetime.now(UTC)
    conn = sqlite3.connect(path, isolation_level=None)
    # A throwaway benchmark file: durability does not matter while loading.
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("PRAGMA cache_size=-1000000")
    stamp = _ts(now)
    staff = [new_id() for _ in range(STAFF)]
    conn.execute("BEGIN")
    conn.executemany(
        'INSERT INTO users (id, "createdAt", "updatedAt", email, name, role, status) '
        "VALUES (?, ?, ?, ?, ?, 'super_admin', 'active')",
        [(s, stamp, stamp, f"rep{k}@clientbook.test", f"Rep {k}") for k, s in enumerate(staff)],
    )
    columns: list[str] = []
    started = time.perf_counter()
    for start in range(1, customers + 1, BATCH):
        owners = [new_id() for _ in range(start, min(start + BATCH, customers + 1))]
        conn.executemany(
            'INSERT INTO users (id, "createdAt", "updatedAt", name, role, status) '
            "VALUES (?, ?, ?, 'Customer', 'user', 'invited')",
            [(o, stamp, stamp) for o in owners],
        )
        rows = [_customer(rng, start + k, o, staff, now) for k, o in enumerate(owners)]
        if not columns:
            columns = list(rows[0])
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" for _ in columns)
        conn.executemany(
            f"INSERT INTO customers ({names}) VALUES ({marks})",
            [tuple(r[c] for c in columns) for r in rows],
        )
        tag_rows = [
            (r["id"], tag_key(t), t) for r in rows for t in get_customer_tags(r["metadata"])
        ]
        conn.executemany(
            'INSERT INTO customer_tags ("customerId", "tagKey", tag) VALUES (?, ?, ?)', tag_rows
        )
        done, took = start + len(rows) - 1, time.perf_counter() - started
        print(f"\r  loaded {done:,} / {customers:,} ({took:.0f} s)", end="", file=sys.stderr)
    conn.execute("COMMIT")
    print(file=sys.stderr)
    # No ANALYZE: the server never runs it, so the plans measured are the plans it gets.
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


# --- the database ----------------------------------------------------------------------------


def _demo_command() -> Path | None:
    """`clientbook demo` when this installation has it (another part of the project)."""
    command = Path(sys.executable).with_name("clientbook")
    if not command.exists():
        return None
    probe = subprocess.run([command, "demo", "--help"], capture_output=True, check=False)
    return command if probe.returncode == 0 else None


def ensure_database(path: Path, customers: int) -> None:
    """Reuse `path` when it holds customers; otherwise build it (demo command or synthetic)."""
    if path.exists():
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            if conn.execute("SELECT count(*) FROM customers").fetchone()[0]:
                return
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    demo = _demo_command()
    if demo is not None:
        print(f"building {path} with `clientbook demo --customers {customers}`", file=sys.stderr)
        env = {**os.environ, "CLIENTBOOK_DATABASE_URL": f"sqlite:///{path.resolve()}"}
        subprocess.run([demo, "demo", "--customers", str(customers)], env=env, check=True)
    else:
        print(f"building {path} with the synthetic loader", file=sys.stderr)
        build_synthetic(path, customers)
    print(f"built in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def upgrade_if_needed(db: Database) -> None:
    """Bring a database built by an older schema to the head (0002 backfills its counters)."""
    if migrate.is_current(db):
        return
    started = time.perf_counter()
    migrate.upgrade(db)
    print(f"upgraded to {migrate.head_revision()} in {time.perf_counter() - started:.1f} s")


PG_SCHEMA = "bench_stats"
PG_TABLES = ("users", "customers", "customer_tags")


def postgres_copy(sqlite_path: Path, url: str) -> Database:
    """The SQLite database's rows in schema `PG_SCHEMA` of `url`, migrated (reused when it holds
    as many customers), then VACUUM ANALYZE: what autovacuum does to a table after a load."""
    with sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True) as source:
        expected = source.execute("SELECT count(*) FROM customers").fetchone()[0]
    separator = "&" if "?" in url else "?"
    db = Database(Settings(database_url=f"{url}{separator}options=-csearch_path%3D{PG_SCHEMA}"))
    admin = create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        present = conn.execute(
            text("SELECT to_regclass(:t) IS NOT NULL"), {"t": f"{PG_SCHEMA}.customers"}
        ).scalar_one()
        count = f"SELECT count(*) FROM {PG_SCHEMA}.customers"
        if present and conn.execute(text(count)).scalar_one() == expected:
            admin.dispose()
            upgrade_if_needed(db)
            return db
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{PG_SCHEMA}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{PG_SCHEMA}"'))
    # The rows go in under the first schema, then the upgrade backfills the counters: the
    # path an existing installation takes.
    migrate.upgrade(db, "0001")
    started = time.perf_counter()
    with (
        sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True) as source,
        db.transaction() as conn,
    ):
        raw = conn.connection.driver_connection
        assert raw is not None
        for table in PG_TABLES:
            cursor = source.execute(f"SELECT * FROM {table}")
            names = ", ".join(f'"{d[0]}"' for d in cursor.description)
            with raw.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in cursor:
                    copy.write_row(row)
        for table in ("users", "customers"):  # the sequences after rows copied with their seq
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'seq'), "
                    f"(SELECT max(seq) FROM {table}))"
                )
            )
    print(f"copied into PostgreSQL in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    upgrade_if_needed(db)
    with admin.connect() as conn:
        for table in (*PG_TABLES, "customer_counts"):
            conn.execute(text(f"VACUUM ANALYZE {PG_SCHEMA}.{table}"))
    admin.dispose()
    return db


# --- timing ----------------------------------------------------------------------------------


def measure(name: str, action: Callable[[], Any], runs: int) -> dict[str, float]:
    """Warm up once, then time `runs` calls; print and return wall-clock p50 / p95 / max and
    CPU-time p50 in ms (CPU time leaves out waiting for a core on a busy machine)."""
    action()
    wall, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        action()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    wall.sort()
    p95 = statistics.quantiles(wall, n=20, method="inclusive")[18] if runs > 1 else wall[0]
    figures = {"p50": statistics.median(wall), "p95": p95, "max": wall[-1]}
    figures["cpu_p50"] = statistics.median(cpu)
    print(
        f"{name:48} p50 {figures['p50']:6.1f}  p95 {p95:6.1f}  max {wall[-1]:6.1f}  "
        f"cpu p50 {figures['cpu_p50']:6.1f}  (ms)"
    )
    return figures


def _use_mmap(db: Database, megabytes: int) -> None:
    """Map the file into memory on every read connection (an experiment: the server does not)."""

    @event.listens_for(db.reader, "connect")
    def _mmap(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.execute(f"PRAGMA mmap_size={megabytes * 1024 * 1024}")


def run_service(db: Database, runs: int, *, stats_only: bool = False) -> None:
    def read(work: Callable[[Any], Any]) -> Callable[[], Any]:
        def call() -> Any:
            with db.read() as conn:
                return work(conn)

        return call

    measure("service  customer_stats", read(lambda c: stats.customer_stats(c, SYSTEM)), runs)
    if stats_only:
        return
    first = read(lambda c: duplicates.find_duplicates(c, SYSTEM))
    measure("service  find_duplicates, first page (25 groups)", first, runs)
    for reason in duplicates.REASONS:
        page = read(lambda c, r=reason: duplicates.find_duplicates(c, SYSTEM, reason=r))
        measure(f"service  find_duplicates reason={reason}", page, runs)
    walk_duplicates(db)


def walk_duplicates(db: Database) -> None:
    """Every page of 100 groups once: the whole of each derived index is read exactly once."""
    started, pages, groups, cursor = time.perf_counter(), 0, 0, None
    while True:
        with db.read() as conn:
            page = duplicates.find_duplicates(conn, SYSTEM, limit=100, cursor=cursor)
        pages, groups, cursor = pages + 1, groups + len(page["groups"]), page["cursor"]
        if cursor is None:
            break
    took = (time.perf_counter() - started) * 1000
    print(f"service  every duplicates page: {groups:,} groups in {pages} pages, {took:,.0f} ms")


def run_http(db: Database, runs: int, *, stats_only: bool = False) -> None:
    with db.transaction() as conn:
        key = auth.create_api_key(conn, SYSTEM, name="benchmark").secret
    headers = {"X-API-Key": key}
    with TestClient(create_app(db=db)) as client:

        def get(path: str) -> Callable[[], Any]:
            def call() -> Any:
                response = client.get(path, headers=headers)
                assert response.status_code == 200, response.text
                return response

            return call

        measure("http     GET /api/customers/stats", get("/api/customers/stats"), runs)
        if stats_only:
            return
        measure("http     GET /api/customers/duplicates", get("/api/customers/duplicates"), runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--mmap-mb", type=int, default=0, help="experiment: PRAGMA mmap_size")
    parser.add_argument("--postgres", help="time a copy of the database on this PostgreSQL URL")
    parser.add_argument("--stats-only", action="store_true", help="skip the duplicates")
    args = parser.parse_args()
    ensure_database(args.database, args.customers)
    db = Database(Settings(database_url=f"sqlite:///{args.database.resolve()}"))
    upgrade_if_needed(db)
    if args.postgres:
        db.dispose()
        db = postgres_copy(args.database.resolve(), args.postgres)
    if args.mmap_mb:
        _use_mmap(db, args.mmap_mb)
    with db.read() as conn:
        total = conn.exec_driver_sql("SELECT count(*) FROM customers").scalar_one()
    machine = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    backend = "PostgreSQL (a copy)" if args.postgres else f"SQLite {sqlite3.sqlite_version}"
    print(f"{total:,} customers in {args.database}; {args.runs} runs each; {machine}; "
          f"{backend}; mmap {args.mmap_mb} MiB")  # fmt: skip
    try:
        run_service(db, args.runs, stats_only=args.stats_only)
        run_http(db, args.runs, stats_only=args.stats_only)
    finally:
        db.dispose()


if __name__ == "__main__":
    main()
