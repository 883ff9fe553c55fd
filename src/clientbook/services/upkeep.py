"""What a server process does by itself from time to time (issue 9): scheduled backups with
retention, and, with several workers on PostgreSQL, failing the import jobs of a worker that
died while its siblings run on.

With several workers only one makes a scheduled backup: each tick, a worker takes a
PostgreSQL advisory lock (transaction-scoped, so a dead worker never keeps it) and makes the
backup only when the newest one in `CLIENTBOOK_BACKUP_DIR` is older than the interval. SQLite
is served by one process, which needs no lock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from sqlalchemy import text

from clientbook.config import Settings
from clientbook.domain.errors import ValidationFailed
from clientbook.services import backup
from clientbook.services.import_jobs import fail_interrupted_jobs
from clientbook.services.runtime import Database

log = logging.getLogger("clientbook.upkeep")
TICK_SECONDS: Final = 30.0
# The scheduled backup's advisory lock: "ckbp", and the schema, so that clientbooks sharing a
# PostgreSQL database (one schema each) do not take turns at each other's backups.
BACKUP_LOCK: Final = 0x636B_6270


def check_settings(settings: Settings) -> None:
    """A schedule needs a directory: say so before the server starts."""
    if settings.backup_interval_seconds and settings.backup_dir is None:
        raise ValidationFailed(
            {"CLIENTBOOK_BACKUP_DIR": "is required when CLIENTBOOK_BACKUP_INTERVAL is set"}
        )
    if settings.backup_keep < 1:
        raise ValidationFailed({"CLIENTBOOK_BACKUP_KEEP": "must be at least 1"})


@contextmanager
def _only_one_process(db: Database) -> Iterator[bool]:
    if db.is_sqlite:
        yield True
        return
    with db.transaction() as conn:
        taken = conn.execute(
            text("SELECT pg_try_advisory_xact_lock(:key, hashtext(current_schema()))"),
            {"key": BACKUP_LOCK},
        )
        yield bool(taken.scalar())


def backup_if_due(db: Database) -> backup.BackupReport | None:
    """Make the scheduled backup when the newest one is older than the interval, then delete
    all but the newest `CLIENTBOOK_BACKUP_KEEP`. None when nothing was due (or another worker
    is making it)."""
    settings = db.settings
    interval, directory = settings.backup_interval_seconds, settings.backup_dir
    if not interval or directory is None:
        return None
    with _only_one_process(db) as mine:
        if not mine:
            return None
        existing = backup.list_backups(directory)
        if existing and time.time() - existing[-1].stat().st_mtime < interval:
            return None
        report = backup.create_backup(settings, directory / backup.default_filename(settings))
        removed = backup.prune_backups(directory, settings.backup_keep)
    log.info(
        "scheduled backup written: %s (%d customers, %.1f s); %d old backups deleted",
        report.path.name, report.counts.get("customers", 0), report.seconds, len(removed),
    )  # fmt: skip
    return report


class Upkeep:
    """A daemon thread per server process; started and stopped by the app's lifespan."""

    def __init__(self, db: Database, *, tick: float = TICK_SECONDS) -> None:
        self.db = db
        self.tick = tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def needed(self) -> bool:
        """SQLite's one process fails interrupted jobs at startup; only a schedule needs it."""
        return not self.db.is_sqlite or bool(self.db.settings.backup_interval_seconds)

    def start(self) -> None:
        if self.needed and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="upkeep", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current step (a backup in progress is finished, not cut short)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run_once(self) -> None:
        if not self.db.is_sqlite:
            failed = fail_interrupted_jobs(self.db)
            if failed:
                log.warning("marked %d import jobs of a stopped worker as failed", failed)
        backup_if_due(self.db)

    def _loop(self) -> None:
        while not self._stop.wait(self.tick):
            try:
                self.run_once()
            except Exception:
                log.exception("upkeep step failed; trying again in %.0f s", self.tick)
