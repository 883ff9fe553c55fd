"""kill -9 during an import and during a bulk action: all rows or none, no job left running.

    .venv/bin/python -m benchmarks.reliability.kill_batch --backend sqlite --trials 100
    .venv/bin/python -m benchmarks.reliability.kill_batch --backend postgresql --trials 100

Import trials: `POST /api/customers/import` with a CSV of `--rows` new customers (more than
5,000 rows run as a background job), SIGKILL at a random instant within twice the import's
measured duration, restart; the customer count must have grown by 0 or by all the rows, never
between, with `import.completed` audited exactly when it grew, and no job may still be `queued` or
`running`. Bulk trials: `POST /api/customers/bulk` tagging `--bulk-size` records, killed the
same way: 0 or all of them carry the tag, with one audit row per tagged record. Every trial
also checks integrity and consistency (see harness.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import io
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.reliability.harness import (
    READY_TARGET_SECONDS,
    Canaries,
    Scratch,
    Server,
    prepare,
    print_problems,
    print_table,
    verdict,
)

from clientbook.services import import_uploads

STUCK_JOBS = "SELECT count(*) FROM import_jobs WHERE status IN ('queued', 'running')"


@dataclass(frozen=True)
class Config:
    backend: str = "sqlite"
    trials: int = 100
    rows: int = 6_000
    bulk_size: int = 1_000
    seed: int = 9
    workdir: Path | None = None
    postgres_url: str | None = None
    modes: tuple[str, ...] = ("import", "bulk")


@dataclass
class Outcomes:
    """How the trials of one mode ended: 0 rows, all rows, or (a failure) anything else."""

    name: str
    size: int
    duration: float = 0.0  # seconds the operation takes when not killed
    deltas: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    ready_seconds: list[float] = field(default_factory=list)
    ready_cpu: list[float] = field(default_factory=list)
    late: list[str] = field(default_factory=list)  # restarts that missed the 5 s target


def customers_csv(count: int, tag: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "email", "company", "country", "tags"])
    for i in range(count):
        writer.writerow(
            [
                f"Imported {tag} {i}",
                f"{tag}-{i}@example.com",
                f"Firm {i % 97}",
                "Malaysia",
                "imported;batch",
            ]
        )
    return out.getvalue().encode()


async def _post_import(http: httpx.AsyncClient, headers: dict[str, str], body: bytes) -> str:
    response = await http.post(
        "/api/customers/import",
        headers=headers,
        files={"file": ("customers.csv", body, "text/csv")},
    )
    response.raise_for_status()
    job_id: str = response.json()["job"]["$id"]
    return job_id


async def _wait_job(http: httpx.AsyncClient, headers: dict[str, str], job_id: str) -> str:
    while True:
        response = await http.get(f"/api/imports/{job_id}", headers=headers)
        response.raise_for_status()
        status: str = response.json()["status"]
        if status not in ("queued", "running"):
            return status
        await asyncio.sleep(0.05)


class Trials:
    def __init__(self, config: Config, server: Server, db: Scratch, headers: dict[str, str]):
        self.config = config
        self.server = server
        self.db = db
        self.headers = headers
        self.rng = random.Random(config.seed)

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.server.base_url, timeout=300)

    async def _kill_during(self, outcome: Outcomes, start: asyncio.Task[object]) -> None:
        """Kill the server at a random instant within twice the operation's usual duration."""
        # Twice the calibrated duration: under load an operation takes longer than when
        # calibrated, and some kills must land after the commit.
        await asyncio.sleep(self.rng.uniform(0, outcome.duration * 2))
        self.server.kill()
        with contextlib.suppress(httpx.TransportError):
            await start
        ready = self.server.start()
        outcome.ready_seconds.append(ready)
        outcome.ready_cpu.append(self.server.start_cpu_seconds)
        if ready > READY_TARGET_SECONDS:
            outcome.late.append(f"ready after {ready:.2f} s")

    def _common_checks(self, outcome: Outcomes, trial: int) -> None:
        stuck = self.db.count(STUCK_JOBS)
        if stuck:
            outcome.problems.append(f"trial {trial}: {stuck} import job(s) left queued/running")
        folder = self.server.upload_directory
        names = [p.name for p in folder.iterdir()] if folder.exists() else []
        left = [name for name in names if not import_uploads.owner_alive(name)]
        if left:
            outcome.problems.append(f"trial {trial}: uploads of a killed server left: {left[:2]}")
        outcome.problems += [f"trial {trial}: {p}" for p in self.db.integrity()]
        outcome.problems += [f"trial {trial}: {p}" for p in self.db.consistency()]

    async def imports(self) -> Outcomes:
        outcome = Outcomes("import", self.config.rows)
        async with self._client() as http:  # calibration: one import, not killed
            started = time.monotonic()
            job = await _post_import(http, self.headers, customers_csv(outcome.size, "cal"))
            await _wait_job(http, self.headers, job)
            outcome.duration = time.monotonic() - started
        for trial in range(self.config.trials):
            customers = self.db.count("SELECT count(*) FROM customers")
            completed = self.db.count(
                "SELECT count(*) FROM audit_logs WHERE action = 'import.completed'"
            )
            body = customers_csv(outcome.size, f"imp{trial}")
            async with self._client() as http:
                post = asyncio.create_task(_post_import(http, self.headers, body))
                await self._kill_during(outcome, post)
            delta = self.db.count("SELECT count(*) FROM customers") - customers
            audited = (
                self.db.count("SELECT count(*) FROM audit_logs WHERE action = 'import.completed'")
                - completed
            )
            outcome.deltas[_delta_name(delta, outcome.size)] += 1
            if delta not in (0, outcome.size):
                outcome.problems.append(f"trial {trial}: {delta} of {outcome.size} rows")
            if audited != (delta == outcome.size):
                outcome.problems.append(f"trial {trial}: {audited} import.completed for {delta}")
            self._common_checks(outcome, trial)
            _progress(outcome, trial, self.config.trials)
        return outcome

    async def bulks(self) -> Outcomes:
        outcome = Outcomes("bulk", self.config.bulk_size)
        async with self._client() as http:
            job = await _post_import(http, self.headers, customers_csv(outcome.size, "bulk"))
            await _wait_job(http, self.headers, job)
            page = await http.get(
                "/api/customers",
                headers=self.headers,
                params={"q": "Imported bulk", "limit": 1000, "total": "false"},
            )
            page.raise_for_status()
            ids = [row["$id"] for row in page.json()["rows"]][: outcome.size]
            outcome.size = len(ids)
            started = time.monotonic()
            await self._bulk(http, ids, "calibration")
            outcome.duration = time.monotonic() - started
        for trial in range(self.config.trials):
            tag = f"kill-{trial}"
            audits = self.db.count("SELECT count(*) FROM audit_logs")
            async with self._client() as http:
                # A dry run first: the first bulk after a restart is slow (cold caches), and
                # the kill window is calibrated on a warm server.
                await self._bulk(http, ids, tag, dry_run=True)
                post = asyncio.create_task(self._bulk(http, ids, tag))
                await self._kill_during(outcome, post)
            tagged = self.db.count(
                'SELECT count(*) FROM customer_tags WHERE "tagKey" = :tag', tag=tag
            )
            audited = self.db.count("SELECT count(*) FROM audit_logs") - audits
            outcome.deltas[_delta_name(tagged, outcome.size)] += 1
            if tagged not in (0, outcome.size):
                outcome.problems.append(f"trial {trial}: {tagged} of {outcome.size} tagged")
            if audited != tagged:
                outcome.problems.append(f"trial {trial}: {audited} audit rows, {tagged} tagged")
            self._common_checks(outcome, trial)
            _progress(outcome, trial, self.config.trials)
        return outcome

    async def _bulk(
        self, http: httpx.AsyncClient, ids: list[str], tag: str, *, dry_run: bool = False
    ) -> None:
        response = await http.post(
            "/api/customers/bulk",
            headers=self.headers,
            json={"action": "tag", "ids": ids, "tags": [tag], "dryRun": dry_run},
        )
        response.raise_for_status()


def _delta_name(delta: int, size: int) -> str:
    return "none" if delta == 0 else "all" if delta == size else "partial"


def _progress(outcome: Outcomes, trial: int, trials: int) -> None:
    if (trial + 1) % 10 == 0 or trial + 1 == trials:
        print(
            f"  {outcome.name} trial {trial + 1}/{trials}: {dict(outcome.deltas)}, "
            f"{len(outcome.problems)} problem(s)",
            flush=True,
        )


def run(config: Config) -> list[Outcomes]:
    workdir = config.workdir or Path(tempfile.mkdtemp(prefix="clientbook-killbatch-"))
    canaries = Canaries()
    db = Scratch.create(config.backend, workdir, name="killbatch", postgres_url=config.postgres_url)
    accounts = prepare(db, canaries)
    server = Server(db, workdir / "server.log", canaries=canaries)
    server.start()
    trials = Trials(config, server, db, {"X-API-Key": accounts.api_key})
    outcomes: list[Outcomes] = []
    try:
        if "import" in config.modes:
            outcomes.append(asyncio.run(trials.imports()))
        if "bulk" in config.modes:
            outcomes.append(asyncio.run(trials.bulks()))
    finally:
        server.stop()
        leaks = canaries.found_in(server.log_text())
        if config.backend == "postgresql":
            db.drop()
    if outcomes and leaks:
        outcomes[-1].problems += [f"server log leaks {name}" for name in leaks]
    return outcomes


def report(config: Config, outcomes: Sequence[Outcomes]) -> None:
    for outcome in outcomes:
        ready = max(outcome.ready_seconds or [0.0])
        print_table(
            f"kill -9 during {outcome.name} ({config.backend}, {outcome.size} rows per trial)",
            [
                ("trials", sum(outcome.deltas.values())),
                ("duration when not killed (s)", f"{outcome.duration:.2f}"),
                ("ended with no rows applied", outcome.deltas["none"]),
                ("ended with all rows applied", outcome.deltas["all"]),
                ("ended partly applied (target 0)", outcome.deltas["partial"]),
                ("slowest restart to ready (s)", f"{ready:.2f}"),
                ("CPU s the slowest restart took", f"{max(outcome.ready_cpu or [0.0]):.2f}"),
                ("verdict", verdict([*outcome.problems, *outcome.late])),
            ],
        )
        print_problems([*outcome.problems, *outcome.late])


def parse_args(argv: Sequence[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--trials", type=int, default=100, help="per mode (100)")
    parser.add_argument("--rows", type=int, default=6_000, help="rows per import (6,000)")
    parser.add_argument("--bulk-size", type=int, default=1_000, help="records per bulk (1,000)")
    parser.add_argument("--only", choices=("import", "bulk"))
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--postgres-url", help="default: $CLIENTBOOK_TEST_POSTGRES_URL")
    args = parser.parse_args(argv)
    return Config(
        backend=args.backend,
        trials=args.trials,
        rows=args.rows,
        bulk_size=args.bulk_size,
        seed=args.seed,
        workdir=args.workdir,
        postgres_url=args.postgres_url,
        modes=(args.only,) if args.only else ("import", "bulk"),
    )


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    outcomes = run(config)
    report(config, outcomes)
    return 0 if not any(o.problems or o.late for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
