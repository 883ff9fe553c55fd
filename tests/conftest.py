"""Test databases: built by running the migrations once per worker, fresh for every test.

Each test that asks for `database` runs on SQLite and, where CLIENTBOOK_TEST_POSTGRES_URL is
set, on PostgreSQL too (each xdist worker in a schema of its own).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

from clientbook.config import Settings
from clientbook.db import migrate
from clientbook.db.engine import Database, normalise_url
from clientbook.db.tables import metadata

POSTGRES_URL = os.environ.get("CLIENTBOOK_TEST_POSTGRES_URL")
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(not POSTGRES_URL, reason="CLIENTBOOK_TEST_POSTGRES_URL is not set"),
        ],
    ),
]


def settings_for(url: str, **overrides: object) -> Settings:
    return Settings(database_url=url, **overrides)  # type: ignore[arg-type]


@contextmanager
def postgres_schema(name: str) -> Iterator[str]:
    """A new, empty PostgreSQL schema `name` (dropped again afterwards): the URL that uses it."""
    assert POSTGRES_URL
    admin = create_engine(normalise_url(POSTGRES_URL))
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options={quote(f'-csearch_path={name}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        admin.dispose()


@contextmanager
def unmigrated_postgres(name: str) -> Iterator[Database]:
    """A database on a new, empty PostgreSQL schema `name`: no tables until it is migrated."""
    with postgres_schema(name) as url:
        db = Database(settings_for(url))
        try:
            yield db
        finally:
            db.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    db = Database(settings_for(f"sqlite:///{path}"))
    migrate.upgrade(db)
    db.checkpoint()
    db.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url(worker_id: str) -> Iterator[str]:
    # The pid keeps concurrent runs on one machine out of each other's way.
    with postgres_schema(f"clientbook_test_{worker_id}_{os.getpid()}") as url:
        db = Database(settings_for(url))
        migrate.upgrade(db)
        db.dispose()
        yield url


def _empty_postgres(db: Database) -> None:
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with db.transaction() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A freshly migrated, empty database for this test, on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "clientbook.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    db = Database(settings_for(url))
    _empty_postgres(db)
    db.dispose()
    return url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(settings_for(database_url))
    yield db
    db.dispose()
