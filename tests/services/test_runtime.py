"""First start: the store reports ready, and a super_admin is created exactly once."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from clientbook.config import Settings
from clientbook.db import migrate
from clientbook.db.engine import Database
from clientbook.services import users
from clientbook.services.passwords import verify_password
from clientbook.services.runtime import bootstrap_admin, readiness


def test_first_start_creates_one_super_admin_with_a_printed_password(database: Database) -> None:
    created = bootstrap_admin(database)
    assert created is not None
    email, password = created
    with database.read() as conn:
        admin = users.find_user_by_email(conn, email)
    assert admin is not None and admin["role"] == "super_admin"
    assert verify_password(admin["passwordHash"], password)
    assert bootstrap_admin(database) is None


def test_first_admin_can_come_from_the_environment(database: Database) -> None:
    database.settings = replace(
        database.settings, admin_email="boss@example.my", admin_password="s3cret-passphrase"
    )
    created = bootstrap_admin(database)
    assert created == ("boss@example.my", "(from CLIENTBOOK_ADMIN_PASSWORD)")
    with database.read() as conn:
        admin = users.find_user_by_email(conn, "boss@example.my")
    assert admin is not None and verify_password(admin["passwordHash"], "s3cret-passphrase")


def test_readiness_reports_the_backend_and_current_migrations(database: Database) -> None:
    ready, body = readiness(database)
    assert ready
    assert body["status"] == "ready" and body["migrations"] == "current"
    assert body["database"] == database.dialect


def test_an_unmigrated_database_is_not_current_and_probes_log_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database(Settings(database_url=f"sqlite:///{tmp_path}/empty.sqlite3"))
    try:
        with caplog.at_level(logging.INFO):
            assert migrate.current_revision(db) is None
            assert not migrate.is_current(db)
        assert not [r for r in caplog.records if r.name.startswith("alembic")]
        migrate.upgrade(db)
        caplog.clear()
        with caplog.at_level(logging.INFO):
            assert migrate.is_current(db)
        assert not [r for r in caplog.records if r.name.startswith("alembic")]
    finally:
        db.dispose()
