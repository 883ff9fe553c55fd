"""`clientbook users invite EMAIL`: an invited account and a one-time link that works."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clientbook.cli import app
from clientbook.config import Settings
from clientbook.db import migrate
from clientbook.services import auth
from clientbook.services.runtime import open_database
from tests.factories import TEST_PASSWORD


def test_invite_prints_a_link_that_activates_the_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path}/cli.sqlite3"
    monkeypatch.setenv("CLIENTBOOK_DATABASE_URL", url)
    db = open_database(Settings(database_url=url))
    migrate.upgrade(db)
    result = CliRunner().invoke(app, ["users", "invite", "cli.person@example.com"])
    assert result.exit_code == 0, result.output
    token = re.search(r"/accept\?token=(\S+)", result.output).group(1)  # type: ignore[union-attr]
    signed = auth.accept_invitation(db, auth.ANONYMOUS, token, TEST_PASSWORD)
    assert signed.user["email"] == "cli.person@example.com"
    db.dispose()
