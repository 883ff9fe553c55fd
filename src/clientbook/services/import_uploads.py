"""Where uploaded import files wait for their import, and their removal after a crash.

An import deletes its file when it ends; a server killed mid-import never gets there, and the
file (customers' personal data) would stay in the temporary directory for good. So uploads live
in one directory, each named after the process that received it, and `remove_orphaned_uploads`
(run at startup) deletes those whose process is gone.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO, Final

PREFIX: Final = "upload-"


def upload_directory() -> Path:
    path = Path(tempfile.gettempdir()) / "clientbook-imports"
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
    pid = os.getpid()
    return tempfile.NamedTemporaryFile(
        prefix=f"{PREFIX}{pid}-{_started(pid)}-", dir=upload_directory(), delete=False
    )


def owner_alive(name: str) -> bool:
    pid_text, started, *_rest = [*name.removeprefix(PREFIX).split("-"), "", ""]
    if not pid_text.isdigit():
        return False
    return _started(int(pid_text)) == started


def remove_orphaned_uploads() -> int:
    """Delete uploads whose receiving process no longer runs; returns how many."""
    removed = 0
    for path in upload_directory().glob(f"{PREFIX}*"):
        if not owner_alive(path.name):
            path.unlink(missing_ok=True)
            removed += 1
    return removed
