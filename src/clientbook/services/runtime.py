"""Opening the store and knowing whether it is ready: what the faces need to start."""

from __future__ import annotations

import sqlite3
from typing import Any

from clientbook.access import SYSTEM
from clientbook.config import Settings
from clientbook.db import migrate
from clientbook.db.engine import Database
from clientbook.services import users
from clientbook.services.passwords import hash_password

__all__ = ["Database", "open_database"]


def open_database(settings: Settings | None = None) -> Database:
    return Database(settings or Settings.from_env())


def upgrade_schema(db: Database) -> None:
    migrate.upgrade(db)


def readiness(db: Database) -> tuple[bool, dict[str, Any]]:
    """SPEC §12: `{"status": "ready", "database", "version", "migrations": "current"}`."""
    try:
        current = migrate.is_current(db)
        if db.is_sqlite:
            version = sqlite3.sqlite_version
        else:
            with db.read() as conn:
                version = str(conn.exec_driver_sql("SHOW server_version").scalar())
    except Exception as exc:  # any failure to reach the database means "not ready"
        return False, {"status": "unavailable", "database": db.dialect, "reason": str(exc)}
    body = {
        "status": "ready" if current else "unavailable",
        "database": db.dialect,
        "version": version,
        "migrations": "current" if current else "pending",
    }
    if not current:
        body["reason"] = "database migrations are not applied: run `clientbook db upgrade`"
    return current, body


def bootstrap_admin(db: Database) -> tuple[str, str] | None:
    """On first start with no super_admin, create one. Returns (email, generated password) to
    print once, or None when nothing was generated."""
    with db.read() as conn:
        if users.has_super_admin(conn):
            return None
    settings = db.settings
    email, password, generated = users.first_admin_credentials(
        settings.admin_email, settings.admin_password
    )
    password_hash = hash_password(password)
    with db.transaction() as conn:
        created = users.ensure_first_admin(conn, SYSTEM, email=email, password_hash=password_hash)
    if created is None:
        return None
    return (email, password if generated else "(from CLIENTBOOK_ADMIN_PASSWORD)")
