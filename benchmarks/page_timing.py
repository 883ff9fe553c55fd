"""Timing console pages in-process: a staff session, a page getter, p50/p95 per page.

Shared by `console_pages.py` and `admin_tools_pages.py`. Wall time is inflated on a loaded
machine; the CPU time of this process is the steadier estimate of the server's own work.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from fastapi.testclient import TestClient

from clientbook.access import SYSTEM
from clientbook.db.engine import Database
from clientbook.services import auth, users

TARGET_MS = 300.0  # issue #7: every page under 300 ms of server time on a million records


def staff_cookie(db: Database) -> str:
    """A session of the benchmarks' staff user (created the first time, reused after)."""
    email = "console-benchmark@example.com"
    with db.transaction() as conn:
        user = users.find_user_by_email(conn, email)
        if user is None:
            data = {"email": email, "name": "Console Benchmark", "role": "super_admin"}
            user = users.insert_user(conn, SYSTEM, data, password_hash=None)
        return auth.create_session(conn, user["id"], origin=auth.ANONYMOUS).token


def page_getter(client: TestClient) -> Callable[[str], Callable[[], str]]:
    """`get(path)` → a call that fetches the page, insists on 200 and returns its HTML."""

    def get(path: str) -> Callable[[], str]:
        def call() -> str:
            response = client.get(path, follow_redirects=False)
            assert response.status_code == 200, (path, response.status_code)
            return response.text

        return call

    return get


def measure(call: Callable[[], object], runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds of each run (after one warm-up run)."""
    call()  # warm up: statement caches, SQLite pages
    wall, cpu = [], []
    for _ in range(runs):
        started, used = time.perf_counter(), time.process_time()
        call()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - used) * 1000)
    return wall, cpu


def _p(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def report(label: str, times: tuple[list[float], list[float]]) -> bool:
    """One line per page; SLOW when the p95 wall time is over the target."""
    wall, cpu = sorted(times[0]), sorted(times[1])
    slow = _p(wall, 0.95) > TARGET_MS
    print(
        f"{label:<42} wall p50 {statistics.median(wall):6.1f} p95 {_p(wall, 0.95):6.1f} "
        f"max {wall[-1]:6.1f} | cpu p50 {statistics.median(cpu):6.1f} p95 {_p(cpu, 0.95):6.1f} ms"
        + ("  SLOW" if slow else "")
    )
    return not slow
