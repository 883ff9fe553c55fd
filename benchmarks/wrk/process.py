"""The server under load: start it, wait until it answers, sample its memory, stop it.

Memory is the resident set (RSS, from /proc) of the server process and its descendants, sampled
every `SAMPLE_SECONDS` while a workload runs; the figure reported is the highest sample.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

SAMPLE_SECONDS = 0.1
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
            found += [int(child) for child in text.split()]
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return found


def process_tree(pid: int) -> list[int]:
    """`pid` and every process below it."""
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending += _children(current)
    return tree


def rss_bytes(pid: int) -> int:
    """Resident memory of `pid` and its descendants."""
    total = 0
    for member in process_tree(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
                    break
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by `pid` and its descendants."""
    total = 0.0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    return total


def machine_busy_seconds() -> float:
    """CPU time all cores have spent busy since boot (/proc/stat: all but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / _CLOCK_TICKS


def own_cpu_seconds() -> float:
    """CPU time of this process and of its children that have been waited for (wrk)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class ForeignCpu:
    """How many cores other processes (neither the server, nor wrk, nor this script) kept busy
    between `with` entry and exit: the noise in the figures of a shared machine."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.cores = 0.0

    def _sample(self) -> tuple[float, float, float, float]:
        return (time.monotonic(), machine_busy_seconds(), cpu_seconds(self.server_pid),
                own_cpu_seconds())  # fmt: skip

    def __enter__(self) -> ForeignCpu:
        self._start = self._sample()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._sample()
        wall, busy, server, own = (b - a for a, b in zip(self._start, end, strict=True))
        self.cores = max(0.0, busy - server - own) / wall if wall > 0 else 0.0


def foreign_cores_now(seconds: float = 2.0) -> float:
    """Cores that other processes keep busy right now, over `seconds`."""
    busy, own = machine_busy_seconds(), own_cpu_seconds()
    time.sleep(seconds)
    return max(0.0, machine_busy_seconds() - busy - (own_cpu_seconds() - own)) / seconds


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for member in process_tree(pid):
        try:
            for fd in os.listdir(f"/proc/{member}/fd"):
                try:
                    target = os.readlink(f"/proc/{member}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return inodes


def listens_on(pid: int, port: int) -> bool:
    """Whether `pid` (or a process below it) has a TCP socket listening on `port`."""
    inodes = _socket_inodes(pid)
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                return True
    return False


def wait_quiet(server_pid: int, *, below: float, limit: float) -> float:
    """Wait (at most `limit` seconds) until other processes keep under `below` cores busy for a
    second. Returns the cores they used in the last second measured."""
    deadline = time.monotonic() + limit
    while True:
        with ForeignCpu(server_pid) as foreign:
            time.sleep(1.0)
        if foreign.cores < below or time.monotonic() >= deadline:
            return foreign.cores


class MemorySampler:
    """Highest RSS of a process tree between `with` entry and exit (sampled on a thread)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            self._stop.wait(SAMPLE_SECONDS)

    def __enter__(self) -> MemorySampler:
        self.peak = rss_bytes(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes(self.pid))


class ServerProcess:
    """A server started in its own process group, always stopped on leaving the `with` block."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        ready_url: str,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        ready_timeout: float = 120,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.ready_url = ready_url
        self.port = urllib.parse.urlsplit(ready_url).port or 80
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.ready_timeout = ready_timeout
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.process.pid

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n--- {time.strftime('%F %T')} {' '.join(self.command)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        try:
            self._wait_ready(self.ready_timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode} before it was ready; "
                    f"see {self.log_path}"
                )
            # Another program may hold the port for a while (tests start servers on free ports
            # too): only our own process listening on it counts.
            if not listens_on(self.pid, self.port):
                time.sleep(0.2)
                continue
            try:
                with urllib.request.urlopen(self.ready_url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} was not ready after {timeout:.0f} s; see {self.log_path}")

    def wait_idle(
        self, *, cpu_share: float = 0.05, window: float = 1.0, limit: float = 60
    ) -> float:
        """Wait until the server uses under `cpu_share` of a core over `window` seconds (work
        left over from an earlier workload, e.g. queries whose clients gave up), at most `limit`
        seconds. Returns the seconds waited."""
        started = time.monotonic()
        while time.monotonic() - started < limit:
            before = cpu_seconds(self.pid)
            time.sleep(window)
            if cpu_seconds(self.pid) - before < cpu_share * window:
                break
        return time.monotonic() - started

    def stop(self, *, grace: float = 20) -> None:
        """SIGTERM to the server's process group, SIGKILL after `grace` seconds."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        except ProcessLookupError:
            pass

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
