"""The Appwrite-compatible face against the native API, on one live clientbook (issue
"Appwrite-compatible API", item 4): the same read workloads as Appwrite queries through `/v1`
and as query strings through `/api`, in the same run, against the same server and data.

    .venv/bin/python -m benchmarks.appwrite_vs_native                      # 100,000 customers
    .venv/bin/python -m benchmarks.appwrite_vs_native --customers 20000 --duration 3

Steps (each preparation step is skipped when the work directory already holds its result):
1. `clientbook demo --customers N` generates the SQLite file;
2. with the server stopped: an API key (`clientbook apikeys create`), and 200 demo owners given a
   password (their sessions serve workload f);
3. `clientbook serve` starts as a user starts it; the owners sign in through `/api/auth/login`
   (the session token is both the native bearer token and Appwrite's `X-Appwrite-Session`);
4. per workload, one probe of each side checks that both answer 200 with the same records in
   the same order; then wrk (bounded: `--duration` seconds, `--rounds` times per side,
   alternating which side goes first) replays pre-generated requests;
5. a table of req/s per side, the ratio /v1 ÷ /api (target ≥ 0.90) and p50/p99 latencies.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

if __package__ in (None, ""):  # run as a file: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.wrk.load import LoadResult, find_wrk, parse_result
from benchmarks.wrk.process import ServerProcess

PROJECT = "clientbook"
DATABASE = "console-db"
ROWS = f"/v1/tablesdb/{DATABASE}/tables/customers/rows"
OWNER_COUNT = 200
OWNER_PASSWORD = "bench-owner-password"
ADMIN_EMAIL = "bench-admin@example.com"
ADMIN_PASSWORD = "bench-admin-password"
DISTINCT_REQUESTS = 5_000
TARGET_RATIO = 0.90

# wrk script: replay lines "METHOD <TAB> PATH <TAB> Name: value|Name: value", one file per
# thread; `done` prints the figures as one JSON line (the format benchmarks/wrk/load.py reads).
LUA = r"""
local next_thread = 0
function setup(thread)
   thread:set("thread_index", next_thread)
   next_thread = next_thread + 1
end
local requests, count, position = {}, 0, 0
function init(args)
   for line in io.lines(args[1] .. "." .. thread_index) do
      local method, path, header_text = line:match("^([^\t]*)\t([^\t]*)\t?(.*)$")
      local headers = { ["Host"] = wrk.headers["Host"] }
      for pair in header_text:gmatch("[^|]+") do
         local name, value = pair:match("^([^:]+): ?(.*)$")
         headers[name] = value
      end
      count = count + 1
      requests[count] = wrk.format(method, path, headers, nil)
   end
end
function request()
   position = position % count + 1
   return requests[position]
end
function done(summary, latency, _requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, ' ..
      '"read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d, ' ..
      '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
      summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
      e.status, e.timeout, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, latency.mean))
end
"""


@dataclass(frozen=True)
class Config:
    customers: int
    duration: float
    rounds: int
    connections: int
    threads: int
    workdir: Path
    workloads: tuple[str, ...]
    seed: int

    @property
    def database(self) -> Path:
        return self.workdir / "clientbook.sqlite3"


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]

    def line(self) -> str:
        header_text = "|".join(f"{name}: {value}" for name, value in self.headers.items())
        return f"GET\t{self.path}\t{header_text}"


@dataclass
class Data:
    customer_ids: list[str]
    terms: list[str]
    reps: list[str]
    owners: list[dict[str, str]]
    tokens: list[str]


def parse_args(argv: Sequence[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000, help="rows (100,000)")
    parser.add_argument("--duration", type=float, default=5, help="seconds per wrk run (5)")
    parser.add_argument("--rounds", type=int, default=3, help="wrk runs per side (3)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (16)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="some of a-f, f2")
    parser.add_argument("--workdir", type=Path, help="default $TMPDIR/clientbook-appwrite-N")
    parser.add_argument("--seed", type=int, default=8, help="random seed of the request mix")
    args = parser.parse_args(argv)
    workloads = tuple(w for w in args.workloads.split(",") if w)
    if not set(workloads) <= set(WORKLOADS) or args.customers < 1 or args.duration <= 0:
        parser.error("workloads are a-f and f2; --customers and --duration must be positive")
    tmp = Path(os.environ.get("TMPDIR", "/tmp"))
    workdir = args.workdir or tmp / f"clientbook-appwrite-{args.customers}"
    return Config(
        customers=args.customers,
        duration=args.duration,
        rounds=max(1, args.rounds),
        connections=args.connections,
        threads=args.threads,
        workdir=workdir.resolve(),
        workloads=workloads,
        seed=args.seed,
    )


# --- preparation ------------------------------------------------------------------------------


def step(message: str) -> None:
    print(f"\n== {message}", flush=True)


def clientbook_command() -> str:
    beside = Path(sys.executable).parent / "clientbook"
    found = str(beside) if beside.exists() else shutil.which("clientbook")
    if not found:
        raise SystemExit("`clientbook` is not installed: run `make install` first")
    return found


def clientbook_env(config: Config, port: int | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        CLIENTBOOK_DATABASE_URL=f"sqlite:///{config.database}",
        CLIENTBOOK_HOST="127.0.0.1",
        CLIENTBOOK_ADMIN_EMAIL=ADMIN_EMAIL,
        CLIENTBOOK_ADMIN_PASSWORD=ADMIN_PASSWORD,
        CLIENTBOOK_APPWRITE_PROJECT_ID=PROJECT,
        CLIENTBOOK_APPWRITE_DATABASE_ID=DATABASE,
    )
    if port is not None:
        env["CLIENTBOOK_PORT"] = str(port)
    return env


class State:
    """What earlier runs left in the work directory (state.json)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.path.write_text(json.dumps(self.data, indent=2))


def ensure_database(config: Config, state: State) -> None:
    if state.get("customers") == config.customers and config.database.exists():
        print(f"  reusing {config.database} ({config.customers:,} customers)")
        return
    for suffix in ("", "-wal", "-shm"):
        Path(f"{config.database}{suffix}").unlink(missing_ok=True)
    command = [clientbook_command(), "demo", "--customers", str(config.customers)]
    print(f"  {' '.join(command)}")
    started = time.monotonic()
    subprocess.run(command, env=clientbook_env(config), check=True)
    print(f"  generated in {time.monotonic() - started:.0f} s")
    state.set("customers", config.customers)


def ensure_api_key(config: Config, state: State) -> str:
    if not state.get("api_key"):
        done = subprocess.run(
            [clientbook_command(), "apikeys", "create", "--name", "appwrite-bench"],
            env=clientbook_env(config),
            capture_output=True,
            text=True,
            check=True,
        )
        state.set("api_key", done.stdout.strip().splitlines()[-1])
    return str(state.get("api_key"))


def read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)


def ensure_owners(config: Config, state: State) -> list[dict[str, str]]:
    """Demo owners (invited, no password) given one, so that they can sign in."""
    if state.get("owners"):
        return list(state.get("owners"))
    from sqlalchemy import update

    from clientbook.config import Settings
    from clientbook.db.tables import users
    from clientbook.domain.timestamps import utcnow
    from clientbook.services.passwords import hash_password
    from clientbook.services.runtime import open_database

    with read_only(config.database) as conn:
        rows = conn.execute(
            'SELECT c."userId", u.email FROM customers c JOIN users u ON u.id = c."userId" '
            "WHERE u.role = 'user' AND u.status != 'blocked' AND u.email IS NOT NULL "
            "ORDER BY c.seq LIMIT ?",
            (OWNER_COUNT,),
        ).fetchall()
    owners = [{"userId": user_id, "email": email} for user_id, email in rows]
    db = open_database(Settings(database_url=f"sqlite:///{config.database}"))
    try:
        with db.transaction() as conn:
            conn.execute(
                update(users)
                .where(users.c.id.in_([o["userId"] for o in owners]))
                .values(
                    passwordHash=hash_password(OWNER_PASSWORD),
                    passwordUpdatedAt=utcnow(),
                    status="active",
                )
            )
    finally:
        db.dispose()
    state.set("owners", owners)
    return owners


def sample(config: Config, owners: list[dict[str, str]], rng: random.Random) -> Data:
    with read_only(config.database) as conn:
        top = int(conn.execute("SELECT max(seq) FROM customers").fetchone()[0])
        seqs = rng.sample(range(1, top + 1), min(top, DISTINCT_REQUESTS))
        marks = ",".join("?" * len(seqs))
        rows = conn.execute(f"SELECT id, name FROM customers WHERE seq IN ({marks})", seqs)
        found = rows.fetchall()
        reps = [
            r[0]
            for r in conn.execute(
                'SELECT DISTINCT "assignedTo" FROM customers WHERE "assignedTo" IS NOT NULL'
            )
        ]
    rng.shuffle(found)
    terms = []
    for _id, name in found:
        words = [w.lower() for w in name.split() if w.isascii() and w.isalpha() and len(w) >= 3]
        words = [w for w in words if w not in ("bin", "binti")]
        if words:
            word = rng.choice(words)
            terms.append(word[: rng.randint(3, len(word))])
    return Data([i for i, _ in found], terms, reps, owners, [])


# --- the workloads: one request of each syntax per item --------------------------------------


def _native(params: dict[str, Any]) -> str:
    return f"/api/customers?{urlencode(params, quote_via=quote)}"


def _appwrite(*queries: dict[str, Any]) -> str:
    """A list path with indexed `queries[i]`, encoded as the SDKs encode them."""
    params = {f"queries[{i}]": json.dumps(q, separators=(",", ":")) for i, q in enumerate(queries)}
    return f"{ROWS}?{urlencode(params, quote_via=quote)}"


def _q(method: str, attribute: str | None = None, *values: Any) -> dict[str, Any]:
    query: dict[str, Any] = {"method": method}
    if attribute is not None:
        query["attribute"] = attribute
    if values:
        query["values"] = list(values)
    return query


Pair = tuple[str, str]  # (native path, /v1 path)
Maker = Callable[[Data, str], list[tuple[Pair, int | None]]]  # (paths, owner index or None)


def w_active(_d: Data, _now: str) -> list[tuple[Pair, int | None]]:
    native = _native({"status": "active", "sort": "-lastContactAt", "limit": 50})
    v1 = _appwrite(
        _q("equal", "status", "active"), _q("orderDesc", "lastContactAt"), _q("limit", None, 50)
    )
    return [((native, v1), None)]


def w_search(d: Data, _now: str) -> list[tuple[Pair, int | None]]:
    return [((_native({"q": t}), _appwrite(_q("search", "name", t))), None) for t in d.terms]


def w_get(d: Data, _now: str) -> list[tuple[Pair, int | None]]:
    return [((f"/api/customers/{i}", f"{ROWS}/{i}"), None) for i in d.customer_ids]


def w_assigned(d: Data, _now: str) -> list[tuple[Pair, int | None]]:
    out: list[tuple[Pair, int | None]] = []
    for rep in d.reps:
        native = _native({"assignedTo": rep, "status": "active", "sort": "name", "limit": 50})
        v1 = _appwrite(
            _q("equal", "assignedTo", rep),
            _q("equal", "status", "active"),
            _q("orderAsc", "name"),
            _q("limit", None, 50),
        )
        out.append(((native, v1), None))
    return out


def w_due(_d: Data, now: str) -> list[tuple[Pair, int | None]]:
    native = _native(
        {
            "nextFollowUpAt[lte]": now,
            "status[ne]": "archived",
            "sort": "nextFollowUpAt",
            "limit": 50,
        }
    )
    v1 = _appwrite(
        _q("lessThanEqual", "nextFollowUpAt", now),
        _q("notEqual", "status", "archived"),
        _q("orderAsc", "nextFollowUpAt"),
        _q("limit", None, 50),
    )
    return [((native, v1), None)]


def _own_query(owner: dict[str, str]) -> str:
    """The seed's "Get Customer by User ID (Self-Service)": listRows equal userId, limit 1."""
    return _appwrite(_q("equal", "userId", owner["userId"]), _q("limit", None, 1))


def w_own(d: Data, _now: str) -> list[tuple[Pair, int | None]]:
    """/v1 lists (the seed's way); /api has a route for it (`/me`, one indexed get)."""
    return [(("/api/customers/me", _own_query(o)), i) for i, o in enumerate(d.owners)]


def w_own_listed(d: Data, _now: str) -> list[tuple[Pair, int | None]]:
    """The same list through both syntaxes: the cost of the face itself."""
    return [
        ((_native({"userId": o["userId"], "limit": 1}), _own_query(o)), i)
        for i, o in enumerate(d.owners)
    ]


WORKLOADS: dict[str, tuple[str, Maker]] = {
    "a": ("(a) status=active, sort -lastContactAt, 50", w_active),
    "b": ("(b) search a name prefix, 25", w_search),
    "c": ("(c) get by id", w_get),
    "d": ("(d) assignedTo=X, active, sort name, 50", w_assigned),
    "e": ("(e) follow-ups due, sort nextFollowUpAt, 50", w_due),
    "f": ("(f) own record (session): /me vs listRows", w_own),
    "f2": ("(f2) own record (session): list vs listRows", w_own_listed),
}


def requests_for(
    key: str, data: Data, api_key: str, now: str
) -> tuple[list[Request], list[Request]]:
    native, v1 = [], []
    for (native_path, v1_path), owner in WORKLOADS[key][1](data, now):
        if owner is None:
            native.append(Request(native_path, {"X-API-Key": api_key}))
            v1_headers = {"X-Appwrite-Project": PROJECT, "X-Appwrite-Key": api_key}
        else:
            token = data.tokens[owner]
            native.append(Request(native_path, {"Authorization": f"Bearer {token}"}))
            v1_headers = {"X-Appwrite-Project": PROJECT, "X-Appwrite-Session": token}
        v1.append(Request(v1_path, v1_headers))
    return native, v1


# --- running ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def fetch(base: str, request: Request) -> tuple[int, Any]:
    req = urllib.request.Request(base + request.path, headers=request.headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, error.read(300).decode(errors="replace")


def record_ids(body: Any) -> list[str]:
    """The records of either answer, in order: a list's rows, or one record."""
    if isinstance(body, dict) and "rows" in body:
        return [row["$id"] for row in body["rows"]]
    return [body["$id"]] if isinstance(body, dict) and "$id" in body else []


def probe(base: str, native: Request, v1: Request) -> str:
    """Both sides answer 200 with the same records in the same order (or say why not)."""
    (native_status, native_body), (v1_status, v1_body) = fetch(base, native), fetch(base, v1)
    if native_status != 200 or v1_status != 200:
        return f"status /api {native_status} /v1 {v1_status}: {str(v1_body)[:200]}"
    if record_ids(native_body) != record_ids(v1_body):
        return "the two answers hold different records"
    return ""


def run_wrk(config: Config, base: str, requests: list[Request], name: str) -> LoadResult:
    files = config.workdir / "requests" / name
    files.parent.mkdir(parents=True, exist_ok=True)
    while len(requests) < config.threads:
        requests = requests * 2
    for index in range(config.threads):
        lines = [r.line() for r in requests[index :: config.threads]]
        Path(f"{files}.{index}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    script = config.workdir / "headers.lua"
    script.write_text(LUA, encoding="utf-8")
    command = [
        find_wrk(),
        f"-t{config.threads}",
        f"-c{config.connections}",
        f"-d{max(1, round(config.duration))}s",
        "--timeout=10s",
        "-s",
        str(script),
        base,
        "--",
        str(files),
    ]
    # wrk stops by itself after the duration; the timeout is only a safety net.
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=config.duration + 90, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr.strip()}")
    return parse_result(done.stdout)


@dataclass
class Figures:
    rates: list[float]
    p50: list[float]
    p99: list[float]
    errors: int = 0

    @property
    def rate(self) -> float:
        return statistics.median(self.rates)


def login(base: str, owners: list[dict[str, str]]) -> list[str]:
    tokens = []
    for owner in owners:
        body = json.dumps({"email": owner["email"], "password": OWNER_PASSWORD}).encode()
        request = urllib.request.Request(
            f"{base}/api/auth/login",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            tokens.append(str(json.load(response)["token"]))
    return tokens


def bench(config: Config, data: Data, api_key: str) -> list[tuple[str, Figures, Figures, str]]:
    port = free_port()
    server = ServerProcess(
        "clientbook",
        [clientbook_command(), "serve"],
        ready_url=f"http://127.0.0.1:{port}/readyz",
        log_path=config.workdir / "logs" / "clientbook.log",
        env=clientbook_env(config, port),
    )
    results = []
    with server:
        base = f"http://127.0.0.1:{port}"
        if {"f", "f2"} & set(config.workloads):
            data.tokens = login(base, data.owners)
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        for key in config.workloads:
            title = WORKLOADS[key][0]
            native, v1 = requests_for(key, data, api_key, now)
            problem = probe(base, native[0], v1[0])
            sides = {"api": Figures([], [], []), "v1": Figures([], [], [])}
            print(f"  {title}: ", end="", flush=True)
            for round_ in range(config.rounds):
                order = ("api", "v1") if round_ % 2 == 0 else ("v1", "api")
                for side in order:
                    server.wait_idle()
                    load = run_wrk(config, base, native if side == "api" else v1, f"{key}-{side}")
                    figures = sides[side]
                    figures.rates.append(load.requests_per_second)
                    figures.p50.append(load.p50_ms)
                    figures.p99.append(load.p99_ms)
                    figures.errors += load.non_2xx + load.socket_errors + load.timeouts
                    print(f"{side} {load.requests_per_second:,.0f}/s ", end="", flush=True)
            print(problem)
            results.append((title, sides["api"], sides["v1"], problem))
    return results


def report(config: Config, results: list[tuple[str, Figures, Figures, str]]) -> bool:
    header = f"{'workload':<52} {'/api req/s':>11} {'/v1 req/s':>10} {'ratio':>6}"
    header += f" {'/api p50':>9} {'/v1 p50':>8} {'/v1 p99':>8}  errors"
    runs = f"{config.rounds} x {config.duration:g} s per side"
    print(f"\n{config.customers:,} customers, {config.connections} connections, {runs}\n")
    print(header)
    ok = True
    for title, api, v1, problem in results:
        ratio = v1.rate / api.rate if api.rate else 0.0
        ok &= ratio >= TARGET_RATIO and not problem and not (api.errors or v1.errors)
        print(
            f"{title:<52} {api.rate:>11,.0f} {v1.rate:>10,.0f} {ratio:>6.2f}"
            f" {min(api.p50):>7.1f}ms {min(v1.p50):>6.1f}ms {min(v1.p99):>6.1f}ms"
            f"  {api.errors}/{v1.errors} {problem}"
        )
    verdict = "met" if ok else "NOT met"
    print(f"\ntarget /v1 >= {TARGET_RATIO:.0%} of /api, same answers, no errors: {verdict}")
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    config.workdir.mkdir(parents=True, exist_ok=True)
    state = State(config.workdir / "state.json")
    rng = random.Random(config.seed)
    step("database")
    ensure_database(config, state)
    api_key = ensure_api_key(config, state)
    owners = ensure_owners(config, state)
    data = sample(config, owners, rng)
    step("load")
    results = bench(config, data, api_key)
    return 0 if report(config, results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
