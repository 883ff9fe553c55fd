"""Gathering the figures: pool checkouts as they happen; import jobs and the exposition at
scrape time.

Several server processes (`serve --workers N`): when `PROMETHEUS_MULTIPROC_DIR` names an empty
directory the processes can write, `prometheus_client` keeps each process's values in files
there and a scrape of any process adds them up (gauges summed over live processes). Without it,
each process reports only its own requests. Import jobs are counted in the database, so every
process reports the same numbers either way.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, event

from clientbook.observability.metrics import POOL_CAPACITY, POOL_IN_USE
from clientbook.services import import_jobs
from clientbook.services.runtime import Database

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

_watched: weakref.WeakSet[Engine] = weakref.WeakSet()


def _pools(db: Database) -> Iterator[tuple[str, Engine]]:
    if db.is_sqlite:
        yield "writer", db.writer
        yield "reader", db.reader
    else:
        yield "primary", db.writer  # one pool serves reads and writes


def watch_pools(db: Database) -> None:
    """Follow the checkouts of `db`'s pools (once per engine, whoever calls this)."""
    for name, engine in _pools(db):
        if engine in _watched:
            continue
        _watched.add(engine)
        in_use = POOL_IN_USE.labels(name)
        pool: Any = engine.pool
        POOL_CAPACITY.labels(name).set(pool.size() + max(0, getattr(pool, "_max_overflow", 0)))

        def checked_out(*_args: object, gauge: Any = in_use) -> None:
            gauge.inc()

        def checked_in(*_args: object, gauge: Any = in_use) -> None:
            gauge.dec()

        event.listen(engine, "checkout", checked_out)
        event.listen(engine, "checkin", checked_in)


class _ImportJobs(Collector):
    """`clientbook_import_jobs{state}`, read from the database at scrape time."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "clientbook_import_jobs", "Import jobs by state (all processes)", labels=["state"]
        )
        counts = import_jobs.count_by_status(self.db)
        for state in import_jobs.STATES:
            family.add_metric([state], counts.get(state, 0))
        yield family


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROCESS_DIR_VARIABLE) or None


def exposition(db: Database) -> tuple[bytes, str]:
    """The scrape's body and content type (blocking: the jobs query reads the database)."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    jobs = CollectorRegistry(auto_describe=False)
    jobs.register(_ImportJobs(db))
    return body + generate_latest(jobs), CONTENT_TYPE_LATEST


def process_exiting() -> None:
    """Drop this process's live gauges from the multiprocess files (a worker's shutdown)."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(os.getpid())
