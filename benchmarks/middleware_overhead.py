"""What the operations middleware (security headers, request id + JSON log line + metrics,
body and rate caps) costs a read by id, measured in-process (issue 9: "< 10%").

    .venv/bin/python benchmarks/middleware_overhead.py
    .venv/bin/python benchmarks/middleware_overhead.py --customers 5000 --requests 3000 --rounds 7

The same app is driven through ASGI directly (no sockets, no uvicorn), once with the middleware
and once with it removed, in alternating rounds of `GET /api/customers/{id}` with an API key,
each request a different record, timed in CPU seconds of the process (so that other programs
on the machine do not count). The JSON request log is written (to /dev/null), as `serve`
writes it. Without uvicorn's own per-request cost the share printed here is an upper bound of
what a real server sees.

On a busy machine the end-to-end difference is noisy (other processes evict the caches of
both variants unevenly), so the layers are also timed alone, around an endpoint that does
nothing: their own cost, without the noise of the rest of the request.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from sqlalchemy import select

if __package__ in (None, ""):  # run as a file
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from clientbook.access import SYSTEM
from clientbook.app import create_app
from clientbook.config import Settings
from clientbook.db.engine import Database
from clientbook.db.migrate import upgrade
from clientbook.db.tables import customers
from clientbook.middleware.limits import Caps, RequestLimits
from clientbook.middleware.operations import Operations
from clientbook.middleware.security_headers import SecurityHeaders
from clientbook.observability.logs import server_formatter
from clientbook.services import auth
from clientbook.services.demo import run_demo


def _scope(path: str, key: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"x-api-key", key.encode())],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def _round(app: Any, paths: list[str], key: str) -> float:
    """Requests per CPU second over `paths`, one after another."""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    # CPU time of the process (its threads included), not wall time: on a shared machine the
    # wall clock measures the neighbours.
    started = time.process_time()
    for path in paths:
        await app(_scope(path, key), receive, send)
    seconds = time.process_time() - started
    if set(statuses) != {200}:
        raise RuntimeError(f"unexpected statuses {sorted(set(statuses))}")
    return len(paths) / seconds


class _Route:
    path = "/api/customers/{customer_id}"


async def _stub(scope: MutableMapping[str, Any], _receive: Any, send: Any) -> None:
    """An endpoint that costs nothing: what remains is the layers' own cost."""
    scope["route"] = _Route
    headers = [(b"content-type", b"application/json"), (b"content-length", b"2")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"{}"})


def _layer_costs(key: str, count: int = 20_000) -> dict[str, float]:
    """CPU microseconds per request of the operations layer (and of some parts alone) around
    `_stub`."""
    caps = Caps(max_body_bytes=1 << 20, max_upload_bytes=50 << 20)
    rated = Caps(max_body_bytes=1 << 20, max_upload_bytes=50 << 20, per_credential=10**9)
    stacks: dict[str, Any] = {
        "nothing": _stub,
        "limits alone (rate limits off)": RequestLimits(_stub, caps=caps),
        "limits alone (rate limits on)": RequestLimits(_stub, caps=rated),
        "security headers alone": SecurityHeaders(_stub),
        "operations, rate limits on": Operations(_stub, caps=rated),
        "operations (as served)": Operations(_stub, caps=caps),
    }

    async def measure(app: Any, n: int) -> float:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(_message: dict[str, Any]) -> None:
            return None

        started = time.process_time()
        for _ in range(n):
            await app(_scope("/api/customers/6b07c0ffee", key), receive, send)
        return (time.process_time() - started) / n * 1e6

    async def run() -> dict[str, float]:
        for app in stacks.values():
            await measure(app, 2_000)
        costs: dict[str, list[float]] = {name: [] for name in stacks}
        for _ in range(5):
            for name, app in stacks.items():
                costs[name].append(await measure(app, count // 5))
        return {name: statistics.median(values) for name, values in costs.items()}

    return asyncio.run(run())


def _log_to_devnull() -> None:
    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115
    handler.setFormatter(server_formatter())  # as `serve` configures it
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--requests", type=int, default=3_000, help="per round")
    parser.add_argument("--rounds", type=int, default=7, help="per variant, alternating")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="clientbook-mw-bench-") as folder:
        _measure(Path(folder), args)


def _measure(folder: Path, args: argparse.Namespace) -> None:
    db = Database(Settings(database_url=f"sqlite:///{folder}/bench.sqlite3"))
    upgrade(db)
    run_demo(db, customers=args.customers, workers=0)
    with db.transaction() as conn:
        key = auth.create_api_key(conn, SYSTEM, name="bench").secret
    with db.read() as conn:
        ids = list(conn.execute(select(customers.c.id)).scalars())
    rng = random.Random(9)
    _log_to_devnull()
    # The demo data built above is garbage a server process never holds: keep the collector's
    # passes over it out of the figures.
    gc.collect()
    gc.freeze()

    with_middleware = create_app(db=db)
    without = create_app(db=db)
    without.user_middleware.clear()  # the stack is built on the first call

    async def run() -> dict[str, list[float]]:
        rates: dict[str, list[float]] = {"with": [], "without": []}
        warm = [f"/api/customers/{i}" for i in rng.sample(ids, min(500, len(ids)))]
        await _round(with_middleware, warm, key)
        await _round(without, warm, key)
        for round_ in range(args.rounds):
            # Each variant goes first in every other round: whichever runs second in a round
            # is measured a little slower, middleware or not.
            variants = [("without", without), ("with", with_middleware)]
            for name, app in variants if round_ % 2 == 0 else variants[::-1]:
                paths = [f"/api/customers/{rng.choice(ids)}" for _ in range(args.requests)]
                rates[name].append(await _round(app, paths, key))
        return rates

    rates = asyncio.run(run())
    layers = _layer_costs(key)
    plain, observed = statistics.median(rates["without"]), statistics.median(rates["with"])
    extra_us = (1 / observed - 1 / plain) * 1e6
    print(f"GET /api/customers/{{id}} in-process, {args.customers:,} customers, SQLite")
    print(f"  rounds: {args.rounds} x {args.requests:,} requests per variant (median shown)")
    print(f"  without middleware: {plain:8,.0f} req/CPU-s  ({1e6 / plain:6.1f} us/request)")
    print(f"  with middleware:    {observed:8,.0f} req/CPU-s  ({1e6 / observed:6.1f} us/request)")
    print(f"  cost: {extra_us:.1f} us/request = {(plain / observed - 1) * 100:.1f}% (target < 10%)")
    paired = sorted(
        (1 / w - 1 / wo) * 1e6 for w, wo in zip(rates["with"], rates["without"], strict=True)
    )
    spread = ", ".join(f"{cost:.0f}" for cost in paired)
    print(f"  round by round (us/request, sorted): {spread}: the spread is the machine's noise")
    print("The layers alone, around an endpoint that does nothing (CPU us per request):")
    for name, cost in layers.items():
        print(f"  {name:32s} {cost:6.1f}")
    own = layers["operations (as served)"] - layers["nothing"]
    print(f"  = {own:.1f} us, {own / (1e6 / plain) * 100:.1f}% of a read by id without them")
    db.dispose()


if __name__ == "__main__":
    main()
