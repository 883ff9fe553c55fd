"""Backups and restores that check what they wrote (issue 9, item 1).

SQLite: the online backup API copies one consistent snapshot in a single step through a
read-only connection, so the server's one writer goes on (WAL readers never block it) and no
second connection writes or checkpoints the live file (SPEC §3). The copy is made
self-contained (`journal_mode=DELETE`), checked (`integrity_check`, `foreign_key_check`, the
full-text index) and only then renamed to its final name, so a backup file is whole or absent.

PostgreSQL: `pg_dump -Fc` of a snapshot exported by a repeatable-read transaction, in which
the rows are also counted; the counts go to a manifest beside the dump (`FILE.json`) that
`restore` compares with what it restored. The dump is read back whole (`pg_restore -f
/dev/null`) before it counts as written.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg

from clientbook.config import Settings
from clientbook.db.engine import normalise_url
from clientbook.db.tables import metadata
from clientbook.domain.errors import Conflict, DomainError, ValidationFailed

TABLES: Final = tuple(table.name for table in metadata.sorted_tables)
MANIFEST_SUFFIX: Final = ".json"
BACKUP_PREFIX: Final = "clientbook-"
_SUFFIXES: Final = {"sqlite": ".sqlite3", "postgresql": ".dump"}


class BackupFailed(DomainError):
    """A backup or restore could not be made or did not check out; nothing was replaced."""

    code = "backup_failed"


@dataclass(frozen=True)
class BackupReport:
    """What a backup or restore wrote: where, its row counts per table, what was checked."""

    path: Path
    database: str
    counts: dict[str, int]
    revision: str | None
    size_bytes: int
    seconds: float
    checks: list[str] = field(default_factory=list)


def default_filename(settings: Settings, when: datetime | None = None) -> str:
    """`clientbook-<UTC time to the ms>.sqlite3` (`.dump` on PostgreSQL): sorts in time order."""
    when = when or datetime.now(UTC)
    stamp = f"{when:%Y%m%dT%H%M%S}.{when.microsecond // 1000:03d}Z"
    return f"{BACKUP_PREFIX}{stamp}{_SUFFIXES[_dialect(settings)]}"


def _dialect(settings: Settings) -> str:
    return "sqlite" if settings.is_sqlite else "postgresql"


def create_backup(settings: Settings, output: Path) -> BackupReport:
    """Back up the configured database to `output` while the server may keep writing.

    The file appears under its final name only once it has been checked."""
    output = output.resolve()
    if output.exists():
        raise Conflict(f"{output} exists already", fields={"output": "exists already"})
    output.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if settings.is_sqlite:
        counts, revision, checks = _backup_sqlite(_sqlite_source(settings), output)
    else:
        counts, revision, checks = _backup_postgres(settings, output)
    return BackupReport(
        output, _dialect(settings), counts, revision, output.stat().st_size,
        time.perf_counter() - started, checks,
    )  # fmt: skip


def verify_backup(path: Path) -> BackupReport:
    """Check a backup file without restoring it (SQLite file or PostgreSQL dump)."""
    started = time.perf_counter()
    if not path.is_file():
        raise ValidationFailed({"file": "not found"}, f"{path} is not a file")
    if _is_sqlite_file(path):
        with _scratch_copy(path) as copy:
            counts, revision, checks = check_sqlite_file(copy)
        database = "sqlite"
    else:
        _read_dump_whole(path)
        manifest = _read_manifest(path)
        counts = manifest.get("counts", {}) if manifest else {}
        revision = manifest.get("revision") if manifest else None
        checks = ["archive readable"] + (["manifest present"] if manifest else [])
        database = "postgresql"
    return BackupReport(
        path, database, counts, revision, path.stat().st_size,
        time.perf_counter() - started, checks,
    )  # fmt: skip


def restore_backup(settings: Settings, path: Path, *, force: bool = False) -> BackupReport:
    """Restore `path` into the configured database, which must hold no rows unless `force`.

    SQLite: the file is checked first, then swapped in with one rename (no server may have the
    database open). PostgreSQL: `pg_restore` in one transaction, then the row counts are
    compared with the backup's manifest."""
    path = path.resolve()
    if not path.is_file():
        raise ValidationFailed({"file": "not found"}, f"{path} is not a file")
    started = time.perf_counter()
    if settings.is_sqlite:
        counts, revision, checks = _restore_sqlite(settings, path, force=force)
    else:
        counts, revision, checks = _restore_postgres(settings, path, force=force)
    return BackupReport(
        path, _dialect(settings), counts, revision, path.stat().st_size,
        time.perf_counter() - started, checks,
    )  # fmt: skip


# --- retention ---------------------------------------------------------------------------------


def list_backups(directory: Path) -> list[Path]:
    """The backups this module named in `directory`, oldest first."""
    if not directory.is_dir():
        return []
    found = [
        p
        for p in directory.iterdir()
        if p.name.startswith(BACKUP_PREFIX) and p.suffix in _SUFFIXES.values() and p.is_file()
    ]
    return sorted(found, key=lambda p: p.name)


def prune_backups(directory: Path, keep: int) -> list[Path]:
    """Delete the oldest backups beyond the newest `keep` (and their manifests)."""
    if keep < 1:
        raise ValidationFailed({"keep": "must be at least 1"})
    removed = list_backups(directory)[:-keep]
    for old in removed:
        old.unlink(missing_ok=True)
        _manifest_path(old).unlink(missing_ok=True)
    return removed


# --- SQLite ------------------------------------------------------------------------------------


def _sqlite_source(settings: Settings) -> Path:
    path = settings.sqlite_path()
    if path is None or not path.is_file():
        raise BackupFailed(f"there is no SQLite database at {path}")
    return path


def _backup_sqlite(source: Path, output: Path) -> tuple[dict[str, int], str | None, list[str]]:
    temporary = output.with_name(f".{output.name}.partial")
    temporary.unlink(missing_ok=True)
    try:
        # Read-only: this connection never writes or checkpoints the live file.
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
        try:
            dst = sqlite3.connect(temporary)
            try:
                # One step (pages=-1): one read transaction, one snapshot. Copying in steps
                # would restart whenever the server commits, and might never finish.
                src.backup(dst, pages=-1)
                dst.execute("PRAGMA journal_mode=DELETE")
            finally:
                dst.close()
        finally:
            src.close()
        counts, revision, checks = check_sqlite_file(temporary)
        _fsync(temporary)
        os.replace(temporary, output)
        _fsync_directory(output.parent)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return counts, revision, checks


def check_sqlite_file(path: Path) -> tuple[dict[str, int], str | None, list[str]]:
    """Integrity and foreign-key checks, the full-text index, row counts and the schema
    revision of a SQLite file that nothing else uses. Raises BackupFailed."""
    try:
        conn = sqlite3.connect(path, isolation_level=None)
    except sqlite3.Error as exc:
        raise BackupFailed(f"{path.name} cannot be opened as SQLite: {exc}") from None
    try:
        problems = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
        if problems != ["ok"]:
            raise BackupFailed(f"{path.name} is damaged: " + "; ".join(problems[:5]))
        orphans = conn.execute("PRAGMA foreign_key_check").fetchall()
        if orphans:
            table, rowid, parent, _ = orphans[0]
            raise BackupFailed(
                f"{path.name} has {len(orphans)} rows whose parent is missing "
                f"(first: {table} row {rowid} -> {parent})"
            )
        present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        missing = [t for t in (*TABLES, "alembic_version") if t not in present]
        if missing:
            raise BackupFailed(f"{path.name} is not a clientbook database (no {missing[0]} table)")
        checks = ["integrity_check ok", "foreign_key_check ok"]
        if "customers_fts" in present:
            conn.execute("INSERT INTO customers_fts(customers_fts) VALUES ('integrity-check')")
            checks.append("full-text index ok")
        counts = {t: int(conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]) for t in TABLES}
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupFailed(f"{path.name} is damaged: {exc}") from None
    finally:
        conn.close()
    return counts, row[0] if row else None, checks


def _is_sqlite_file(path: Path) -> bool:
    with open(path, "rb") as file:
        return file.read(16) == b"SQLite format 3\x00"


@contextmanager
def _scratch_copy(path: Path) -> Iterator[Path]:
    """Checks write (the FTS check, a journal): run them on a copy, never on the backup."""
    with tempfile.TemporaryDirectory(prefix="clientbook-verify-", dir=path.parent) as tmp:
        copy = Path(tmp) / path.name
        shutil.copyfile(path, copy)
        yield copy


def _restore_sqlite(
    settings: Settings, backup: Path, *, force: bool
) -> tuple[dict[str, int], str | None, list[str]]:
    target = settings.sqlite_path()
    if target is None:
        raise BackupFailed("clientbook needs a SQLite file, not an in-memory database")
    target = target.resolve()
    if not _is_sqlite_file(backup):
        raise BackupFailed(f"{backup.name} is not a SQLite backup (this database is SQLite)")
    users = processes_using(target)
    if users:
        raise Conflict(
            f"{target} is open in process {', '.join(map(str, users))}: stop the server first",
            fields={"database": "in use"},
        )
    if not force:
        _refuse_if_not_empty(_sqlite_row_total(target), target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Checked as the very file that will be renamed into place.
    temporary = target.with_name(f".{target.name}.restoring")
    try:
        shutil.copyfile(backup, temporary)
        counts, revision, checks = check_sqlite_file(temporary)
        _fsync(temporary)
        # An old WAL would be replayed into the restored file: it belongs to the old database.
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        os.replace(temporary, target)
        _fsync_directory(target.parent)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return counts, revision, [*checks, "renamed into place"]


def _sqlite_row_total(path: Path) -> int:
    if not path.exists():
        return 0
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        return sum(
            int(conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0])
            for t in TABLES
            if t in present
        )
    except sqlite3.DatabaseError:
        return 1  # unreadable is not empty: only --force may replace it
    finally:
        conn.close()


def _refuse_if_not_empty(rows: int, where: object) -> None:
    if rows:
        raise Conflict(
            f"{where} is not empty ({rows:,} rows): restore with --force to replace it",
            fields={"database": "not empty"},
        )


def processes_using(path: Path) -> list[int]:
    """Other processes that have the SQLite file (or its WAL) open, found through /proc."""
    names = {str(path), f"{path}-wal", f"{path}-shm"}
    found: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with suppress(OSError):
            if any(os.readlink(fd) in names for fd in (entry / "fd").iterdir()):
                found.append(int(entry.name))
    return sorted(found)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(path: Path) -> None:
    """Make a rename durable."""
    _fsync(path)


# --- PostgreSQL --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Postgres:
    """How the client tools reach the configured database, and which schema holds our tables."""

    conninfo: str
    schema: str | None  # from a `search_path` in the URL's options; else the whole database

    @classmethod
    def of(cls, settings: Settings) -> _Postgres:
        url = normalise_url(settings.database_url).replace("postgresql+psycopg://", "postgresql://")
        options = " ".join(parse_qs(urlsplit(url).query).get("options", []))
        found = re.search(r"-c\s*search_path\s*=\s*([^,\s]+)", unquote(options))
        return cls(url, found.group(1).strip('"') if found else None)

    def tool(self, name: str) -> str:
        path = shutil.which(name)
        if path is None:
            raise BackupFailed(f"`{name}` is not installed (Debian: apt install postgresql-client)")
        return path

    def scope(self) -> list[str]:
        return ["--schema", self.schema] if self.schema else []


def _run_tool(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip().splitlines()
        raise BackupFailed(f"{what} failed: " + " / ".join(message[-3:]))


def _count_postgres(conn: psycopg.Connection) -> dict[str, int]:
    present = {
        r[0]
        for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        ).fetchall()
    }
    counts: dict[str, int] = {}
    for table in TABLES:
        if table in present:
            row = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()
            counts[table] = int(row[0]) if row else 0
    return counts


def _pg_revision(conn: psycopg.Connection) -> str | None:
    with suppress(psycopg.Error):
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return str(row[0]) if row else None
    return None


def _backup_postgres(
    settings: Settings, output: Path
) -> tuple[dict[str, int], str | None, list[str]]:
    pg = _Postgres.of(settings)
    pg_dump = pg.tool("pg_dump")
    temporary = output.with_name(f".{output.name}.partial")
    try:
        with psycopg.connect(pg.conninfo, autocommit=True) as conn:
            # The counts and the dump see the very same snapshot.
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            row = conn.execute("SELECT pg_export_snapshot()").fetchone()
            assert row is not None
            counts = _count_postgres(conn)
            if "customers" not in counts:
                raise BackupFailed("the configured database holds no clientbook tables")
            revision = _pg_revision(conn)
            _run_tool(
                [pg_dump, "--format=custom", f"--snapshot={row[0]}", *pg.scope(),
                 "--file", str(temporary), "--dbname", pg.conninfo],
                "pg_dump",
            )  # fmt: skip
            conn.execute("COMMIT")
        _read_dump_whole(temporary)
        manifest = {"database": "postgresql", "counts": counts, "revision": revision,
                    "schema": pg.schema, "createdAt": datetime.now(UTC).isoformat()}  # fmt: skip
        _manifest_path(output).write_text(json.dumps(manifest, indent=2) + "\n")
        _fsync(temporary)
        os.replace(temporary, output)
        _fsync_directory(output.parent)
    except BaseException:
        temporary.unlink(missing_ok=True)
        if not output.exists():
            _manifest_path(output).unlink(missing_ok=True)
        raise
    return counts, revision, ["pg_dump snapshot", "archive readable", "row counts recorded"]


def _read_dump_whole(path: Path) -> None:
    """Decompress every part of a custom-format dump: a damaged archive fails here."""
    pg_restore = shutil.which("pg_restore")
    if pg_restore is None:
        raise BackupFailed("`pg_restore` is not installed (Debian: apt install postgresql-client)")
    _run_tool([pg_restore, "--file", os.devnull, str(path)], f"reading {path.name}")


def _manifest_path(path: Path) -> Path:
    return path.with_name(path.name + MANIFEST_SUFFIX)


def _read_manifest(path: Path) -> dict[str, Any] | None:
    manifest = _manifest_path(path)
    if not manifest.is_file():
        return None
    data = json.loads(manifest.read_text())
    return data if isinstance(data, dict) else None


def _restore_postgres(
    settings: Settings, backup: Path, *, force: bool
) -> tuple[dict[str, int], str | None, list[str]]:
    if _is_sqlite_file(backup):
        raise BackupFailed(f"{backup.name} is a SQLite backup, but this database is PostgreSQL")
    pg = _Postgres.of(settings)
    pg_restore = pg.tool("pg_restore")
    _read_dump_whole(backup)
    with psycopg.connect(pg.conninfo, autocommit=True) as conn:
        before = _count_postgres(conn)
    if not force:
        _refuse_if_not_empty(sum(before.values()), "the configured database")
    # What the dump holds is dropped first if it exists (tables left empty by `db upgrade`,
    # or old rows under --force), in the same transaction as the restore: a failure leaves
    # the database as it was.
    _run_tool(
        [pg_restore, "--single-transaction", "--exit-on-error", "--no-owner", "--clean",
         "--if-exists", "--dbname", pg.conninfo, str(backup)],
        "pg_restore",
    )  # fmt: skip
    with psycopg.connect(pg.conninfo, autocommit=True) as conn:
        counts = _count_postgres(conn)
        revision = _pg_revision(conn)
    checks = ["pg_restore in one transaction (constraints checked)"]
    manifest = _read_manifest(backup)
    if manifest is None:
        checks.append("no manifest beside the dump: row counts not compared")
        return counts, revision, checks
    expected = manifest.get("counts")
    if expected != counts:
        raise BackupFailed(
            f"restored row counts differ from the backup's manifest: {counts} vs {expected}"
        )
    return counts, revision, [*checks, "row counts match the manifest"]
