"""The CLI's refusals: one line on standard error and an exit code, never a traceback."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner, Result

from clientbook.cli import app


def _one_line_error(result: Result, *words: str) -> str:
    """A refusal: exit code 2, one line on standard error naming `words`, no traceback."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert all(word in lines[0] for word in words), lines[0]
    return lines[0]


BAD_DATABASE_URLS = [
    "bogus://x",
    "mysql://root@localhost/clientbook",
    "not a url",
    "postgresql+bogus://clientbook:s3cret@localhost/clientbook",
    "postgresql://clientbook:s3cret@localhost:port/clientbook",
    "sqlite://",
    "sqlite:///:memory:",
]
# One of each kind of command: the check is made once, before any of them.
COMMANDS = [
    ["db", "upgrade"],
    ["users", "list"],
    ["apikeys", "list"],
    ["export"],
    ["backup"],
    ["restore", "nothing.sqlite3"],
    ["serve"],
    ["demo", "--customers", "1"],
]


@pytest.mark.parametrize("url", BAD_DATABASE_URLS)
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_database_url_that_cannot_be_used_is_a_configuration_error(
    url: str, command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLIENTBOOK_DATABASE_URL", url)
    line = _one_line_error(CliRunner().invoke(app, command), "CLIENTBOOK_DATABASE_URL")
    assert "s3cret" not in line  # the value may hold a password: never printed


def test_a_setting_that_is_not_a_number_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLIENTBOOK_PORT", "eighty")
    _one_line_error(CliRunner().invoke(app, ["db", "upgrade"]), "configuration", "eighty")
