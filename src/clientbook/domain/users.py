"""Account rules (SPEC §3 users): email address syntax (shared with customers), password, name."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import DOT_ATOM_TEXT
from email_validator.syntax import validate_email_domain_name

from clientbook.domain.enums import USER_ROLES, USER_STATUSES
from clientbook.domain.errors import ValidationFailed
from clientbook.domain.fields import (
    Field,
    FieldError,
    check_control_characters,
    clean_text,
    validate_record,
)

EMAIL_MAX_LENGTH = 254  # RFC 5321 via email-validator; the seed's column allows 255
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 256
USER_NAME_MAX_LENGTH = 128

_ASCII_HOST = re.compile(r"[A-Za-z0-9.\-]+\Z")


# email-validator refuses the names RFC 2606/6761 reserve for testing unless it is told it runs
# in a test environment (test_environment=True below). SPEC §4 asks for valid syntax only, and
# `user@example.test` is what such a name is for. The other special-use names (.local,
# .invalid, .onion, ...) stay refused, and so does the bare `test` that mode also lets through.
_NO_PERIOD = "The part after the @-sign is not valid. It should have a period."


@lru_cache(maxsize=4096)
def _domain_verdict(domain: str) -> tuple[str | None, int]:
    """email-validator's verdict on a domain (IDNA work is the slow part) and the longest of its
    normalised forms in bytes, which the whole-address length limit applies to."""
    if domain.lower() == "test":
        return _NO_PERIOD, 0
    try:
        info = validate_email_domain_name(domain, test_environment=True, globally_deliverable=True)
    except EmailNotValidError as exc:
        return str(exc), 0
    forms = (domain, info["domain"], info["ascii_domain"])
    return None, max(len(form.encode()) for form in forms)


def _email_problem(address: str) -> str | None:
    """Why `address` is not a valid address (no DNS), or None; the verdicts of email-validator.

    Plain ASCII addresses (nearly all) skip its parser: the local part is matched with its own
    dot-atom pattern and the domain's verdict is cached, which is what it would do itself.
    """
    local, _, domain = address.rpartition("@")
    if local and "@" not in local and DOT_ATOM_TEXT.match(local) and _ASCII_HOST.match(domain):
        problem, domain_length = _domain_verdict(domain)
        if problem is not None:
            return problem
        if len(local) + 1 + domain_length <= EMAIL_MAX_LENGTH:
            return None
    if domain.strip().lower() == "test":
        return _NO_PERIOD
    try:
        validate_email(address, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        return str(exc)
    return None


def validate_email_address(value: Any, *, field: str = "email") -> str:
    """A syntactically valid address (no DNS look-up), trimmed, otherwise as given."""
    try:
        address = clean_text(value, size=None)
        if address is None:
            raise FieldError("is required")
        if len(address) > EMAIL_MAX_LENGTH:
            raise FieldError(f"must be at most {EMAIL_MAX_LENGTH} characters")
        problem = _email_problem(address)
        if problem is not None:
            raise FieldError(f"is not a valid email address: {problem}")
    except FieldError as exc:
        raise ValidationFailed({field: exc.message}) from None
    return address


def validate_password(value: Any, *, field: str = "password") -> str:
    """8-256 characters, taken exactly as typed (never trimmed), no control characters."""
    try:
        if not isinstance(value, str):
            raise FieldError("must be a string")
        if len(value) < PASSWORD_MIN_LENGTH:
            raise FieldError(f"must be at least {PASSWORD_MIN_LENGTH} characters")
        if len(value) > PASSWORD_MAX_LENGTH:
            raise FieldError(f"must be at most {PASSWORD_MAX_LENGTH} characters")
        check_control_characters(value)
    except FieldError as exc:
        raise ValidationFailed({field: exc.message}) from None
    return value


def validate_user_name(value: Any, *, field: str = "name") -> str:
    """A display name, trimmed, at most 128 characters; empty is allowed (stored as '')."""
    try:
        name = clean_text(value, size=USER_NAME_MAX_LENGTH)
    except FieldError as exc:
        raise ValidationFailed({field: exc.message}) from None
    return name or ""


USER_FIELDS: Mapping[str, Field] = MappingProxyType(
    {
        "email": Field("string", 255, rule=validate_email_address),
        "name": Field("string", USER_NAME_MAX_LENGTH, default="", parse=validate_user_name),
        "role": Field("enum", 20, required=True, default="user", values=USER_ROLES),
        "status": Field("enum", 20, required=True, default="active", values=USER_STATUSES),
        "password": Field("string", PASSWORD_MAX_LENGTH, parse=validate_password),
    }
)


def validate_user(
    data: Mapping[str, Any], *, current: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Clean an account's {email, name, role, status, password?}; every failure at once.

    On create (no `current`) defaults are applied; `email` may be absent only for an `invited`
    account (the rule is checked on the merged record). On update only the keys given are
    checked. A null name is stored as ''.
    """

    def cross_check(cleaned: dict[str, Any], errors: dict[str, str]) -> None:
        if "name" in cleaned and cleaned["name"] is None:
            cleaned["name"] = ""
        if current is not None and "email" not in cleaned and "status" not in cleaned:
            return
        merged = {**(current or {}), **cleaned}
        if "email" in errors or "status" in errors:
            return
        if merged.get("status") != "invited" and not merged.get("email"):
            errors["email"] = "is required unless the account is invited"

    return validate_record(USER_FIELDS, data, create=current is None, cross_check=cross_check)
