"""`clientbook serve --workers N`: several processes on PostgreSQL, refused on SQLite (SPEC §3)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from clientbook.cli import app as cli
from tests.conftest import POSTGRES_URL
from tests.ports import free_port

CLIENTBOOK = str(Path(sys.executable).with_name("clientbook"))


def children(pid: int) -> list[int]:
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        found += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    return found


def test_serve_refuses_several_workers_on_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLIENTBOOK_DATABASE_URL", f"sqlite:///{tmp_path / 'one.sqlite3'}")
    done = CliRunner().invoke(cli, ["serve", "--workers", "2"])
    assert done.exit_code == 2
    assert "one process" in done.output and "PostgreSQL" in done.output
    assert not (tmp_path / "one.sqlite3").exists()  # refused before touching anything


def test_a_backup_schedule_without_a_directory_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLIENTBOOK_DATABASE_URL", f"sqlite:///{tmp_path / 'one.sqlite3'}")
    monkeypatch.setenv("CLIENTBOOK_BACKUP_INTERVAL", "6h")
    monkeypatch.delenv("CLIENTBOOK_BACKUP_DIR", raising=False)
    done = CliRunner().invoke(cli, ["serve"])
    assert done.exit_code == 2
    assert "CLIENTBOOK_BACKUP_DIR" in done.output


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="CLIENTBOOK_TEST_POSTGRES_URL is not set")
def test_two_workers_start_on_postgresql_and_answer(postgres_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "CLIENTBOOK_DATABASE_URL": postgres_url,
        "CLIENTBOOK_ADMIN_EMAIL": "workers-admin@example.com",
        "CLIENTBOOK_ADMIN_PASSWORD": "workers admin password",
    }
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [CLIENTBOOK, "serve", "--workers", "2", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        body = wait_ready(f"http://127.0.0.1:{port}/readyz", server, tmp_path / "serve.log")
        assert body["status"] == "ready" and body["database"] == "postgresql"
        deadline = time.monotonic() + 30
        while len(children(server.pid)) < 2:  # uvicorn's supervisor and its two workers
            assert time.monotonic() < deadline, "the two workers did not start"
            time.sleep(0.1)
        # Many requests over fresh connections: every one answered, whichever worker takes it.
        for _ in range(20):
            assert wait_ready(f"http://127.0.0.1:{port}/readyz", server, tmp_path / "serve.log")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)
        log.close()
    assert server.returncode == 0, (tmp_path / "serve.log").read_text()[-2000:]


def wait_ready(url: str, server: subprocess.Popen[bytes], log: Path) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while True:
        assert server.poll() is None, log.read_text()[-2000:]
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body: dict[str, object] = orjson.loads(response.read())
                return body
        except OSError:
            assert time.monotonic() < deadline, "no answer within 60 s"
            time.sleep(0.2)
