"""The request line's direct way to the server's stream writes what the logging module would
(benchmarks/middleware_overhead.py: the record's way costs more than the line)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from clientbook.observability.logs import REQUEST_ID, JsonFormatter, log_info
from tests.ops.conftest import LogLines

FIELDS = {"method": "GET", "route": "/api/customers/{customer_id}", "status": 200}


@pytest.fixture
def served() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose lines reach one stream through the JSON formatter, as `serve` sets up
    its loggers (kept off the root logger)."""
    top = logging.getLogger("clientbook_test_line")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    top.addHandler(handler)
    top.propagate = False
    top.setLevel(logging.INFO)
    try:
        yield logging.getLogger("clientbook_test_line.request"), stream
    finally:
        top.removeHandler(handler)


def _without_ts(line: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in line.items() if name != "ts"}


def test_the_direct_line_is_the_line_the_record_would_make(
    served: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = served
    captured = LogLines()
    token = REQUEST_ID.set("r-7")
    try:
        log_info(logger, "request", FIELDS)  # the direct way
        logger.addHandler(captured)  # a second handler: the record's way, to both
        log_info(logger, "request", FIELDS)
    finally:
        logger.removeHandler(captured)
        REQUEST_ID.reset(token)
    direct, through_record = (orjson.loads(line) for line in stream.getvalue().splitlines())
    assert (
        _without_ts(direct)
        == _without_ts(through_record)
        == _without_ts(orjson.loads(captured.lines[0]))
    )
    assert direct["request_id"] == "r-7" and direct["status"] == 200
    assert direct["level"] == "INFO" and direct["logger"] == "clientbook_test_line.request"


def test_a_filter_or_a_higher_level_is_obeyed(
    served: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = served
    logging.getLogger("clientbook_test_line").setLevel(logging.WARNING)
    log_info(logger, "request", FIELDS)
    logging.getLogger("clientbook_test_line").setLevel(logging.INFO)
    logger.addFilter(lambda _record: False)
    try:
        log_info(logger, "request", FIELDS)
    finally:
        logger.filters.clear()
    assert stream.getvalue() == ""


@pytest.mark.parametrize(
    "created", [0.0, 960552460.602, 1.9999999, 5.0000004, 1_000_000_000.9999996, 1.7e9 + 0.0005]
)
def test_timestamps_are_iso_8601_utc_to_the_millisecond(created: float) -> None:
    expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    assert JsonFormatter()._timestamp(created) == expected
