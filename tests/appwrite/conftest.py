"""Fixtures of the Appwrite face's tests: `live`, a running server per backend (see live.py).

The modules that use it are marked `xdist_group("appwrite")`: one worker runs them all, so
that each live server starts once per run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from clientbook.access import SYSTEM
from clientbook.config import Settings
from clientbook.db import migrate
from clientbook.db.engine import Database
from clientbook.services import auth
from tests.appwrite.live import Live, serve
from tests.conftest import BACKENDS, postgres_schema


@pytest.fixture(scope="session")
def _postgres_schema_url(worker_id: str) -> Iterator[str]:
    with postgres_schema(f"clientbook_appwrite_{worker_id}_{os.getpid()}") as url:
        yield url


@pytest.fixture(scope="session", params=BACKENDS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    """The live server of one backend (every test that uses it runs on each backend)."""
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("appwrite") / "clientbook.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("_postgres_schema_url")
    db = Database(Settings(database_url=url))
    if request.param != "sqlite":
        migrate.upgrade(db)
    with db.transaction() as conn:
        key = auth.create_api_key(conn, SYSTEM, name="appwrite tests").secret
    try:
        for endpoint in serve(db):
            yield Live(request.param, endpoint, db, key)
    finally:
        db.dispose()
