"""Soak: 32 clients, 80% reads / 20% writes, users and staff, on demo data; then again while a
large CSV import runs.

    .venv/bin/python -m benchmarks.reliability.soak --backend sqlite --customers 100000 \\
        --duration 600 --import-rows 50000

Figures per phase: requests, 5xx answers and "database is locked" (target 0 for both), p50/p99
latency of reads and of writes, the server's RSS at the start and the end of the phase (drift)
and its peak. The data is `clientbook demo --customers N` in a fresh database; half the clients
are customers (their own record through `/api/customers/me`, a PATCH of it, their tags), half are
staff (lists with filters, search and sorts, reads by id, field changes, status changes, contact
records) with an API key or a signed-in session. Afterwards: integrity, the tags side table, and
the canaries in the server log and error bodies.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.reliability import clients
from benchmarks.reliability.harness import (
    CLIENTBOOK,
    Accounts,
    Canaries,
    Scratch,
    Server,
    activate_owners,
    prepare,
    print_problems,
    print_table,
    sample_ids,
    verdict,
)
from benchmarks.reliability.kill_batch import customers_csv

MB = 1024 * 1024
LOCKED = "database is locked"


@dataclass(frozen=True)
class Config:
    backend: str = "sqlite"
    customers: int = 100_000
    duration: float = 600
    clients: int = 32
    import_rows: int = 50_000
    write_share: float = 0.2
    seed: int = 9
    workdir: Path | None = None
    postgres_url: str | None = None


@dataclass
class Phase:
    """What the clients saw during one phase."""

    name: str
    seconds: float = 0.0
    reads: list[float] = field(default_factory=list)  # latencies, seconds
    writes: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: int = 0
    locked: int = 0
    rss_start: int = 0
    rss_end: int = 0
    rss_peak: int = 0
    notes: list[str] = field(default_factory=list)
    error_bodies: list[str] = field(default_factory=list)

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def problems(self) -> list[str]:
        found = []
        if self.server_errors:
            found.append(f"{self.name}: {self.server_errors} answer(s) with status 5xx")
        if self.locked:
            found.append(f'{self.name}: "{LOCKED}" {self.locked} time(s)')
        # Requests without an answer are reported, not failed: a connection the server closes
        # after its keep-alive timeout as the client reuses it is lost on the client's side.
        unexpected = {s: n for s, n in self.statuses.items() if 400 <= s < 500}
        if unexpected:
            found.append(f"{self.name}: unexpected 4xx answers {unexpected}")
        return found


def percentile(values: Sequence[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass
class Actor:
    """One client: a customer (their record id known) or staff."""

    headers: dict[str, str]
    own: str | None = None  # the customer's own record; None for staff


class Load:
    """The clients of the soak; `run(phase, seconds)` drives them and fills `phase`."""

    COUNTRIES = ("Malaysia", "Singapore", "Indonesia", "Thailand")

    def __init__(self, server: Server, actors: list[Actor], ids: list[str], config: Config):
        self.server = server
        self.actors = actors
        self.ids = ids
        self.config = config

    async def _timed(
        self,
        phase: Phase,
        http: httpx.AsyncClient,
        kind: str,
        method: str,
        url: str,
        actor: Actor,
        **kwargs: object,
    ) -> None:
        started = time.perf_counter()
        try:
            response = await http.request(method, url, headers=actor.headers, **kwargs)
        except httpx.TransportError as exc:
            phase.transport_errors += 1
            phase.notes.append(f"no answer to {method} {url}: {type(exc).__name__} {exc}"[:200])
            return
        (phase.reads if kind == "read" else phase.writes).append(time.perf_counter() - started)
        phase.statuses[response.status_code] += 1
        if response.status_code >= 400:
            phase.error_bodies.append(response.text[:2000])
            phase.locked += response.text.count(LOCKED)

    def _request(self, actor: Actor, rng: random.Random) -> tuple[str, str, str, dict[str, object]]:
        """(kind, method, url, httpx arguments) of this client's next request."""
        write = rng.random() < self.config.write_share
        if actor.own is not None:
            if not write:
                return "read", "GET", "/api/customers/me", {}
            if rng.random() < 0.5:
                tags = rng.sample(clients.TAGS, rng.randrange(0, 3))
                return "write", "PUT", f"/api/customers/{actor.own}/tags", {"json": {"tags": tags}}
            body = {"jobTitle": f"Title {rng.randrange(1000)}", "city": rng.choice(["Ipoh", None])}
            return "write", "PATCH", f"/api/customers/{actor.own}", {"json": body}
        record = rng.choice(self.ids)
        if write:
            pick = rng.random()
            if pick < 0.4:
                body2: dict[str, object] = {"company": f"Firm {rng.randrange(10**5)}"}
                return "write", "PATCH", f"/api/customers/{record}", {"json": body2}
            if pick < 0.7:
                status = {"status": rng.choice(clients.STATUSES), "reason": "soak"}
                return "write", "PUT", f"/api/customers/{record}/status", {"json": status}
            return "write", "POST", f"/api/customers/{record}/contact", {"json": {}}
        pick = rng.random()
        if pick < 0.4:
            return "read", "GET", f"/api/customers/{record}", {}
        params: dict[str, object] = {"limit": 25}
        if pick < 0.6:
            params |= {"status": rng.choice(clients.STATUSES), "sort": "-lastContactAt"}
        elif pick < 0.75:
            params |= {"country": rng.choice(self.COUNTRIES), "status[ne]": "archived"}
        elif pick < 0.9:
            params |= {"q": rng.choice(("tan", "lee", "wong", "ahmad", "kumar", "ng"))}
        else:
            params |= {"tag": rng.choice(clients.TAGS[:4]), "total": "false"}
        return "read", "GET", "/api/customers", {"params": params}

    async def run(
        self, phase: Phase, seconds: float, *, beside: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        """Drive every client for `seconds` (and `beside()` alongside, awaited at the end)."""
        rng = random.Random(self.config.seed + len(phase.name))
        deadline = time.monotonic() + seconds
        limits = httpx.Limits(max_connections=len(self.actors) + 8)
        phase.rss_start = phase.rss_peak = self.server.rss()
        stop = asyncio.Event()

        async def client(actor: Actor, seed: float) -> None:
            own_rng = random.Random(seed)
            while time.monotonic() < deadline:
                kind, method, url, kwargs = self._request(actor, own_rng)
                await self._timed(phase, http, kind, method, url, actor, **kwargs)

        async def sample_rss() -> None:
            while not stop.is_set():
                phase.rss_peak = max(phase.rss_peak, self.server.rss())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)

        started = time.monotonic()
        async with httpx.AsyncClient(
            base_url=self.server.base_url, timeout=120, limits=limits
        ) as http:
            sampler = asyncio.create_task(sample_rss())
            extra = asyncio.create_task(beside()) if beside else None
            await asyncio.gather(*(client(a, rng.random()) for a in self.actors))
            if extra is not None:
                await extra
            stop.set()
            await sampler
        phase.seconds = time.monotonic() - started
        phase.rss_end = self.server.rss()
        phase.rss_peak = max(phase.rss_peak, phase.rss_end)


def load_demo(db: Scratch, customers: int, log: Path) -> float:
    """`clientbook demo --customers N` into the fresh database; returns its seconds."""
    started = time.monotonic()
    env = Server(db, log, canaries=Canaries()).environment()
    with log.open("ab") as out:
        subprocess.run(
            [str(CLIENTBOOK), "demo", "--customers", str(customers), "--workers", "1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
        )
    return time.monotonic() - started


async def sign_in_actors(
    server: Server,
    accounts: Accounts,
    owners: list[tuple[str, str]],
    canaries: Canaries,
    clients_count: int,
) -> list[Actor]:
    """Half customers (signed in with their canary password), half staff (API key, or the
    admin's session)."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=120) as http:
        admin = await clients.login(http, accounts.admin_email, canaries.admin_password, canaries)
        tokens = [
            await clients.login(http, email, canaries.user_password, canaries)
            for email, _customer in owners
        ]
    actors = [Actor(clients.bearer(t), own=c) for t, (_e, c) in zip(tokens, owners, strict=True)]
    for i in range(clients_count - len(actors)):
        headers = {"X-API-Key": accounts.api_key} if i % 2 else clients.bearer(admin)
        actors.append(Actor(headers))
    return actors


@dataclass
class Soak:
    """A server over demo data with signed-in clients, ready for phases."""

    config: Config
    db: Scratch
    server: Server
    canaries: Canaries
    accounts: Accounts
    load: Load
    demo_seconds: float

    @classmethod
    def start(cls, config: Config, workdir: Path, *, name: str = "soak") -> Soak:
        canaries = Canaries()
        db = Scratch.create(config.backend, workdir, name=name, postgres_url=config.postgres_url)
        demo_seconds = load_demo(db, config.customers, workdir / "demo.log")
        accounts = prepare(db, canaries)
        owners = activate_owners(db, canaries, config.clients // 2)
        ids = sample_ids(db, 20_000, seed=config.seed)
        server = Server(db, workdir / "server.log", canaries=canaries)
        server.start()
        actors = asyncio.run(sign_in_actors(server, accounts, owners, canaries, config.clients))
        load = Load(server, actors, ids, config)
        return cls(config, db, server, canaries, accounts, load, demo_seconds)

    def finish(self, phases: Sequence[Phase]) -> list[str]:
        """Stop the server; the checks that close every run."""
        problems = [p for phase in phases for p in phase.problems()]
        problems += self.db.integrity() + self.db.consistency(audited=False)
        self.server.stop()
        log = self.server.log_text()
        problems += [f"server log leaks {n}" for n in self.canaries.found_in(log)]
        if log.count(LOCKED):
            problems.append(f'server log: "{LOCKED}" {log.count(LOCKED)} time(s)')
        problems += [
            f"error body leaks {name}"
            for phase in phases
            for body in phase.error_bodies
            for name in self.canaries.found_in(body)
        ]
        if self.config.backend == "postgresql":
            self.db.drop()
        return problems


async def import_beside(soak: Soak, phase: Phase) -> None:
    """POST a large CSV import, then wait for its job to end; notes how long it took."""
    headers = {"X-API-Key": soak.accounts.api_key}
    body = customers_csv(soak.config.import_rows, "soak")
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=soak.server.base_url, timeout=600) as http:
        response = await http.post(
            "/api/customers/import", headers=headers, files={"file": ("soak.csv", body, "text/csv")}
        )
        if not response.is_success:
            phase.notes.append(f"import refused: {response.status_code} {response.text[:200]}")
            return
        job = response.json()["job"]
        while job["status"] in ("queued", "running"):
            await asyncio.sleep(0.5)
            job = (await http.get(f"/api/imports/{job['$id']}", headers=headers)).json()
    phase.notes.append(
        f"import of {soak.config.import_rows:,} rows: {job['status']} in "
        f"{time.monotonic() - started:.1f} s"
    )


def run(config: Config) -> tuple[list[Phase], list[str], Soak]:
    workdir = config.workdir or Path(tempfile.mkdtemp(prefix="clientbook-soak-"))
    soak = Soak.start(config, workdir)
    phases = [Phase("steady"), Phase("with import")]
    try:
        asyncio.run(soak.load.run(phases[0], config.duration))
        print(f"  steady phase done: {sum(phases[0].statuses.values())} requests", flush=True)
        asyncio.run(
            soak.load.run(phases[1], config.duration, beside=lambda: import_beside(soak, phases[1]))
        )
    finally:
        problems = soak.finish(phases)
    return phases, problems, soak


def phase_rows(phase: Phase) -> list[tuple[str, object]]:
    requests = sum(phase.statuses.values())
    return [
        ("seconds", f"{phase.seconds:.0f}"),
        ("requests (per second)", f"{requests:,} ({requests / max(phase.seconds, 1e-9):,.0f})"),
        ("reads / writes", f"{len(phase.reads):,} / {len(phase.writes):,}"),
        ("5xx answers (target 0)", phase.server_errors),
        (f'"{LOCKED}" (target 0)', phase.locked),
        ("requests without an answer", phase.transport_errors),
        (
            "read p50 / p99 ms",
            f"{percentile(phase.reads, 0.5) * 1000:.1f} / "
            f"{percentile(phase.reads, 0.99) * 1000:.1f}",
        ),
        (
            "write p50 / p99 ms",
            f"{percentile(phase.writes, 0.5) * 1000:.1f} / "
            f"{percentile(phase.writes, 0.99) * 1000:.1f}",
        ),
        (
            "server RSS start -> end MB (drift)",
            f"{phase.rss_start / MB:.0f} -> {phase.rss_end / MB:.0f} "
            f"({(phase.rss_end - phase.rss_start) / MB:+.0f})",
        ),
        ("server RSS peak MB", f"{phase.rss_peak / MB:.0f}"),
        *[("note", note) for note in phase.notes],
    ]


def report(config: Config, phases: Sequence[Phase], problems: Sequence[str], soak: Soak) -> None:
    print(
        f"\nsoak on {config.backend}: {config.customers:,} demo customers (loaded in "
        f"{soak.demo_seconds:.0f} s), {config.clients} clients, "
        f"{config.write_share:.0%} writes"
    )
    for phase in phases:
        print_table(f"phase: {phase.name}", phase_rows(phase))
    print_table(
        "checks",
        [
            ("verdict", verdict(problems)),
            ("load average at the end (2 cores)", f"{os.getloadavg()[0]:.1f}"),
        ],
    )
    print_problems(problems)


def parse_args(argv: Sequence[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--duration", type=float, default=600, help="seconds per phase (600)")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--import-rows", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--postgres-url", help="default: $CLIENTBOOK_TEST_POSTGRES_URL")
    args = parser.parse_args(argv)
    return Config(
        backend=args.backend,
        customers=args.customers,
        duration=args.duration,
        clients=args.clients,
        import_rows=args.import_rows,
        seed=args.seed,
        workdir=args.workdir,
        postgres_url=args.postgres_url,
    )


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    phases, problems, soak = run(config)
    report(config, phases, problems, soak)
    return 0 if not problems else 1


if __name__ == "__main__":
    raise SystemExit(main())
