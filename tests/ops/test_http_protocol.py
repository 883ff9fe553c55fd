"""`serve`'s HTTP protocol (clientbook.http_protocol): the request line and headers are capped
at 64 KiB (431 and the connection closed, as soon as the cap is passed) and must arrive within
CLIENTBOOK_HEADER_TIMEOUT_SECONDS. Through a real `clientbook serve`, with raw sockets, on
asyncio's loop (one process) and on uvloop (what several workers run)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from clientbook.http_protocol import MAX_HEADER_BYTES
from tests.ports import free_port

CLIENTBOOK = str(Path(sys.executable).with_name("clientbook"))
HEADER_TIMEOUT = 2
START = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
UVLOOP_SERVER = (
    "import uvicorn; from clientbook.cli import HTTP_PROTOCOL; "
    "uvicorn.run('clientbook.app:serve_app', factory=True, host='127.0.0.1', port={port}, "
    "loop='uvloop', http=HTTP_PROTOCOL, access_log=False)"
)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


class Server:
    def __init__(self, pid: int, port: int) -> None:
        self.pid = pid
        self.port = port

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)


def wait_listening(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert server.poll() is None, log.read_text()[-2000:]
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(START + b"\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        assert time.monotonic() < deadline, "no server within 60 s"
        time.sleep(0.2)


@pytest.fixture(scope="module", params=["serve", "uvloop"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("http_protocol")
    port = free_port()
    env = {
        **os.environ,
        "CLIENTBOOK_DATABASE_URL": f"sqlite:///{folder}/serve.sqlite3",
        "CLIENTBOOK_ADMIN_EMAIL": "admin@example.com",
        "CLIENTBOOK_ADMIN_PASSWORD": "a long admin password",
        "CLIENTBOOK_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
        "CLIENTBOOK_LOG_LEVEL": "WARNING",
    }
    if request.param == "serve":
        command = [CLIENTBOOK, "serve", "--host", "127.0.0.1", "--port", str(port)]
    else:
        subprocess.run([CLIENTBOOK, "db", "upgrade"], env=env, check=True, capture_output=True)
        command = [sys.executable, "-c", UVLOOP_SERVER.format(port=port)]
    log_path = folder / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_listening(port, process, log_path)
        yield Server(process.pid, port)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_normal_request_is_answered(server: Server) -> None:
    with server.connect() as sock:
        sock.sendall(START + b"X-Fine: " + b"a" * 8000 + b"\r\n\r\n")
        assert sock.recv(64).startswith(b"HTTP/1.1 200 ")


def test_headers_one_byte_over_the_cap_get_431_and_the_connection_closes(server: Server) -> None:
    filler = MAX_HEADER_BYTES - len(START) - len(b"X-Big: \r\n") + 1
    with server.connect() as sock:
        sock.sendall(START + b"X-Big: " + b"a" * filler + b"\r\n")  # no blank line yet
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert b"connection: close" in answer.lower()
    assert b'"code":"headers_too_large"' in answer


def test_a_header_block_at_the_cap_is_served(server: Server) -> None:
    filler = MAX_HEADER_BYTES - len(START) - len(b"X-Big: \r\n") - 2
    with server.connect() as sock:
        sock.sendall(START + b"X-Big: " + b"a" * filler + b"\r\n\r\n")
        assert sock.recv(64).startswith(b"HTTP/1.1 200 ")


def test_a_body_sent_with_its_headers_is_not_counted_as_headers(server: Server) -> None:
    body = b'{"email": "' + b"a" * 200_000 + b'"}'
    head = (
        b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    with server.connect() as sock:
        sock.sendall(head + body)
        status = sock.recv(64)
    assert status.startswith(b"HTTP/1.1 4") and not status.startswith(b"HTTP/1.1 431")


def test_a_flood_of_header_bytes_is_cut_off_without_being_kept(server: Server) -> None:
    before = rss_kib(server.pid)
    line = b"X-Big-%d: " + b"a" * (1024 * 1024) + b"\r\n"
    sent = 0
    with server.connect() as sock:
        sock.sendall(START)
        try:
            for n in range(100):
                sock.sendall(line % n)
                sent += 1
        except OSError:  # reset by the server
            pass
        else:
            pytest.fail("the server took 100 MiB of headers")
    assert sent < 32  # what the two sockets' buffers held before the server closed
    assert rss_kib(server.pid) - before < 32 * 1024


def test_a_half_sent_header_block_is_closed_after_the_deadline(server: Server) -> None:
    with server.connect() as sock:
        started = time.monotonic()
        sock.sendall(START)  # never the blank line
        assert read_all(sock) == b""
        waited = time.monotonic() - started
    assert HEADER_TIMEOUT - 0.5 < waited < HEADER_TIMEOUT + 3


def test_a_silent_connection_is_closed_after_the_deadline(server: Server) -> None:
    with server.connect() as sock:
        started = time.monotonic()
        assert read_all(sock) == b""
    assert time.monotonic() - started < HEADER_TIMEOUT + 3


def test_headers_trickling_in_within_the_deadline_are_served_twice_on_one_connection(
    server: Server,
) -> None:
    with server.connect() as sock:
        for _ in range(2):
            for piece in (b"GET /healthz HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n"):
                sock.sendall(piece)
                time.sleep(HEADER_TIMEOUT / 4)
            answer = sock.recv(4096)
            assert answer.startswith(b"HTTP/1.1 200 ")
