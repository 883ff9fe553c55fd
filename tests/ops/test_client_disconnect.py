"""A client that hangs up partway through its request body gave up on the request: it is
logged and counted as 499 (client closed request), never as a 500 with a stack trace."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client import REGISTRY

from tests.api.conftest import Api
from tests.ops.conftest import LogLines

HALF_BODY = b'{"em'


def hang_up_midway(api: Api, path: str, content_type: bytes) -> list[dict[str, Any]]:
    """POST `path` announcing 100 bytes, send 4 of them, then disconnect; what was sent back."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", content_type),
            (b"content-length", b"100"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    messages = iter(
        [
            {"type": "http.request", "body": HALF_BODY, "more_body": True},
            {"type": "http.disconnect"},
        ]
    )
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(messages, {"type": "http.disconnect"})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(api.app(scope, receive, send))
    return sent


def counted(route: str, status: int) -> float:
    labels = {"method": "POST", "route": route, "status": str(status)}
    return REGISTRY.get_sample_value("clientbook_http_requests_total", labels) or 0.0


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/api/customers", b"application/json"), ("/signin", b"application/x-www-form-urlencoded")],
)
def test_a_client_that_hangs_up_midway_is_a_499_not_an_error(
    ops_api: Api, log_lines: LogLines, path: str, content_type: bytes
) -> None:
    route = path
    before_500, before_499 = counted(route, 500), counted(route, 499)
    hang_up_midway(ops_api, path, content_type)
    assert not [line for line in log_lines.parsed() if line["level"] == "ERROR"], log_lines.text
    assert "ClientDisconnect" not in log_lines.text
    [line] = [line for line in log_lines.requests() if line["route"] == route]
    assert line["status"] == 499
    assert counted(route, 500) == before_500
    assert counted(route, 499) == before_499 + 1
