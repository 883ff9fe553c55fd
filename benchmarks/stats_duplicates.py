"""Statistics and duplicate detection over a million customers (SQLite): p50/p95 timings.

    .venv/bin/python benchmarks/stats_duplicates.py                      # build ./data/bench-1m
    .venv/bin/python benchmarks/stats_duplicates.py --database PATH      # reuse (or build) PATH
    .venv/bin/python benchmarks/stats_duplicates.py --customers 200000 --runs 30

The database is built once with `clientbook demo --customers N` when that command exists, and
otherwise with the synthetic loader below (realistic spreads of status, type, source, owner,
country, revenue, follow-ups and creation dates over three years, and about 1% of records that
duplicate another by email variant, phone or reordered name within a company). The timings go
through the service layer, then through HTTP (FastAPI TestClient with an API key), each warmed
up once and then run `--runs` times.
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
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from clientbook.access import SYSTEM
from clientbook.config import Settings
from clientbook.db import migrate
from clientbook.db.engine import Database
from clientbook.domain.customers import derive_customer_columns
from clientbook.domain.enums import CUSTOMER_SOURCES, CUSTOMER_STATUSES, CUSTOMER_TYPES
from clientbook.domain.fields import dump_json
from clientbook.domain.ids import new_id
from clientbook.services import duplicates, stats

DEFAULT_PATH = Path("data/bench-1m.sqlite3")
BATCH = 20_000
STAFF = 20
FIRST = "Ahmad Siti Mei Ling Wei Jie Raj Priya Nur Aisyah Muhammad Hafiz Kumar Chen Li Farah Amir".split()
LAST = "Tan Lim Lee Wong Ng Abdullah Ismail Rahman Singh Kaur Chong Goh Ong Teo Yusof Hassan".split()
COUNTRIES = [("Malaysia", 60), ("Singapore", 12), ("Indonesia", 6), ("Thailand", 4),
             ("Philippines", 3), ("Vietnam", 3), ("United States", 3), ("United Kingdom", 2),
             ("Australia", 2), ("India", 2), ("China", 2), ("Japan", 1)]  # fmt: skip
DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "example.my", "company.com.my"]


def _weighted(pairs: list[tuple[str, int]]) -> tuple[list[str], list[int]]:
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _ts(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds")


def _customer(rng: random.Random, i: int, owner: str, staff: list[str], now: datetime) -> dict[str, Any]:
    """One synthetic record; every 100th duplicates an earlier one (email, phone or name)."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    name = f"{first} {last} {i}"
    company = f"{rng.choice(LAST)} {rng.choice(['Holdings', 'Trading', 'Sdn Bhd', 'Group'])} {i % 5000}"
    email = f"{first.lower()}.{last.lower()}{i}@{rng.choice(DOMAINS)}"
    phone = f"+60 1{rng.randint(0, 9)}-{rng.randint(100, 999)} {i % 10000:04d}"
    kind = i % 300
    if i > 1000 and kind == 1:
        j = rng.randint(1, i - 1)
        email = f"{first.lower()}.{last.lower()}{j}+crm@gmail.com"  # noqa: E501 - same key as j's gmail
    elif i > 1000 and kind == 2:
        phone = f"01{rng.randint(0, 9)}{rng.randint(100, 999)}{(i - 7) % 10000:04d}"
    elif i > 1000 and kind == 3:
        name, company = f"{last} {first} {i - 1}", f"{rng.choice(LAST)} Group {(i - 1) % 5000}"
    countries, weights = _weighted(COUNTRIES)
    created = now - timedelta(seconds=rng.randint(0, 3 * 365 * 86400))
    follow = None
    if rng.random() < 0.4:
        follow = now + timedelta(seconds=rng.randint(-60 * 86400, 60 * 86400))
    tags = rng.sample(["vip", "enterprise", "priority", "newsletter", "churn-risk"], rng.randint(0, 2))
    record = {
        "id": new_id(),
        "createdAt": _ts(created),
        "updatedAt": _ts(created),
        "userId": owner,
        "name": name,
        "email": email,
        "phone": phone,
        "company": company if rng.random() < 0.7 or kind == 3 else None,
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
        record["company"] = f"{last} Holdings {i % 5000}"
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
            (r["id"], t.casefold(), t)
            for r in rows
            if r["metadata"]
            for t in __import__("json").loads(r["metadata"])["tags"]
        ]
        conn.executemany('INSERT INTO customer_tags ("customerId", "tagKey", tag) VALUES (?, ?, ?)', tag_rows)
        done = start + len(rows) - 1
        print(f"\r  loaded {done:,} / {customers:,} ({time.perf_counter() - started:.0f} s)", end="", file=sys.stderr)
    conn.execute("COMMIT")
    print(file=sys.stderr)
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
