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
    "CLIENTBOOK_METRICS_TOKEN": "bearer token /metrics requires; unset: /metrics answers "
    "loopback clients only",
    "CLIENTBOOK_MAX_BODY_KB": "largest JSON or form request body in KiB (default 1024; 413 above)",
    "CLIENTBOOK_RATE_LIMIT_PER_CREDENTIAL": "requests per minute per API key or session, per "
    "process (default 0: off)",
    "CLIENTBOOK_RATE_LIMIT_PER_ADDRESS": "requests per minute per client address, per process "
    "(default 0: off)",
    "CLIENTBOOK_SHUTDOWN_GRACE_SECONDS": "seconds a stopping server gives in-flight requests, "
    "then running imports, to finish (default 20)",
    "CLIENTBOOK_HEADER_TIMEOUT_SECONDS": "seconds a client has to send a request's whole "
    "header block before `serve` closes the connection (default 30)",
    "CLIENTBOOK_BACKUP_DIR": "directory of scheduled backups and of `clientbook backup`'s "
    "default-named files",
    "CLIENTBOOK_BACKUP_INTERVAL": "time between scheduled backups made by `serve`: 3600, 90s, "
    "30m, 6h, 1d (default off)",
    "CLIENTBOOK_BACKUP_KEEP": "scheduled backups kept in CLIENTBOOK_BACKUP_DIR (default 7)",
}


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


DATABASE_URL_FORMS = "sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DATABASE"


def check_database_url(url: str) -> str:
    """`url`, or ValueError naming CLIENTBOOK_DATABASE_URL (never its value: it may hold a
    password) when nothing could open it: a scheme other than SQLite's or PostgreSQL's, text
    that is not a URL, a driver SQLAlchemy does not have, an in-memory SQLite database."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    scheme, _, driver = url.partition("://")[0].partition("+")
    if scheme not in ("sqlite", "postgresql", "postgres"):
        raise ValueError(
            f"CLIENTBOOK_DATABASE_URL is not a SQLite or PostgreSQL URL; use {DATABASE_URL_FORMS}"
        )
    try:
        parsed = make_url(url)
        if driver:  # without one, clientbook picks the driver itself
            parsed.get_dialect()
    except (ArgumentError, ValueError) as exc:
        message = f"CLIENTBOOK_DATABASE_URL cannot be used ({exc}); use {DATABASE_URL_FORMS}"
        raise ValueError(message) from None
    if scheme == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise ValueError("CLIENTBOOK_DATABASE_URL must name a SQLite file (sqlite:///PATH)")
    return url


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(name: str, raw: str | None) -> int | None:
    """Seconds from `3600`, `90s`, `30m`, `6h` or `1d`; None when unset, empty, 0 or `off`."""
    text = (raw or "").strip().lower()
    if text in ("", "0", "off"):
        return None
    number, unit = (text[:-1], text[-1]) if text[-1] in _UNITS else (text, "s")
    if not number.isdigit() or int(number) == 0:
        raise ValueError(f"{name} must be a number of seconds or like 30m, 6h, 1d (got {raw!r})")
    return int(number) * _UNITS[unit]


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
    metrics_token: str | None = None
    max_body_bytes: int = 1024 * 1024
    rate_limit_per_credential: int = 0
    rate_limit_per_address: int = 0
    shutdown_grace_seconds: int = 20
    header_timeout_seconds: int = 30
    backup_dir: Path | None = None
    backup_interval_seconds: int | None = None
    backup_keep: int = 7
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        secure = env.get("CLIENTBOOK_SECURE_COOKIES")
        synchronous = env.get("CLIENTBOOK_SQLITE_SYNCHRONOUS", "FULL").upper()
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError("CLIENTBOOK_SQLITE_SYNCHRONOUS must be FULL or NORMAL")
        return cls(
            database_url=check_database_url(env.get("CLIENTBOOK_DATABASE_URL") or cls.database_url),
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
            metrics_token=env.get("CLIENTBOOK_METRICS_TOKEN") or None,
            max_body_bytes=_int("CLIENTBOOK_MAX_BODY_KB", 1024) * 1024,
            rate_limit_per_credential=_int("CLIENTBOOK_RATE_LIMIT_PER_CREDENTIAL", 0),
            rate_limit_per_address=_int("CLIENTBOOK_RATE_LIMIT_PER_ADDRESS", 0),
            shutdown_grace_seconds=_int(
                "CLIENTBOOK_SHUTDOWN_GRACE_SECONDS", cls.shutdown_grace_seconds
            ),
            header_timeout_seconds=_int(
                "CLIENTBOOK_HEADER_TIMEOUT_SECONDS", cls.header_timeout_seconds
            ),
            backup_dir=Path(backup_dir)
            if (backup_dir := env.get("CLIENTBOOK_BACKUP_DIR"))
            else None,
            backup_interval_seconds=parse_interval(
                "CLIENTBOOK_BACKUP_INTERVAL", env.get("CLIENTBOOK_BACKUP_INTERVAL")
            ),
            backup_keep=_int("CLIENTBOOK_BACKUP_KEEP", cls.backup_keep),
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        path = self.database_url.split(":///", 1)[1]
        return None if path in ("", ":memory:") else Path(path)
