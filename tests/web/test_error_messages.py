"""Service-layer messages in Malay (SPEC §9: forms show the API's field errors, in the page's
language). Each bad input below is run through the real validators and every message they
produce must come out translated, its numbers and named values kept."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from clientbook.domain.customers import validate_customer
from clientbook.domain.errors import ValidationFailed
from clientbook.domain.interactions import validate_interaction
from clientbook.domain.notes import validate_note
from clientbook.domain.tags import normalize_tags
from clientbook.domain.users import validate_password, validate_user
from clientbook.web import i18n

_NUMBER = re.compile(r"\d+")

BAD_CUSTOMERS: list[dict[str, Any]] = [
    {},
    {"userId": "u1", "name": ""},
    {"userId": "u1", "name": "x" * 201},
    {"userId": "u1", "name": 5},
    {"userId": "u1", "name": "tab\there"},
    {"userId": "u1", "name": "A", "address": "bell\x07"},
    {"userId": "u1", "name": "A", "email": "not-an-email"},
    {"userId": "u1", "name": "A", "email": "a@" + "b" * 260 + ".com"},
    {"userId": "u1", "name": "A", "website": "example.com"},
    {"userId": "u1", "name": "A", "timezone": "Mars/Olympus"},
    {"userId": "u1", "name": "A", "currency": "usd"},
    {"userId": "u1", "name": "A", "currency": "ABC"},
    {"userId": "u1", "name": "A", "language": "fr"},
    {"userId": "u1", "name": "A", "status": "gone"},
    {"userId": "u1", "name": "A", "source": "tv"},
    {"userId": "u1", "name": "A", "customerType": "company"},
    {"userId": "u1", "name": "A", "customerType": "government", "company": " "},
    {"userId": "u1", "name": "A", "totalRevenue": -1},
    {"userId": "u1", "name": "A", "totalRevenue": "12"},
    {"userId": "u1", "name": "A", "totalRevenue": float("inf")},
    {"userId": "u1", "name": "A", "totalInvoices": 1.5},
    {"userId": "u1", "name": "A", "totalInvoices": -3},
    {"userId": "u1", "name": "A", "totalInvoices": 2**40},
    {"userId": "u1", "name": "A", "lastContactAt": "yesterday"},
    {"userId": "u1", "name": "A", "assignedTo": "not a valid id!"},
    {"userId": "u1", "name": "A", "assignedTo": 7},
    {"userId": "u1", "name": "A", "notes": "{not json"},
    {"userId": "u1", "name": "A", "notes": "[1, 2]"},
    {"userId": "u1", "name": "A", "notes": {"general": 5, "customFields": "x"}},
    {"userId": "u1", "name": "A", "notes": {"general": "x" * 6000}},
    {"userId": "u1", "name": "A", "notes": {"n": float("nan")}},
    {"userId": "u1", "name": "A", "metadata": {"tags": "vip"}},
    {"userId": "u1", "name": "A", "metadata": {"tags": ["ok", "", 5, "x" * 51]}},
    {"userId": "u1", "name": "A", "metadata": {"tags": [f"t{i}" for i in range(51)]}},
    {"userId": "u1", "name": "A", "metadata": {"integrationData": []}},
    {"userId": "u1", "name": "A", "metadata": '{"a":' * 40 + "1" + "}" * 40},
    {"userId": "u1", "name": "A", "nickname": "Ann"},
]


def _messages(validate: Callable[[Any], Any], inputs: list[Any]) -> Iterator[str]:
    for data in inputs:
        try:
            validate(data)
        except ValidationFailed as exc:
            yield exc.message
            yield from exc.fields.values()


def service_messages() -> list[str]:
    found = [
        *_messages(validate_customer, BAD_CUSTOMERS),
        *_messages(
            lambda d: validate_customer(d, current={"customerType": "individual"}),
            [{"userId": "other"}, {"customerType": "company"}],
        ),
        *_messages(
            validate_note,
            [{}, {"content": "x" * 10001, "category": "x"}, {"content": "a", "isPinned": "yes"}],
        ),
        *_messages(
            validate_interaction,
            [
                {"type": "fax", "subject": ""},
                {"type": "call", "subject": "s", "durationMinutes": 5000},
            ],
        ),
        *_messages(normalize_tags, [["bell\x07"], "vip"]),
        *_messages(validate_user, [{"email": None}, {"email": "x", "role": "god"}]),
        *_messages(validate_password, ["short", "x" * 300, 12345678]),
    ]
    return list(dict.fromkeys(found))


@pytest.fixture
def malay() -> Iterator[None]:
    i18n.set_language("ms")
    yield
    i18n.set_language("en")


def test_the_bad_inputs_produce_many_different_messages() -> None:
    assert len(service_messages()) > 40


@pytest.mark.usefixtures("malay")
def test_every_validation_message_is_translated_with_its_numbers() -> None:
    untranslated = [m for m in service_messages() if i18n.translate_message(m) == m]
    assert not untranslated
    for message in service_messages():
        translated = i18n.translate_message(message)
        assert _NUMBER.findall(translated) == _NUMBER.findall(message), (message, translated)


@pytest.mark.usefixtures("malay")
@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("must be at most 200 characters", "tidak boleh melebihi 200 aksara"),
        ("must be one of: en, ms", "mestilah salah satu daripada: en, ms"),
        ("is required when customerType is company",
         "wajib diisi apabila customerType ialah company"),
        ("must be an uppercase ISO 4217 code (USD)",
         "mestilah kod ISO 4217 dalam huruf besar (USD)"),
        (
            "tag 2 must not be empty; at most 50 tags are allowed",
            "tag 2 tidak boleh kosong; paling banyak 50 tag dibenarkan",
        ),
        ("Invalid value for: email, name", "Nilai tidak sah bagi: email, name"),
        ("A message nobody translated", "A message nobody translated"),
    ],
)  # fmt: skip
def test_shapes_keep_the_variable_part(message: str, expected: str) -> None:
    assert i18n.translate_message(message) == expected


def test_english_pages_show_the_message_as_it_is() -> None:
    i18n.set_language("en")
    assert i18n.translate_message("must be one of: en, ms") == "must be one of: en, ms"
