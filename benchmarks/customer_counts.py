"""What the `customer_counts` triggers (migration 0002) cost the bulk write paths.

    .venv/bin/python benchmarks/customer_counts.py                          # SQLite, 100,000
    .venv/bin/python benchmarks/customer_counts.py --customers 20000 --rounds 2
    .venv/bin/python benchmarks/customer_counts.py --postgres postgresql://postgres@127.0.0.1/test

For each round and each mode, in turn "without" (the triggers dropped: the write paths as they
were before 0002) and "with" (as migrated), it fills a fresh database with the demo loader
(`services.demo.run_demo`, in this process), then imports a CSV export of those records into
another fresh database (`services.imports.run_import`, staff only beforehand), and prints
customers/s (wall clock) and the CPU seconds spent: this process's, plus on PostgreSQL its
server processes' (the triggers run there; read from /proc, so the server must be local). Then
the time of one-row INSERT and UPDATE statements, the shape of the service's single-record
writes. After each "with" load it checks that the counters equal a GROUP BY. On PostgreSQL
each database is a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import bindparam, create_engine, func, select, text

from clientbook.access import SYSTEM
from clientbook.config import Settings
from clientbook.db import migrate
from clientbook.db.engine import Database, normalise_url
from clientbook.db.tables import customers, users
from clientbook.domain.ids import new_id
from clientbook.domain.timestamps import utcnow
from clientbook.services import demo, exports, stats
from clientbook.services.imports import ImportOptions, open_source, run_import

TRIGGERS = ("customer_counts_insert", "customer_counts_delete", "customer_counts_update")


@contextmanager
def fresh_database(workdir: Path, name: str, postgres: str | None) -> Iterator[Database]:
    """A migrated, empty database (a SQLite file, or a PostgreSQL schema dropped at the end)."""
    if postgres is None:
        db = Database(Settings(database_url=f"sqlite:///{workdir / name}.sqlite3"))
        migrate.upgrade(db)
        try:
            yield db
        finally:
            db.dispose()
        return
    schema = f"bench_counts_{name}_{os.getpid()}"
    admin = create_engine(normalise_url(postgres))
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in postgres else "?"
    url = f"{postgres}{separator}options={quote(f'-csearch_path={schema}')}"
    db = Database(Settings(database_url=url))
    migrate.upgrade(db)
    try:
        yield db
    finally:
        db.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def drop_triggers(db: Database) -> None:
    with db.transaction() as conn:
        for name in TRIGGERS:
            suffix = "" if db.is_sqlite else " ON customers"
            conn.execute(text(f"DROP TRIGGER {name}{suffix}"))


def server_cpu(db: Database) -> float:
    """CPU seconds used so far by the PostgreSQL processes serving this database (0 on SQLite)."""
    if db.is_sqlite:
        return 0.0
    with db.read() as conn:
        pids = conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).scalars()
        total = 0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def timed(db: Database, action: Callable[[], int]) -> tuple[int, float, float]:
    started, cpu, server = time.perf_counter(), time.process_time(), server_cpu(db)
    rows = action()
    spent = time.process_time() - cpu + server_cpu(db) - server
    return rows, time.perf_counter() - started, spent


def report(what: str, rows: int, wall: float, cpu: float) -> None:
    print(f"{what:<34} {rows:>9,} customers {wall:7.1f} s {rows / wall:>8,.0f}/s  cpu {cpu:6.1f} s")


def check_counters(db: Database) -> None:
    with db.read() as conn:
        counts = stats.read_counts(conn)
        total = conn.execute(select(func.count()).select_from(customers)).scalar_one()
        query = select(customers.c.status, func.count()).group_by(customers.c.status)
        by_status = {status: n for status, n in conn.execute(query)}
    assert counts.total == total, (counts.total, total)
    found = {k: v for k, v in counts.by_value.get("status", {}).items() if v}
    assert found == by_status, (found, by_status)


def single_rows(db: Database, n: int) -> tuple[float, float]:
    """CPU seconds (ours and the server's) of `n` one-row INSERT statements, then of `n`
    one-row status UPDATEs, each set in one transaction (so commits do not drown the
    per-statement cost)."""
    stamp = utcnow()
    owners = [{"id": new_id(), "createdAt": stamp, "updatedAt": stamp, "email": None,
               "status": "invited", "name": "Owner"} for _ in range(n)]  # fmt: skip
    with db.transaction() as conn:
        conn.execute(users.insert(), owners)

    def insert_each() -> int:
        with db.transaction() as conn:
            for k, owner in enumerate(owners):
                row = {"id": new_id(), "createdAt": stamp, "updatedAt": stamp,
                       "userId": owner["id"], "name": f"Single {k}", "country": "Malaysia",
                       "totalRevenue": k % 7}  # fmt: skip
                conn.execute(customers.insert(), row)
        return n

    with db.read() as conn:
        ids = list(conn.execute(select(customers.c.id).limit(n)).scalars())
    change = customers.update().where(customers.c.id == bindparam("cid"))

    def update_each() -> int:
        with db.transaction() as conn:
            for k, customer_id in enumerate(ids):
                conn.execute(change.values(status=("lead", "active")[k % 2]), {"cid": customer_id})
        return n

    return timed(db, insert_each)[2], timed(db, update_each)[2]


def export_csv(db: Database, target: Path) -> None:
    plan = exports.plan_export(SYSTEM, [], fmt="csv")
    with target.open("wb") as file:
        for chunk in exports.stream_export(db, SYSTEM, plan):
            file.write(chunk)


def staff_rows(db: Database) -> list[dict[str, Any]]:
    """The staff the records are assigned to (assignedTo must name active staff)."""
    with db.read() as conn:
        rows = conn.execute(select(users).where(users.c.role != "user")).mappings()
        return [{k: v for k, v in r.items() if k != "seq"} for r in rows]


def run(args: argparse.Namespace, workdir: Path) -> None:
    csv = workdir / "customers.csv"
    staff: list[dict[str, Any]] = []
    for round_ in range(1, args.rounds + 1):
        for mode in ("without", "with"):
            with fresh_database(workdir, f"demo_{mode}_{round_}", args.postgres) as db:
                if mode == "without":
                    drop_triggers(db)

                def load(db: Database = db) -> int:
                    demo.run_demo(db, customers=args.customers)
                    return args.customers

                report(f"round {round_} demo, {mode} triggers", *timed(db, load))
                if not csv.exists():
                    export_csv(db, csv)
                    staff = staff_rows(db)
                inserts, updates = single_rows(db, args.single)
                print(
                    f"round {round_} one-row statements, {mode} triggers: CPU "
                    f"{inserts / args.single * 1e6:,.0f} µs an INSERT, "
                    f"{updates / args.single * 1e6:,.0f} µs a status UPDATE"
                )
                if mode == "with":
                    check_counters(db)
                with fresh_database(workdir, f"import_{mode}_{round_}", args.postgres) as into:
                    with into.transaction() as conn:
                        conn.execute(users.insert(), staff)
                    if mode == "without":
                        drop_triggers(into)

                    def load_csv(into: Database = into) -> int:
                        source = open_source(csv, filename=csv.name, fmt="csv")
                        result = run_import(into, SYSTEM, source, ImportOptions(overwrite=True))
                        assert not result.failed, result.failures[:3]
                        return int(result.created + result.updated)

                    report(f"round {round_} import, {mode} triggers", *timed(into, load_csv))
                    if mode == "with":
                        check_counters(into)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--single", type=int, default=2000, help="one-row statements timed")
    parser.add_argument("--postgres", help="a PostgreSQL URL (default: SQLite files)")
    args = parser.parse_args()
    backend = "PostgreSQL" if args.postgres else "SQLite"
    machine = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    print(f"{backend}, {args.customers:,} customers, {args.rounds} round(s); {machine}")
    with tempfile.TemporaryDirectory(prefix="bench-counts-") as workdir:
        run(args, Path(workdir))


if __name__ == "__main__":
    main()
