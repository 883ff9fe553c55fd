"""Uploaded import files do not outlive a crash (found by benchmarks/reliability/kill_batch.py:
a server killed mid-import left the upload, customers' personal data, in the temp directory)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from clientbook.access import SYSTEM
from clientbook.app import create_app
from clientbook.db.engine import Database
from clientbook.services import exports, import_uploads
from tests.factories import make_customer


def _upload_of_a_dead_process() -> Path:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    path = import_uploads.upload_directory() / f"{import_uploads.PREFIX}{child.stdout.strip()}-1-x"
    path.write_bytes(b"name,email\nAda,ada@example.com\n")
    return path


def test_server_start_removes_the_uploads_of_a_killed_server(database: Database) -> None:
    orphan = _upload_of_a_dead_process()
    with TestClient(create_app(db=database)):
        assert not orphan.exists()


def test_uploads_of_running_processes_are_kept() -> None:
    with import_uploads.new_upload() as handle:
        handle.write(b"in progress")
    live = Path(handle.name)
    try:
        orphan = _upload_of_a_dead_process()
        assert import_uploads.remove_orphaned_uploads() >= 1
        assert live.exists() and not orphan.exists()
    finally:
        live.unlink(missing_ok=True)


def test_a_reused_pid_does_not_keep_a_dead_servers_upload() -> None:
    """Same pid, another start time (a restarted container's server): the file is an orphan."""
    path = import_uploads.upload_directory() / f"{import_uploads.PREFIX}{os.getpid()}-1-x"
    path.write_bytes(b"old")
    import_uploads.remove_orphaned_uploads()
    assert not path.exists()


# --- an XLSX export's scratch folder (xlsxwriter writes its rows and the zip to files) ----------


def _scratch_folders() -> set[str]:
    folder = import_uploads.upload_directory()
    return {p.name for p in folder.glob(f"{import_uploads.EXPORT_PREFIX}{os.getpid()}-*")}


def test_an_xlsx_export_leaves_no_file_behind_done_or_abandoned(database: Database) -> None:
    for _ in range(3):
        make_customer(database)
    before = _scratch_folders()
    plan = exports.plan_export(SYSTEM, [], fmt="xlsx")
    assert b"".join(exports.stream_export(database, SYSTEM, plan)).startswith(b"PK")
    assert _scratch_folders() == before
    chunks = exports.stream_export(database, SYSTEM, exports.plan_export(SYSTEM, [], fmt="xlsx"))
    next(chunks)  # the client goes away after the first chunk
    assert len(_scratch_folders() - before) == 1
    chunks.close()
    assert _scratch_folders() == before


def test_the_export_folder_of_a_killed_server_is_removed() -> None:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    name = f"{import_uploads.EXPORT_PREFIX}{child.stdout.strip()}-1-abc"
    orphan = import_uploads.upload_directory() / name
    orphan.mkdir()
    (orphan / "customers.xlsx").write_bytes(b"PK")
    live = import_uploads.new_export_directory()
    try:
        assert import_uploads.remove_orphaned_uploads() >= 1
        assert live.is_dir() and not orphan.exists()
    finally:
        live.rmdir()
