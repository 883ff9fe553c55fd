"""Databases with no schema at all, for the migration tests of this folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from clientbook.db.engine import Database
from tests.conftest import BACKENDS, settings_for, unmigrated_postgres


@pytest.fixture(params=BACKENDS)
def unmigrated(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database with no schema at all, on each backend."""
    if request.param == "sqlite":
        db = Database(settings_for(f"sqlite:///{tmp_path / 'old.sqlite3'}"))
        yield db
        db.dispose()
        return
    with unmigrated_postgres(f"clientbook_migration_{os.getpid()}") as db:
        yield db


@pytest.fixture
def unmigrated_postgresql(database_url: str) -> Iterator[Database]:
    """A PostgreSQL schema of its own with nothing in it, for a module that runs on PostgreSQL
    alone (through `database_url`, which skips it with a reason where PostgreSQL is not set)."""
    with unmigrated_postgres(f"clientbook_unmigrated_{os.getpid()}") as db:
        yield db
