"""The REST API's read workloads on PostgreSQL with 1 and 2 server processes (issue 9, item 6).
How to run it and the latest figures: docs/benchmarks.md.

    .venv/bin/python -m benchmarks.pg_workers --customers 20000 --duration 3 \
        --database-url postgresql://postgres@127.0.0.1:5432/clientbook_bench_small

Steps, each skipped when already done:
1. `clientbook demo --customers N` fills the database (it must be empty or hold exactly that
   demo: create it with `createdb -h 127.0.0.1 -U postgres clientbook_bench`); loading a million
   rows takes a while, so the database is kept and reused;
2. `clientbook db upgrade`, an API key (`clientbook apikeys create`) and a password for some
   demo users, so that they can sign in (the work directory remembers both), and once
   `VACUUM (ANALYZE)` (autovacuum may be off: without statistics every list plans badly);
3. for each worker count, `clientbook serve --workers N` is started as a user would start it,
   and wrk runs the read workloads of benchmarks/api_vs_pocketbase.py (the same requests, the
   same 16 connections) for `--duration` seconds each;
4. a table gives req/s, p50 and p99 per workload and worker count, and the ratio of 2 workers'
   throughput to 1 worker's (target >= 1.5 on a 2-core machine where wrk and PostgreSQL share
   the cores with the server), and checks p99 < 100 ms as on SQLite.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import api_vs_pocketbase as api
from benchmarks.wrk.load import find_wrk
from benchmarks.wrk.process import ServerProcess

READ_WORKLOADS = ("a", "b", "c", "d", "e", "f")
RATIO_TARGET = 1.5
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/clientbook_bench"


@dataclass(frozen=True)
class Options:
    url: str
    customers: int
    duration: float
    workers: tuple[int, ...]
    workloads: tuple[str, ...]
    connections: int
    threads: int
    workdir: Path
    quiet_wait: float
    warmup: float
    seed: int
    prepare_only: bool


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL, help=f"({DEFAULT_URL})")
    parser.add_argument("--customers", type=int, default=1_000_000, help="rows (1,000,000)")
    parser.add_argument("--duration", type=float, default=10, help="seconds per workload (10)")
    parser.add_argument("--workers", default="1,2", help="worker counts to compare (1,2)")
    parser.add_argument(
        "--workloads", default=",".join(READ_WORKLOADS), help=f"of {','.join(READ_WORKLOADS)} (all)"
    )
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (16)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--workdir", type=Path, help="(default $TMPDIR/clientbook-pg-workers-N)")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=30,
        help="wait up to this long for other processes to go idle (30)",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=3,
        help="seconds of each workload's requests, unmeasured, before measuring it (3); "
        "without, the first worker count measured pays the cold caches alone",
    )
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument(
        "--prepare-only", action="store_true", help="load the data and make the users only"
    )
    args = parser.parse_args(argv)
    workloads = tuple(w for w in args.workloads.split(",") if w)
    if unknown := [w for w in workloads if w not in api.WORKLOADS or w in ("g", "h")]:
        parser.error(f"not read workloads: {unknown}")
    workdir = args.workdir or Path("/tmp") / f"clientbook-pg-workers-{args.customers}"
    return Options(
        url=args.database_url,
        customers=args.customers,
        duration=args.duration,
        workers=tuple(int(n) for n in args.workers.split(",")),
        workloads=workloads,
        connections=args.connections,
        threads=args.threads,
        workdir=workdir.resolve(),
        quiet_wait=args.quiet_wait,
        warmup=args.warmup,
        seed=args.seed,
        prepare_only=args.prepare_only,
    )


def env(options: Options, port: int | None = None) -> dict[str, str]:
    values = dict(os.environ)
    values.update(
        CLIENTBOOK_DATABASE_URL=options.url,
        CLIENTBOOK_HOST="127.0.0.1",
        CLIENTBOOK_ADMIN_EMAIL=api.ADMIN_EMAIL,
        CLIENTBOOK_ADMIN_PASSWORD=api.ADMIN_PASSWORD,
        CLIENTBOOK_LOG_LEVEL="WARNING",
    )
    if port is not None:
        values["CLIENTBOOK_PORT"] = str(port)
    return values


def open_db(options: Options) -> Any:
    from clientbook.config import Settings
    from clientbook.services.runtime import open_database

    return open_database(Settings(database_url=options.url))


def scalar(options: Options, sql: str, **params: Any) -> Any:
    from sqlalchemy import text

    db = open_db(options)
    try:
        with db.read() as conn:
            return conn.execute(text(sql), params).scalar()
    finally:
        db.dispose()


def ensure_data(options: Options, state: api.State) -> None:
    count = scalar(options, "SELECT count(*) FROM customers") if tables(options) else 0
    # A demo of that size (loaded by this script or by hand), perhaps grown by earlier runs.
    if count == options.customers or (
        state.get("customers") == options.customers and count >= options.customers
    ):
        print(f"  reusing {count:,} customers")
        state.set("customers", options.customers)
        return
    if count:
        raise SystemExit(
            f"the database holds {count:,} customers, not a fresh demo of "
            f"{options.customers:,}: use another --database-url"
        )
    command = [api.clientbook_command(), "demo", "--customers", str(options.customers)]
    print(f"  {' '.join(command)}")
    started = time.monotonic()
    subprocess.run(command, env=env(options), check=True)
    state.set("customers", options.customers)
    state.set("generation_seconds", round(time.monotonic() - started))


def vacuum_analyze(options: Options, state: api.State) -> None:
    """Planner statistics and the visibility map after the bulk load, once: without them (and
    autovacuum may be off, as on this machine) every list plans as if the tables were empty."""
    if state.get("analyzed"):
        return
    import psycopg

    started = time.monotonic()
    conninfo = options.url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    print(f"  VACUUM (ANALYZE) in {time.monotonic() - started:.0f} s")
    state.set("analyzed", True)


def tables(options: Options) -> bool:
    return bool(scalar(options, "SELECT to_regclass('customers') IS NOT NULL"))


def ensure_api_key(options: Options, state: api.State) -> str:
    if not state.get("api_key"):
        done = subprocess.run(
            [api.clientbook_command(), "apikeys", "create", "--name", "bench-workers"],
            env=env(options),
            capture_output=True,
            text=True,
            check=True,
        )
        state.set("api_key", done.stdout.strip().splitlines()[-1])
    return str(state.get("api_key"))


def ensure_owners(options: Options, state: api.State) -> list[dict[str, str]]:
    """Demo users with a record, activated with a password so that they can sign in."""
    owners: list[dict[str, str]] = state.get("owners") or []
    if owners:
        return owners
    from sqlalchemy import text, update

    from clientbook.db.tables import users
    from clientbook.domain.timestamps import utcnow
    from clientbook.services.passwords import hash_password

    db = open_db(options)
    try:
        with db.read() as conn:
            rows = conn.execute(
                text(
                    'SELECT c."userId", u.email FROM customers c TABLESAMPLE SYSTEM (1) '
                    "JOIN users u ON u.id = c.\"userId\" WHERE u.role = 'user' "
                    "AND u.status != 'blocked' AND u.email IS NOT NULL LIMIT :n"
                ),
                {"n": api.OWNER_COUNT},
            ).all()
        owners = [{"userId": user_id, "email": email} for user_id, email in rows]
        with db.transaction() as conn:
            conn.execute(
                update(users)
                .where(users.c.id.in_([o["userId"] for o in owners]))
                .values(
                    passwordHash=hash_password(api.OWNER_PASSWORD),
                    passwordUpdatedAt=utcnow(),
                    status="active",
                )
            )
    finally:
        db.dispose()
    state.set("owners", owners)
    return owners


def sample_dataset(options: Options, owners: list[dict[str, str]], rng: random.Random) -> Any:
    from sqlalchemy import text

    db = open_db(options)
    try:
        with db.read() as conn:
            rows = conn.execute(
                text(
                    "SELECT id, name FROM customers TABLESAMPLE SYSTEM (5) REPEATABLE (8) LIMIT :n"
                ),
                {"n": api.READ_REQUESTS},
            ).all()
            reps = [
                r[0]
                for r in conn.execute(
                    text(
                        'SELECT DISTINCT "assignedTo" FROM customers WHERE "assignedTo" IS NOT NULL'
                    )
                )
            ]
    finally:
        db.dispose()
    rows = [(str(i), str(n)) for i, n in rows]
    rng.shuffle(rows)
    terms = [t for t in (api._search_term(name, rng) for _id, name in rows) if t]
    return api.Dataset([i for i, _ in rows], terms, reps, owners)


def run_with_workers(options: Options, workers: int, dataset: Any, key: str) -> list[api.Outcome]:
    port = api.free_port()
    workdir = options.workdir / f"workers-{workers}"
    config = api.Config(
        customers=options.customers,
        duration=options.duration,
        workdir=workdir,
        servers=("clientbook",),
        workloads=options.workloads,
        connections=options.connections,
        threads=options.threads,
        timeout=max(10.0, options.duration),
        seed=options.seed,
        prepare_only=False,
        quiet_wait=options.quiet_wait,
        warmup=options.warmup,
    )
    server = ServerProcess(
        f"clientbook x{workers}",
        [api.clientbook_command(), "serve", "--workers", str(workers)],
        ready_url=f"http://127.0.0.1:{port}/readyz",
        log_path=workdir / "logs" / "clientbook.log",
        env=env(options, port),
        ready_timeout=300,
    )
    with server:
        base_url = f"http://127.0.0.1:{port}"
        owner_auths = api.login_owners(base_url, dataset.owners) if "f" in options.workloads else []
        target = api.Target("clientbook", base_url, f"Bearer {key}", owner_auths)
        # Every worker must be up before the load: the first workload would measure fewer.
        time.sleep(2)
        return api.run_workloads(server, target, dataset, config)


def report(options: Options, results: dict[int, list[api.Outcome]]) -> bool:
    counts = sorted(results)
    head = ["workload"] + [f"{n}w {what}" for n in counts for what in ("req/s", "p50", "p99")]
    if len(counts) > 1:
        head.append(f"{counts[-1]}w/{counts[0]}w")
    rows = [head]
    ratios = []
    for key in options.workloads:
        row = [api.WORKLOADS[key].title]
        by_n = {n: next(o for o in results[n] if o.workload == key) for n in counts}
        for n in counts:
            load = by_n[n].load
            bad = load is None or not load.requests or load.non_2xx or load.socket_errors
            row += (
                ["failed"] * 3
                if bad or load is None
                else [
                    f"{load.requests_per_second:,.0f}",
                    f"{load.p50_ms:.1f}",
                    f"{load.p99_ms:.1f}",
                ]
            )
        if len(counts) > 1:
            first, last = by_n[counts[0]].load, by_n[counts[-1]].load
            ratio = (
                last.requests_per_second / first.requests_per_second
                if first and last and first.requests
                else 0.0
            )
            ratios.append(ratio)
            row.append(f"{ratio:.2f}x")
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    api.step(
        f"Results: PostgreSQL, {options.customers:,} customers, wrk -t{options.threads} "
        f"-c{options.connections} -d{options.duration:g}s"
    )
    for index, row in enumerate(rows):
        print(
            "  "
            + " | ".join(
                [row[0].ljust(widths[0])]
                + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
            )
        )
        if index == 0:
            print("  " + "-+-".join("-" * w for w in widths))
    for n in counts:
        noise = [o.foreign_cores for o in results[n]]
        peak = max(o.peak_rss_mb for o in results[n])
        print(
            f"  {n} worker(s): server RSS peak {peak:.0f} MB (all processes); other processes "
            f"kept {min(noise):.2f}-{max(noise):.2f} cores busy"
        )
    met = True
    for n in counts:
        slow = [
            f"{o.workload} {o.load.p99_ms:.0f} ms" if o.load else f"{o.workload} failed"
            for o in results[n]
            if o.load is None or not o.load.requests or o.load.p99_ms >= api.P99_MS
        ]
        met &= not slow
        print(f"  [{'met ' if not slow else 'MISS'}] {n} worker(s): p99 < {api.P99_MS:g} ms "
              f"everywhere (as on SQLite): {', '.join(slow) or 'all below'}")  # fmt: skip
    if ratios:
        low, mean = min(ratios), sum(ratios) / len(ratios)
        print(f"  [{'met ' if low >= RATIO_TARGET else 'MISS'}] {counts[-1]}/{counts[0]} "
              f"workers throughput >= {RATIO_TARGET:g} on every workload: lowest {low:.2f}x, "
              f"mean {mean:.2f}x")  # fmt: skip
        met &= low >= RATIO_TARGET
    return met


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    find_wrk()
    options.workdir.mkdir(parents=True, exist_ok=True)
    state = api.State(options.workdir / "state.json")
    rng = random.Random(options.seed)
    results: dict[int, list[api.Outcome]] = {}
    with api.terminate_on_sigterm():
        api.step(f"PostgreSQL database with {options.customers:,} customers")
        ensure_data(options, state)
        # Before the CLI's other commands, which refuse an older schema (exit 7), and because
        # `serve` would apply pending migrations at its first start: not inside the figures.
        subprocess.run([api.clientbook_command(), "db", "upgrade"], env=env(options), check=True)
        key = ensure_api_key(options, state)
        owners = ensure_owners(options, state)
        vacuum_analyze(options, state)
        if options.prepare_only:
            return 0
        dataset = sample_dataset(options, owners, rng)
        for workers in options.workers:
            api.step(f"clientbook serve --workers {workers}")
            api.warn_if_busy(f"{workers} worker(s)")
            results[workers] = run_with_workers(options, workers, dataset, key)
    return 0 if report(options, results) else 1


if __name__ == "__main__":
    sys.exit(main())
