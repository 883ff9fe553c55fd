"""Operations tests: the app over the test database with chosen settings, called from
loopback (so `/metrics` answers), and a handler that captures every log line as JSON."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest

from clientbook.db.engine import Database
from clientbook.observability.logs import JsonFormatter
from tests.api.conftest import Api
from tests.conftest import settings_for

LOOPBACK = ("127.0.0.1", 50000)
BuildApi = Callable[..., Api]
CLIENT_LOGGERS = ("httpx", "httpcore")


@pytest.fixture
def build_api(database_url: str) -> Iterator[BuildApi]:
    """`build_api(rate_limit_per_credential=3, client=(...))`: an Api with those settings."""
    opened: list[tuple[Api, Database]] = []

    def build(*, client: tuple[str, int] = LOOPBACK, **overrides: Any) -> Api:
        db = Database(settings_for(database_url, **overrides))
        api = Api(db, client=client)
        api.__enter__()
        opened.append((api, db))
        return api

    yield build
    for api, db in reversed(opened):
        api.__exit__(None, None, None)
        db.dispose()


@pytest.fixture
def ops_api(build_api: BuildApi) -> Api:
    return build_api()


class LogLines(logging.Handler):
    """Every record of the server's loggers, formatted by its JSON formatter."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(CLIENT_LOGGERS):  # the test's HTTP client, not the server
            self.lines.append(self.format(record))

    def parsed(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.lines]

    def requests(self) -> list[dict[str, Any]]:
        return [line for line in self.parsed() if line["logger"] == "clientbook.request"]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def log_lines() -> Iterator[LogLines]:
    root = logging.getLogger()
    handler = LogLines()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
