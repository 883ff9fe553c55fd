"""What every reliability script needs: a scratch database, the real server, and the checks.

* `Scratch`: a fresh SQLite file or PostgreSQL schema, its integrity check (`PRAGMA
  integrity_check` / `amcheck`) and its consistency check (no customer without its audit row, no
  version bump without one, the tags side table in step with `metadata.tags`).
* `Server`: `clientbook serve` as an operator starts it, on 127.0.0.1 and a free port, killed
  with SIGKILL or stopped; its output goes to one log file per run, scanned for canaries.
* `Canaries`: the passwords, tokens and keys used throughout a run, so that a script can prove
  none of them reached a log or an error body.

The checks read the database directly (read-only on SQLite, so that they never become a second
writer next to the server's).
"""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import socket
import sqlite3
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, create_engine, text

if __package__ in (None, ""):  # run as a file: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.wrk.process import ServerProcess, cpu_seconds, rss_bytes

from clientbook.access import SYSTEM
from clientbook.config import Settings
from clientbook.db.engine import normalise_url
from clientbook.services import auth, import_uploads
from clientbook.services import users as user_service
from clientbook.services.passwords import hash_password
from clientbook.services.runtime import bootstrap_admin, open_database, upgrade_schema

CLIENTBOOK = Path(sys.executable).with_name("clientbook")
READY_TARGET_SECONDS = 5.0
POSTGRES_ENV = "CLIENTBOOK_TEST_POSTGRES_URL"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- canaries ----------------------------------------------------------------------------------


@dataclass
class Canaries:
    """Secrets with a recognisable shape; `found_in` names those a text leaks."""

    admin_password: str = field(default_factory=lambda: f"Canary-admin-{secrets.token_hex(8)}")
    user_password: str = field(default_factory=lambda: f"Canary-user-{secrets.token_hex(8)}")
    wrong_password: str = field(default_factory=lambda: f"Canary-wrong-{secrets.token_hex(8)}")
    others: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, value: str) -> None:
        self.others[name] = value

    def named(self) -> dict[str, str]:
        return {
            "admin password": self.admin_password,
            "user password": self.user_password,
            "wrong password": self.wrong_password,
            **self.others,
        }

    def found_in(self, blob: str) -> list[str]:
        return sorted({name for name, value in self.named().items() if value in blob})


# --- scratch databases -------------------------------------------------------------------------


@dataclass
class Scratch:
    """A database of our own: a SQLite file in `workdir`, or a schema in PostgreSQL."""

    kind: str  # "sqlite" | "postgresql"
    url: str
    path: Path | None = None
    schema: str | None = None
    admin_url: str | None = None

    @classmethod
    def create(
        cls, kind: str, workdir: Path, *, name: str = "reliability", postgres_url: str | None = None
    ) -> Scratch:
        workdir.mkdir(parents=True, exist_ok=True)
        if kind == "sqlite":
            path = workdir / f"{name}.sqlite3"
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            return cls(kind, f"sqlite:///{path}", path=path)
        if kind != "postgresql":
            raise ValueError(f"unknown backend {kind!r}")
        base = postgres_url or os.environ.get(POSTGRES_ENV)
        if not base:
            raise SystemExit(f"PostgreSQL needs --postgres-url or {POSTGRES_ENV}")
        schema = f"rel_{name}_{os.getpid()}".lower()
        separator = "&" if "?" in base else "?"
        url = f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
        scratch = cls(kind, url, schema=schema, admin_url=base)
        with scratch._admin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            # Installed once per database, outside the scratch schema so it outlives it.
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS amcheck SCHEMA public"))
        return scratch

    @contextmanager
    def _admin(self) -> Iterator[Connection]:
        assert self.admin_url
        engine = create_engine(normalise_url(self.admin_url), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                yield conn
        finally:
            engine.dispose()

    def drop(self) -> None:
        if self.kind == "sqlite":
            assert self.path
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            return
        with self._admin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))

    def settings(self, **overrides: Any) -> Settings:
        return Settings(database_url=self.url, **overrides)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only connection beside a running server (never a second SQLite writer)."""
        if self.kind == "sqlite":
            engine = create_engine(f"sqlite:///file:{self.path}?mode=ro&uri=true")
        else:
            engine = create_engine(normalise_url(self.url))
        try:
            with engine.connect() as conn:
                yield conn
                conn.rollback()
        finally:
            engine.dispose()

    def count(self, sql: str, **params: Any) -> int:
        with self.read() as conn:
            return int(conn.execute(text(sql), params).scalar() or 0)

    # --- checks ----------------------------------------------------------------------------

    def integrity(self) -> list[str]:
        """Problems the storage engine itself finds: empty when the database is sound."""
        if self.kind == "sqlite":
            assert self.path
            raw = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            try:
                result = [row[0] for row in raw.execute("PRAGMA integrity_check")]
                orphans = raw.execute("PRAGMA foreign_key_check").fetchall()
            finally:
                raw.close()
            problems = [] if result == ["ok"] else [f"integrity_check: {r}" for r in result[:5]]
            return problems + [f"foreign_key_check: {row}" for row in orphans[:5]]
        problems = []
        with self.read() as conn:
            indexes = conn.execute(
                text(
                    "SELECT c.oid, c.relname FROM pg_index i "
                    "JOIN pg_class c ON c.oid = i.indexrelid "
                    "JOIN pg_class t ON t.oid = i.indrelid "
                    "JOIN pg_namespace n ON n.oid = t.relnamespace "
                    "JOIN pg_am am ON am.oid = c.relam "
                    "WHERE n.nspname = :schema AND am.amname = 'btree'"
                ),
                {"schema": self.schema},
            ).all()
            for oid, name in indexes:
                try:
                    conn.execute(text("SELECT public.bt_index_check(:oid, true)"), {"oid": oid})
                except Exception as exc:  # amcheck raises on corruption
                    conn.rollback()
                    problems.append(f"bt_index_check {name}: {exc}")
            for table in ("customers", "customer_tags", "audit_logs", "users"):
                rows = conn.execute(
                    text(
                        "SELECT blkno, msg FROM public.verify_heapam(CAST(:t AS regclass)) LIMIT 5"
                    ),
                    {"t": f'"{self.schema}"."{table}"'},
                ).all()
                problems += [f"verify_heapam {table} block {b}: {m}" for b, m in rows]
        return problems

    def consistency(self, *, audited: bool = True) -> list[str]:
        """Half-applied changes: every customer and account has its creation audit row, every
        version bump its audit row (`audited`: the data was written through the service layer),
        and the tags side table says what each record's `metadata.tags` says."""
        problems: list[str] = []
        with self.read() as conn:
            if audited:
                problems += _rows(
                    conn,
                    "customer without its customer.created audit row",
                    "SELECT c.id FROM customers c WHERE NOT EXISTS (SELECT 1 FROM audit_logs a "
                    'WHERE a."entityType" = \'customer\' AND a."entityId" = c.id '
                    "AND a.action = 'customer.created')",
                )
                problems += _rows(
                    conn,
                    "account without its user.created audit row",
                    "SELECT u.id FROM users u WHERE NOT EXISTS (SELECT 1 FROM audit_logs a "
                    'WHERE a."entityType" = \'user\' AND a."entityId" = u.id '
                    "AND a.action = 'user.created')",
                )
                problems += _rows(
                    conn,
                    "customer whose version does not match its audit rows (id, version, rows)",
                    "SELECT c.id, c.version, (SELECT count(*) FROM audit_logs a "
                    'WHERE a."entityType" = \'customer\' AND a."entityId" = c.id '
                    "AND a.action <> 'customer.created') AS n FROM customers c "
                    "WHERE c.version - 1 <> (SELECT count(*) FROM audit_logs a "
                    'WHERE a."entityType" = \'customer\' AND a."entityId" = c.id '
                    "AND a.action <> 'customer.created')",
                )
            problems += _tags_out_of_step(conn)
        return problems


def _rows(conn: Connection, what: str, sql: str) -> list[str]:
    rows = conn.execute(text(sql)).all()
    if not rows:
        return []
    sample = ", ".join(str(tuple(row)) for row in rows[:3])
    return [f"{len(rows)} {what}: {sample}"]


def _tags_out_of_step(conn: Connection) -> list[str]:
    side: dict[str, set[str]] = {}
    for customer_id, tag in conn.execute(text('SELECT "customerId", tag FROM customer_tags')):
        side.setdefault(customer_id, set()).add(tag)
    wrong = []
    for customer_id, metadata in conn.execute(text("SELECT id, metadata FROM customers")):
        tags = (json.loads(metadata) if metadata else {}).get("tags") or []
        if {t.casefold() for t in tags} != {t.casefold() for t in side.pop(customer_id, set())}:
            wrong.append(customer_id)
    wrong += list(side)  # side rows of records that no longer exist
    if not wrong:
        return []
    return [f"{len(wrong)} customer(s) whose tags side table is out of step: {wrong[:3]}"]


# --- the data every script starts from ---------------------------------------------------------


@dataclass(frozen=True)
class Accounts:
    admin_email: str
    api_key: str
    user_emails: tuple[str, ...]


def prepare(
    db: Scratch, canaries: Canaries, *, users: int = 0, email_prefix: str = "rel-user"
) -> Accounts:
    """Migrate, create the first super_admin (canary password), an API key and `users` accounts
    (all with the canary user password), with the server stopped."""
    admin_email = "reliability-admin@example.com"
    settings = db.settings(admin_email=admin_email, admin_password=canaries.admin_password)
    database = open_database(settings)
    try:
        upgrade_schema(database)
        bootstrap_admin(database)
        password_hash = hash_password(canaries.user_password) if users else None
        emails = tuple(f"{email_prefix}-{i}@example.com" for i in range(users))
        with database.transaction() as conn:
            if user_service.find_user_by_email(conn, admin_email) is None:
                # A demo database has super_admins already, so the first start made none.
                admin = {"email": admin_email, "name": "Reliability", "role": "super_admin"}
                admin_hash = hash_password(canaries.admin_password)
                user_service.create_user(conn, SYSTEM, admin, password_hash=admin_hash)
            key = auth.create_api_key(conn, SYSTEM, name="reliability").secret
            for email in emails:
                data = {"email": email, "name": email.split("@")[0], "role": "user"}
                user_service.create_user(conn, SYSTEM, data, password_hash=password_hash)
    finally:
        database.dispose()
    canaries.add("api key", key)
    return Accounts(admin_email=admin_email, api_key=key, user_emails=emails)


def activate_owners(db: Scratch, canaries: Canaries, count: int) -> list[tuple[str, str]]:
    """Give the owners of the first `count` customers (demo owners are invited, without a
    password) the canary user password. Returns (email, customer id) pairs."""
    database = open_database(db.settings())
    try:
        password_hash = hash_password(canaries.user_password)
        with database.transaction() as conn:
            owners = conn.execute(
                text(
                    'SELECT u.id, u.email, c.id FROM customers c JOIN users u ON u.id = c."userId" '
                    "WHERE u.email IS NOT NULL ORDER BY c.seq LIMIT :n"
                ),
                {"n": count},
            ).all()
            for user_id, _email, _customer in owners:
                conn.execute(
                    text(
                        "UPDATE users SET \"passwordHash\" = :h, status = 'active' WHERE id = :id"
                    ),
                    {"h": password_hash, "id": user_id},
                )
    finally:
        database.dispose()
    return [(email, customer) for _user, email, customer in owners]


def sample_ids(db: Scratch, count: int, *, seed: int) -> list[str]:
    """Up to `count` customer ids spread over the table."""
    with db.read() as conn:
        ids = [row[0] for row in conn.execute(text("SELECT id FROM customers"))]
    return random.Random(seed).sample(ids, min(count, len(ids)))


# --- the server --------------------------------------------------------------------------------


class Server:
    """`clientbook serve` on `db`, restarted as often as a script likes; one log for all runs."""

    def __init__(
        self,
        db: Scratch,
        log_path: Path,
        *,
        canaries: Canaries,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.db = db
        self.port = free_port()
        self.log_path = log_path
        self.canaries = canaries
        self.extra_env = dict(env or {})
        # A temporary directory of its own: the uploads its kills leave behind are not mixed
        # with those of other servers (the test suite runs some at the same time).
        self.temp_dir = log_path.parent / "server-tmp"
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        self._process: ServerProcess | None = None
        self.start_cpu_seconds = 0.0  # CPU the last start used until ready (load-independent)
        self.ready_seconds: list[float] = []  # every start's seconds until `/readyz` said 200

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("the server is not running")
        return self._process.pid

    @property
    def upload_directory(self) -> Path:
        """Where this server keeps uploads waiting for their import."""
        return self.temp_dir / import_uploads.DIRECTORY

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLIENTBOOK_")}
        env.update(
            TMPDIR=str(self.temp_dir),
            CLIENTBOOK_DATABASE_URL=self.db.url,
            CLIENTBOOK_ADMIN_EMAIL="reliability-admin@example.com",
            CLIENTBOOK_ADMIN_PASSWORD=self.canaries.admin_password,
            CLIENTBOOK_LOG_LEVEL="INFO",
        )
        env.update(self.extra_env)
        return env

    def start(self, *, wrapper: Sequence[str] = ()) -> float:
        """Start and wait until `/readyz` answers 200; returns the seconds that took."""
        command = [*wrapper, str(CLIENTBOOK), "serve", "--port", str(self.port)]
        self._process = ServerProcess(
            "clientbook",
            command,
            ready_url=f"{self.base_url}/readyz",
            log_path=self.log_path,
            env=self.environment(),
            ready_timeout=60,
        )
        started = time.monotonic()
        self._process.start()
        self.start_cpu_seconds = cpu_seconds(self._process.pid)
        seconds = time.monotonic() - started
        self.ready_seconds.append(seconds)
        print(
            f"  server ready in {seconds:.2f} s ({self.start_cpu_seconds:.2f} CPU s, "
            f"load average {os.getloadavg()[0]:.1f})",
            flush=True,
        )
        return seconds

    def kill(self) -> None:
        """SIGKILL to the server's whole process group: no cleanup of any kind runs."""
        server, self._process = self._process, None
        if server is None or server.process is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=30)
        server.process = None

    def stop(self) -> None:
        server, self._process = self._process, None
        if server is not None:
            server.stop()

    def rss(self) -> int:
        return rss_bytes(self.pid)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


# --- reporting ---------------------------------------------------------------------------------


def print_table(title: str, rows: Sequence[tuple[str, Any]]) -> None:
    width = max(len(name) for name, _ in rows)
    print(f"\n{title}")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


def verdict(problems: Sequence[str]) -> str:
    return "PASS" if not problems else f"FAIL ({len(problems)} problem(s))"


def print_problems(problems: Sequence[str], limit: int = 20) -> None:
    for problem in problems[:limit]:
        print(f"  ! {problem}")
    if len(problems) > limit:
        print(f"  ... and {len(problems) - limit} more")
