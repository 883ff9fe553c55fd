"""Structured logs: one JSON object per line, carrying the request id of the request that
logged it.

No log line may hold a secret or personal data. Messages are written by our code with ids and
fixed words only; exception *messages* are never written (a database error quotes the values it
was given, a validation error the input), only the exception's type and its stack of
`file:line function` frames, which is what finding the bug needs.
"""

from __future__ import annotations

import logging
import logging.config
import time
import traceback
from collections.abc import Mapping
from contextlib import nullcontext
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

# Set by the request middleware; each request runs in its own task context, and threads started
# with `run_in_threadpool` copy it, so every line a request causes carries its id.
REQUEST_ID: ContextVar[str | None] = ContextVar("clientbook_request_id", default=None)
# `logger.info("request", extra={FIELDS: {...}})`: structured fields of a line.
FIELDS = "clientbook_fields"


def _stack(exc: BaseException) -> list[str]:
    frames = traceback.extract_tb(exc.__traceback__)
    return [f"{frame.filename}:{frame.lineno} {frame.name}" for frame in frames]


def describe_exception(exc: BaseException) -> dict[str, Any]:
    """An exception without its message: its type, stack and those of its causes."""
    described: dict[str, Any] = {"type": type(exc).__qualname__, "stack": _stack(exc)}
    cause = exc.__cause__ or exc.__context__
    if cause is not None and cause is not exc:
        described["cause"] = {"type": type(cause).__qualname__, "stack": _stack(cause)}
    return described


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "message", "request_id", ...fields, "error"}` on one line."""

    # (second, its text): one attribute, so that threads never see one without the other.
    _second: tuple[int, str] = (-1, "")

    def _timestamp(self, created: float) -> str:
        """ISO 8601 in UTC to the millisecond; the date and time part is made once a second."""
        whole = int(created)
        micros = round((created - whole) * 1e6)  # as `datetime.fromtimestamp` rounds
        if micros >= 1_000_000:
            whole, micros = whole + 1, micros - 1_000_000
        second, text = self._second
        if whole != second:
            text = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._second = (whole, text)
        return f"{text}.{micros // 1000:03d}+00:00"

    def line(
        self,
        created: float,
        level: str,
        logger: str,
        message: str,
        fields: Mapping[str, Any] | None,
        error: BaseException | None = None,
    ) -> str:
        line: dict[str, Any] = {
            "ts": self._timestamp(created),
            "level": level,
            "logger": logger,
            "message": message,
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            line["request_id"] = request_id
        if fields:
            line.update(fields)
        if error is not None:
            line["error"] = describe_exception(error)
        return orjson.dumps(line, default=str).decode()

    def format(self, record: logging.LogRecord) -> str:
        error = record.exc_info[1] if record.exc_info else None
        fields = getattr(record, FIELDS, None)
        return self.line(
            record.created, record.levelname, record.name, record.getMessage(), fields, error
        )


def _sole_json_stream(logger: logging.Logger) -> logging.StreamHandler[Any] | None:
    """The handler an INFO record of `logger` reaches when it is the only one, a plain stream
    with our formatter and no filters (as `serve` configures logging); else None."""
    if logger.filters or logger.disabled:
        return None
    found: logging.StreamHandler[Any] | None = None
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            if (
                found is not None
                or type(handler) is not logging.StreamHandler
                or not isinstance(handler.formatter, JsonFormatter)
                or handler.filters
                or handler.level > logging.INFO
            ):
                return None
            found = handler
        current = current.parent if current.propagate else None
    return found


def log_info(logger: logging.Logger, message: str, fields: dict[str, Any]) -> None:
    """`logger.info(message, extra={FIELDS: fields})`, for a line written on every request.

    Where the line would only reach one stream through our formatter, it is written there
    directly, the same text under the same lock: the logging module's record, look-ups and
    hand-offs cost more than the line itself (benchmarks/middleware_overhead.py). Any other set
    of handlers (a test's, an operator's) gets the record as usual."""
    if not logger.isEnabledFor(logging.INFO):
        return
    handler = _sole_json_stream(logger)
    if handler is not None:
        formatter: JsonFormatter = handler.formatter  # type: ignore[assignment]
        text = formatter.line(time.time(), "INFO", logger.name, message, fields)
        try:
            with handler.lock or nullcontext():
                handler.stream.write(text + handler.terminator)
                handler.stream.flush()
            return
        except Exception:  # the record's way below reports it (`Handler.handleError`)
            pass
    record = logger.makeRecord(logger.name, logging.INFO, __file__, 0, message, (), None)
    setattr(record, FIELDS, fields)
    logger.handle(record)


def server_formatter() -> JsonFormatter:
    """The server's formatter. Its lines never show the caller, thread or process, so the
    logging module is told not to look them up for every record (a few microseconds of each
    request's line; the logging HOWTO's "Optimization")."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    return JsonFormatter()


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` for the server: JSON lines on standard error for ours and
    uvicorn's loggers; uvicorn's access log is off (our request line replaces it)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": server_formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True, "level": level.upper()},
            "uvicorn.error": {"handlers": [], "propagate": True, "level": level.upper()},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "CRITICAL"},
        },
    }


def configure_logging(level: str = "INFO") -> None:
    logging.config.dictConfig(logging_config(level))
