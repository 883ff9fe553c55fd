"""Server time of the console's import, export, duplicates, audit log, users and API keys pages
over a million customers (SQLite): p50 / p95 / max per page.

    .venv/bin/python benchmarks/admin_tools_pages.py                  # data/console-1m.sqlite3
    .venv/bin/python benchmarks/admin_tools_pages.py --database PATH --runs 20

The database is the one `benchmarks/console_pages.py` builds (`clientbook demo --customers N`);
build it with that script first. Each page is requested in-process through the whole
application (FastAPI TestClient, a staff session cookie, HTML rendered), warmed up once, then
timed `--runs` times. Issue #7's target: every page under 300 ms; a page over it is marked
`SLOW` and the exit status is 1. A million records come with a million accounts (every record
has its user), so the users pages are measured at that size too. The export row times a small
filtered download (a whole-table export streams for seconds by design; see
benchmarks/import_export.py for its throughput).

The demo database holds few audit entries, so the audit log pages are also timed over a log of
their own: `--audit-rows N` (default a million) entries in `--audit-database` (built once,
then reused): customer changes by a handful of staff over two years, some account, note and
API key entries among them. Without SQLite's planner statistics, a filter on the entity type
alone picks the entity index and sorts every entry of that type; `--analyze` runs ANALYZE on
that database first.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from fastapi.testclient import TestClient

if __package__ in (None, ""):  # run as a file: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.page_timing import measure, page_getter, report, staff_cookie

from clientbook.access import Principal
from clientbook.app import create_app
from clientbook.config import Settings
from clientbook.db import migrate
from clientbook.db.engine import Database
from clientbook.domain.ids import new_id
from clientbook.services import audit, auth

DEFAULT_PATH = Path("data/console-1m.sqlite3")
AUDIT_PATH = Path("data/audit-1m.sqlite3")
_AUDIT_MIX = (
    # (share, action, entity type)
    (0.55, "customer.updated", "customer"),
    (0.15, "customer.created", "customer"),
    (0.12, "customer.status_changed", "customer"),
    (0.08, "customer.assigned", "customer"),
    (0.05, "note.created", "note"),
    (0.04, "interaction.created", "interaction"),
    (0.009, "user.login", "user"),
    (0.001, "apikey.created", "api_key"),
)
_OLDER = re.compile(r'rel="next" href="([^"]+)"')
_DUPLICATES_NEXT = re.compile(r'href="([^"]+)" rel="next"')


def sample(db: Database) -> dict[str, str]:
    """Real values to filter on: a customer id, an actor, an account's email."""
    with db.read() as conn:

        def one(sql: str) -> str:
            value = conn.exec_driver_sql(sql).scalar()
            return "" if value is None else str(value)

        return {
            "customer": one("SELECT id FROM customers ORDER BY seq DESC LIMIT 1"),
            "actor": one('SELECT "actorId" FROM audit_logs WHERE "actorId" IS NOT NULL LIMIT 1'),
            "email": one("SELECT email FROM users WHERE email IS NOT NULL ORDER BY seq LIMIT 1"),
        }


def build_audit_log(path: Path, rows: int) -> None:
    """A database whose audit log holds `rows` entries (nothing else), oldest first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = Database(Settings(database_url=f"sqlite:///{path.resolve()}"))
    print(f"building {path} with {rows:,} audit entries ...", flush=True)
    started = time.perf_counter()
    try:
        migrate.upgrade(db)
        chance = random.Random(7)
        staff = [Principal(kind="user", id=new_id(), role="super_admin") for _ in range(5)]
        customers = [new_id() for _ in range(max(1, rows // 10))]
        start = datetime.now(UTC) - timedelta(days=730)
        step = timedelta(days=730) / rows
        weights = [share for share, _, _ in _AUDIT_MIX]
        batch: list[dict[str, object]] = []
        for number in range(rows):
            _, action, entity = chance.choices(_AUDIT_MIX, weights)[0]
            actor = chance.choice(staff)
            entity_id = chance.choice(customers) if entity == "customer" else new_id()
            change = {"status": {"from": "lead", "to": "active"}}
            batch.append(
                audit.audit_row(
                    actor, action, entity_type=entity, entity_id=entity_id,
                    changes=change, at=start + step * number,
                )
            )  # fmt: skip
            if len(batch) == 20_000 or number == rows - 1:
                with db.transaction() as conn:
                    audit.record_many(conn, batch)
                batch = []
    finally:
        db.dispose()
    print(f"built in {time.perf_counter() - started:,.0f} s", flush=True)


def audit_pages(db: Database) -> list[tuple[str, str]]:
    with db.read() as conn:

        def one(sql: str) -> str:
            value = conn.exec_driver_sql(sql).scalar()
            return "" if value is None else str(value)

        customer = one(
            'SELECT "entityId" FROM audit_logs WHERE "entityType" = \'customer\' LIMIT 1'
        )
        actor = one('SELECT "actorId" FROM audit_logs ORDER BY seq DESC LIMIT 1')
        newest = one('SELECT "occurredAt" FROM audit_logs ORDER BY seq DESC LIMIT 1')[:10]
        oldest = one('SELECT "occurredAt" FROM audit_logs ORDER BY seq LIMIT 1')[:10]
    return [
        ("audit log: newest first", "/admin/audit"),
        ("audit log: customers only", "/admin/audit?entityType=customer"),
        ("audit log: API keys only (rare)", "/admin/audit?entityType=api_key"),
        ("audit log: one customer", f"/admin/audit?entityType=customer&entityId={customer}"),
        ("audit log: one actor", f"/admin/audit?actorId={actor}"),
        ("audit log: status changes", "/admin/audit?action=customer.status_changed"),
        ("audit log: sign-ins (rare)", "/admin/audit?action=user.login"),
        ("audit log: newest day", f"/admin/audit?from={newest}&until={newest}"),
        ("audit log: oldest day", f"/admin/audit?from={oldest}&until={oldest}"),
        ("audit log: customers, oldest day",
         f"/admin/audit?entityType=customer&from={oldest}&until={oldest}"),
    ]  # fmt: skip


def pages(values: dict[str, str]) -> list[tuple[str, str]]:
    customer, actor = values["customer"], values["actor"]
    email = quote(values["email"])
    return [
        ("import form", "/admin/import"),
        ("export form", "/admin/export"),
        ("export: one record, CSV download", f"/admin/export/download?format=csv&ids={customer}"),
        ("duplicates: first page", "/admin/duplicates"),
        ("duplicates: phone", "/admin/duplicates?reason=phone"),
        ("duplicates: name within company", "/admin/duplicates?reason=name_company"),
        ("audit: newest first", "/admin/audit"),
        ("audit: customers only", "/admin/audit?entityType=customer"),
        ("audit: one customer's history", f"/admin/audit?entityType=customer&entityId={customer}"),
        ("audit: one actor", f"/admin/audit?actorId={actor}"),
        ("audit: action=customer.created", "/admin/audit?action=customer.created"),
        ("audit: a day's range", "/admin/audit?from=2026-01-01&until=2026-01-01"),
        ("users: first page", "/admin/users"),
        ("users: invited", "/admin/users?status=invited"),
        ("users: staff", "/admin/users?role=super_admin"),
        ("users: by email", f"/admin/users?email={email}"),
        ("api keys", "/admin/api-keys"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--database", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--audit-database", type=Path, default=AUDIT_PATH)
    parser.add_argument("--audit-rows", type=int, default=1_000_000)
    parser.add_argument(
        "--analyze",
        action="store_true",
        help="run ANALYZE on the audit database first (SQLite's planner statistics)",
    )
    args = parser.parse_args()
    if not args.database.exists():
        sys.exit(f"{args.database} does not exist: build it with benchmarks/console_pages.py")
    db = Database(Settings(database_url=f"sqlite:///{args.database.resolve()}"))
    try:
        with db.read() as conn:
            count = conn.exec_driver_sql
            customers = count("SELECT count(*) FROM customers").scalar_one()
            accounts = count("SELECT count(*) FROM users").scalar_one()
            entries = count("SELECT count(*) FROM audit_logs").scalar_one()
        cookie = staff_cookie(db)
        values = sample(db)
        print(
            f"{customers:,} customers, {accounts:,} accounts, {entries:,} audit entries in "
            f"{args.database}; {args.runs} runs per page; load average "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; SQLite {sqlite3.sqlite_version}"
        )
        ok = True
        with TestClient(create_app(db=db)) as client:
            client.cookies.set(auth.SESSION_COOKIE, cookie)

            get = page_getter(client)

            for label, path in pages(values):
                ok &= report(label, measure(get(path), args.runs))
            for label, path, pattern in (
                ("audit: page 2 (cursor)", "/admin/audit", _OLDER),
                ("users: page 2 (cursor)", "/admin/users", _OLDER),
                ("duplicates: page 2 (cursor)", "/admin/duplicates", _DUPLICATES_NEXT),
            ):
                found = pattern.search(get(path)())
                if found:
                    following = found.group(1).replace("&amp;", "&")
                    ok &= report(label, measure(get(following), args.runs))
    finally:
        db.dispose()
    ok &= time_audit_log(args)
    sys.exit(0 if ok else 1)


def time_audit_log(args: argparse.Namespace) -> bool:
    if not args.audit_database.exists():
        build_audit_log(args.audit_database, args.audit_rows)
    db = Database(Settings(database_url=f"sqlite:///{args.audit_database.resolve()}"))
    ok = True
    try:
        if args.analyze:
            with db.transaction() as conn:
                conn.exec_driver_sql("ANALYZE")
        with db.read() as conn:
            entries = conn.exec_driver_sql("SELECT count(*) FROM audit_logs").scalar_one()
        cookie = staff_cookie(db)
        with db.read() as conn:
            analyzed = conn.exec_driver_sql(
                "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"
            ).scalar_one()
        statistics_state = "with" if analyzed else "without"
        print(
            f"{entries:,} audit entries in {args.audit_database}, {statistics_state} "
            "planner statistics (ANALYZE)"
        )
        with TestClient(create_app(db=db)) as client:
            client.cookies.set(auth.SESSION_COOKIE, cookie)

            get = page_getter(client)

            for label, path in audit_pages(db):
                ok &= report(label, measure(get(path), args.runs))
            found = _OLDER.search(get("/admin/audit?entityType=customer")())
            if found:
                following = found.group(1).replace("&amp;", "&")
                ok &= report("audit log: customers, page 2", measure(get(following), args.runs))
    finally:
        db.dispose()
    return ok


if __name__ == "__main__":
    main()
