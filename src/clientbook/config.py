"""Settings from `CLIENTBOOK_*` environment variables, with safe defaults.

Every setting is listed in SETTINGS with its meaning; docs/configuration.md is checked against it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

SETTINGS: dict[str, str] = {
    "CLIENTBOOK_DATABASE_URL": "SQLAlchemy URL; default sqlite:///./data/clientbook.sqlite3",
    "CLIENTBOOK_SQLITE_SYNCHRONOUS": "FULL (default) or NORMAL (may lose the last seconds on "
    "power loss)",
    "CLIENTBOOK_HOST": "address `serve` listens on (default 127.0.0.1)",
    "CLIENTBOOK_PORT": "port `serve` listens on (default 8000)",
    "CLIENTBOOK_ADMIN_EMAIL": "email of the first super_admin, created on first start",
    "CLIENTBOOK_ADMIN_PASSWORD": "password of the first super_admin (else one is generated)",
    "CLIENTBOOK_SESSION_DAYS": "days a sign-in session lasts (default 14)",
    "CLIENTBOOK_DEFAULT_REGION": "phone region used when a number has no country code (MY)",
    "CLIENTBOOK_MAX_UPLOAD_MB": "largest accepted upload or request body in MiB (default 50)",
    "CLIENTBOOK_MAX_IMPORT_ROWS": "most rows one import may hold (default 2,000,000)",
    "CLIENTBOOK_SECURE_COOKIES": "force the Secure flag on cookies (default: when https)",
    "CLIENTBOOK_APPWRITE_PROJECT_ID": "project id the /v1 face answers to (default clientbook)",
    "CLIENTBOOK_APPWRITE_DATABASE_ID": "database id of the /v1 face (default console-db)",
    "CLIENTBOOK_LOG_LEVEL": "log level (default INFO)",
}


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///./data/clientbook.sqlite3"
    sqlite_synchronous: str = "FULL"
    host: str = "127.0.0.1"
    port: int = 8000
    admin_email: str | None = None
    admin_password: str | None = None
    session_days: int = 14
    default_region: str = "MY"
    max_upload_bytes: int = 50 * 1024 * 1024
    max_import_rows: int = 2_000_000
    secure_cookies: bool | None = None
    appwrite_project_id: str = "clientbook"
    appwrite_database_id: str = "console-db"
    log_level: str = "INFO"
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        secure = env.get("CLIENTBOOK_SECURE_COOKIES")
        synchronous = env.get("CLIENTBOOK_SQLITE_SYNCHRONOUS", "FULL").upper()
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError("CLIENTBOOK_SQLITE_SYNCHRONOUS must be FULL or NORMAL")
        return cls(
            database_url=env.get("CLIENTBOOK_DATABASE_URL") or cls.database_url,
            sqlite_synchronous=synchronous,
            host=env.get("CLIENTBOOK_HOST", cls.host),
            port=_int("CLIENTBOOK_PORT", cls.port),
            admin_email=env.get("CLIENTBOOK_ADMIN_EMAIL") or None,
            admin_password=env.get("CLIENTBOOK_ADMIN_PASSWORD") or None,
            session_days=_int("CLIENTBOOK_SESSION_DAYS", cls.session_days),
            default_region=env.get("CLIENTBOOK_DEFAULT_REGION", cls.default_region),
            max_upload_bytes=_int("CLIENTBOOK_MAX_UPLOAD_MB", 50) * 1024 * 1024,
            max_import_rows=_int("CLIENTBOOK_MAX_IMPORT_ROWS", cls.max_import_rows),
            secure_cookies=None if secure is None else secure.lower() in ("1", "true", "yes"),
            appwrite_project_id=env.get("CLIENTBOOK_APPWRITE_PROJECT_ID", "clientbook"),
            appwrite_database_id=env.get("CLIENTBOOK_APPWRITE_DATABASE_ID", "console-db"),
            log_level=env.get("CLIENTBOOK_LOG_LEVEL", "INFO").upper(),
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        path = self.database_url.split(":///", 1)[1]
        return None if path in ("", ":memory:") else Path(path)
