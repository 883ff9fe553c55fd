"""`clientbook import FILE` and `clientbook export`: exit codes, the report, files written."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from clientbook.cli import TERMINAL_FAILURES, app
from clientbook.config import Settings
from clientbook.db import migrate
from clientbook.db.tables import customers
from clientbook.domain import errors
from clientbook.services import exports as export_service
from clientbook.services.runtime import Database, open_database
from tests.services.test_cli_errors import one_line_error


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path}/cli.sqlite3"
    monkeypatch.setenv("CLIENTBOOK_DATABASE_URL", url)
    database = open_database(Settings(database_url=url))
    migrate.upgrade(database)
    yield database
    database.dispose()


def _count(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(customers)).scalar_one())


def _flat(output: str) -> str:
    """What the command printed, without the line breaks Rich adds at the terminal's width."""
    return output.replace("\n", "")


def _csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_import_creates_the_rows_and_export_writes_them_back(db: Database, tmp_path: Path) -> None:
    source = _csv(tmp_path / "in.csv", [
        {"Name": "Aisha Rahman", "E-mail": "aisha@example.com", "Phone": "+60 12-345 6789"},
        {"Name": "Chen Wei", "E-mail": "chen@example.com", "Phone": ""},
    ])  # fmt: skip
    runner = CliRunner()
    imported = runner.invoke(app, ["import", str(source)])
    assert imported.exit_code == 0, imported.output
    assert _count(db) == 2

    target = tmp_path / "out.csv"
    exported = runner.invoke(app, ["export", "--format", "csv", "--output", str(target)])
    assert exported.exit_code == 0, exported.output
    assert f"Exported 2 customers to {target}." in _flat(exported.output)
    with target.open(encoding="utf-8-sig") as file:
        rows = {row["email"]: row for row in csv.DictReader(file)}
    assert set(rows) == {"aisha@example.com", "chen@example.com"}
    assert rows["aisha@example.com"]["phone"] == "+60 12-345 6789"


def test_failed_rows_exit_2_change_nothing_and_are_listed(db: Database, tmp_path: Path) -> None:
    bad = TERMINAL_FAILURES + 10
    rows = [{"name": f"Person {n}", "email": f"person{n}@example.com"} for n in range(3)]
    rows += [{"name": f"Broken {n}", "email": "not an address"} for n in range(bad)]
    source = _csv(tmp_path / "in.csv", rows)
    report = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["import", str(source), "--report", str(report)])

    assert result.exit_code == 2, result.output
    assert _count(db) == 0  # all rows or none
    assert f"{bad} row(s) failed; nothing was imported" in _flat(result.output)
    # The terminal shows the first rows, and says where the rest are.
    assert f"... and 10 more failed rows (in {report})" in _flat(result.output)
    written = json.loads(report.read_text())
    assert written["failed"] == bad and written["applied"] is False
    assert [f["row"] for f in written["failures"]] == list(range(4, 4 + bad))
    assert set(written["failures"][0]["errors"]) == {"email"}


def test_a_long_list_of_failures_points_to_the_report_option(db: Database, tmp_path: Path) -> None:
    rows = [{"name": f"Broken {n}", "email": "@"} for n in range(TERMINAL_FAILURES + 1)]
    result = CliRunner().invoke(app, ["import", str(_csv(tmp_path / "in.csv", rows))])
    assert result.exit_code == 2
    assert "... and 1 more failed rows (with --report FILE)." in _flat(result.output)


def test_dry_run_reports_and_writes_nothing(db: Database, tmp_path: Path) -> None:
    source = _csv(tmp_path / "in.csv", [{"name": "Dana Ong", "email": "dana@example.com"}])
    result = CliRunner().invoke(app, ["import", str(source), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "dry run" in _flat(result.output)
    assert _count(db) == 0


DEEP = 1_000  # levels: past Python's recursion limit


def test_json_nested_past_the_recursion_limit_is_refused(db: Database, tmp_path: Path) -> None:
    # A whole file refused names `file`, never a traceback.
    source = tmp_path / "deep.json"
    source.write_text('[{"name": "A", "notes": ' + '{"a": ' * DEEP + "1" + "}" * DEEP + "}]")
    result = CliRunner().invoke(app, ["import", str(source)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2
    assert "file: is nested too deeply" in result.output.replace("\n", " ")


def test_export_output_that_is_a_directory_is_refused(db: Database, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["export", "--format", "csv", "--output", str(tmp_path)])
    one_line_error(result, "--output", str(tmp_path))


def test_export_output_under_a_file_is_refused(db: Database, tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")
    target = tmp_path / "plain" / "x.csv"
    result = CliRunner().invoke(app, ["export", "--format", "csv", "--output", str(target)])
    one_line_error(result, "--output", str(target))
    assert {p.name for p in tmp_path.iterdir() if not p.name.startswith("cli.sqlite3")} == {"plain"}


def test_export_output_in_a_missing_directory_creates_it(db: Database, tmp_path: Path) -> None:
    # As `backup --output` does.
    target = tmp_path / "new" / "dir" / "x.csv"
    result = CliRunner().invoke(app, ["export", "--format", "csv", "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")


def test_a_failed_export_leaves_no_partial_file(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> Iterator[bytes]:
        yield b"id,name\r\n"
        raise errors.BadQuery("the store went away")

    monkeypatch.setattr(export_service, "stream_export", broken)
    out = tmp_path / "out"
    out.mkdir()
    (out / "kept.csv").write_bytes(b"an older export")
    for name in ("new.csv", "kept.csv"):
        result = CliRunner().invoke(app, ["export", "--format", "csv", "--output", str(out / name)])
        assert result.exit_code == 2, result.output
    assert [p.name for p in out.iterdir()] == ["kept.csv"]
    assert (out / "kept.csv").read_bytes() == b"an older export"


def test_an_unknown_import_format_is_bad_input_like_an_unknown_export_format(
    db: Database, tmp_path: Path
) -> None:
    source = _csv(tmp_path / "in.csv", [{"name": "Dana Ong", "email": "dana@example.com"}])
    runner = CliRunner()
    imported = runner.invoke(app, ["import", str(source), "--format", "pdf"])
    exported = runner.invoke(app, ["export", "--format", "pdf"])
    assert (imported.exit_code, exported.exit_code) == (2, 2), imported.output + exported.output
    assert "format: one of csv, json, jsonl, xlsx" in imported.stderr
    assert _count(db) == 0


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_output_dash_writes_to_standard_output(
    fmt: str, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _csv(tmp_path / "in.csv", [{"name": "Dana Ong", "email": "dana@example.com"}])
    runner = CliRunner()
    assert runner.invoke(app, ["import", str(source)]).exit_code == 0
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["export", "--format", fmt, "--output", "-"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "-").exists()
    if fmt == "csv":
        rows = list(csv.DictReader(result.stdout_bytes.decode("utf-8-sig").splitlines()))
    else:
        rows = [json.loads(line) for line in result.stdout_bytes.splitlines()]
    assert [row["email"] for row in rows] == ["dana@example.com"]  # the rows alone
    assert "Exported 1 customers to standard output." in _flat(result.stderr)
