"""The `clientbook` command: serve, migrations, users, demo data (SPEC §10).

Domain errors become exit codes here, once: validation 2 (a bad option or setting too), not found
3, forbidden 4, conflict 5, a file too large or of a kind that cannot be read 6; a database that
cannot be used (not reachable, or not migrated: run `clientbook db upgrade`) 7.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO, NoReturn, TypeVar
from urllib.parse import parse_qsl

import orjson
import typer
from rich.console import Console
from rich.table import Column, Table
from rich.text import Text

from clientbook.access import SYSTEM
from clientbook.config import Settings
from clientbook.domain import errors
from clientbook.observability.logs import logging_config
from clientbook.services import auth as auth_service
from clientbook.services import backup as backup_service
from clientbook.services import demo as demo_service
from clientbook.services import exports as export_service
from clientbook.services import upkeep as upkeep_service
from clientbook.services import users as user_service
from clientbook.services.imports import (
    ImportOptions,
    ImportReport,
    open_source,
    parse_format,
    run_import,
)
from clientbook.services.passwords import hash_password
from clientbook.services.runtime import (
    Database,
    bootstrap_admin,
    open_database,
    readiness,
    upgrade_schema,
)

if TYPE_CHECKING:
    from rich.progress import Progress

app = typer.Typer(help="clientbook: self-hosted customer records.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
apikeys_app = typer.Typer(help="API keys for integrators.", no_args_is_help=True)
app.add_typer(apikeys_app, name="apikeys")

console = Console()
err_console = Console(stderr=True)
T = TypeVar("T")
WORKER_HEALTHCHECK_SECONDS = 60
# A terminal shows this many failed rows; `--report FILE` keeps every listed one.
TERMINAL_FAILURES = 50

EXIT_CODES: dict[type[errors.DomainError], int] = {
    errors.ValidationFailed: 2,
    errors.BadQuery: 2,
    errors.NotFound: 3,
    errors.Forbidden: 4,
    errors.Unauthenticated: 4,
    errors.Conflict: 5,
    errors.PreconditionFailed: 5,
    errors.TooLarge: 6,
    errors.UnsupportedMedia: 6,
}


@contextmanager
def domain_errors() -> Iterator[None]:
    """Print a domain error with its field messages and exit with its code."""
    try:
        yield
    except errors.DomainError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}")
        for field, message in exc.fields.items():
            err_console.print(f"  {field}: {message}")
        code = next((c for k, c in EXIT_CODES.items() if isinstance(exc, k)), 1)
        raise typer.Exit(code) from None


def _refuse(message: str, code: int = 2) -> NoReturn:
    """One line on standard error, then the exit code (2: bad input, as a validation failure)."""
    err_console.print(Text.assemble(("error:", "red"), " ", message), soft_wrap=True)
    raise typer.Exit(code)


@app.callback()
def _configuration() -> None:
    """Every command starts here: bad CLIENTBOOK_* settings are refused in one line, before
    any command acts on them."""
    try:
        Settings.from_env()
    except ValueError as exc:
        _refuse(f"bad configuration in the CLIENTBOOK_* environment variables: {exc}")


UNUSABLE_DATABASE = 7
_UPGRADE = "run `clientbook db upgrade`"


def _first_line(error: object) -> str:
    """A driver's error in one line: its first, less SQLAlchemy's `(module.Class) ` prefix."""
    line = (str(error).strip().splitlines() or [""])[0]
    return line.split(") ", 1)[1] if line.startswith("(") and ") " in line else line


def _database(*, needs_schema: bool = True) -> Database:
    """The configured database, refused in one line when a command cannot use it: not
    reachable, or (for `needs_schema`) never migrated. A SQLite file that does not exist is
    refused before it is opened, so a command that finds no database creates no empty file."""
    settings = Settings.from_env()
    path = settings.sqlite_path()
    if needs_schema and path is not None and not path.exists():
        _refuse(f"there is no database at {path}: {_UPGRADE} to create it", UNUSABLE_DATABASE)
    try:
        db = open_database(settings)
    except Exception as exc:  # whatever the driver says: one line, not a traceback
        _refuse(f"cannot open the database: {_first_line(exc)}", UNUSABLE_DATABASE)
    ready, state = readiness(db)
    if ready or (state.get("migrations") == "pending" and not needs_schema):
        return db
    db.dispose()
    if state.get("migrations") == "pending":
        _refuse(f"the database has no tables, or an older schema: {_UPGRADE}", UNUSABLE_DATABASE)
    _refuse(
        f"cannot reach the database ({_first_line(state.get('reason', ''))}): check "
        "CLIENTBOOK_DATABASE_URL and that the database server is running",
        UNUSABLE_DATABASE,
    )


def _with_db(action: Callable[[Database], T], *, needs_schema: bool = True) -> T:
    """Run `action` on the database (see `_database`), its domain errors as exit codes."""
    db = _database(needs_schema=needs_schema)
    try:
        with domain_errors():
            return action(db)
    finally:
        db.dispose()


def _read_password(prompt: bool) -> str:
    """Passwords come from a prompt or standard input, never from an argument."""
    if prompt and sys.stdin.isatty():
        return typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    line = sys.stdin.readline().rstrip("\n")
    if not line:
        raise typer.BadParameter("no password on standard input")
    return line


# One process serves on asyncio's own loop, not uvloop: saturated by 16 connections, uvloop
# left some of them unread for up to 0.8 s while it served the others (their requests sat in
# the socket: lists on PostgreSQL at p50 62-79 ms had p99 364-436 ms), where asyncio takes the
# connections in turn (p99 86-103 ms) at the same throughput. Several workers keep uvloop
# ("auto"): asyncio's accept loop takes every pending connection at once, so one worker could
# take all 16 of a burst and serve alone (one run in two: 244 req/s against 455), and it leaves
# TCP_NODELAY unset on the sockets uvicorn shares between workers (~40 ms a response).
SINGLE_PROCESS_LOOP = "asyncio"
# By name, so that every worker process loads it (clientbook.http_protocol).
HTTP_PROTOCOL = "clientbook.http_protocol:BoundedHttpToolsProtocol"


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[int, typer.Option(help="Server processes (PostgreSQL only).")] = 1,
) -> None:
    """Start the server: applies migrations and creates the first super_admin if needed."""
    import uvicorn

    settings = Settings.from_env()
    if settings.is_sqlite and workers > 1:
        err_console.print(
            "[red]error:[/red] on SQLite every write goes through one process: use --workers 1, "
            "or PostgreSQL (CLIENTBOOK_DATABASE_URL) for several workers"
        )
        raise typer.Exit(2)
    with domain_errors():
        upkeep_service.check_settings(settings)
    db = open_database(settings)
    upgrade_schema(db)
    created = bootstrap_admin(db)
    db.dispose()
    if created:
        email, password = created
        address = f"http://{host or settings.host}:{port or settings.port}/admin"
        console.print(
            f"Created the first super_admin. Sign in at {address} as [bold]{email}[/bold] "
            f"with password [bold]{password}[/bold] (shown once).",
            soft_wrap=True,
        )
    uvicorn.run(
        "clientbook.app:serve_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        loop=SINGLE_PROCESS_LOOP if workers == 1 else "auto",
        # httptools with a cap on the header block and a deadline for it (docs/security.md).
        http=HTTP_PROTOCOL,
        # A spawned worker answers the supervisor's ping only once a fresh interpreter has
        # imported uvicorn: on a busy machine that exceeds uvicorn's 5 s, and every worker
        # would be killed as hung and restarted, over and over.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        log_level=settings.log_level.lower(),
        # JSON lines; our request line replaces uvicorn's access log (docs/observability.md).
        log_config=logging_config(settings.log_level),
        access_log=False,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        proxy_headers=True,
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    _with_db(upgrade_schema, needs_schema=False)
    console.print("Database schema is current.")


# A tab or a line break in a value would make more cells or rows of a tab-separated line.
_ONE_CELL = str.maketrans("\t\n\r", "   ")


def _print_rows(header: list[str], rows: list[list[str]], *, title: str | None = None) -> None:
    """A table in a terminal, every value whole: an id never wraps, other values fold onto more
    lines rather than end in "…". Piped or redirected: one tab-separated line a row (the header
    first, no title), whatever the width, so that ids go straight into other commands and
    scripts."""
    if not console.is_terminal:
        for values in (header, *rows):  # written as they are: Rich would expand the tabs
            console.file.write("\t".join(v.translate(_ONE_CELL) for v in values) + "\n")
        return
    table = Table(
        Column(header[0], no_wrap=True, overflow="fold"),
        *(Column(name, overflow="fold") for name in header[1:]),
        title=title,
    )
    for values in rows:
        table.add_row(*map(Text, values))  # as they are: a [bracket] in a name is no markup
    console.print(table)


def _print_users(rows: list[dict[str, Any]]) -> None:
    _print_rows(
        ["id", "email", "name", "role", "status", "created"],
        [
            [
                row["id"],
                row["email"] or "",
                row["name"],
                row["role"],
                row["status"],
                _when(row["createdAt"]),
            ]
            for row in rows
        ],
    )


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="Sign-in email.")],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    role: Annotated[str, typer.Option(help="user or super_admin.")] = "user",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create an account; the password is asked for (or read from standard input)."""
    password = _read_password(prompt=not password_stdin)

    def create(db: Database) -> dict[str, Any]:
        data = {"email": email, "name": name, "role": role, "password": password}
        from clientbook.domain.users import validate_user

        validate_user(data)
        password_hash = hash_password(password)
        with db.transaction() as conn:
            return user_service.create_user(conn, SYSTEM, data, password_hash=password_hash)

    user = _with_db(create)
    console.print(f"Created user {user['id']} ({user['email']}, {user['role']}).")


@users_app.command("list")
def users_list(
    limit: Annotated[int, typer.Option(min=1, help="Most rows to show.")] = 100,
) -> None:
    """List accounts: a table in a terminal, tab-separated lines when piped."""

    def rows(db: Database) -> list[dict[str, Any]]:
        with db.read() as conn:
            return user_service.list_users(conn, SYSTEM, limit=limit)

    _print_users(_with_db(rows))


@users_app.command("set-role")
def users_set_role(
    user: Annotated[str, typer.Argument(help="User id or email.")],
    role: Annotated[str, typer.Argument(help="user or super_admin.")],
) -> None:
    """Change an account's role."""

    def change(db: Database) -> dict[str, Any]:
        with db.transaction() as conn:
            found = user_service.find_user_by_email(conn, user) if "@" in user else None
            user_id = found["id"] if found else user
            return user_service.set_role(conn, SYSTEM, user_id, role)

    changed = _with_db(change)
    console.print(f"{changed['email']} is now {changed['role']}.")


@users_app.command("invite")
def users_invite(
    email: Annotated[str, typer.Argument(help="Email of the account to invite.")],
    name: Annotated[str, typer.Option(help="Display name of a new account.")] = "",
    base_url: Annotated[
        str, typer.Option(help="Where people reach clientbook, to print a whole link.")
    ] = "http://127.0.0.1:8000",
) -> None:
    """Invite an account (created if new, status invited) and print its one-time link."""

    def invite(db: Database) -> auth_service.IssuedInvitation:
        with db.read() as conn:
            found = user_service.find_user_by_email(conn, email)
        user = found or user_service.create_or_invite(db, SYSTEM, {"email": email, "name": name})
        with db.transaction() as conn:
            return auth_service.issue_invitation(conn, SYSTEM, user["id"])

    issued = _with_db(invite)
    console.print(
        f"Invitation link for {email} (valid until {_when(issued.expires_at)}, shown once):\n"
        f"{base_url.rstrip('/')}/accept?token={issued.token}",
        soft_wrap=True,
    )


def _when(value: Any) -> str:
    return value.isoformat(timespec="seconds") if value is not None else ""


@apikeys_app.command("create")
def apikeys_create(name: Annotated[str, typer.Option(help="What the key is for.")]) -> None:
    """Create an API key (acts as staff) and print it once: it cannot be shown again."""

    def create(db: Database) -> auth_service.IssuedApiKey:
        with db.transaction() as conn:
            return auth_service.create_api_key(conn, SYSTEM, name=name)

    issued = _with_db(create)
    err_console.print(
        f"Created API key {issued.key['id']} ({issued.key['name']}). Store it now: "
        "it is shown only once. Send it as `Authorization: Bearer <key>` or `X-API-Key`."
    )
    # The key alone on standard output, so that scripts can capture it.
    print(issued.secret)


@apikeys_app.command("list")
def apikeys_list() -> None:
    """List API keys (never the keys themselves: only their visible prefix): a table in a
    terminal, tab-separated lines when piped."""

    def rows(db: Database) -> list[dict[str, Any]]:
        with db.read() as conn:
            return auth_service.list_api_keys(conn, SYSTEM)

    _print_rows(
        ["id", "name", "prefix", "created", "last used", "revoked"],
        [
            [
                row["id"],
                row["name"],
                row["prefix"],
                _when(row["createdAt"]),
                _when(row["lastUsedAt"]),
                _when(row["revokedAt"]),
            ]
            for row in _with_db(rows)
        ],
    )


@apikeys_app.command("revoke")
def apikeys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id.")]) -> None:
    """Revoke an API key for good; requests with it get 401 from now on."""

    def revoke(db: Database) -> dict[str, Any]:
        with db.transaction() as conn:
            return auth_service.revoke_api_key(conn, SYSTEM, key_id)

    key = _with_db(revoke)
    console.print(f"Revoked API key {key['id']} ({key['name']}).")


# --- import and export (SPEC §8, §10) ----------------------------------------------------------


def _transfer_progress() -> Progress:
    """A progress bar on standard error: rows done (of how many, when known) and rows/s."""
    # Imported by the commands that show a bar, so that `serve` starts without it.
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
    )

    class RowsPerSecond(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f} rows/s" if speed else "", style="cyan")

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RowsPerSecond(),
        TimeElapsedColumn(),
        console=err_console,
        # A bar is for a person watching: none in a log file or a pipe (Rich would still
        # write its last frame there).
        disable=not err_console.is_terminal,
    )


def _print_import_report(report: ImportReport, *, saved_to: Path | None) -> None:
    """The counts, then the first failed rows: tables in a terminal, tab-separated lines when
    piped (as `users list`)."""
    _print_rows(
        ["rows", "created", "updated", "unchanged", "failed", "applied"],
        [[str(report.total_rows), str(report.created), str(report.updated),
          str(report.unchanged), str(report.failed),
          "dry run" if report.options.dry_run else str(report.applied)]],
    )  # fmt: skip
    if report.failures:
        _print_rows(
            ["row", "field", "error"],
            [
                [str(failure.row), field, message]
                for failure in report.failures[:TERMINAL_FAILURES]
                for field, message in failure.errors.items()
            ],
            title="Failed rows (header not counted)",
        )
    hidden = report.failed - min(len(report.failures), TERMINAL_FAILURES)
    if hidden > 0:
        where = f"in {saved_to}" if saved_to else "with --report FILE"
        console.print(f"... and {hidden:,} more failed rows ({where}).")
    if saved_to is not None:
        console.print(f"The whole report is in {saved_to}.")


@app.command("import")
def import_customers(
    file: Annotated[Path, typer.Argument(help="CSV, JSON, JSON Lines or XLSX file.")],
    format: Annotated[
        str | None, typer.Option(help="csv, json, jsonl or xlsx (default: from the file).")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Update records matched by id or email.")] = False,
    skip_errors: Annotated[
        bool, typer.Option("--skip-errors", help="Import the valid rows, report the rest.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate only.")] = False,
    sheet: Annotated[str | None, typer.Option(help="XLSX sheet (default: the first).")] = None,
    report_file: Annotated[
        Path | None,
        typer.Option("--report", help="Also write the report as JSON, every failed row in it."),
    ] = None,
) -> None:
    """Import customers as staff; without --skip-errors all rows or none. Exit code 2 when any
    row failed."""
    options = ImportOptions(
        format=format, overwrite=overwrite, skip_errors=skip_errors, dry_run=dry_run, sheet=sheet
    )

    def run(db: Database) -> ImportReport:
        source = open_source(file, filename=file.name, fmt=format, sheet=sheet)
        with _transfer_progress() as bar:
            task = bar.add_task("Importing", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            return run_import(db, SYSTEM, source, options, progress=progress)

    with domain_errors():
        try:
            parse_format(format)
        except errors.UnsupportedMedia as exc:  # a bad option, like export's: exit code 2
            raise errors.ValidationFailed(exc.fields, exc.message) from None
    if not file.is_file():
        raise typer.BadParameter(f"{file} is not a file")
    report = _with_db(run)
    if report_file is not None:
        report_file.write_bytes(orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2))
    _print_import_report(report, saved_to=report_file)
    if report.failed:
        with domain_errors():
            message = f"{report.failed} row(s) failed" + (
                "" if report.applied or dry_run else "; nothing was imported"
            )
            raise errors.ValidationFailed({"rows": message}, message)


def _cannot_write(option: str, path: Path, exc: OSError) -> NoReturn:
    """Refuse, in one line naming `option`, a path that cannot be written."""
    if isinstance(exc, FileExistsError | NotADirectoryError):
        _refuse(f"{option}: cannot write {path} (a part of its path is a file, not a directory)")
    _refuse(f"{option}: cannot write {path} ({exc.strerror or exc})")


def _check_writable_directory(option: str, path: Path) -> None:
    """Make `path`'s directory if missing, and try a scratch file in it, before a command
    spends time on a file it could not write."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as exc:
        _cannot_write(option, path, exc)


@contextmanager
def _export_file(output: Path) -> Iterator[BinaryIO]:
    """The file `--output` names, written whole or not at all: the rows go to a scratch file
    beside it that replaces it once complete, so a failure leaves no partial file (and an older
    file as it was). Missing directories are created, as `backup --output` does. `-` is
    standard output."""
    if str(output) == "-":
        stdout = typer.get_binary_stream("stdout")
        yield stdout
        stdout.flush()
        return
    target = output.resolve()
    if target.is_dir():
        _refuse(f"--output: {output} is a directory; name a file")
    if target.exists() and not target.is_file():  # a device or a pipe: written in place
        with open(target, "wb") as file:
            yield file
        return
    scratch = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        file = open(scratch, "wb")  # noqa: SIM115 - closed below, before the rename
    except OSError as exc:
        _cannot_write("--output", output, exc)
    try:
        with file:
            yield file
        os.replace(scratch, target)
    except BaseException:
        scratch.unlink(missing_ok=True)
        raise


@app.command("export")
def export_customers(
    format: Annotated[str, typer.Option(help="csv, json, jsonl or xlsx (excel).")] = "json",
    output: Annotated[
        Path | None,
        typer.Option(
            help="File to write, or - for standard output (default customers-YYYY-MM-DD.<format>)."
        ),
    ] = None,
    filter: Annotated[
        list[str] | None,
        typer.Option(help="List filters as a query string: 'status=active&country=Malaysia'."),
    ] = None,
) -> None:
    """Export customers (every record, or those the filters select); `--output -` writes them
    to standard output."""
    params = [pair for text in filter or () for pair in parse_qsl(text, keep_blank_values=True)]
    with domain_errors():
        plan = export_service.plan_export(SYSTEM, params, fmt=format)
    target = output or Path(plan.filename(datetime.now(UTC).date()))

    def run(db: Database, file: BinaryIO) -> int:
        counter = export_service.ExportProgress()
        with _transfer_progress() as bar:
            task = bar.add_task("Exporting", total=None)
            for chunk in export_service.stream_export(db, SYSTEM, plan, progress=counter):
                file.write(chunk)
                bar.update(task, completed=counter.rows)
        return counter.rows

    with _export_file(target) as file:
        rows = _with_db(lambda db: run(db, file))
    if str(target) == "-":  # the rows alone on standard output
        err_console.print(f"Exported {rows} customers to standard output.")
    else:
        console.print(f"Exported {rows} customers to {target}.")


# --- demo data (SPEC §10) ----------------------------------------------------------------------


def _as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise typer.BadParameter("use the form YYYY-MM-DD", param_hint="--as-of") from None


@app.command()
def demo(
    customers: Annotated[int, typer.Option(min=1, help="How many customers to generate.")] = 1000,
    seed: Annotated[int, typer.Option(help="The same seed gives the same data.")] = (
        demo_service.DEFAULT_SEED
    ),
    as_of: Annotated[
        str | None, typer.Option(help="Day the dates are relative to, YYYY-MM-DD (default today).")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=0, help="Generating processes (default: one per spare core; 0: none)."),
    ] = None,
) -> None:
    """Fill an empty database with realistic demo customers, validated like any API input."""
    when = _as_of(as_of)

    def run(db: Database) -> demo_service.DemoCounts:
        upgrade_schema(db)
        with _transfer_progress() as bar:
            task = bar.add_task("Generating", total=customers)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            return demo_service.run_demo(
                db, customers=customers, seed=seed, as_of=when, workers=workers, progress=progress
            )

    started = time.perf_counter()
    counts = _with_db(run, needs_schema=False)  # it migrates first
    seconds = time.perf_counter() - started
    console.print(
        f"Generated {counts.customers:,} customers with their {counts.users:,} accounts, "
        f"{counts.tags:,} tags, {counts.interactions:,} interactions and {counts.notes:,} notes "
        f"({counts.staff} new staff) in {seconds:.1f} s: {counts.customers / seconds:,.0f} "
        "customers/s."
    )


# --- backup and restore (issue 9) -------------------------------------------------------------


def _print_backup(report: backup_service.BackupReport, verb: str) -> None:
    table = Table("table", "rows")
    for name, rows in sorted(report.counts.items()):
        table.add_row(name, f"{rows:,}")
    console.print(f"{verb} {report.path} ({report.database}).")
    console.print(table)
    console.print(
        f"{report.size_bytes / 1024 / 1024:,.1f} MiB in {report.seconds:.1f} s; schema revision "
        f"{report.revision or 'unknown'}; checked: {', '.join(report.checks)}."
    )


@app.command()
def backup(
    output: Annotated[
        Path | None,
        typer.Option(
            help="File to write (default: clientbook-<UTC time>.sqlite3 or .dump in "
            "--dir, CLIENTBOOK_BACKUP_DIR or the current directory)."
        ),
    ] = None,
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Directory for a default-named backup.")
    ] = None,
    keep: Annotated[
        int | None,
        typer.Option(min=1, help="Then delete all but the newest N backups in that directory."),
    ] = None,
) -> None:
    """Back up the database while the server runs (SQLite online backup, or pg_dump), then check
    the copy and print its row counts."""
    settings = Settings.from_env()
    folder = directory or settings.backup_dir or Path.cwd()
    target = output or folder / backup_service.default_filename(settings)
    _check_writable_directory("--output" if output else "--dir", target)
    with domain_errors():
        report = backup_service.create_backup(settings, target)
        _print_backup(report, "Backed up to")
        if keep is not None:
            for old in backup_service.prune_backups(target.parent, keep):
                console.print(f"Deleted old backup {old.name}.")


@app.command()
def restore(
    file: Annotated[Path, typer.Argument(help="A file written by `clientbook backup`.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace a database that holds rows.")
    ] = False,
) -> None:
    """Restore a backup into an empty database (stop the server first), checking it before and
    after."""
    with domain_errors():
        report = backup_service.restore_backup(Settings.from_env(), file, force=force)
    _print_backup(report, "Restored")


def main() -> None:
    app()
