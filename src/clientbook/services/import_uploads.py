"""Where uploaded import files wait for their import, where an XLSX export builds its
workbook, and their removal after a crash.

An import deletes its file when it ends, and an export its scratch folder; a server killed
half-way never gets there, and the files (customers' personal data) would stay in the temporary
directory for good. So both live in one directory, each named after the process that made it,
and `remove_orphaned_uploads` (run at startup) deletes those whose process is gone.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Final

DIRECTORY: Final = "clientbook-imports"  # in the temporary directory ($TMPDIR)
PREFIX: Final = "upload-"
EXPORT_PREFIX: Final = "export-"


def upload_directory() -> Path:
    path = Path(tempfile.gettempdir()) / DIRECTORY
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def _started(pid: int) -> str:
    """When process `pid` started (clock ticks since boot): with the pid, one process for good,
    since a pid alone is reused (a restarted container's server gets the same small pid)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "0"


def new_upload() -> IO[bytes]:
    """An open, empty file for an upload, kept after closing (the import deletes it)."""
    return tempfile.NamedTemporaryFile(prefix=_owned(PREFIX), dir=upload_directory(), delete=False)


def new_export_directory() -> Path:
    """An empty folder for one export's scratch files; the export removes it when done."""
    return Path(tempfile.mkdtemp(prefix=_owned(EXPORT_PREFIX), dir=upload_directory()))


def _owned(prefix: str) -> str:
    pid = os.getpid()
    return f"{prefix}{pid}-{_started(pid)}-"


def owner_alive(name: str) -> bool:
    owner = name.removeprefix(EXPORT_PREFIX) if name.startswith(EXPORT_PREFIX) else name
    pid_text, started, *_rest = [*owner.removeprefix(PREFIX).split("-"), "", ""]
    if not pid_text.isdigit():
        return False
    return _started(int(pid_text)) == started


def remove_orphaned_uploads() -> int:
    """Delete uploads and export folders whose process no longer runs; returns how many."""
    removed = 0
    for path in upload_directory().iterdir():
        if path.name.startswith((PREFIX, EXPORT_PREFIX)) and not owner_alive(path.name):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed += 1
    return removed
