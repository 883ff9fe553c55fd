"""Graceful shutdown (issue 9): in-flight requests finish, and import jobs still running when
the server stops either finish within the grace period or give up whole and are marked failed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import func, select

from clientbook.access import SYSTEM
from clientbook.db.engine import Database
from clientbook.db.tables import customers
from clientbook.services import import_jobs
from clientbook.services.imports import ImportOptions
from tests.api.conftest import Api
from tests.appwrite.live import free_port
from tests.conftest import settings_for

ROWS = import_jobs.JOB_THRESHOLD_ROWS + 1_000  # large enough to run as a background job


def big_csv(count: int = ROWS) -> bytes:
    rows = "".join(f"Person {n},p{n}@x.io\n" for n in range(count))
    return f"name,email\n{rows}".encode()


def start_job(db: Database) -> str:
    handle = tempfile.NamedTemporaryFile(suffix=".csv", delete=False)  # noqa: SIM115
    with handle:
        handle.write(big_csv())
    submitted = import_jobs.submit_import(
        db, SYSTEM, Path(handle.name), filename="people.csv", options=ImportOptions()
    )
    assert not submitted.finished
    return str(submitted.job["$id"])


def count_customers(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(customers)).scalar_one())


def test_a_job_still_running_after_the_grace_gives_up_whole(database: Database) -> None:
    job_id = start_job(database)
    assert import_jobs.stop_jobs(database, grace=0) == 1
    job = import_jobs.get_job(database, SYSTEM, job_id)
    assert job["status"] == "failed"
    assert job["error"]["code"] == "interrupted"
    assert count_customers(database) == 0


def test_a_job_that_finishes_within_the_grace_succeeds(database: Database) -> None:
    job_id = start_job(database)
    assert import_jobs.stop_jobs(database, grace=120) == 0
    assert import_jobs.get_job(database, SYSTEM, job_id)["status"] == "succeeded"
    assert count_customers(database) == ROWS


def test_the_app_stops_its_jobs_when_it_shuts_down(database_url: str) -> None:
    db = Database(settings_for(database_url, shutdown_grace_seconds=0))
    try:
        with Api(db) as api:
            headers = api.key_headers()
            # Use the key once first: its first use records `lastUsedAt` after the response,
            # and the test client waits for that write, which waits for the import's writer.
            api.get("/api/auth/me", headers=headers)
            files = {"file": ("people.csv", big_csv(10 * ROWS), "text/csv")}
            started = api.post("/api/customers/import", files=files, headers=headers)
            assert started.status_code == 202, started.text
            job_id = started.json()["job"]["$id"]
        job = import_jobs.get_job(db, SYSTEM, job_id)
        assert (job["status"], job["error"]["code"]) == ("failed", "interrupted")
        assert count_customers(db) == 0
    finally:
        db.dispose()


@pytest.mark.slow
def test_a_stopping_server_finishes_the_request_in_flight(tmp_path: Path) -> None:
    """SIGTERM while a sign-in hashes its password: the answer still comes, then it exits."""
    port = free_port()
    env = {
        **os.environ,
        "CLIENTBOOK_DATABASE_URL": f"sqlite:///{tmp_path}/serve.sqlite3",
        "CLIENTBOOK_ADMIN_EMAIL": "admin@example.com",
        "CLIENTBOOK_ADMIN_PASSWORD": "a long admin password",
        "CLIENTBOOK_PORT": str(port),
    }
    command = [str(Path(sys.executable).with_name("clientbook")), "serve"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1).close()
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline and server.poll() is None, "no server"
                time.sleep(0.2)
        answers: list[int] = []

        def sign_in() -> None:
            request = urllib.request.Request(
                f"{base}/api/auth/login",
                data=b'{"email": "admin@example.com", "password": "a long admin password"}',
                headers={"content-type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                answers.append(response.status)

        client = threading.Thread(target=sign_in)
        client.start()
        time.sleep(0.3)  # the request is in, hashing (argon2id, m=64 MiB: longer than this)
        server.send_signal(signal.SIGTERM)
        client.join(30)
        assert answers == [200]
        # uvicorn ends by re-raising the signal it caught, once the answer is out.
        assert server.wait(30) in (0, -signal.SIGTERM)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        if server.stderr is not None:
            server.stderr.close()
        if server.stdout is not None:
            server.stdout.close()
