"""Scheduled backups with retention, made by one server process (issue 9, item 1)."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from clientbook.config import parse_interval
from clientbook.db.engine import Database, normalise_url
from clientbook.services import backup, upkeep
from tests.factories import make_customer


def scheduled(database: Database, directory: Path, *, keep: int = 2) -> Database:
    settings = replace(
        database.settings, backup_dir=directory, backup_interval_seconds=3600, backup_keep=keep
    )
    return Database(settings)


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_due_backup_is_made_once_and_old_ones_are_deleted(
    database: Database, tmp_path: Path
) -> None:
    make_customer(database)
    db = scheduled(database, tmp_path, keep=2)
    try:
        first = upkeep.backup_if_due(db)
        assert first is not None and first.counts["customers"] == 1
        assert upkeep.backup_if_due(db) is None  # the newest is younger than the interval
        made = [first.path]
        for _ in range(2):
            age(made[-1], 3601)
            report = upkeep.backup_if_due(db)
            assert report is not None
            made.append(report.path)
    finally:
        db.dispose()
    assert backup.list_backups(tmp_path) == made[-2:]
    assert not made[0].exists()


def test_no_schedule_means_no_backup(database: Database, tmp_path: Path) -> None:
    db = Database(replace(database.settings, backup_dir=tmp_path / "b", backup_keep=1))
    try:
        assert upkeep.backup_if_due(db) is None
    finally:
        db.dispose()
    assert not (tmp_path / "b").exists()


def test_only_the_worker_holding_the_lock_makes_the_scheduled_backup(
    database: Database, tmp_path: Path
) -> None:
    if database.is_sqlite:
        pytest.skip("one process serves SQLite: no lock")
    other = create_engine(normalise_url(database.settings.database_url))
    db = scheduled(database, tmp_path)
    try:
        with other.connect() as conn, conn.begin():
            # A sibling worker is making the backup right now.
            lock = "SELECT pg_advisory_xact_lock(:k, hashtext(current_schema()))"
            conn.execute(text(lock), {"k": upkeep.BACKUP_LOCK})
            assert upkeep.backup_if_due(db) is None
        assert upkeep.backup_if_due(db) is not None
    finally:
        db.dispose()
        other.dispose()


def test_the_upkeep_thread_makes_the_backup_in_the_background(
    database: Database, tmp_path: Path
) -> None:
    db = scheduled(database, tmp_path)
    runner = upkeep.Upkeep(db, tick=0.05)
    runner.start()
    try:
        deadline = time.monotonic() + 30
        while not backup.list_backups(tmp_path):
            assert time.monotonic() < deadline, "no scheduled backup within 30 s"
            time.sleep(0.05)
    finally:
        runner.stop()
        db.dispose()
    assert len(backup.list_backups(tmp_path)) == 1


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [(None, None), ("", None), ("off", None), ("0", None), ("3600", 3600), ("90s", 90),
     ("30m", 1800), ("6h", 21600), ("1d", 86400)],
)  # fmt: skip
def test_backup_intervals_are_read_in_seconds_minutes_hours_or_days(
    raw: str | None, seconds: int | None
) -> None:
    assert parse_interval("CLIENTBOOK_BACKUP_INTERVAL", raw) == seconds


@pytest.mark.parametrize("raw", ["-5", "1w", "m", "1.5h", "soon"])
def test_a_bad_backup_interval_names_the_setting(raw: str) -> None:
    with pytest.raises(ValueError, match="CLIENTBOOK_BACKUP_INTERVAL"):
        parse_interval("CLIENTBOOK_BACKUP_INTERVAL", raw)
