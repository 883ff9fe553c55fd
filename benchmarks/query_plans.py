"""Timings of the seed's query patterns and of search through the query compiler.

Not a test (pytest does not collect it): run it against a large database, e.g.

    .venv/bin/python benchmarks/query_plans.py sqlite:////path/to/clientbook.sqlite3

(a database made by `clientbook demo --customers 1000000`).

It prints the median and 90th percentile of `run_list` (parse, compile, execute, rows to dicts)
for each pattern, over several runs with varying values.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace

from sqlalchemy import Connection, select

from clientbook.config import Settings
from clientbook.db import tables
from clientbook.db.engine import Database
from clientbook.query import cursor as cursors
from clientbook.query.compiler import run_list
from clientbook.query.fields import CUSTOMERS
from clientbook.query.native import parse_list_query
from clientbook.query.ordering import ordering_for

RUNS = 40


def params(query: str) -> list[tuple[str, str]]:
    return [tuple(p.split("=", 1)) for p in query.split("&") if p]  # type: ignore[misc]


def timed(conn: Connection, make_query: Callable[[int], str]) -> tuple[float, float, int]:
    times, rows = [], 0
    for i in range(RUNS + 3):
        text = make_query(i)
        start = time.perf_counter()
        page = run_list(conn, CUSTOMERS, parse_list_query(CUSTOMERS, params(text)))
        elapsed = (time.perf_counter() - start) * 1000
        if i >= 3:  # the first runs warm the caches
            times.append(elapsed)
            rows += len(page.rows)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9)], rows // RUNS


def deep_pages(conn: Connection, text: str, pages: int) -> float:
    query = parse_list_query(CUSTOMERS, params(text))
    ordering = ordering_for(CUSTOMERS, query)
    page = run_list(conn, CUSTOMERS, query)
    times = []
    for _ in range(pages):
        if not page.next_cursor:
            break
        nxt = replace(query, cursor=cursors.decode(page.next_cursor, ordering))
        start = time.perf_counter()
        page = run_list(conn, CUSTOMERS, nxt)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times) if times else float("nan")


def main(url: str) -> None:
    db = Database(Settings(database_url=url))
    rnd = random.Random(1)
    with db.read() as conn:
        c = tables.customers.c
        sample = conn.execute(select(c.name, c.assignedTo, c.company).limit(5000)).all()
        reps = sorted({r.assignedTo for r in sample if r.assignedTo})
        companies = [r.company for r in sample if r.company]
        words = [r.name.split()[0] for r in sample]
        prefixes = [w[: rnd.choice((3, 4, 5))] for w in words]
        full_names = [r.name for r in sample]

        def each(values: list[str]) -> Callable[[int], str]:
            return lambda i: values[i % len(values)]

        patterns: dict[str, Callable[[int], str]] = {
            "status=active&sort=-lastContactAt&limit=50": lambda i: (
                "status=active&sort=-lastContactAt&limit=50&total=false"
            ),
            "  ... with total": lambda i: "status=active&sort=-lastContactAt&limit=50",
            "assignedTo=X&status=active&sort=name&limit=50": lambda i: (
                f"assignedTo={reps[i % len(reps)]}&status=active&sort=name&limit=50&total=false"
            ),
            "nextFollowUpAt[lte]=now&status[ne]=archived&sort=nextFollowUpAt": lambda i: (
                "nextFollowUpAt[lte]=now&status[ne]=archived&sort=nextFollowUpAt&limit=50"
                "&total=false"
            ),
            "totalRevenue[gt]=0&sort=-totalRevenue&limit=10": lambda i: (
                "totalRevenue[gt]=0&sort=-totalRevenue&limit=10&total=false"
            ),
            "company=X&sort=name": lambda i: (
                f"company={companies[i % len(companies)]}&sort=name&total=false"
            ),
            "tag=vip (any of)": lambda i: "tag=vip&total=false",
            "q=<name prefix, 3-5 chars>": lambda i: f"q={prefixes[i]}&total=false",
            "q=<name prefix> with total": lambda i: f"q={prefixes[i]}",
            "q=<full name>": lambda i: f"q={full_names[i]}&total=false",
            "q=tan": lambda i: "q=tan&total=false",
            "q=tan mei": lambda i: "q=tan mei&total=false",
            "q=mei (no name starts with it)": lambda i: "q=mei&total=false",
            "q=muhammad": lambda i: "q=muhammad&total=false",
            "q=nur binti": lambda i: "q=nur binti&total=false",
            "q=<phone digits 0123456>": lambda i: f"q=01{rnd.randint(10000, 99999)}&total=false",
            "q=+60 12-345": lambda i: "q=%2B60 12-345&total=false".replace("%2B", "+"),
            "q=<no match>": lambda i: f"q=zzq{i}&total=false",
            "q=tan&status=active&country=Malaysia": lambda i: (
                "q=tan&status=active&country=Malaysia&total=false"
            ),
            "q=tan&sort=name": lambda i: "q=tan&sort=name&total=false",
        }
        print(f"{'pattern':<70} {'p50 ms':>8} {'p90 ms':>8} {'rows':>5}")
        for label, make in patterns.items():
            p50, p90, rows = timed(conn, make)
            print(f"{label:<70} {p50:8.2f} {p90:8.2f} {rows:5d}")
        for text in ("status=active&sort=-lastContactAt&limit=50&total=false", "q=tan&total=false"):
            print(f"{'20 keyset pages: ' + text:<70} {deep_pages(conn, text, 20):8.2f}")
    db.dispose()


if __name__ == "__main__":
    main(sys.argv[1])
