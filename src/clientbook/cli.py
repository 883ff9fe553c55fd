"""The `clientbook` command: serve, migrations, users, demo data (SPEC §10).

Domain errors become exit codes here, once: validation 2, not found 3, forbidden 4, conflict 5.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from clientbook.access import SYSTEM
from clientbook.config import Settings
from clientbook.domain import errors
from clientbook.services import auth as auth_service
from clientbook.services import users as user_service
from clientbook.services.passwords import hash_password
from clientbook.services.runtime import Database, bootstrap_admin, open_database, upgrade_schema

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


def _database() -> Database:
    return open_database(Settings.from_env())


def _with_db(action: Callable[[Database], T]) -> T:
    db = _database()
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
    db = open_database(settings)
    upgrade_schema(db)
    created = bootstrap_admin(db)
    db.dispose()
    if created:
        email, password = created
        console.print(
            f"Created the first super_admin. Sign in at /admin as [bold]{email}[/bold] "
            f"with password [bold]{password}[/bold] (shown once)."
        )
    uvicorn.run(
        "clientbook.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    _with_db(upgrade_schema)
    console.print("Database schema is current.")


def _print_users(rows: list[dict[str, Any]]) -> None:
    table = Table("id", "email", "name", "role", "status", "created")
    for row in rows:
        created = row["createdAt"].isoformat(timespec="seconds")
        table.add_row(row["id"], row["email"] or "", row["name"], row["role"], row["status"],
                      created)  # fmt: skip
    console.print(table)


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
def users_list(limit: Annotated[int, typer.Option(help="Most rows to show.")] = 100) -> None:
    """List accounts."""

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
    """List API keys (never the keys themselves: only their visible prefix)."""

    def rows(db: Database) -> list[dict[str, Any]]:
        with db.read() as conn:
            return auth_service.list_api_keys(conn, SYSTEM)

    table = Table("id", "name", "prefix", "created", "last used", "revoked")
    for row in _with_db(rows):
        table.add_row(row["id"], row["name"], row["prefix"], _when(row["createdAt"]),
                      _when(row["lastUsedAt"]), _when(row["revokedAt"]))  # fmt: skip
    console.print(table)


@apikeys_app.command("revoke")
def apikeys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id.")]) -> None:
    """Revoke an API key for good; requests with it get 401 from now on."""

    def revoke(db: Database) -> dict[str, Any]:
        with db.transaction() as conn:
            return auth_service.revoke_api_key(conn, SYSTEM, key_id)

    key = _with_db(revoke)
    console.print(f"Revoked API key {key['id']} ({key['name']}).")


def main() -> None:
    app()
