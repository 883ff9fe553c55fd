"""How fast `clientbook demo` fills a fresh SQLite database, and in how much memory.

    .venv/bin/python benchmarks/demo_load.py                       # 1,000,000 customers
    .venv/bin/python benchmarks/demo_load.py --customers 100000 --keep

Runs `clientbook demo --customers N` as a user would (a subprocess, `CLIENTBOOK_DATABASE_URL`
pointing at a new file in a temporary directory) and reports wall time, customers/s, the CPU
time of the command and its workers, peak memory: sampled from /proc every 50 ms for the
command's process (the writer) and each of its descendants (the generating workers), plus the
peak of their sum, and the largest the WAL grew. `getrusage(RUSAGE_CHILDREN).ru_maxrss`, the
largest single process, is printed as a cross-check. Then it checks what was written: the row
counts, that every customer is in the full-text index, that `customer_counts` equals a GROUP BY
of the rows, `PRAGMA integrity_check` and `PRAGMA foreign_key_check`.

Targets (issue "Foundation", item 7): >= 25,000 customers/s with their users, every row
validated, < 300 MB peak. Exit status 1 when a check fails; the targets are reported, not
enforced, because the figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

TARGET_RATE = 25_000
# customer_counts' dimensions (migrations 0002, 0005) and each one's value in a customer row.
COUNTED = (
    ("total", "''"),
    ("status", "status"),
    ("customerType", '"customerType"'),
    ("source", "source"),
    ("assignedTo", '"assignedTo"'),
    ("country", "country"),
    ("createdDay", 'substr("createdAt", 1, 10)'),
    ("followUpDay", "CASE WHEN status <> 'archived' THEN substr(\"nextFollowUpAt\", 1, 10) END"),
    ("assignedToStatus", "\"assignedTo\" || '|' || status"),
)
TARGET_MB = 300
STAFF = 5
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass
class Memory:
    """Peak resident memory in KiB: the command, its largest worker, and the whole tree."""

    main_kb: int = 0
    worker_kb: int = 0
    tree_kb: int = 0
    wal_bytes: int = 0  # the largest the write-ahead log grew
    workers_seen: set[int] = field(default_factory=set)
    # Last CPU seconds seen per process (sampled, so a process's final 50 ms may be missed).
    cpu: dict[int, float] = field(default_factory=dict)


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * PAGE_KB
    except (OSError, IndexError, ValueError):
        return 0  # the process ended between listing and reading


TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
    except (OSError, IndexError, ValueError):
        return None


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                # The name (field 2) may hold spaces; the parent pid follows its closing paren.
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    found, queue = [], [root]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def _sample(root: int, memory: Memory, done: threading.Event, wal: Path) -> None:
    while not done.wait(0.05):
        with contextlib.suppress(OSError):
            memory.wal_bytes = max(memory.wal_bytes, wal.stat().st_size)
        main = _rss_kb(root)
        workers = {pid: _rss_kb(pid) for pid in _descendants(root)}
        memory.workers_seen.update(workers)
        memory.main_kb = max(memory.main_kb, main)
        memory.worker_kb = max([memory.worker_kb, *workers.values()])
        memory.tree_kb = max(memory.tree_kb, main + sum(workers.values()))
        for pid in (root, *workers):
            seconds = _cpu_seconds(pid)
            if seconds is not None:
                memory.cpu[pid] = seconds


def _command() -> list[str]:
    script = Path(sys.executable).with_name("clientbook")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from clientbook.cli import main; main()"]


def run_demo(database: Path, customers: int, extra: list[str]) -> tuple[float, Memory, int]:
    env = {**os.environ, "CLIENTBOOK_DATABASE_URL": f"sqlite:///{database}"}
    args = [*_command(), "demo", "--customers", str(customers), *extra]
    memory = Memory()
    done = threading.Event()
    started = time.perf_counter()
    process = subprocess.Popen(args, env=env)
    wal = database.with_name(database.name + "-wal")
    sampler = threading.Thread(target=_sample, args=(process.pid, memory, done, wal), daemon=True)
    sampler.start()
    code = process.wait()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if code != 0:
        raise SystemExit(f"clientbook demo failed with exit status {code}")
    return seconds, memory, process.pid


def check(database: Path, customers: int) -> list[str]:
    """Problems found in the written database (empty when all is well)."""
    problems: list[str] = []
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    counts = {
        table: db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
        for table in ("users", "customers", "customer_tags", "customer_interactions",
                      "customer_notes", "customers_fts_docsize")
    }  # fmt: skip
    print("rows:", ", ".join(f"{table} {n:,}" for table, n in counts.items()))
    if counts["customers"] != customers:
        problems.append(f"{counts['customers']} customers, expected {customers}")
    if counts["users"] != customers + STAFF:
        problems.append(f"{counts['users']} users, expected {customers + STAFF}")
    if counts["customers_fts_docsize"] != customers:
        problems.append("the full-text index does not hold every customer")
    # The counters (kept by triggers, replayed per chunk by the bulk writer) against the rows.
    for dimension, value in COUNTED:
        counted = db.execute(
            'SELECT value, "count" FROM customer_counts WHERE dimension = ? AND "count" <> 0',
            (dimension,),
        ).fetchall()
        grouped = db.execute(
            f"SELECT v, count(*) FROM (SELECT {value} AS v FROM customers) "
            "WHERE v IS NOT NULL GROUP BY v"
        ).fetchall()
        if sorted(counted) != sorted(grouped):
            problems.append(f"customer_counts {dimension!r} differ from the rows")
    audit = db.execute("SELECT count(*) FROM audit_logs WHERE action = 'demo.generated'")
    print(f"demo.generated audit rows: {audit.fetchone()[0]}")
    for pragma in ("integrity_check", "foreign_key_check"):
        started = time.perf_counter()
        rows = db.execute(f"PRAGMA {pragma}").fetchall()
        ok = rows in ([("ok",)], [])
        took = time.perf_counter() - started
        print(f"PRAGMA {pragma}: {'ok' if ok else rows[:5]} ({took:.0f} s)")
        if not ok:
            problems.append(f"PRAGMA {pragma} failed")
    db.close()
    return problems


def report(customers: int, seconds: float, memory: Memory, database: Path, main_pid: int) -> None:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    main_cpu = memory.cpu.get(main_pid, 0.0)
    worker_cpu = sum(v for pid, v in memory.cpu.items() if pid != main_pid)
    rate = customers / seconds
    mb = 1024
    size = sum(p.stat().st_size for p in database.parent.glob(database.name + "*"))
    print(f"customers:        {customers:,} (with their {customers:,} owner accounts)")
    print(f"wall time:        {seconds:.1f} s")
    print(f"rate:             {rate:,.0f} customers/s (target {TARGET_RATE:,})")
    print(f"CPU (all):        {usage.ru_utime + usage.ru_stime:.1f} s "
          f"({(usage.ru_utime + usage.ru_stime) / customers * 1e6:.0f} us a customer)")  # fmt: skip
    print(f"CPU main:         {main_cpu:.1f} s ({main_cpu / customers * 1e6:.0f} us a customer, "
          f"the writer)")  # fmt: skip
    print(
        f"CPU workers:      {worker_cpu:.1f} s ({worker_cpu / customers * 1e6:.0f} us a customer)"
    )
    print(f"peak RSS main:    {memory.main_kb / mb:.0f} MB (the writer)")
    children = len(memory.workers_seen)
    print(f"peak RSS worker:  {memory.worker_kb / mb:.0f} MB "
          f"(largest of {children} children: the workers, the resource tracker)")  # fmt: skip
    print(f"peak RSS tree:    {memory.tree_kb / mb:.0f} MB (target < {TARGET_MB})")
    print(f"ru_maxrss:        {usage.ru_maxrss / mb:.0f} MB (largest single process)")
    print(
        f"database size:    {size / mb / mb:.0f} MB (WAL peak {memory.wal_bytes / mb / mb:.0f} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, help="passed to clientbook demo --workers")
    parser.add_argument("--seed", type=int, help="passed to clientbook demo --seed")
    parser.add_argument("--keep", action="store_true", help="keep the database and print where")
    parser.add_argument("--skip-checks", action="store_true", help="no integrity checks")
    options = parser.parse_args()
    extra = []
    for name in ("workers", "seed"):
        if getattr(options, name) is not None:
            extra += [f"--{name}", str(getattr(options, name))]

    workdir = Path(tempfile.mkdtemp(prefix="clientbook-demo-load-"))
    database = workdir / "demo.sqlite3"
    try:
        seconds, memory, pid = run_demo(database, options.customers, extra)
        report(options.customers, seconds, memory, database, pid)
        problems = [] if options.skip_checks else check(database, options.customers)
    finally:
        if options.keep:
            print(f"database kept: {database}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    for problem in problems:
        print(f"CHECK FAILED: {problem}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
