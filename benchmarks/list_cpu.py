"""CPU a list request costs in the service layer (parse, list, present), in-process, on the
PostgreSQL database of benchmarks/pg_workers.py. How to run it and the figures:
docs/benchmarks.md.

    .venv/bin/python -m benchmarks.pg_workers --prepare-only   # the database (1M customers)
    .venv/bin/python -m benchmarks.pg_workers --workers 1      # writes the request files once
    .venv/bin/python -m benchmarks.list_cpu --workloads b,e

The requests are those wrk replays in pg_workers (`workers-1/requests/clientbook/<w>.*` in its
work directory), run one after another as the super admin, each timed in CPU seconds of this
process, so that PostgreSQL's own work and other programs on the machine do not count. To
compare two versions of the code, run it on each in turn, several times (the machine is noisy):

    for i in 1 2 3; do .venv/bin/python -m benchmarks.list_cpu; git stash -q;
        .venv/bin/python -m benchmarks.list_cpu; git stash pop -q; done
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

if __package__ in (None, ""):  # run as a file: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.pg_workers import DEFAULT_URL, READ_WORKLOADS

from clientbook.access import SYSTEM
from clientbook.api.customers import LIST_PARAMS
from clientbook.config import Settings
from clientbook.query.fields import CUSTOMERS
from clientbook.query.native import parse_list_query
from clientbook.services import customers as svc
from clientbook.services.runtime import Database, open_database

LISTS = tuple(w for w in READ_WORKLOADS if w not in ("c", "f"))  # (c), (f) read one record


def queries(workdir: Path, workload: str) -> list[str]:
    files = sorted((workdir / "workers-1" / "requests" / "clientbook").glob(f"{workload}.*"))
    if not files:
        raise SystemExit(f"no requests for ({workload}) in {workdir}: run pg_workers first")
    lines = [line for path in files for line in path.read_text().splitlines() if line]
    return [urlsplit(line.split("\t")[1]).query for line in lines]


def cpu_per_request(db: Database, texts: list[str], requests: int) -> float:
    """Mean CPU milliseconds of one list request over `requests` of `texts` in turn."""

    def one(text: str) -> None:
        params = parse_qsl(text, keep_blank_values=True)
        query = parse_list_query(CUSTOMERS, params, reserved=LIST_PARAMS)
        with db.read() as conn:
            page = svc.list_customers(conn, SYSTEM, query)
            svc.present_customers(conn, page.rows)

    cycle = itertools.cycle(texts)
    for text in itertools.islice(cycle, min(200, len(texts))):  # warm: caches, prepared plans
        one(text)
    started = time.process_time()
    for text in itertools.islice(cycle, requests):
        one(text)
    return 1000 * (time.process_time() - started) / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL, help=f"({DEFAULT_URL})")
    parser.add_argument("--workdir", type=Path, help="pg_workers' work directory (its default)")
    parser.add_argument("--customers", type=int, default=1_000_000, help="(1,000,000)")
    parser.add_argument("--workloads", default=",".join(LISTS), help=f"of {','.join(LISTS)}")
    parser.add_argument("--requests", type=int, default=1000, help="per round (1000)")
    parser.add_argument("--rounds", type=int, default=3, help="(3)")
    args = parser.parse_args()
    workdir = args.workdir or Path("/tmp") / f"clientbook-pg-workers-{args.customers}"
    db = open_database(Settings(database_url=args.database_url))
    try:
        for workload in args.workloads.split(","):
            texts = queries(workdir, workload)
            rounds = [cpu_per_request(db, texts, args.requests) for _ in range(args.rounds)]
            each = ", ".join(f"{r:.2f}" for r in rounds)
            print(
                f"({workload}) {len(set(texts)):,} distinct requests: CPU "
                f"{statistics.median(rounds):.2f} ms a request (rounds: {each})"
            )
    finally:
        db.dispose()


if __name__ == "__main__":
    main()
