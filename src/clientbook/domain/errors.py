"""One error hierarchy for every rule. Faces map these to HTTP codes or exit codes once."""

from __future__ import annotations

from collections.abc import Mapping


class DomainError(Exception):
    """Base of every error a rule can raise; `code` is a stable machine-readable name."""

    code = "error"

    def __init__(self, message: str, *, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, str] = dict(fields or {})


class ValidationFailed(DomainError):
    """Input broke one or more field rules; `fields` lists every failing field."""

    code = "validation_failed"

    def __init__(self, fields: Mapping[str, str], message: str | None = None) -> None:
        names = ", ".join(sorted(fields))
        super().__init__(message or f"Invalid value for: {names}", fields=fields)


class BadQuery(DomainError):
    """A query parameter (filter, sort, cursor, limit) is malformed or not allowed."""

    code = "bad_query"


class NotFound(DomainError):
    code = "not_found"


class Unauthenticated(DomainError):
    code = "unauthenticated"


class Forbidden(DomainError):
    code = "forbidden"


class Conflict(DomainError):
    code = "conflict"


class PreconditionFailed(DomainError):
    code = "precondition_failed"


class TooLarge(DomainError):
    code = "too_large"


class UnsupportedMedia(DomainError):
    code = "unsupported_media_type"


class Throttled(DomainError):
    code = "throttled"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Busy(DomainError):
    """The store could not take this write in time (on SQLite a long import holds the one
    writer); nothing was written, and the same request may be sent again after `retry_after`."""

    code = "busy"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
