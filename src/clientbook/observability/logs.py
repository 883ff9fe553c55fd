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
import traceback
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

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            line["request_id"] = request_id
        fields = getattr(record, FIELDS, None)
        if fields:
            line.update(fields)
        if record.exc_info and record.exc_info[1] is not None:
            line["error"] = describe_exception(record.exc_info[1])
        return orjson.dumps(line, default=str).decode()


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
