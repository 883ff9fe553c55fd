"""Backups and restores check what they wrote (issue 9, item 1), on both backends."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from clientbook.cli import app as cli
from clientbook.config import Settings
from clientbook.db.engine import Database, normalise_url
from clientbook.domain.errors import Conflict
from clientbook.services import backup
from tests.factories import make_customer

CREATED = "SELECT count(*) FROM audit_logs WHERE action = 'customer.created'"


def counts_now(db: Database) -> dict[str, int]:
    with db.read() as conn:
        return {t: int(conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one())
                for t in backup.TABLES}  # fmt: skip


def created_audits(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(text(CREATED)).scalar_one())


@pytest.fixture
def scratch(database: Database, tmp_path: Path) -> Iterator[Settings]:
    """Settings for an empty database of the same backend (a new file, or a new PostgreSQL
    database reached with the same options, so the dump's schema lands in it)."""
    if database.is_sqlite:
        yield Settings(database_url=f"sqlite:///{tmp_path / 'restored.sqlite3'}")
        return
    parts = urlsplit(database.settings.database_url)
    name = f"clientbook_restore_{os.getpid()}_{time.monotonic_ns()}"
    admin = create_engine(normalise_url(database.settings.database_url.split("?")[0]),
                          isolation_level="AUTOCOMMIT")  # fmt: skip
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield Settings(database_url=urlunsplit(parts._replace(path=f"/{name}")))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_a_backup_is_checked_and_restores_into_an_empty_database(
    database: Database, scratch: Settings, tmp_path: Path
) -> None:
    for _ in range(3):
        make_customer(database, city="Ipoh")
    report = backup.create_backup(database.settings, tmp_path / "b" / "one.bak")
    assert report.counts == counts_now(database)
    assert report.counts["customers"] == 3
    assert report.revision is not None
    restored = backup.restore_backup(scratch, report.path)
    assert restored.counts == report.counts
    target = Database(scratch)
    try:
        assert counts_now(target) == report.counts
    finally:
        target.dispose()


def test_a_backup_taken_while_writes_go_on_is_one_consistent_instant(
    database: Database, scratch: Settings, tmp_path: Path
) -> None:
    stop = threading.Event()
    written: list[int] = []

    def write() -> None:
        deadline = time.monotonic() + 20  # bounded even if the test fails early
        while not stop.is_set() and time.monotonic() < deadline:
            make_customer(database)
            written.append(1)

    writers = [threading.Thread(target=write) for _ in range(2)]
    for thread in writers:
        thread.start()
    try:
        reports = []
        for n in range(3):
            while len(written) < 5 * (n + 1):
                time.sleep(0.01)
            reports.append(backup.create_backup(database.settings, tmp_path / f"live-{n}.bak"))
    finally:
        stop.set()
        for thread in writers:
            thread.join(30)
    sizes = [r.counts["customers"] for r in reports]
    assert sizes == sorted(sizes) and sizes[0] >= 5 and sizes[-1] <= len(written)
    # A customer and its audit row commit together: a torn copy would count them apart.
    last = backup.restore_backup(scratch, reports[-1].path)
    target = Database(scratch)
    try:
        assert created_audits(target) == last.counts["customers"] == sizes[-1]
    finally:
        target.dispose()


def test_restore_refuses_a_database_that_holds_rows_unless_forced(
    database: Database, tmp_path: Path
) -> None:
    make_customer(database, name="Before")
    taken = backup.create_backup(database.settings, tmp_path / "x.bak")
    make_customer(database, name="After")
    if database.is_sqlite:
        database.dispose()  # restore replaces the file: nothing may hold it open
    with pytest.raises(Conflict, match="not empty"):
        backup.restore_backup(database.settings, taken.path)
    restored = backup.restore_backup(database.settings, taken.path, force=True)
    assert restored.counts["customers"] == 1
    reopened = Database(database.settings)
    try:
        assert counts_now(reopened) == taken.counts
        assert created_audits(reopened) == 1
    finally:
        reopened.dispose()


def test_a_backup_is_not_written_over_an_existing_file(database: Database, tmp_path: Path) -> None:
    (tmp_path / "taken.bak").write_text("keep me")
    with pytest.raises(Conflict, match="exists already"):
        backup.create_backup(database.settings, tmp_path / "taken.bak")
    assert (tmp_path / "taken.bak").read_text() == "keep me"


def corrupt(path: Path) -> None:
    """Overwrite the middle of the file, as a bad disk or a cut copy would."""
    size = path.stat().st_size
    with open(path, "r+b") as file:
        file.seek(size // 2)
        file.write(b"\xa5" * 8192)


def test_a_damaged_sqlite_backup_is_caught_before_anything_is_replaced(
    tmp_path: Path, sqlite_template: Path
) -> None:
    live = Settings(database_url=f"sqlite:///{tmp_path / 'live.sqlite3'}")
    (tmp_path / "live.sqlite3").write_bytes(sqlite_template.read_bytes())
    db = Database(live)
    for _ in range(40):
        make_customer(db, notes={"text": "x" * 2000})
    db.dispose()
    taken = backup.create_backup(live, tmp_path / "good.sqlite3")
    corrupt(taken.path)
    with pytest.raises(backup.BackupFailed, match="damaged"):
        backup.verify_backup(taken.path)
    target = Settings(database_url=f"sqlite:///{tmp_path / 'target.sqlite3'}")
    with pytest.raises(backup.BackupFailed, match="damaged"):
        backup.restore_backup(target, taken.path)
    assert not (tmp_path / "target.sqlite3").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_sqlite_restore_refuses_a_database_a_server_has_open(
    tmp_path: Path, sqlite_template: Path
) -> None:
    path = tmp_path / "open.sqlite3"
    path.write_bytes(sqlite_template.read_bytes())
    settings = Settings(database_url=f"sqlite:///{path}")
    taken = backup.create_backup(settings, tmp_path / "b.sqlite3")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         f"import sqlite3, sys, time; c = sqlite3.connect({str(path)!r}); "
         "c.execute('select 1 from users'); print('open', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"open"
        with pytest.raises(Conflict, match=f"process {holder.pid}: stop the server first"):
            backup.restore_backup(settings, taken.path, force=True)
    finally:
        holder.kill()
        holder.wait(10)
    backup.restore_backup(settings, taken.path, force=True)


def test_a_damaged_postgresql_dump_is_caught(database: Database, tmp_path: Path) -> None:
    if database.is_sqlite:
        pytest.skip("a PostgreSQL dump")
    make_customer(database, notes={"text": "y" * 4000})
    taken = backup.create_backup(database.settings, tmp_path / "pg.dump")
    assert (tmp_path / "pg.dump.json").is_file()
    data = taken.path.read_bytes()
    taken.path.write_bytes(data[: len(data) * 2 // 3])  # a cut-off copy
    with pytest.raises(backup.BackupFailed):
        backup.verify_backup(taken.path)
    with pytest.raises(backup.BackupFailed):
        backup.restore_backup(database.settings, taken.path, force=True)
    assert counts_now(database)["customers"] == 1  # untouched


def test_retention_keeps_the_newest(tmp_path: Path) -> None:
    names = [f"clientbook-2026010{n}T000000.000Z.sqlite3" for n in range(1, 6)]
    for name in names:
        (tmp_path / name).write_text("")
    (tmp_path / "unrelated.sqlite3").write_text("")
    removed = backup.prune_backups(tmp_path, 2)
    assert [p.name for p in removed] == names[:3]
    assert sorted(p.name for p in tmp_path.iterdir()) == [*names[3:], "unrelated.sqlite3"]


def test_the_cli_backs_up_prints_the_counts_and_restores(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_customer(database)
    monkeypatch.setenv("CLIENTBOOK_DATABASE_URL", database.settings.database_url)
    runner = CliRunner()
    done = runner.invoke(cli, ["backup", "--dir", str(tmp_path), "--keep", "1"])
    assert done.exit_code == 0, done.output
    checked = "integrity_check ok" if database.is_sqlite else "archive readable"
    printed = " ".join(done.output.split())  # Rich wraps at the terminal's width
    assert "customers" in printed and checked in printed
    (taken,) = backup.list_backups(tmp_path)
    if database.is_sqlite:
        database.dispose()
    refused = runner.invoke(cli, ["restore", str(taken)])
    assert refused.exit_code == 5
    assert "--force" in refused.output
    forced = runner.invoke(cli, ["restore", str(taken), "--force"])
    assert forced.exit_code == 0, forced.output
