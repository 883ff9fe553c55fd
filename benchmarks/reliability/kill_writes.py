"""kill -9 during writes: no acknowledged write lost, nothing half-applied, ready again in < 5 s.

    .venv/bin/python -m benchmarks.reliability.kill_writes --backend sqlite --trials 200
    .venv/bin/python -m benchmarks.reliability.kill_writes --backend postgresql --trials 200

Each trial: the writers (staff creating accounts and customers, changing their fields, status
and tags; users changing their own record) write flat out; the server gets SIGKILL at a random
instant; it is started again (the seconds until `/readyz` answers are the recovery time); then
every record written in the trial is compared with its last acknowledged answer, the database's
integrity is checked (`PRAGMA integrity_check` / amcheck) and its consistency (audit rows, tags
side table). At the end every acknowledged record and account is checked once more, and the
server's log and every error body are searched for the run's canary secrets.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.reliability import clients
from benchmarks.reliability.harness import (
    READY_TARGET_SECONDS,
    Accounts,
    Canaries,
    Scratch,
    Server,
    prepare,
    print_problems,
    print_table,
    verdict,
)


@dataclass(frozen=True)
class Config:
    backend: str = "sqlite"
    trials: int = 200
    clients: int = 8
    users: int = 3  # of the clients, how many are users changing their own record
    kill_after: tuple[float, float] = (0.2, 1.5)  # seconds of writing before the kill
    seed: int = 9
    workdir: Path | None = None
    postgres_url: str | None = None


@dataclass
class Result:
    trials: int = 0
    acknowledged: int = 0
    unanswered: int = 0
    checked: int = 0
    ready_seconds: list[float] = field(default_factory=list)
    ready_cpu: list[float] = field(default_factory=list)
    load: list[float] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    half_applied: list[str] = field(default_factory=list)
    integrity: list[str] = field(default_factory=list)
    slow_recovery: list[str] = field(default_factory=list)
    server_errors: int = 0
    leaks: list[str] = field(default_factory=list)
    locked: int = 0
    answers: dict[int, int] = field(default_factory=dict)

    @property
    def problems(self) -> list[str]:
        errors = [f"{self.server_errors} answer(s) with status 5xx"] if self.server_errors else []
        locked = [f'{self.locked} "database is locked" in the log'] if self.locked else []
        return [
            *self.lost,
            *self.half_applied,
            *self.integrity,
            *errors,
            *self.leaks,
            *locked,
        ]


async def _trials(
    config: Config,
    server: Server,
    db: Scratch,
    canaries: Canaries,
    accounts: Accounts,
    result: Result,
) -> None:
    rng = random.Random(config.seed)
    ledger = clients.Ledger()
    staff = {"X-API-Key": accounts.api_key}
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
        tokens = [
            await clients.login(http, email, canaries.user_password, canaries)
            for email in accounts.user_emails[: config.users]
        ]
        await probe_canaries(http, canaries, ledger, accounts.admin_email)
    writers = [
        clients.Writer(f"s{i}", staff, staff=True) for i in range(config.clients - len(tokens))
    ] + [clients.Writer(f"u{i}", clients.bearer(t), staff=False) for i, t in enumerate(tokens)]
    for trial in range(config.trials):
        stop = asyncio.Event()
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
            tasks = [
                asyncio.create_task(
                    clients.run_writer(
                        http, ledger, w, random.Random(rng.random()), tag=f"t{trial}", stop=stop
                    )
                )
                for w in writers
            ]
            await asyncio.sleep(rng.uniform(*config.kill_after))
            server.kill()
            stop.set()
            await asyncio.gather(*tasks)
        ready = server.start()
        result.ready_seconds.append(ready)
        result.ready_cpu.append(server.start_cpu_seconds)
        result.load.append(os.getloadavg()[0])
        if ready > READY_TARGET_SECONDS:
            result.slow_recovery.append(f"trial {trial}: ready after {ready:.2f} s")
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
            lost, checked = await clients.verify(http, ledger, staff)
        result.checked += checked
        result.lost += [f"trial {trial}: {p}" for p in lost]
        result.integrity += [f"trial {trial}: {p}" for p in db.integrity()]
        result.half_applied += [f"trial {trial}: {p}" for p in db.consistency()]
        result.trials += 1
        if (trial + 1) % 10 == 0 or trial + 1 == config.trials:
            print(
                f"  trial {trial + 1}/{config.trials}: {ledger.acknowledged} acknowledged, "
                f"{len(result.problems)} problem(s), ready in {ready:.2f} s",
                flush=True,
            )
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
        lost, checked = await clients.verify(http, ledger, staff, every=True)
    result.lost += [f"final check: {p}" for p in lost]
    result.acknowledged = ledger.acknowledged
    result.unanswered = ledger.unanswered
    result.server_errors = ledger.server_errors
    result.answers = dict(sorted(ledger.answers.items()))
    result.leaks += [
        f"error body leaks {name}"
        for body in ledger.error_bodies
        for name in canaries.found_in(body)
    ]


async def probe_canaries(
    http: httpx.AsyncClient, canaries: Canaries, ledger: clients.Ledger, admin_email: str
) -> None:
    """Requests that carry canaries into error paths: a wrong password, a made-up key and
    token, the admin's real sign-in (its password on the wire)."""
    ledger.answer(
        await http.post(
            "/api/auth/login", json={"email": admin_email, "password": canaries.wrong_password}
        )
    )
    made_up = f"cbk_{canaries.wrong_password}"
    ledger.answer(await http.get("/api/customers", headers={"X-API-Key": made_up}))
    ledger.answer(await http.get("/api/customers", headers=clients.bearer(made_up)))
    await clients.login(http, admin_email, canaries.admin_password, canaries)
    ledger.answers.clear()


def run(config: Config) -> Result:
    workdir = config.workdir or Path(tempfile.mkdtemp(prefix="clientbook-kill-"))
    canaries = Canaries()
    db = Scratch.create(
        config.backend, workdir, name="killwrites", postgres_url=config.postgres_url
    )
    accounts = prepare(db, canaries, users=config.users)
    server = Server(db, workdir / "server.log", canaries=canaries)
    result = Result()
    server.start()
    try:
        asyncio.run(_trials(config, server, db, canaries, accounts, result))
    finally:
        server.stop()
        log = server.log_text()
        result.leaks += [f"server log leaks {name}" for name in canaries.found_in(log)]
        result.locked = log.count("database is locked")
        if config.backend == "postgresql":
            db.drop()
    return result


def report(config: Config, result: Result) -> None:
    ready = sorted(result.ready_seconds) or [0.0]
    cpu = sorted(result.ready_cpu) or [0.0]
    print_table(
        f"kill -9 during writes ({config.backend}, {config.clients} clients)",
        [
            ("trials", result.trials),
            ("acknowledged writes", result.acknowledged),
            ("requests without an answer (killed)", result.unanswered),
            ("record checks after restarts", result.checked),
            ("lost acknowledged writes (target 0)", len(result.lost)),
            ("half-applied requests (target 0)", len(result.half_applied)),
            ("integrity problems (target 0)", len(result.integrity)),
            ("answers by status", result.answers),
            ("5xx answers (target 0)", result.server_errors),
            (
                "ready again: median / max s (target < 5)",
                f"{statistics.median(ready):.2f} / {ready[-1]:.2f}",
            ),
            (
                "CPU s the restart took: median / max",
                f"{statistics.median(cpu):.2f} / {cpu[-1]:.2f}",
            ),
            (
                "machine load average during the run (2 cores)",
                f"{statistics.mean(result.load or [0]):.1f}",
            ),
            ("canary leaks (target 0)", len(result.leaks)),
            ("verdict", verdict([*result.problems, *result.slow_recovery])),
        ],
    )
    print_problems([*result.problems, *result.slow_recovery])


def parse_args(argv: Sequence[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--users", type=int, default=3, help="clients acting as users (3)")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--postgres-url", help="default: $CLIENTBOOK_TEST_POSTGRES_URL")
    args = parser.parse_args(argv)
    return Config(
        backend=args.backend,
        trials=args.trials,
        clients=args.clients,
        users=args.users,
        seed=args.seed,
        workdir=args.workdir,
        postgres_url=args.postgres_url,
    )


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    started = time.monotonic()
    result = run(config)
    report(config, result)
    print(f"  ({time.monotonic() - started:.0f} s)")
    return 0 if not result.problems and not result.slow_recovery else 1


if __name__ == "__main__":
    raise SystemExit(main())
