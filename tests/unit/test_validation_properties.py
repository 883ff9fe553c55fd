"""Property tests: valid records survive validation unchanged, invalid ones fail on the right
field, nothing but ValidationFailed ever escapes, and the fast paths agree with the libraries."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from functools import partial
from typing import Any

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clientbook.domain import customers, fields, phones
from clientbook.domain.customers import (
    CUSTOMER_ATTRIBUTES,
    ISO_4217_CODES,
    derive_customer_columns,
    time_zones,
    validate_customer,
)
from clientbook.domain.enums import (
    CUSTOMER_SOURCES,
    CUSTOMER_STATUSES,
    CUSTOMER_TYPES,
    INTERACTION_TYPES,
    ORGANISATION_TYPES,
)
from clientbook.domain.errors import ValidationFailed
from clientbook.domain.fields import INT32_MAX, FieldError, dump_json
from clientbook.domain.interactions import validate_interaction
from clientbook.domain.notes import validate_note
from clientbook.domain.tags import tag_key
from clientbook.domain.text import unicode_words, words
from clientbook.domain.timestamps import parse_datetime, to_millis
from clientbook.domain.users import validate_email_address, validate_user

QUICK = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- valid values --------------------------------------------------------------------------------

# Printable characters: no controls, surrogates, or line/paragraph separators.
_SAFE = st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp"))
_MULTILINE = st.one_of(_SAFE, st.sampled_from("\t\n"))


def clean_text(size: int, *, multiline: bool = False) -> st.SearchStrategy[str]:
    """Text already in its stored form: trimmed, non-empty, within `size`."""
    alphabet = _MULTILINE if multiline else _SAFE
    return (
        st.text(alphabet, min_size=1, max_size=size)
        .map(str.strip)
        .filter(lambda s: 0 < len(s) <= size)
    )


ids = st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9._-]{0,35}", fullmatch=True)
emails = st.from_regex(
    r"[A-Za-z0-9_+-]{1,20}(\.[A-Za-z0-9_+-]{1,10}){0,2}@[a-z0-9]{1,15}\.(com|my|org|co\.uk)",
    fullmatch=True,
)
websites = st.from_regex(r"https?://[a-z0-9]{1,20}\.(com|my)(/[a-z0-9]{0,20})?", fullmatch=True)
datetimes = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
).map(to_millis)
tags = st.lists(clean_text(50), max_size=8, unique_by=tag_key)
custom_fields = st.dictionaries(
    st.text(_SAFE, max_size=10),
    st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), clean_text(30)),
    max_size=3,
)
notes = st.fixed_dictionaries(
    {},
    optional={
        "general": clean_text(200, multiline=True),
        "preferences": clean_text(100),
        "importantInfo": clean_text(100),
        "customFields": custom_fields,
        "mood": clean_text(20),
    },
).map(dump_json)
metadata = st.fixed_dictionaries(
    {},
    optional={
        "tags": tags,
        "customFields": custom_fields,
        "integrationData": custom_fields,
        "lastSyncAt": clean_text(30),
        "statusChangeReason": clean_text(100),
    },
).map(dump_json)

OPTIONAL_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "email": emails,
    "phone": clean_text(50),
    "company": clean_text(200),
    "jobTitle": clean_text(100),
    "address": clean_text(500, multiline=True),
    "city": clean_text(100),
    "state": clean_text(100),
    "zipCode": clean_text(20),
    "country": clean_text(100),
    "website": websites,
    "status": st.sampled_from(CUSTOMER_STATUSES),
    "assignedTo": ids,
    "source": st.sampled_from(CUSTOMER_SOURCES),
    "industry": clean_text(100),
    "customerType": st.sampled_from(CUSTOMER_TYPES),
    "currency": st.sampled_from(sorted(ISO_4217_CODES)),
    "language": st.sampled_from(["en", "ms"]),
    "timezone": st.sampled_from(sorted(time_zones())),
    "notes": notes,
    "metadata": metadata,
    "lastContactAt": datetimes,
    "nextFollowUpAt": datetimes,
    "totalRevenue": st.floats(min_value=0, max_value=1e15, allow_nan=False),
    "totalInvoices": st.integers(0, INT32_MAX),
    "createdBy": ids,
    "updatedBy": ids,
}


def _with_company_if_needed(record: dict[str, Any]) -> dict[str, Any]:
    if record.get("customerType") in ORGANISATION_TYPES and not record.get("company"):
        record["company"] = "Acme Sdn Bhd"
    return record


valid_records = st.fixed_dictionaries(
    {"userId": ids, "name": clean_text(200)}, optional=OPTIONAL_VALUES
).map(_with_company_if_needed)


@QUICK
@given(valid_records)
def test_valid_records_are_accepted_unchanged(record: dict[str, Any]) -> None:
    values = validate_customer(record)
    assert {key: values[key] for key in record} == record


@QUICK
@given(valid_records)
def test_validated_records_validate_to_themselves(record: dict[str, Any]) -> None:
    values = validate_customer(record)
    assert validate_customer(values) == values
    assert validate_customer(values, current=values) == values


@QUICK
@given(valid_records)
def test_derived_columns_are_computed_for_every_valid_record(record: dict[str, Any]) -> None:
    columns = derive_customer_columns(validate_customer(record))
    assert set(columns) == {
        "phoneNormalized",
        "phoneValid",
        "emailFolded",
        "emailKey",
        "duplicateNameKey",
        "searchText",
    }
    assert columns["phoneValid"] in (True, False, None)
    assert columns["phoneNormalized"] is None or len(columns["phoneNormalized"]) <= 32
    assert isinstance(columns["searchText"], str)


# --- invalid values ----------------------------------------------------------------------------


def _not_iso_datetime(text: str) -> bool:
    try:
        parse_datetime(text)
    except (ValueError, OverflowError):
        return True
    return False


def _not_in(values: Any) -> st.SearchStrategy[str]:
    return st.text(min_size=1, max_size=30).filter(
        lambda s: bool(s.strip()) and s.strip() not in values
    )


_NOT_A_STRING = st.one_of(st.integers(), st.booleans(), st.lists(st.integers(), max_size=2))

INVALID_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "userId": st.one_of(st.none(), st.just(""), st.from_regex(r"[-._][a-z]{1,5}", fullmatch=True)),
    "name": st.one_of(
        st.none(),
        st.just("  "),
        st.text(_SAFE, min_size=201).filter(lambda s: len(s.strip()) > 200),
        _NOT_A_STRING,
    ),
    "email": st.text(_SAFE, min_size=1, max_size=40).filter(
        lambda s: bool(s.strip()) and "@" not in s
    ),
    "phone": st.one_of(st.just("12\x0034"), st.text("0123456789", min_size=51), _NOT_A_STRING),
    "company": st.text(_SAFE, min_size=201).filter(lambda s: len(s.strip()) > 200),
    "website": st.text(_SAFE, min_size=1, max_size=40).filter(
        lambda s: bool(s.strip()) and "://" not in s
    ),
    "status": st.one_of(st.none(), _not_in(CUSTOMER_STATUSES)),
    "source": _not_in(CUSTOMER_SOURCES),
    "customerType": st.one_of(st.none(), _not_in(CUSTOMER_TYPES)),
    "currency": st.text(min_size=1, max_size=3).filter(
        lambda s: bool(s.strip()) and s.strip() not in ISO_4217_CODES
    ),
    "language": _not_in(("en", "ms")),
    "timezone": _not_in(time_zones()),
    "notes": st.one_of(st.just("{nope"), st.just("[]"), st.lists(st.integers(), max_size=2)),
    "metadata": st.one_of(
        st.just('{"tags": "vip"}'), st.just({"tags": [""]}), st.just({"customFields": 1})
    ),
    "lastContactAt": st.text(min_size=1, max_size=30).filter(
        lambda s: bool(s.strip()) and _not_iso_datetime(s)
    ),
    "totalRevenue": st.one_of(
        st.floats(max_value=-0.001), st.just(float("nan")), st.booleans(), st.text(max_size=5)
    ),
    "totalInvoices": st.one_of(
        st.integers(max_value=-1),
        st.integers(min_value=INT32_MAX + 1),
        st.booleans(),
        st.floats(allow_nan=False).filter(lambda f: not f.is_integer()),
    ),
    "assignedTo": st.from_regex(r"[-_.][a-z]{1,40}", fullmatch=True),
}


@QUICK
@given(valid_records, st.sampled_from(sorted(INVALID_VALUES)), st.data())
def test_an_invalid_value_fails_on_its_own_field(
    record: dict[str, Any], field: str, data: st.DataObject
) -> None:
    record = {**record, field: data.draw(INVALID_VALUES[field])}
    with pytest.raises(ValidationFailed) as caught:
        validate_customer(record)
    assert any(name == field or name.startswith(field + ".") for name in caught.value.fields)


@QUICK
@given(
    valid_records, st.text(min_size=1, max_size=20).filter(lambda k: k not in CUSTOMER_ATTRIBUTES)
)
def test_an_unknown_key_fails_by_name(record: dict[str, Any], key: str) -> None:
    if key.startswith("$"):
        key = "x" + key
    with pytest.raises(ValidationFailed) as caught:
        validate_customer({**record, key: 1})
    assert caught.value.fields[key] == "unknown field"


# --- anything at all -----------------------------------------------------------------------------

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=30),
        datetimes,
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
CUSTOMER_KEYS = [*CUSTOMER_ATTRIBUTES, "$id", "$createdAt", "$updatedAt", "$sequence"]
any_body = st.one_of(
    st.dictionaries(st.one_of(st.sampled_from(CUSTOMER_KEYS), st.text(max_size=8)), json_values),
    json_values,
)


def only_validation_errors(validate: Any, data: Any, **kwargs: Any) -> None:
    try:
        validate(data, **kwargs)
    except ValidationFailed as exc:
        assert exc.fields and all(isinstance(m, str) and m for m in exc.fields.values())


@QUICK
@given(any_body)
def test_arbitrary_customer_bodies_raise_nothing_but_validation_failed(data: Any) -> None:
    only_validation_errors(validate_customer, data)


@QUICK
@given(any_body, valid_records)
def test_arbitrary_customer_patches_raise_nothing_but_validation_failed(
    data: Any, record: dict[str, Any]
) -> None:
    only_validation_errors(validate_customer, data, current=validate_customer(record))


@QUICK
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "type",
                "subject",
                "description",
                "occurredAt",
                "durationMinutes",
                "title",
                "content",
                "category",
                "isPinned",
                "visibility",
                "email",
                "name",
                "role",
                "status",
                "password",
            ]
        ),
        json_values,
    )
)
def test_arbitrary_interaction_note_and_user_bodies_raise_nothing_but_validation_failed(
    data: dict[str, Any],
) -> None:
    for validate in (validate_interaction, validate_note, validate_user):
        only_validation_errors(validate, data)


@QUICK
@given(valid_records, st.text(max_size=50), st.one_of(st.none(), st.text(max_size=30)))
def test_derived_columns_never_fail_whatever_the_phone_and_country(
    record: dict[str, Any], phone: str, country: str | None
) -> None:
    values = validate_customer(record)
    derive_customer_columns({**values, "phone": phone, "country": country})


@QUICK
@given(st.sampled_from(INTERACTION_TYPES), clean_text(200), st.integers(0, 1440))
def test_valid_interactions_are_accepted_unchanged(kind: str, subject: str, minutes: int) -> None:
    body = {"type": kind, "subject": subject, "durationMinutes": minutes}
    values = validate_interaction(body)
    assert {key: values[key] for key in body} == body


# --- the fast paths give the libraries' answers --------------------------------------------------

REGIONS = ["MY", "SG", "US", "GB", "IT", "AR", "DE", "IN", "CN", "AU", "BR", "RU", "ID", "MX"]
_PHONE_CHARS = "+0123456789 ().-"


def _example_digits(region: str) -> str:
    number = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    assert number is not None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


typed_phones = st.one_of(
    st.text(_PHONE_CHARS, max_size=20),
    st.from_regex(
        r"\+?[0-9]{1,3}[ -]?\(?[0-9]{1,4}\)?[ .-]?[0-9]{2,5}[ -]?[0-9]{0,5}", fullmatch=True
    ),
    st.builds(
        lambda region, keep, extra: _example_digits(region)[:keep] + extra,
        st.sampled_from(REGIONS),
        st.integers(4, 16),
        st.text("0123456789 -", max_size=4),
    ),
    st.builds(
        lambda region, keep: "0" + _example_digits(region)[3:keep],
        st.sampled_from(REGIONS),
        st.integers(5, 16),
    ),
    st.text(max_size=12),
)


def _library_parse(phone: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException:
        return None


@settings(max_examples=600, deadline=None)
@given(typed_phones, st.sampled_from(REGIONS))
def test_phone_fast_paths_agree_with_phonenumbers(phone: str, region: str) -> None:
    number = phones.parse_phone(phone, region)
    assert number == _library_parse(phone, region)
    if number is not None:
        assert phones.is_valid_phone(number) == phonenumbers.is_valid_number(number)
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        assert phones.national_digits(number) == re.sub(r"\D", "", national)


def _library_accepts(address: str) -> bool:
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


email_like = st.one_of(
    st.emails(),
    emails,
    st.from_regex(r"[a-z.+_-]{0,12}@[a-z0-9.-]{0,20}", fullmatch=True),
    st.from_regex(
        r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,70}@(xn--[a-z0-9]{1,8}|[a-z]{1,8})\.[a-z0-9-]{1,6}",
        fullmatch=True,
    ),
    st.text(max_size=30),
)


@settings(max_examples=400, deadline=None)
@given(email_like)
def test_email_fast_path_agrees_with_email_validator(address: str) -> None:
    address = address.strip()
    if not address or len(address) > 254 or not address.isprintable():
        return
    try:
        validate_email_address(address)
        accepted = True
    except ValidationFailed:
        accepted = False
    assert accepted == _library_accepts(address)


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(max_codepoint=127), max_size=40))
def test_ascii_word_splitting_agrees_with_text_words(text: str) -> None:
    assert words(text) == unicode_words(text)


def _outcome(check: Any, value: Any) -> tuple[str, Any]:
    try:
        return "ok", check(value)
    except FieldError as exc:
        return "error", exc.message


_FIELD_VALUES = st.one_of(
    st.text(max_size=12),
    st.sampled_from([*CUSTOMER_STATUSES, *CUSTOMER_TYPES, *CUSTOMER_SOURCES, "en", "ms"]).map(
        lambda value: f" {value}\t"
    ),
    st.text("ab \t\r\n\x00\x85", max_size=8),
    st.floats(),
    st.integers(-(2**70), 2**70),
    st.booleans(),
)


_EDGE_VALUES = [math.inf, -math.inf, math.nan, -0.0, 0.0, -1.0, 1e308, 2**1100, " active ", "ms",
                "\x85", "a\r\nb", "a\rb", "", " \t", "x" * 501, True, 3, "\ud800"]  # fmt: skip


def _assert_fast_path_agrees(name: str, value: Any) -> None:
    spec = CUSTOMER_ATTRIBUTES[name]
    general = {
        "string": partial(fields.clean_text, size=spec.size, multiline=spec.multiline),
        "enum": partial(fields.clean_choice, values=spec.values, size=spec.size),
        "float": partial(fields.clean_number, minimum=spec.minimum),
    }.get(spec.kind)
    if general is not None and spec.rule is None:
        assert repr(_outcome(spec.check, value)) == repr(_outcome(general, value))


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(CUSTOMER_ATTRIBUTES)), _FIELD_VALUES)
def test_field_fast_paths_agree_with_the_general_checks(name: str, value: Any) -> None:
    _assert_fast_path_agrees(name, value)


@pytest.mark.parametrize("value", _EDGE_VALUES, ids=repr)
def test_field_fast_paths_agree_on_edge_values(value: Any) -> None:
    for name in CUSTOMER_ATTRIBUTES:
        _assert_fast_path_agrees(name, value)


@settings(max_examples=400, deadline=None)
@given(
    st.text(st.sampled_from("aZ09.-/_~:@?#[]% \t\né"), max_size=14),
    st.sampled_from(["", "http://", "https://", "HTTP://"]),
)
def test_plain_website_fast_path_only_accepts_what_the_full_check_accepts(
    rest: str, scheme: str
) -> None:
    url = scheme + rest
    if customers._PLAIN_URL.match(url):
        assert customers._is_http_url(url)


def test_phone_tables_agree_with_phonenumbers_for_every_country_code() -> None:
    """Each country code's example numbers, cut short and lengthened, read the same by the
    precompiled tables as by phonenumbers itself."""
    kinds = [getattr(phonenumbers.PhoneNumberType, kind.upper()) for kind in phones._NUMBER_TYPES]
    for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items():
        examples = [
            phonenumbers.example_number_for_non_geo_entity(code)
            if region == "001"
            else phonenumbers.example_number_for_type(region, kind)
            for region in regions
            for kind in kinds
        ]
        for example in filter(None, examples):
            nsn = phonenumbers.national_significant_number(example)
            for digits in {nsn[:cut] for cut in range(2, len(nsn) + 1)} | {nsn + "0", nsn + "9"}:
                number = phonenumbers.PhoneNumber(country_code=code, national_number=int(digits))
                assert phones.is_valid_phone(number) == phonenumbers.is_valid_number(number)
                national = phonenumbers.format_number(
                    number, phonenumbers.PhoneNumberFormat.NATIONAL
                )
                assert phones.national_digits(number) == re.sub(r"\D", "", national)
