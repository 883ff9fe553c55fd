"""What the CLI says about a database it cannot use, and what it prints into a pipe: one line
and an exit code, never a traceback; tab-separated lines and no progress bar frames."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from clientbook.cli import UNUSABLE_DATABASE, app
from clientbook.config import Settings
from clientbook.db import migrate
from clientbook.services.runtime import open_database
from tests.services.test_cli_errors import one_line_error

# Commands that need the schema: reads, writes, the import and the export.
COMMANDS = [["users", "list"], ["apikeys", "list"], ["export", "--output", "-"], ["import"]]
UNREACHABLE = "postgresql://clientbook:s3cret@127.0.0.1:1/clientbook"  # nothing listens on 1


def refused(result: Result, *words: str) -> str:
    """One line on standard error naming `words`, exit code 7, no traceback."""
    assert result.exit_code == UNUSABLE_DATABASE, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert all(word in lines[0] for word in words), lines[0]
    return lines[0]


def _invoke(command: list[str], tmp_path: Path) -> Result:
    if command == ["import"]:
        source = tmp_path / "in.csv"
        source.write_text("name\nAda\n")
        command = ["import", str(source)]
    return CliRunner().invoke(app, command)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_missing_database_file_is_refused_and_not_created(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "never.sqlite3"
    monkeypatch.setenv("CLIENTBOOK_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.chdir(tmp_path)
    refused(_invoke(command, tmp_path), str(path), "clientbook db upgrade")
    assert not path.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["in.csv"])  # no export file


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_never_migrated_database_says_to_upgrade(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "empty.sqlite3"
    path.touch()
    monkeypatch.setenv("CLIENTBOOK_DATABASE_URL", f"sqlite:///{path}")
    refused(_invoke(command, tmp_path), "no tables", "clientbook db upgrade")


@pytest.mark.parametrize("command", [*COMMANDS, ["db", "upgrade"]], ids=" ".join)
def test_an_unreachable_postgresql_is_one_line(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLIENTBOOK_DATABASE_URL", UNREACHABLE)
    line = refused(
        _invoke(command, tmp_path), "cannot reach the database", "CLIENTBOOK_DATABASE_URL"
    )
    assert "s3cret" not in line


def test_db_upgrade_still_creates_a_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path}/new.sqlite3"
    monkeypatch.setenv("CLIENTBOOK_DATABASE_URL", url)
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    db = open_database(Settings(database_url=url))
    try:
        assert migrate.is_current(db)
    finally:
        db.dispose()


@pytest.fixture
def migrated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    url = f"sqlite:///{tmp_path}/cli.sqlite3"
    monkeypatch.setenv("CLIENTBOOK_DATABASE_URL", url)
    db = open_database(Settings(database_url=url))
    migrate.upgrade(db)
    db.dispose()
    return tmp_path


def test_a_backup_path_that_cannot_be_written_is_one_line(migrated: Path) -> None:
    (migrated / "a-file").write_text("")
    target = migrated / "a-file" / "backup.sqlite3"
    result = CliRunner().invoke(app, ["backup", "--output", str(target)])
    one_line_error(result, "--output", "not a directory")


def test_a_piped_import_prints_tab_separated_lines_and_no_progress_bar(migrated: Path) -> None:
    source = migrated / "in.csv"
    source.write_text("name,email\nAda,ada@x.io\n,bad\n")
    result = CliRunner().invoke(app, ["import", str(source)])
    assert result.exit_code == 2, result.output
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    assert lines[:2] == [
        ["rows", "created", "updated", "unchanged", "failed", "applied"],
        ["2", "0", "0", "0", "1", "False"],
    ]
    assert lines[2] == ["row", "field", "error"]
    assert {tuple(line[:2]) for line in lines[3:]} == {("2", "name"), ("2", "email")}
    assert not any(char in result.output for char in "━─│┃┏")
    assert "Importing" not in result.stderr


def test_a_piped_export_writes_no_progress_bar(migrated: Path) -> None:
    result = CliRunner().invoke(app, ["export", "--output", "-"])
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == "Exported 0 customers to standard output."
