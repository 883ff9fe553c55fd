"""Imports as jobs (SPEC §8): small ones run while the caller waits, large ones in the background.

Every import gets a row in `import_jobs` (status, counts, the report), so `GET /api/imports/{id}`
answers for any of them. An import of more than `JOB_THRESHOLD_ROWS` rows runs in a background
thread of the server process and the caller polls.

Trade-off (SQLite): an import is one transaction — all rows or none, and a crash or restart
leaves nothing half-applied — so while a job writes it holds the one writer and other writes
wait behind it (up to the writer wait, then 503 `busy`). It takes the writer only for its second
pass (`imports.engine`): reading and validating the file, the larger part, comes first, without
it. Committing in batches would free the writer between batches but give up the all-or-nothing
promise. On PostgreSQL other writes go on beside the job.

Progress (`processedRows`) lives in this process's memory while the job runs: the job's own
transaction holds the writer, so it cannot also write progress rows on SQLite. Another server
process (PostgreSQL with several workers) sees the stored status, and the counts once done.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import orjson
from sqlalchemy import func, insert, select, update

from clientbook.access import Principal, require_authenticated
from clientbook.db.tables import import_jobs
from clientbook.domain.errors import DomainError, NotFound, ValidationFailed
from clientbook.domain.ids import new_id
from clientbook.domain.timestamps import format_datetime, utcnow
from clientbook.services.imports import (
    ImportOptions,
    ImportReport,
    open_source,
    run_import,
    source_columns,
)
from clientbook.services.runtime import Database

JOB_THRESHOLD_ROWS: Final = 5_000
# An import answered with 422 names the fields of this many failed rows (the job's report
# lists them all, up to `MAX_LISTED_FAILURES`).
ERROR_ROWS: Final = 100
STATES: Final = ("queued", "running", "succeeded", "failed")
log = logging.getLogger("clientbook.imports")
HEARTBEAT_SECONDS = 15.0  # PostgreSQL: a running job's row is touched this often...
HEARTBEAT_STALE: Final = timedelta(seconds=90)  # ...and counts as dead after this long without


def process_start(pid: int) -> str:
    """When process `pid` started (boot id and clock ticks since boot), "" when unknown. With
    the pid it names one process for good: a pid alone is reused (a restarted container's
    workers get the same small pids)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
    except OSError:
        return ""
    return f"{boot}-{stat.rsplit(')', 1)[1].split()[19]}"


# Which process runs a job: host, pid and start time.
RUNNER: Final = f"{socket.gethostname()}:{os.getpid()}:{process_start(os.getpid())}"
_progress: dict[str, tuple[int, int]] = {}
_progress_lock = threading.Lock()
_GIVE_UP_SECONDS: Final = 10.0  # a job checks for a stop between batches


class RowsFailed(ValidationFailed):
    """An all-or-nothing import with failed rows: nothing was written."""

    code = "rows_failed"


class Interrupted(DomainError):
    """The server is shutting down: a job still running gives up (its transaction rolls back)."""

    code = "interrupted"


@dataclass(frozen=True)
class _Running:
    db: Database
    thread: threading.Thread
    stop: threading.Event


_running: dict[str, _Running] = {}  # this process's job threads, by job id
# Every job this process has created and not yet finished, in the foreground or not: a sweep
# (this or a sibling process's start, the upkeep thread) leaves them alone.
_active: set[str] = set()


@dataclass(frozen=True)
class Submitted:
    """A submitted import: its job, whether it has finished already, and for a finished one
    that failed on a rule (failed rows, a file too large...), that failure: what the caller
    answers with (SPEC §4: a validation failure is 422, nothing written)."""

    job: dict[str, Any]
    finished: bool
    error: DomainError | None = None


def submit_import(
    db: Database,
    principal: Principal | None,
    path: Path,
    *,
    filename: str | None,
    options: ImportOptions,
    background: bool = True,
) -> Submitted:
    """Run an uploaded file's import, or start it as a job when it is large. Takes ownership
    of `path` (deleted when the import is over). A file that cannot be read, or whose columns
    are not all customer fields, is refused here (ValidationFailed), before any job exists."""
    principal = require_authenticated(principal)
    try:
        source = open_source(path, filename=filename, fmt=options.format, sheet=options.sheet)
        large = source.count(JOB_THRESHOLD_ROWS) > JOB_THRESHOLD_ROWS and background
        source_columns(source)  # the header, which counting read
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    job_id = _create_job(db, principal, source.format, options)
    if not large:
        error = _run(db, principal, job_id, path, filename, options)
        return Submitted(get_job(db, principal, job_id), finished=True, error=error)
    stop = threading.Event()
    thread = threading.Thread(
        target=_run,
        args=(db, principal, job_id, path, filename, options, stop),
        name=f"import-{job_id}",
        daemon=True,
    )
    with _progress_lock:
        _running[job_id] = _Running(db, thread, stop)
    thread.start()
    return Submitted(get_job(db, principal, job_id), finished=False)


def stop_jobs(db: Database, *, grace: float) -> int:
    """At shutdown: let `db`'s running jobs finish for up to `grace` seconds, then make the rest
    give up at their next batch (rolled back whole, marked failed `interrupted`). Returns how
    many were interrupted. A job that does not give up in time is left to the next start's
    `fail_interrupted_jobs`."""
    with _progress_lock:
        mine = [job for job in _running.values() if job.db is db]
    deadline = time.monotonic() + grace
    for job in mine:
        job.thread.join(max(0.0, deadline - time.monotonic()))
    late = [job for job in mine if job.thread.is_alive()]
    for job in late:
        job.stop.set()
    for job in late:
        job.thread.join(_GIVE_UP_SECONDS)
    return len(late)


def _create_job(db: Database, principal: Principal, fmt: str, options: ImportOptions) -> str:
    job_id = new_id()
    now = utcnow()
    stored_options = {**options.to_json(), "runner": RUNNER}
    with _progress_lock:
        _active.add(job_id)  # before the row exists: no sweep may see it as abandoned
    with db.transaction() as conn:
        conn.execute(
            insert(import_jobs),
            [
                {
                    "id": job_id,
                    "status": "queued",
                    "format": fmt,
                    "options": orjson.dumps(stored_options).decode(),
                    "processedRows": 0,
                    "actorType": principal.kind,
                    "actorId": principal.id,
                    "createdAt": now,
                    "updatedAt": now,
                }
            ],
        )
    return job_id


def _set(db: Database, job_id: str, **values: Any) -> None:
    with db.transaction() as conn:
        conn.execute(
            update(import_jobs)
            .where(import_jobs.c.id == job_id)
            .values(**values, updatedAt=utcnow())
        )


def _run(
    db: Database,
    principal: Principal,
    job_id: str,
    path: Path,
    filename: str | None,
    options: ImportOptions,
    stop: threading.Event | None = None,
) -> DomainError | None:
    """Run one import to its end and store the outcome; never raises (a job thread's end).
    Returns the rule the import failed on, if any (an unexpected error is logged instead)."""

    def progress(processed: int, total: int) -> None:
        if stop is not None and stop.is_set():
            raise Interrupted("The server stopped while this import ran; nothing was imported")
        with _progress_lock:
            _progress[job_id] = (processed, total)

    beating = threading.Event()
    try:
        _set(db, job_id, status="running")
        if not db.is_sqlite:  # on SQLite the import's transaction holds the one writer
            threading.Thread(
                target=_heartbeat, args=(db, job_id, beating), name=f"beat-{job_id}", daemon=True
            ).start()
        source = open_source(path, filename=filename, fmt=options.format, sheet=options.sheet)
        report = run_import(db, principal, source, options, import_id=job_id, progress=progress)
        return _finish(db, job_id, report)
    except DomainError as exc:
        _fail(db, job_id, {"code": exc.code, "message": exc.message, "fields": exc.fields})
        return exc
    except Exception:
        log.exception("import job %s failed", job_id)
        _fail(db, job_id, {"code": "internal_error", "message": "The import stopped on an error"})
        return None
    finally:
        beating.set()
        path.unlink(missing_ok=True)
        with _progress_lock:
            _progress.pop(job_id, None)
            _running.pop(job_id, None)
            _active.discard(job_id)


def _heartbeat(db: Database, job_id: str, done: threading.Event) -> None:
    """PostgreSQL: touch the running job's row, with its progress, so that other workers show
    the progress and a sweep can tell a job whose process died (on any host)."""
    while not done.wait(HEARTBEAT_SECONDS):
        with _progress_lock:
            live = _progress.get(job_id)
        values = {} if live is None else {"processedRows": live[0], "totalRows": live[1]}
        try:
            with db.transaction() as conn:
                conn.execute(
                    update(import_jobs)
                    .where(import_jobs.c.id == job_id, import_jobs.c.status == "running")
                    .values(**values, updatedAt=utcnow())
                )
        except Exception:
            log.warning("could not record the heartbeat of import job %s", job_id, exc_info=True)


def _finish(db: Database, job_id: str, report: ImportReport) -> RowsFailed | None:
    """Store a finished import's report; a rejected one (rows failed without skipErrors) is
    a failed job, and returned as its failure."""
    rejected = not report.applied and not report.options.dry_run
    failure = _rows_failed(report) if rejected else None
    error = None if failure is None else {"code": failure.code, "message": failure.message}
    _set(
        db,
        job_id,
        status="failed" if rejected else "succeeded",
        totalRows=report.total_rows,
        processedRows=report.processed_rows,
        report=orjson.dumps(report.to_json()).decode(),
        error=None if error is None else orjson.dumps(error).decode(),
        finishedAt=utcnow(),
    )
    return failure


def _rows_failed(report: ImportReport) -> RowsFailed:
    """The failure of a rejected import, naming the fields of its first failed rows as
    `rows[<row>].<field>` (`rows[<row>]` for a row unreadable as a whole)."""
    fields: dict[str, str] = {}
    for failure in report.failures[:ERROR_ROWS]:
        for name, message in failure.errors.items():
            suffix = "" if name == "row" else f".{name}"
            fields[f"rows[{failure.row}]{suffix}"] = message
    message = (
        f"{report.failed} row(s) failed, so nothing was imported "
        "(import with skipErrors to import the valid rows)"
    )
    return RowsFailed(fields, message)


def _fail(db: Database, job_id: str, error: dict[str, Any]) -> None:
    try:
        _set(db, job_id, status="failed", error=orjson.dumps(error).decode(), finishedAt=utcnow())
    except Exception:
        log.exception("could not record the failure of import job %s", job_id)


def count_by_status(db: Database) -> dict[str, int]:
    """How many jobs are in each state (every process's jobs: they are rows)."""
    query = select(import_jobs.c.status, func.count()).group_by(import_jobs.c.status)
    with db.read() as conn:
        return {str(status): int(count) for status, count in conn.execute(query)}


def get_job(db: Database, principal: Principal | None, job_id: str) -> dict[str, Any]:
    """A job as JSON; a user sees only their own jobs (others' are not found)."""
    principal = require_authenticated(principal)
    query = select(import_jobs).where(import_jobs.c.id == job_id)
    if not principal.is_staff:
        query = query.where(import_jobs.c.actorId == principal.id)
    with db.read() as conn:
        row = conn.execute(query).mappings().first()
    if row is None:
        raise NotFound("Import not found")
    return present_job(dict(row))


def present_job(row: dict[str, Any]) -> dict[str, Any]:
    options = orjson.loads(row["options"] or "{}")
    options.pop("runner", None)
    processed, total = row["processedRows"], row["totalRows"]
    with _progress_lock:
        live = _progress.get(row["id"])
    if live is not None and row["status"] == "running":
        processed, total = live
    return {
        "$id": row["id"],
        "status": row["status"],
        "format": row["format"],
        "options": options,
        "processedRows": processed,
        "totalRows": total,
        "report": None if row["report"] is None else orjson.loads(row["report"]),
        "error": None if row["error"] is None else orjson.loads(row["error"]),
        "$createdAt": format_datetime(row["createdAt"]),
        "$updatedAt": format_datetime(row["updatedAt"]),
        "finishedAt": format_datetime(row["finishedAt"]),
    }


def _alive(db: Database, job_id: str, runner: str, last_beat: datetime) -> bool:
    """Whether the process that runs a job still does."""
    host, _, rest = runner.partition(":")
    pid_text, _, started = rest.partition(":")
    if host != socket.gethostname():
        # Only PostgreSQL has processes on other hosts; their heartbeat tells.
        return not db.is_sqlite and utcnow() - last_beat < HEARTBEAT_STALE
    if not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        with _progress_lock:
            return job_id in _active
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    # Another process with that pid is not the one that ran the job.
    return not started or process_start(pid) in ("", started)


def fail_interrupted_jobs(db: Database) -> int:
    """Mark jobs whose process is gone as failed (at startup, and from time to time with
    several workers: a sibling's live jobs are left alone). Their import was one transaction,
    so the database holds all of it (it committed before the status was written) or none of it;
    the status then says `failed` either way, and the audit log's `import.completed` row, written
    in the import's own transaction, tells which. Returns how many were marked."""
    query = select(import_jobs.c.id, import_jobs.c.options, import_jobs.c.updatedAt).where(
        import_jobs.c.status.in_(("queued", "running"))
    )
    with db.read() as conn:
        candidates = conn.execute(query).all()
    gone = [
        job_id
        for job_id, options, beat in candidates
        if not _alive(db, job_id, str(orjson.loads(options or "{}").get("runner", "")), beat)
    ]
    if not gone:
        return 0
    error = orjson.dumps(
        {"code": "interrupted", "message": "The server stopped while this import ran"}
    ).decode()
    now = utcnow()
    with db.transaction() as conn:
        conn.execute(
            update(import_jobs)
            .where(import_jobs.c.id.in_(gone), import_jobs.c.status.in_(("queued", "running")))
            .values(status="failed", error=error, finishedAt=now, updatedAt=now)
        )
    return len(gone)
