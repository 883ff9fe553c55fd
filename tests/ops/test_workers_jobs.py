"""Import jobs with several server processes: a worker's start or sweep fails only the jobs of
processes that are really gone (issue 9, item 3)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Row

from clientbook.access import SYSTEM
from clientbook.db.engine import Database
from clientbook.db.tables import import_jobs
from clientbook.domain.timestamps import utcnow
from clientbook.services import import_jobs as jobs
from clientbook.services.imports import ImportOptions

HOST = socket.gethostname()


def add_job(db: Database, job_id: str, runner: str, *, updated: datetime | None = None) -> None:
    now = utcnow()
    with db.transaction() as conn:
        conn.execute(
            import_jobs.insert(),
            [{"id": job_id, "status": "running", "format": "csv",
              "options": orjson.dumps({"runner": runner}).decode(), "actorType": "system",
              "createdAt": now, "updatedAt": updated or now}],
        )  # fmt: skip


def status(db: Database, job_id: str) -> str:
    return str(jobs.get_job(db, SYSTEM, job_id)["status"])


@pytest.fixture
def sibling() -> Iterator[subprocess.Popen[bytes]]:
    """A live process of this host standing in for a sibling server worker."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield process
    finally:
        process.kill()
        process.wait(10)


def test_a_live_sibling_workers_job_is_left_running(
    database: Database, sibling: subprocess.Popen[bytes]
) -> None:
    runner = f"{HOST}:{sibling.pid}:{jobs.process_start(sibling.pid)}"
    add_job(database, "sibling", runner)
    assert jobs.fail_interrupted_jobs(database) == 0
    assert status(database, "sibling") == "running"


def test_a_job_whose_pid_now_names_another_process_is_failed(
    database: Database, sibling: subprocess.Popen[bytes]
) -> None:
    # After a restart (a container's pids start over) the old worker's pid may be taken.
    add_job(database, "reused", f"{HOST}:{sibling.pid}:00000000-1")
    assert jobs.fail_interrupted_jobs(database) == 1
    assert status(database, "reused") == "failed"


def test_a_job_of_a_dead_worker_on_this_host_is_failed(database: Database) -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait(10)
    add_job(database, "dead", f"{HOST}:{process.pid}:{jobs.process_start(os.getpid())}")
    assert jobs.fail_interrupted_jobs(database) == 1
    assert status(database, "dead") == "failed"


def test_a_sweep_while_an_import_runs_here_leaves_it_running(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    swept: list[int] = []
    real_run_import = jobs.run_import

    def run_import(db: Database, *args: Any, **kwargs: Any) -> Any:
        swept.append(jobs.fail_interrupted_jobs(db))  # a sibling's sweep, mid-import
        return real_run_import(db, *args, **kwargs)

    monkeypatch.setattr(jobs, "run_import", run_import)
    path = tmp_path / "a.csv"
    path.write_text("name,email\nAda,ada@example.com\n")
    submitted = jobs.submit_import(
        database, SYSTEM, path, filename="a.csv", options=ImportOptions()
    )
    assert swept == [0]
    assert submitted.job["status"] == "succeeded"
    # A row this process no longer runs but that says `running` was interrupted.
    add_job(database, "stale", jobs.RUNNER)
    assert jobs.fail_interrupted_jobs(database) == 1


def test_another_hosts_job_is_failed_once_its_heartbeat_stops(database: Database) -> None:
    add_job(database, "beating", "elsewhere:12:abc-1")
    add_job(database, "silent", "elsewhere:13:abc-1", updated=utcnow() - timedelta(minutes=10))
    failed = jobs.fail_interrupted_jobs(database)
    if database.is_sqlite:
        # One process holds a SQLite file: another machine's job (a moved or restored file)
        # cannot be running.
        assert failed == 2
        assert status(database, "beating") == "failed"
    else:
        assert failed == 1
        assert status(database, "beating") == "running"
    assert status(database, "silent") == "failed"


def test_the_heartbeat_stores_progress_for_the_other_workers(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "HEARTBEAT_SECONDS", 0.02)
    add_job(database, "beat", jobs.RUNNER, updated=utcnow() - timedelta(minutes=10))
    with jobs._progress_lock:
        jobs._progress["beat"] = (5, 10)
    done = threading.Event()
    thread = threading.Thread(target=jobs._heartbeat, args=(database, "beat", done))
    thread.start()
    try:
        deadline = time.monotonic() + 10
        # The stored row, as another worker reads it (this process also has the live figure).
        while (stored := stored_job(database, "beat")).processedRows != 5:
            assert time.monotonic() < deadline, "no heartbeat within 10 s"
            time.sleep(0.02)
    finally:
        done.set()
        thread.join(10)
        with jobs._progress_lock:
            jobs._progress.pop("beat", None)
    assert stored.totalRows == 10
    assert utcnow() - stored.updatedAt < timedelta(minutes=1)


def stored_job(db: Database, job_id: str) -> Row[Any]:
    with db.read() as conn:
        return conn.execute(import_jobs.select().where(import_jobs.c.id == job_id)).one()
