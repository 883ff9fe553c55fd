"""SPEC §3 users: email syntax (shared with customers), password, name, role, status."""

from __future__ import annotations

from typing import Any

import pytest

from clientbook.domain.errors import ValidationFailed
from clientbook.domain.users import (
    validate_email_address,
    validate_password,
    validate_user,
    validate_user_name,
)


def user_errors(data: Any, **kwargs: Any) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        validate_user(data, **kwargs)
    return caught.value.fields


def test_email_address_is_trimmed_and_otherwise_kept_as_given() -> None:
    assert validate_email_address("  Ada.Lovelace@Example.COM ") == "Ada.Lovelace@Example.COM"


@pytest.mark.parametrize("value", ["", "ada", "ada@", "@example.com", "ada@example", 42, None])
def test_email_address_must_be_a_valid_address(value: Any) -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_email_address(value)
    assert set(caught.value.fields) == {"email"}


@pytest.mark.parametrize("value", ["ada@example.test", "ada@mail.example.test", "Ösa@bar.TEST"])
def test_addresses_at_the_names_reserved_for_testing_are_valid_syntax(value: str) -> None:
    assert validate_email_address(value) == value


@pytest.mark.parametrize(
    "value", ["ada@test", "ada@TEST", "ada@host.local", "ada@x.invalid", "ada@localhost", "ö@test"]
)
def test_other_special_use_names_and_a_bare_test_stay_refused(value: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_email_address(value)
    assert set(caught.value.fields) == {"email"}


def test_email_address_error_can_name_another_field() -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_email_address("nope", field="contactEmail")
    assert set(caught.value.fields) == {"contactEmail"}


def test_password_is_kept_exactly_as_typed() -> None:
    assert validate_password("  spaced out  ") == "  spaced out  "


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("short12", "must be at least 8 characters"),
        ("p" * 257, "must be at most 256 characters"),
        ("pass\x00word", "must not contain control characters"),
        (12345678, "must be a string"),
    ],
)
def test_password_is_8_to_256_characters(value: Any, message: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_password(value)
    assert caught.value.fields == {"password": message}


def test_password_of_8_and_of_256_characters_is_accepted() -> None:
    assert validate_password("p" * 8) == "p" * 8
    assert validate_password("p" * 256) == "p" * 256


def test_user_name_is_trimmed_and_at_most_128_characters() -> None:
    assert validate_user_name("  Ada  ") == "Ada"
    assert validate_user_name("n" * 128) == "n" * 128
    with pytest.raises(ValidationFailed) as caught:
        validate_user_name("n" * 129)
    assert caught.value.fields == {"name": "must be at most 128 characters"}


def test_empty_user_name_is_stored_as_empty_text() -> None:
    assert validate_user_name("   ") == ""
    assert validate_user({"email": "a@example.com", "name": None})["name"] == ""


def test_new_user_defaults_to_an_active_user_role() -> None:
    assert validate_user({"email": "ada@example.com"}) == {
        "email": "ada@example.com",
        "name": "",
        "role": "user",
        "status": "active",
        "password": None,
    }


def test_email_is_required_unless_the_account_is_invited() -> None:
    assert user_errors({"name": "Ada"}) == {"email": "is required unless the account is invited"}
    assert validate_user({"status": "invited"})["email"] is None


def test_role_and_status_must_be_known() -> None:
    assert user_errors({"email": "a@example.com", "role": "admin", "status": "gone"}) == {
        "role": "must be one of: user, super_admin",
        "status": "must be one of: active, invited, blocked",
    }


def test_user_patch_checks_only_the_keys_given() -> None:
    current = {"email": "a@example.com", "name": "", "role": "user", "status": "active"}
    assert validate_user({"role": "super_admin"}, current=current) == {"role": "super_admin"}


def test_activating_an_invited_account_needs_an_email() -> None:
    current = {"email": None, "name": "", "role": "user", "status": "invited"}
    assert user_errors({"status": "active"}, current=current) == {
        "email": "is required unless the account is invited"
    }


def test_every_failing_user_field_is_reported_at_once() -> None:
    assert set(
        user_errors({"email": "x", "name": "n" * 200, "role": "?", "password": "1", "pin": 1})
    ) == {"email", "name", "role", "password", "pin"}
