"""Lists filtered on one column and sorted by another, with and without walking the sort's index.

Not a test (pytest does not collect it). Run it against a large SQLite database (read-only),
e.g. one made by `clientbook demo --customers 1000000`:

    .venv/bin/python benchmarks/filter_sort.py data/console-1m.sqlite3

For each query it prints the median CPU time (time.process_time: the machine may be shared)
and wall time of `services.customers.list_customers` (parse, plan, execute, rows to dicts),
first with the filter's index, a sort and a counted total ("before": `query.walking` switched
off), then as the compiler now plans it ("after"), and checks that both give the same rows and
total. Each page is 25 rows with its total, as the console and the REST API ask by default.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine

from clientbook.access import SYSTEM
from clientbook.query import walking
from clientbook.query.fields import CUSTOMERS
from clientbook.query.native import parse_list_query
from clientbook.services.customers import list_customers

QUERIES = (
    # Dense filters: the sort's index is walked.
    "country=Malaysia&sort=name",
    "source=website&sort=company",
    "tag=vip&sort=-lastContactAt",
    "customerType=government&sort=name",
    "country=Malaysia&source=website&sort=-totalRevenue",
    # Sparse filters: the filter's index and a sort, as before.
    "country=Brunei&sort=name",
    "country=Indonesia&sort=name",
    "tag=late-payer&sort=-lastContactAt",
    # A composite index serves these in order: left to the planner.
    "status=active&sort=name",
)


def params(text: str) -> list[tuple[str, str]]:
    return [tuple(p.split("=", 1)) for p in text.split("&") if p]  # type: ignore[misc]


def measure(run: Callable[[], Any], runs: int) -> tuple[float, float, Any]:
    run()  # warm the page cache and the statement caches
    cpu, wall = [], []
    result = None
    for _ in range(runs):
        c0, w0 = time.process_time(), time.perf_counter()
        result = run()
        cpu.append((time.process_time() - c0) * 1000)
        wall.append((time.perf_counter() - w0) * 1000)
    return statistics.median(cpu), statistics.median(wall), result


def page(conn: Connection, text: str) -> tuple[list[Any], int | None]:
    query = parse_list_query(CUSTOMERS, [*params(text), ("limit", "25")])
    result = list_customers(conn, SYSTEM, query)
    return [row["id"] for row in result.rows], result.total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    url = f"sqlite:///file:{args.database.resolve()}?mode=ro&uri=true"
    engine = create_engine(url)
    original = walking.candidates, walking.counted_total
    print(f"{'query':54} {'before cpu/wall ms':>20} {'after cpu/wall ms':>20}")
    with engine.connect() as conn:
        for text in QUERIES:
            walking.candidates = lambda *a, **k: ()
            walking.counted_total = lambda *a, **k: None
            try:
                b_cpu, b_wall, before = measure(partial(page, conn, text), args.runs)
            finally:
                walking.candidates, walking.counted_total = original
            a_cpu, a_wall, after = measure(partial(page, conn, text), args.runs)
            same = "" if before == after else "  DIFFERENT ROWS"
            print(f"{text:54} {b_cpu:9.1f} /{b_wall:8.1f} {a_cpu:9.1f} /{a_wall:8.1f}{same}")
    engine.dispose()


if __name__ == "__main__":
    main()
