"""I/O errors: no request reported as successful is missing after a restart.

    .venv/bin/python -m benchmarks.reliability.io_errors --backend sqlite --k 1-40
    .venv/bin/python -m benchmarks.reliability.io_errors --backend postgresql --k 1-40

For each system call and each K, strace attaches to the running server and makes the K-th call
(counted per thread) of that system call fail with EIO, while writers write; the server is then
killed and started again without strace, and every acknowledged write is checked as in
kill_writes.py, with integrity and consistency. On SQLite the calls are the database's own
(`pwrite64`, `fdatasync`, `fsync`, `write`); on PostgreSQL the I/O happens in the database
server, so the calls failed are the server's conversation with it (`sendto`, `recvfrom`).

Needs strace (`apt-get install -y strace`); without it the script says so and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import subprocess
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

from benchmarks.reliability import clients
from benchmarks.reliability.harness import (
    Canaries,
    Scratch,
    Server,
    prepare,
    print_problems,
    print_table,
    verdict,
)

SYSCALLS = {
    "sqlite": ("pwrite64", "fdatasync", "fsync", "write"),
    "postgresql": ("sendto", "recvfrom"),
}
STRACE_MISSING = "strace is not installed (apt-get install -y strace): I/O error trials skipped"


@dataclass(frozen=True)
class Config:
    backend: str = "sqlite"
    ks: tuple[int, ...] = tuple(range(1, 41))
    syscalls: tuple[str, ...] = ()
    seconds: float = 1.5
    clients: int = 4
    seed: int = 9
    workdir: Path | None = None
    postgres_url: str | None = None


@dataclass
class Result:
    trials: int = 0
    acknowledged: int = 0
    failed_answers: Counter[int] = field(default_factory=Counter)
    errors_seen: Counter[str] = field(default_factory=Counter)  # syscall -> trials with a 5xx
    recovered: Counter[str] = field(default_factory=Counter)  # ... that wrote again after it
    problems: list[str] = field(default_factory=list)
    skipped: str | None = None
    unknown_applied: int = 0


def _traced(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return any(
        line.split()[1] != "0" for line in status.splitlines() if line.startswith("TracerPid:")
    )


def attach_strace(pid: int, syscall: str, k: int, log: Path) -> subprocess.Popen[bytes]:
    """strace on every thread of `pid`, failing the k-th `syscall` of each with EIO."""
    command = [
        "strace",
        "-f",
        "-qq",
        "-o",
        str(log),
        "-p",
        str(pid),
        "-e",
        f"trace={syscall}",
        "-e",
        f"inject={syscall}:error=EIO:when={k}",
    ]
    tracer = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not _traced(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)  # strace attaches the other threads after the first
    return tracer


async def _trial(
    config: Config,
    server: Server,
    ledger: clients.Ledger,
    writers: list[clients.Writer],
    rng: random.Random,
    tag: str,
) -> None:
    stop = asyncio.Event()
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        tasks = [
            asyncio.create_task(
                clients.run_writer(http, ledger, w, random.Random(rng.random()), tag=tag, stop=stop)
            )
            for w in writers
        ]
        await asyncio.sleep(config.seconds)
        stop.set()
        await asyncio.gather(*tasks)


def run(config: Config) -> Result:
    result = Result()
    if shutil.which("strace") is None:
        result.skipped = STRACE_MISSING
        return result
    workdir = config.workdir or Path(tempfile.mkdtemp(prefix="clientbook-ioerr-"))
    canaries = Canaries()
    db = Scratch.create(config.backend, workdir, name="ioerrors", postgres_url=config.postgres_url)
    accounts = prepare(db, canaries)
    server = Server(db, workdir / "server.log", canaries=canaries)
    staff = {"X-API-Key": accounts.api_key}
    writers = [clients.Writer(f"s{i}", staff, staff=True) for i in range(config.clients)]
    ledger = clients.Ledger()
    rng = random.Random(config.seed)
    server.start()
    try:
        for syscall in config.syscalls or SYSCALLS[config.backend]:
            for k in config.ks:
                errors_before, answers_before = ledger.server_errors, len(ledger.sequence)
                tracer = attach_strace(server.pid, syscall, k, workdir / "strace.log")
                try:
                    asyncio.run(_trial(config, server, ledger, writers, rng, f"{syscall}{k}"))
                finally:
                    server.kill()
                    tracer.wait(timeout=30)
                server.start()
                if ledger.server_errors > errors_before:
                    result.errors_seen[syscall] += 1
                    answers = ledger.sequence[answers_before:]
                    first = next(i for i, status in enumerate(answers) if status >= 500)
                    if any(status < 300 for status in answers[first + 1 :]):
                        result.recovered[syscall] += 1
                found = [f"{syscall} #{k}: {p}" for p in _after(server, db, ledger)]
                for problem in found:
                    print(f"  ! {problem}", flush=True)
                result.problems += found
                result.trials += 1
            print(
                f"  {syscall}: {len(config.ks)} trials, {result.errors_seen[syscall]} with a "
                f"5xx answer, {len(result.problems)} problem(s) so far",
                flush=True,
            )
    finally:
        server.stop()
        result.problems += [f"server log leaks {n}" for n in canaries.found_in(server.log_text())]
        result.problems += [
            f"error body leaks {name}"
            for body in ledger.error_bodies
            for name in canaries.found_in(body)
        ]
        if config.backend == "postgresql":
            db.drop()
    result.acknowledged = ledger.acknowledged
    result.unknown_applied = ledger.unknown_applied
    result.failed_answers = Counter({s: n for s, n in ledger.answers.items() if s >= 400})
    return result


def _after(server: Server, db: Scratch, ledger: clients.Ledger) -> list[str]:
    async def check() -> list[str]:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
            lost, _checked = await clients.verify(http, ledger, {"X-API-Key": _key(server)})
        return lost

    return asyncio.run(check()) + db.integrity() + db.consistency()


def _key(server: Server) -> str:
    return server.canaries.others["api key"]


def report(config: Config, result: Result) -> None:
    if result.skipped:
        print(result.skipped)
        return
    answered = ", ".join(f"{s}: {n}" for s, n in sorted(result.failed_answers.items()))
    print_table(
        f"I/O errors injected with strace ({config.backend})",
        [
            ("trials (system call x K)", result.trials),
            ("acknowledged writes", result.acknowledged),
            ("error answers while failing I/O", answered or "none"),
            (
                "system calls whose failure reached a client as 5xx",
                ", ".join(f"{s} ({n} trials)" for s, n in result.errors_seen.items()) or "none",
            ),
            (
                "... of which the server wrote successfully again afterwards",
                ", ".join(f"{s}: {n}" for s, n in result.recovered.items()) or "none",
            ),
            (
                "writes answered 5xx (or not at all) found applied after restart",
                result.unknown_applied,
            ),
            (
                "acknowledged writes missing after restart (target 0)",
                sum("lost" in p for p in result.problems),
            ),
            ("verdict", verdict(result.problems)),
        ],
    )
    print_problems(result.problems)


def _ks(text: str) -> tuple[int, ...]:
    values: list[int] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        values += range(int(first), int(last or first) + 1)
    return tuple(values)


def parse_args(argv: Sequence[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--k", default="1-40", help="which calls fail: '1-40' or '1,5,20'")
    parser.add_argument("--syscalls", help="comma-separated (default: the backend's)")
    parser.add_argument("--seconds", type=float, default=1.5, help="writing per trial (1.5)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--postgres-url", help="default: $CLIENTBOOK_TEST_POSTGRES_URL")
    args = parser.parse_args(argv)
    syscalls = tuple(args.syscalls.split(",")) if args.syscalls else ()
    return Config(
        backend=args.backend,
        ks=_ks(args.k),
        syscalls=syscalls,
        seconds=args.seconds,
        clients=args.clients,
        seed=args.seed,
        workdir=args.workdir,
        postgres_url=args.postgres_url,
    )


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    result = run(config)
    report(config, result)
    return 0 if not result.problems else 1


if __name__ == "__main__":
    raise SystemExit(main())
