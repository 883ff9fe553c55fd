"""Running `wrk` with pre-generated requests (requests.lua beside this file) and reading its
figures back.

A workload is a list of `Request`s; they are written to one file per wrk thread, which the Lua
script formats once and replays in order, so that every request differs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

LUA_SCRIPT = Path(__file__).with_name("requests.lua")
RESULT_PREFIX = "BENCH_JSON "


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    authorization: str = ""
    body: str = ""  # JSON text, sent as application/json; "" for none

    def line(self) -> str:
        for part in (self.method, self.path, self.authorization, self.body):
            if "\t" in part or "\n" in part:
                raise ValueError(f"request field holds a tab or newline: {part[:80]!r}")
        return f"{self.method}\t{self.path}\t{self.authorization}\t{self.body}"


@dataclass(frozen=True)
class LoadResult:
    """What wrk measured over one run (latencies in milliseconds)."""

    requests: int
    seconds: float
    non_2xx: int  # wrk counts HTTP statuses above 399
    socket_errors: int  # connect, read and write errors
    timeouts: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def find_wrk() -> str:
    """The wrk executable, or exit with how to install it."""
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit(
            "wrk is not installed: install it with `apt-get install -y wrk` (Debian/Ubuntu) "
            "and run the benchmark again"
        )
    return path


def write_requests(base: Path, requests: Sequence[Request], threads: int) -> Path:
    """Deal the requests round-robin into `base.0`, `base.1`, … (one file per wrk thread)."""
    if not requests:
        raise ValueError(f"no requests for {base.name}")
    base.parent.mkdir(parents=True, exist_ok=True)
    while len(requests) < threads:  # every thread needs at least one
        requests = [*requests, *requests]
    for index in range(threads):
        lines = [request.line() for request in requests[index::threads]]
        Path(f"{base}.{index}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return base


def run_wrk(
    url: str,
    requests_base: Path,
    *,
    duration: float,
    connections: int,
    threads: int,
    timeout: float,
    log: Path | None = None,
) -> LoadResult:
    """One bounded wrk run against `url` (scheme, host and port) replaying `requests_base.*`."""
    command = [
        find_wrk(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        f"--timeout={max(1, round(timeout))}s",
        "-s",
        str(LUA_SCRIPT),
        url,
        "--",
        str(requests_base),
    ]
    # wrk stops by itself after `duration`; the subprocess timeout is only a safety net.
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + timeout + 60, check=False
    )
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(completed.stdout + completed.stderr, encoding="utf-8")
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr.strip()}")
    return parse_result(completed.stdout)


def parse_result(output: str) -> LoadResult:
    for line in output.splitlines():
        if line.startswith(RESULT_PREFIX):
            raw = json.loads(line[len(RESULT_PREFIX) :])
            return LoadResult(
                requests=raw["requests"],
                seconds=raw["duration_us"] / 1e6,
                non_2xx=raw["status_errors"],
                socket_errors=raw["connect_errors"] + raw["read_errors"] + raw["write_errors"],
                timeouts=raw["timeouts"],
                p50_ms=raw["p50_us"] / 1000,
                p90_ms=raw["p90_us"] / 1000,
                p99_ms=raw["p99_us"] / 1000,
                max_ms=raw["max_us"] / 1000,
            )
    raise RuntimeError(f"wrk printed no result line:\n{output}")
