"""The documentation keeps up with the code: every setting and every CLI command is described."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from clientbook.cli import app
from clientbook.config import SETTINGS

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_the_code_reads_is_listed_and_documented() -> None:
    used = set()
    for path in (ROOT / "src").rglob("*.py"):
        used |= set(re.findall(r"CLIENTBOOK_[A-Z_]+", path.read_text()))
    documented = (ROOT / "docs" / "configuration.md").read_text()
    assert used <= set(SETTINGS)
    for name in SETTINGS:
        assert f"`{name}`" in documented, name


def test_every_cli_command_is_in_the_readme() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    group = typer.main.get_command(app)
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        for sub in getattr(command, "commands", None) or [""]:
            # `users create/list/set-role` style: the group and the subcommand on one line.
            pattern = re.compile(rf"\b{name}\b.*\b{sub}\b" if sub else rf"`{name}\b")
            assert any(pattern.search(line) for line in lines), f"clientbook {name} {sub}"
