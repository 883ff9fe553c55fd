"""What a black-box audit of the CLI found: its refusals are one line on standard error and an
exit code, never a traceback; its lists give every id and email whole, at any width."""

from __future__ import annotations

import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

from clientbook import cli
from clientbook.access import SYSTEM
from clientbook.cli import app
from clientbook.services import auth
from clientbook.services.runtime import Database
from tests.factories import make_user


def one_line_error(result: Result, *words: str) -> str:
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
    line = one_line_error(CliRunner().invoke(app, command), "CLIENTBOOK_DATABASE_URL")
    assert "s3cret" not in line  # the value may hold a password: never printed


def test_a_setting_that_is_not_a_number_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLIENTBOOK_PORT", "eighty")
    one_line_error(CliRunner().invoke(app, ["db", "upgrade"]), "configuration", "eighty")


LONG_EMAIL = "a.rather.long.address.for.the.billing.department@example-company.com.my"
LIST_COMMANDS = [["users", "list"], ["apikeys", "list"]]


def _user_and_key(database: Database) -> tuple[dict[str, str], str]:
    user = make_user(database, email=LONG_EMAIL, name="Nur Aisyah binti Abdul Rahman Al-Haddad")
    with database.transaction() as conn:
        key = auth.create_api_key(conn, SYSTEM, name="Warehouse stock sync, nightly").key
    return user, key["id"]


@pytest.mark.parametrize("command", LIST_COMMANDS, ids=" ".join)
def test_a_piped_list_is_tab_separated_with_every_value_whole(
    command: list[str], database: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLIENTBOOK_DATABASE_URL", database_url)
    monkeypatch.setattr(cli, "console", Console(width=40))  # not a terminal, and narrow
    user, key_id = _user_and_key(database)
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.output
    header, *rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert header[0] == "id" and all(len(row) == len(header) for row in rows)
    if command[0] == "users":
        assert [user["id"], LONG_EMAIL, user["name"]] in [row[:3] for row in rows]
    else:
        assert rows == [[key_id, "Warehouse stock sync, nightly", *rows[0][2:]]]


@pytest.mark.parametrize("command", LIST_COMMANDS, ids=" ".join)
def test_a_list_in_a_narrow_terminal_keeps_ids_whole(
    command: list[str], database: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLIENTBOOK_DATABASE_URL", database_url)
    terminal = Console(width=60, force_terminal=True, color_system=None)
    monkeypatch.setattr(cli, "console", terminal)
    user, key_id = _user_and_key(database)
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.output
    assert (user["id"] if command[0] == "users" else key_id) in result.stdout
    assert "…" not in result.stdout  # folded onto more lines, never cut


@pytest.mark.parametrize("limit", ["-5", "0"])
def test_users_list_refuses_a_limit_below_one(
    limit: str, database: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLIENTBOOK_DATABASE_URL", database_url)
    make_user(database)
    result = CliRunner().invoke(app, ["users", "list", "--limit", limit])
    assert result.exit_code == 2, result.output
    assert "--limit" in result.stderr and "example.com" not in result.stdout


def test_users_list_shows_at_most_limit_rows(
    database: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLIENTBOOK_DATABASE_URL", database_url)
    for _ in range(3):
        make_user(database)
    result = CliRunner().invoke(app, ["users", "list", "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 1 + 2  # the header and two rows
