"""Schema changes only through migrations (SPEC §3)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.exc import DBAPIError

from clientbook.db.engine import Database

_SCRIPTS = Path(__file__).with_name("migrations")


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to `revision`, through the writer connection."""
    config = _config()
    with db.transaction() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


@cache
def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(db: Database) -> str | None:
    """The database's revision (None before the first migration). A plain read: `/readyz`
    asks on every probe, and Alembic's own context logs two lines each time."""
    try:
        with db.read() as conn:
            value = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    except DBAPIError:  # no alembic_version table: nothing migrated yet
        return None
    return None if value is None else str(value)


def is_current(db: Database) -> bool:
    return current_revision(db) == head_revision()
