"""`clientbook import FILE` on files it refuses whole: an error naming `file`, never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clientbook.cli import app
from clientbook.config import Settings
from clientbook.db import migrate
from clientbook.services.runtime import Database, open_database

DEEP = 1_000  # levels: past Python's recursion limit


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path}/cli.sqlite3"
    monkeypatch.setenv("CLIENTBOOK_DATABASE_URL", url)
    database = open_database(Settings(database_url=url))
    migrate.upgrade(database)
    yield database
    database.dispose()


def test_json_nested_past_the_recursion_limit_is_refused(db: Database, tmp_path: Path) -> None:
    source = tmp_path / "deep.json"
    source.write_text('[{"name": "A", "notes": ' + '{"a": ' * DEEP + "1" + "}" * DEEP + "}]")
    result = CliRunner().invoke(app, ["import", str(source)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2
    assert "file: is nested too deeply" in result.output.replace("\n", " ")
