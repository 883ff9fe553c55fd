"""Backups under load: each one restored to a scratch database is sound and is the source as it
was at one instant.

    .venv/bin/python -m benchmarks.reliability.backup_load --backend sqlite --backups 20
    .venv/bin/python -m benchmarks.reliability.backup_load --backend postgresql --backups 20

The soak's clients (soak.py) write while `clientbook backup` runs `--backups` times. Beside
them a marker writer changes `--markers` reserved records one after another, each change
acknowledged before the next is sent, with a counter in `company`: marker n goes to record
n mod M. A snapshot taken at one instant holds, for some m, exactly markers ..m (each record the
latest marker at or below m), and m lies between the last marker acknowledged before the backup
started and the last one sent before it ended. Each backup is restored with `clientbook
restore` into a scratch database (a new file; a new PostgreSQL database) and checked:
integrity (integrity_check / amcheck), the marker prefix, and content: every customer the source
has not changed since the backup started is identical in the copy, every customer created
before it is there, nothing is there that the source never had, and the audit trail is a prefix
of the source's (SQLite: audit rows 1..n, identical; PostgreSQL: a subset, identical).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import bindparam, text

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.reliability import soak as soak_script
from benchmarks.reliability.harness import (
    CLIENTBOOK,
    Scratch,
    print_problems,
    print_table,
    verdict,
)

CLOCK_SLACK = timedelta(seconds=1)  # a transaction's timestamps are taken before its commit


@dataclass(frozen=True)
class Config:
    backend: str = "sqlite"
    backups: int = 20
    customers: int = 20_000
    duration: float = 120
    clients: int = 32
    markers: int = 8
    seed: int = 9
    workdir: Path | None = None
    postgres_url: str | None = None


@dataclass
class Backup:
    path: Path
    started: datetime
    acked_before: int  # last marker acknowledged before the backup started
    sent_before_end: int  # last marker sent before it ended
    seconds: float = 0.0
    output: str = ""


@dataclass
class Markers:
    ids: list[str]
    sent: int = 0
    acked: int = 0
    failures: list[str] = field(default_factory=list)

    async def run(
        self, http: httpx.AsyncClient, headers: dict[str, str], done: asyncio.Event
    ) -> None:
        while not done.is_set():
            n = self.sent + 1
            self.sent = n
            response = await http.patch(
                f"/api/customers/{self.ids[n % len(self.ids)]}",
                headers=headers,
                json={"company": f"marker-{n}"},
            )
            if response.is_success:
                self.acked = n
            else:
                self.failures.append(f"marker {n}: {response.status_code}")
                return


async def _backups(
    config: Config, soak: soak_script.Soak, markers: Markers, folder: Path
) -> list[Backup]:
    """Markers and backups beside the soak's clients, spread over the phase."""
    made: list[Backup] = []
    done = asyncio.Event()
    env = soak.server.environment()
    suffix = ".sqlite3" if config.backend == "sqlite" else ".dump"
    gap = config.duration / (config.backups + 1)
    async with httpx.AsyncClient(base_url=soak.server.base_url, timeout=120) as http:
        writer = asyncio.create_task(markers.run(http, {"X-API-Key": soak.accounts.api_key}, done))
        for number in range(config.backups):
            await asyncio.sleep(gap)
            backup = Backup(
                folder / f"backup-{number}{suffix}", datetime.now(UTC), markers.acked, 0
            )
            started = time.monotonic()
            process = await asyncio.create_subprocess_exec(
                str(CLIENTBOOK),
                "backup",
                "--output",
                str(backup.path),
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            out, _ = await process.communicate()
            backup.seconds = time.monotonic() - started
            backup.sent_before_end = markers.sent
            backup.output = out.decode(errors="replace")
            if process.returncode != 0:
                markers.failures.append(f"backup {number} failed: {backup.output[-500:]}")
            made.append(backup)
        done.set()
        await writer
    return made


def _restore(config: Config, soak: soak_script.Soak, backup: Backup, number: int) -> Scratch:
    """`clientbook restore` into a new scratch database."""
    if config.backend == "sqlite":
        target = Scratch.create("sqlite", backup.path.parent, name=f"restored-{number}")
    else:
        target = _scratch_database(soak.db, f"rel_restored_{number}_{os.getpid()}")
    env = {**soak.server.environment(), "CLIENTBOOK_DATABASE_URL": target.url}
    done = subprocess.run(
        [str(CLIENTBOOK), "restore", str(backup.path)], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"restore of {backup.path.name} failed: {done.stdout}{done.stderr}")
    return target


def _scratch_database(source: Scratch, name: str) -> Scratch:
    """A new PostgreSQL database whose URL keeps the source's schema (the dump's)."""
    assert source.admin_url and source.schema
    with source._admin() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, query = source.admin_url.partition("?")
    admin_url = base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")
    url = source.url.replace(source.admin_url, admin_url, 1)
    target = Scratch("postgresql", url, schema=source.schema, admin_url=admin_url)
    with target._admin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS amcheck SCHEMA public"))
    return target


def _drop(config: Config, soak: soak_script.Soak, target: Scratch) -> None:
    if config.backend == "sqlite":
        target.drop()
        return
    name = target.admin_url.rsplit("/", 1)[1].split("?")[0] if target.admin_url else ""
    with soak.db._admin() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))


def _instant(kind: str, when: datetime) -> Any:
    return when.isoformat(timespec="milliseconds") if kind == "sqlite" else when


def _table(db: Scratch, sql: str, **params: Any) -> dict[Any, tuple[Any, ...]]:
    with db.read() as conn:
        return {row[0]: tuple(row) for row in conn.execute(text(sql), params)}


def check_copy(
    config: Config, source: Scratch, copy: Scratch, backup: Backup, markers: Markers
) -> list[str]:
    problems = copy.integrity() + copy.consistency(audited=False)
    # The marker prefix.
    with copy.read() as conn:
        query = text("SELECT id, company FROM customers WHERE id IN :ids")
        query = query.bindparams(bindparam("ids", expanding=True))
        companies = dict(conn.execute(query, {"ids": markers.ids}).all())
    seen = {
        int(value.removeprefix("marker-"))
        for value in companies.values()
        if value and value.startswith("marker-")
    }
    m = max(seen, default=0)
    expected = {n for n in range(max(1, m - len(markers.ids) + 1), m + 1)}
    if seen != expected:
        problems.append(f"markers are not a prefix: {sorted(seen)} (expected {sorted(expected)})")
    if not backup.acked_before <= m <= backup.sent_before_end:
        problems.append(f"marker {m} is outside [{backup.acked_before}, {backup.sent_before_end}]")
    # Customers: unchanged ones identical, none missing, none invented.
    before = _instant(config.backend, backup.started - CLOCK_SLACK)
    source_rows = _table(source, "SELECT id, * FROM customers")
    copy_rows = _table(copy, "SELECT id, * FROM customers")
    stable = _table(source, 'SELECT id, * FROM customers WHERE "updatedAt" < :t', t=before)
    created = _table(source, 'SELECT id FROM customers WHERE "createdAt" < :t', t=before)
    differ = [k for k, row in stable.items() if copy_rows.get(k) != row]
    missing = [k for k in created if k not in copy_rows]
    invented = [k for k in copy_rows if k not in source_rows]
    for what, keys in (("differ", differ), ("missing", missing), ("unknown", invented)):
        if keys:
            problems.append(f"{len(keys)} customer(s) {what}: {keys[:3]}")
    # The audit trail.
    source_audit = _table(source, "SELECT seq, * FROM audit_logs")
    copy_audit = _table(copy, "SELECT seq, * FROM audit_logs")
    wrong = [k for k, row in copy_audit.items() if source_audit.get(k) != row]
    if wrong:
        problems.append(f"{len(wrong)} audit row(s) not in the source: {wrong[:3]}")
    if config.backend == "sqlite" and copy_audit and len(copy_audit) != max(copy_audit):
        problems.append("the audit trail in the copy is not a prefix of the source's")
    return problems


def run(config: Config) -> tuple[list[Backup], list[str], soak_script.Phase]:
    workdir = config.workdir or Path(tempfile.mkdtemp(prefix="clientbook-backup-"))
    soak_config = soak_script.Config(
        backend=config.backend,
        customers=config.customers,
        duration=config.duration,
        clients=config.clients,
        seed=config.seed,
        postgres_url=config.postgres_url,
    )
    soak = soak_script.Soak.start(soak_config, workdir, name="backupload")
    owned = {actor.own for actor in soak.load.actors}
    marker_ids = [i for i in soak.load.ids if i not in owned][: config.markers]
    soak.load.ids = [i for i in soak.load.ids if i not in marker_ids]
    markers = Markers(marker_ids)
    folder = workdir / "backups"
    folder.mkdir(exist_ok=True)
    phase = soak_script.Phase("backups under load")
    backups: list[Backup] = []

    async def beside() -> None:
        backups.extend(await _backups(config, soak, markers, folder))

    problems: list[str] = []
    try:
        asyncio.run(soak.load.run(phase, config.duration, beside=beside))
        problems += markers.failures
        for number, backup in enumerate(backups):
            target = _restore(config, soak, backup, number)
            try:
                found = check_copy(config, soak.db, target, backup, markers)
            finally:
                _drop(config, soak, target)
            problems += [f"backup {number}: {p}" for p in found]
            print(
                f"  backup {number}: {backup.seconds:.1f} s, markers "
                f"[{backup.acked_before}, {backup.sent_before_end}], "
                f"{verdict(found)}",
                flush=True,
            )
    finally:
        problems += soak.finish([phase])
    return backups, problems, phase


def report(
    config: Config, backups: Sequence[Backup], problems: Sequence[str], phase: soak_script.Phase
) -> None:
    seconds = sorted(b.seconds for b in backups) or [0.0]
    print_table(
        f"backups under load ({config.backend}, {config.customers:,} customers, "
        f"{config.clients} clients)",
        [
            ("backups made and restored", len(backups)),
            (
                "backup seconds: median / max",
                f"{seconds[len(seconds) // 2]:.1f} / {seconds[-1]:.1f}",
            ),
            ("requests served meanwhile", sum(phase.statuses.values())),
            ("5xx answers meanwhile (target 0)", phase.server_errors),
            (
                "write p99 ms meanwhile",
                f"{soak_script.percentile(phase.writes, 0.99) * 1000:.0f}",
            ),
            (
                "copies not sound or not one instant (target 0)",
                sum(
                    1
                    for b in range(len(backups))
                    if any(p.startswith(f"backup {b}:") for p in problems)
                ),
            ),
            ("verdict", verdict(problems)),
        ],
    )
    print_problems(problems)


def parse_args(argv: Sequence[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--backups", type=int, default=20)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--duration", type=float, default=120, help="seconds of load (120)")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--postgres-url", help="default: $CLIENTBOOK_TEST_POSTGRES_URL")
    args = parser.parse_args(argv)
    return Config(
        backend=args.backend,
        backups=args.backups,
        customers=args.customers,
        duration=args.duration,
        clients=args.clients,
        seed=args.seed,
        workdir=args.workdir,
        postgres_url=args.postgres_url,
    )


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    backups, problems, phase = run(config)
    report(config, backups, problems, phase)
    return 0 if not problems else 1


if __name__ == "__main__":
    raise SystemExit(main())
