"""Appwrite's error answers (appwrite-compat §6): `{message, code, type, version}`.

Domain errors carry no HTTP meaning; this module is the one place where they become Appwrite's
`type`s, per area (rows or documents, account, users), since the same `NotFound` is
`row_not_found` on one route and `user_not_found` on another. Errors that only this face knows
(wrong project, unknown route, malformed id) are raised as `AppwriteError` directly.
"""

from __future__ import annotations

from collections.abc import Mapping

from clientbook.appwrite.faces import Face
from clientbook.domain import errors
from clientbook.domain.ids import is_valid_id
from clientbook.services.auth.accounts import BLOCKED
from clientbook.services.customers import NO_SUCH_USER

VERSION = "2.5.0"  # the response format SDK 27 asks for
# Attributes that hold the `$id` of another record.
RELATION_FIELDS = frozenset({"userId", "assignedTo", "createdBy", "updatedBy", "customerId"})
# The parent of a new interaction or note is missing (or not visible).
NO_SUCH_CUSTOMER = "no customer has this id"
# Why a relationship fails when the record it names is missing: Appwrite's
# `relationship_value_invalid`. Any other failure (an account that may not be assigned, a
# malformed id) is a structure error, as every validation failure (compat §6).
_MISSING = frozenset({NO_SUCH_USER, NO_SUCH_CUSTOMER})


class AppwriteError(Exception):
    """An answer in Appwrite's error shape; `code` is the HTTP status."""

    def __init__(self, code: int, type_: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.type = type_
        self.message = message

    def body(self) -> dict[str, object]:
        return {"message": self.message, "code": self.code, "type": self.type, "version": VERSION}


def route_not_found() -> AppwriteError:
    return AppwriteError(404, "general_route_not_found", "The requested route was not found.")


def argument_invalid(message: str) -> AppwriteError:
    return AppwriteError(400, "general_argument_invalid", message)


def query_invalid(message: str) -> AppwriteError:
    return AppwriteError(400, "general_query_invalid", f"Invalid query: {message}")


NOT_AUTHORIZED = "The current user is not authorized to perform the requested action."


def unauthorized(message: str = NOT_AUTHORIZED) -> AppwriteError:
    return AppwriteError(401, "user_unauthorized", message)


def check_id(value: object, *, name: str) -> str:
    """A client-chosen id (1-36 chars of a-zA-Z0-9._-), else 400 `general_argument_invalid`."""
    if not isinstance(value, str) or not is_valid_id(value):
        raise argument_invalid(
            f"Invalid `{name}` param: UID must contain at most 36 chars. Valid chars are a-z, "
            "A-Z, 0-9, period, hyphen, and underscore. Can't start with a special char"
        )
    return value


def _listing(fields: Mapping[str, str]) -> str:
    return "; ".join(f"{name}: {why}" for name, why in fields.items())


def _message(exc: errors.DomainError) -> str:
    return f"{exc.message} ({_listing(exc.fields)})" if exc.fields else exc.message


_COMMON: dict[type[errors.DomainError], tuple[int, str]] = {
    errors.BadQuery: (400, "general_query_invalid"),
    errors.ValidationFailed: (400, "general_argument_invalid"),
    # Appwrite answers "not allowed" with 401 user_unauthorized, never 403 (compat §3).
    errors.Unauthenticated: (401, "user_unauthorized"),
    errors.Forbidden: (401, "user_unauthorized"),
    errors.NotFound: (404, "general_route_not_found"),
    errors.Conflict: (409, "general_argument_invalid"),
    errors.PreconditionFailed: (412, "general_argument_invalid"),
    errors.TooLarge: (413, "general_argument_invalid"),
    errors.UnsupportedMedia: (415, "general_argument_invalid"),
    errors.Throttled: (429, "general_rate_limit_exceeded"),
    errors.Busy: (503, "general_service_disabled"),
}


def common_error(exc: errors.DomainError) -> AppwriteError:
    for kind in type(exc).__mro__:
        if kind in _COMMON:
            code, type_ = _COMMON[kind]
            return AppwriteError(code, type_, _message(exc))
    return AppwriteError(400, "general_argument_invalid", _message(exc))


def record_error(exc: errors.DomainError, face: Face) -> AppwriteError:
    """A rows/documents route's error."""
    record = face.record
    if isinstance(exc, errors.ValidationFailed):
        if "$id" in exc.fields:
            return argument_invalid(f"Invalid `{face.id_key}`: {exc.fields['$id']}")
        if _missing_relations_only(exc.fields):
            return AppwriteError(400, "relationship_value_invalid", _message(exc))
        message = f"Invalid {record} structure: {_listing(exc.fields)}"
        return AppwriteError(400, f"{record}_invalid_structure", message)
    if isinstance(exc, errors.NotFound):
        return AppwriteError(404, f"{record}_not_found", exc.message)
    if isinstance(exc, errors.Conflict):
        taken = "$id" in exc.fields
        type_ = f"{record}_already_exists" if taken else f"{record}_unique_constraint_violation"
        return AppwriteError(409, type_, _message(exc))
    return common_error(exc)


def _missing_relations_only(fields: Mapping[str, str]) -> bool:
    """Every failing field is a relationship to a record that does not exist."""
    return bool(fields) and all(
        name in RELATION_FIELDS and why in _MISSING for name, why in fields.items()
    )


def account_error(exc: errors.DomainError) -> AppwriteError:
    """An Account route's error: sign-up, sign-in, sessions, name, password."""
    if isinstance(exc, errors.ValidationFailed) and "currentPassword" in exc.fields:
        return AppwriteError(401, "user_invalid_credentials", "Invalid credentials: old password")
    if isinstance(exc, errors.Unauthenticated):
        return AppwriteError(401, "user_invalid_credentials", exc.message)
    if isinstance(exc, errors.Forbidden) and exc.message == BLOCKED:
        return AppwriteError(403, "user_blocked", exc.message)
    if isinstance(exc, errors.Conflict):
        return AppwriteError(409, "user_already_exists", _message(exc))
    if isinstance(exc, errors.NotFound):
        return AppwriteError(404, "user_not_found", exc.message)
    return common_error(exc)


def users_error(exc: errors.DomainError) -> AppwriteError:
    """A Users route's error (API key only)."""
    if isinstance(exc, errors.NotFound):
        return AppwriteError(404, "user_not_found", exc.message)
    if isinstance(exc, errors.Conflict):
        return AppwriteError(409, "user_already_exists", _message(exc))
    return common_error(exc)


def delete_restricted(exc: errors.DomainError) -> AppwriteError:
    """Deleting a user who still owns a customer record (the seed's ON DELETE RESTRICT)."""
    return AppwriteError(403, "document_delete_restricted", _message(exc))
