"""The reliability suite in CI size (benchmarks/reliability/ runs it at full size).

Each test starts the real server (`clientbook serve`) on a scratch database of each backend,
kills it, fails its I/O or loads it, and checks what the scripts check: no acknowledged write
lost, nothing half-applied, integrity clean, no job left running, no 5xx or "database is
locked", no canary secret in the server's log or in an error body. Restart times are asserted
on the CPU the restart took, since wall time on a shared machine says more about the machine.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from benchmarks.reliability import backup_load, io_errors, kill_batch, kill_writes, soak
from benchmarks.reliability.harness import READY_TARGET_SECONDS

POSTGRES_URL = os.environ.get("CLIENTBOOK_TEST_POSTGRES_URL")
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(not POSTGRES_URL, reason="CLIENTBOOK_TEST_POSTGRES_URL is not set"),
        ],
    ),
]
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("reliability")]


@pytest.mark.parametrize("backend", BACKENDS)
def test_kill_during_writes_loses_no_acknowledged_write(backend: str, tmp_path: Path) -> None:
    config = kill_writes.Config(backend=backend, trials=4, clients=6, users=2, workdir=tmp_path)
    result = kill_writes.run(config)
    assert result.problems == []
    assert result.trials == 4
    assert result.acknowledged > 0 and result.checked > 0
    assert max(result.ready_cpu) < READY_TARGET_SECONDS


@pytest.mark.parametrize("backend", BACKENDS)
def test_kill_during_import_and_bulk_applies_all_rows_or_none(backend: str, tmp_path: Path) -> None:
    config = kill_batch.Config(
        backend=backend, trials=2, rows=5_001, bulk_size=300, workdir=tmp_path
    )
    outcomes = kill_batch.run(config)
    assert [o.name for o in outcomes] == ["import", "bulk"]
    for outcome in outcomes:
        assert outcome.problems == []
        assert outcome.deltas["partial"] == 0
        assert sum(outcome.deltas.values()) == 2


@pytest.mark.skipif(shutil.which("strace") is None, reason=io_errors.STRACE_MISSING)
@pytest.mark.parametrize("backend", BACKENDS)
def test_failed_io_never_loses_an_acknowledged_write(backend: str, tmp_path: Path) -> None:
    syscall = "pwrite64" if backend == "sqlite" else "recvfrom"
    config = io_errors.Config(
        backend=backend, ks=(3, 25), syscalls=(syscall,), seconds=1.0, clients=3, workdir=tmp_path
    )
    result = io_errors.run(config)
    assert result.problems == []
    assert result.trials == 2
    assert result.acknowledged > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_soak_with_an_import_has_no_server_errors(backend: str, tmp_path: Path) -> None:
    config = soak.Config(
        backend=backend, customers=1_000, duration=6, clients=12, import_rows=5_001,
        workdir=tmp_path,
    )  # fmt: skip
    phases, problems, _soak = soak.run(config)
    assert problems == []
    steady, with_import = phases
    assert steady.reads and steady.writes and with_import.writes
    assert any("succeeded" in note for note in with_import.notes)


@pytest.mark.parametrize("backend", BACKENDS)
def test_backups_under_load_are_one_instant_and_sound(backend: str, tmp_path: Path) -> None:
    config = backup_load.Config(
        backend=backend, backups=2, customers=500, duration=12, clients=8, workdir=tmp_path
    )
    backups, problems, _phase = backup_load.run(config)
    assert problems == []
    assert len(backups) == 2
    assert all(b.sent_before_end > 0 for b in backups)


def test_canaries_are_found_where_they_leak() -> None:
    """The leak check itself can fail: a text holding a canary is caught, others are not."""
    from benchmarks.reliability.harness import Canaries

    canaries = Canaries()
    canaries.add("api key", "cbk_live_123")
    assert canaries.found_in(f"login failed for {canaries.user_password}") == ["user password"]
    assert canaries.found_in("Authorization: Bearer cbk_live_123") == ["api key"]
    assert canaries.found_in("nothing secret here") == []
