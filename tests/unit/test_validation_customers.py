"""The customer rules of the seed's attribute table and SPEC §4/§12, one behaviour per test."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from clientbook.domain.customers import (
    CUSTOMER_ATTRIBUTES,
    ISO_4217_CODES,
    derive_customer_columns,
    validate_customer,
)
from clientbook.domain.enums import CUSTOMER_SOURCES, CUSTOMER_STATUSES, CUSTOMER_TYPES
from clientbook.domain.errors import ValidationFailed
from clientbook.domain.phones import region_for_country

OWNER = "6543a1b2c3d4e5f6a7b8"


def body(**fields: Any) -> dict[str, Any]:
    return {"userId": OWNER, "name": "Tan Mei Ling", **fields}


def errors_of(data: Any, **kwargs: Any) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        validate_customer(data, **kwargs)
    return caught.value.fields


def error_of(field: str, value: Any) -> str:
    return errors_of(body(**{field: value}))[field]


# --- the catalogue is the seed's attribute table ---------------------------------------------

SEED_TABLE = [
    # name, kind, size, required, default
    ("userId", "relation", None, True, None),
    ("name", "string", 200, True, None),
    ("email", "string", 255, False, None),
    ("phone", "string", 50, False, None),
    ("company", "string", 200, False, None),
    ("jobTitle", "string", 100, False, None),
    ("address", "string", 500, False, None),
    ("city", "string", 100, False, None),
    ("state", "string", 100, False, None),
    ("zipCode", "string", 20, False, None),
    ("country", "string", 100, False, None),
    ("website", "string", 255, False, None),
    ("status", "enum", 20, True, "active"),
    ("assignedTo", "relation", None, False, None),
    ("source", "enum", 50, False, None),
    ("industry", "string", 100, False, None),
    ("customerType", "enum", 50, True, "individual"),
    ("currency", "string", 3, False, "MYR"),
    ("language", "enum", 10, False, "en"),
    ("timezone", "string", 50, False, None),
    ("notes", "json", 5000, False, None),
    ("metadata", "json", 5000, False, None),
    ("lastContactAt", "datetime", None, False, None),
    ("nextFollowUpAt", "datetime", None, False, None),
    ("totalRevenue", "float", None, True, 0.0),
    ("totalInvoices", "int", None, True, 0),
    ("createdBy", "relation", None, False, None),
    ("updatedBy", "relation", None, False, None),
]


def test_catalogue_lists_the_seed_attributes_in_seed_order() -> None:
    assert list(CUSTOMER_ATTRIBUTES) == [row[0] for row in SEED_TABLE]


@pytest.mark.parametrize(("name", "kind", "size", "required", "default"), SEED_TABLE)
def test_catalogue_entry_matches_the_seed(
    name: str, kind: str, size: int | None, required: bool, default: Any
) -> None:
    spec = CUSTOMER_ATTRIBUTES[name]
    assert (spec.kind, spec.size, spec.required) == (kind, size, required)
    assert (spec.make_default() if spec.has_default else None) == default


def test_enum_values_are_the_seeds() -> None:
    assert CUSTOMER_ATTRIBUTES["status"].values == CUSTOMER_STATUSES
    assert CUSTOMER_ATTRIBUTES["customerType"].values == CUSTOMER_TYPES
    assert CUSTOMER_ATTRIBUTES["source"].values == CUSTOMER_SOURCES
    assert CUSTOMER_ATTRIBUTES["language"].values == ("en", "ms")


# --- create: required fields and defaults ----------------------------------------------------


def test_create_applies_the_seed_defaults() -> None:
    values = validate_customer(body())
    assert values["status"] == "active"
    assert values["customerType"] == "individual"
    assert values["currency"] == "MYR"
    assert values["language"] == "en"
    assert values["totalRevenue"] == 0.0 and isinstance(values["totalRevenue"], float)
    assert values["totalInvoices"] == 0


def test_create_returns_every_attribute_with_null_for_absent_optional_ones() -> None:
    values = validate_customer(body())
    assert set(values) == set(CUSTOMER_ATTRIBUTES)
    assert values["email"] is None and values["assignedTo"] is None and values["notes"] is None


@pytest.mark.parametrize("field", ["name", "userId"])
def test_required_field_must_be_present_on_create(field: str) -> None:
    data = body()
    del data[field]
    assert errors_of(data) == {field: "is required"}


@pytest.mark.parametrize(
    "field", ["name", "userId", "status", "customerType", "totalRevenue", "totalInvoices"]
)
def test_required_field_cannot_be_null(field: str) -> None:
    assert error_of(field, None) == "is required"


def test_name_of_only_spaces_is_missing() -> None:
    assert error_of("name", "   ") == "is required"


@pytest.mark.parametrize("field", ["source", "timezone", "email"])
def test_optional_field_may_be_null(field: str) -> None:
    assert validate_customer(body(**{field: None}))[field] is None


@pytest.mark.parametrize("value", [None, "", "  "])
@pytest.mark.parametrize(("field", "default"), [("currency", "MYR"), ("language", "en")])
def test_a_create_sending_an_optional_field_empty_gets_its_default(
    field: str, default: str, value: Any
) -> None:
    assert validate_customer(body(**{field: value}))[field] == default


@pytest.mark.parametrize("field", ["currency", "language"])
def test_an_update_may_clear_an_optional_field_that_has_a_default(field: str) -> None:
    current = validate_customer(body())
    assert validate_customer({field: None}, current=current)[field] is None


@pytest.mark.parametrize("field", ["email", "phone", "company", "city", "source", "assignedTo"])
def test_empty_optional_field_is_stored_as_null(field: str) -> None:
    assert validate_customer(body(**{field: "  "}))[field] is None


# --- sizes -------------------------------------------------------------------------------------

PLAIN_SIZES = [
    ("name", 200),
    ("phone", 50),
    ("company", 200),
    ("jobTitle", 100),
    ("address", 500),
    ("city", 100),
    ("state", 100),
    ("zipCode", 20),
    ("country", 100),
    ("industry", 100),
]


@pytest.mark.parametrize(("field", "size"), PLAIN_SIZES)
def test_text_at_the_seed_size_is_accepted(field: str, size: int) -> None:
    assert validate_customer(body(**{field: "x" * size}))[field] == "x" * size


@pytest.mark.parametrize(("field", "size"), PLAIN_SIZES)
def test_text_over_the_seed_size_is_rejected_naming_the_limit(field: str, size: int) -> None:
    assert error_of(field, "x" * (size + 1)) == f"must be at most {size} characters"


@pytest.mark.parametrize(
    ("field", "size"),
    [("status", 20), ("source", 50), ("customerType", 50), ("language", 10), ("currency", 3)],
)
def test_coded_values_over_the_seed_size_are_rejected_naming_the_limit(
    field: str, size: int
) -> None:
    assert error_of(field, "x" * (size + 1)) == f"must be at most {size} characters"


def test_timezone_over_50_characters_is_rejected_naming_the_limit() -> None:
    assert error_of("timezone", "Europe/" + "x" * 44) == "must be at most 50 characters"


@pytest.mark.parametrize("name", ["localtime", "posixrules", "Mars/Olympus", "asia/kuala_lumpur"])
def test_a_name_that_is_no_iana_zone_is_rejected(name: str) -> None:
    # `localtime` was accepted: it is the host's own zone, whatever that is.
    assert error_of("timezone", name).startswith("must be an IANA time zone")


def test_website_of_255_characters_is_accepted_and_256_rejected() -> None:
    url = "https://example.com/" + "p" * 235
    assert len(url) == 255
    assert validate_customer(body(website=url))["website"] == url
    assert error_of("website", url + "p") == "must be at most 255 characters"


def test_email_over_255_characters_is_rejected_by_the_seed_size() -> None:
    address = "a" * 64 + "@" + "b" * 60 + "." + "c" * 60 + "." + "d" * 60 + ".com"
    assert len(address) == 251
    assert error_of("email", "x" * 5 + address) == "must be at most 255 characters"


def test_email_of_255_characters_breaks_the_254_character_address_limit() -> None:
    address = "x" * 4 + "a" * 64 + "@" + "b" * 60 + "." + "c" * 60 + "." + "d" * 60 + ".com"
    assert len(address) == 255
    assert error_of("email", address) == "must be at most 254 characters"


def test_text_is_trimmed_before_its_length_is_checked() -> None:
    padded = "   " + "x" * 200 + "\n "
    assert validate_customer(body(name=padded))["name"] == "x" * 200


def test_limits_count_unicode_characters_not_bytes() -> None:
    assert validate_customer(body(name="é" * 200))["name"] == "é" * 200
    assert validate_customer(body(name="😀" * 200))["name"] == "😀" * 200


def test_notes_are_measured_as_compact_json() -> None:
    text = "x" * (5000 - len('{"general":""}'))
    pretty = json.dumps({"general": text}, indent=4)
    assert len(pretty) > 5000
    assert validate_customer(body(notes=pretty))["notes"] == f'{{"general":"{text}"}}'
    assert error_of("notes", {"general": text + "x"}) == (
        "must be at most 5000 characters as compact JSON"
    )


def test_metadata_over_5000_characters_is_rejected() -> None:
    metadata = {"customFields": {"blob": "x" * 5000}}
    assert error_of("metadata", metadata) == "must be at most 5000 characters as compact JSON"


# --- text hygiene ------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["a\x00b", "a\x07b", "a\x7fb", "a\x85b", "a\tb", "a\nb", "a\ud800"])
def test_control_characters_are_rejected_in_single_line_text(bad: str) -> None:
    assert error_of("city", bad) == "must not contain control characters"


def test_address_may_contain_tab_and_newline() -> None:
    assert (
        validate_customer(body(address="1 Jalan\tAmpang\nKL"))["address"] == "1 Jalan\tAmpang\nKL"
    )


def test_address_crlf_newlines_are_stored_as_newline() -> None:
    assert validate_customer(body(address="Line 1\r\nLine 2"))["address"] == "Line 1\nLine 2"


def test_address_still_rejects_nul() -> None:
    assert error_of("address", "a\x00b") == (
        "must not contain control characters other than tab and newline"
    )


def test_notes_text_may_contain_newlines_but_not_nul() -> None:
    assert validate_customer(body(notes={"general": "a\nb"}))["notes"] == '{"general":"a\\nb"}'
    assert "control characters" in error_of("notes", {"general": "a\x00b"})


@pytest.mark.parametrize("value", [42, 4.2, True, ["a"], {"a": 1}])
def test_text_fields_must_be_strings(value: Any) -> None:
    assert error_of("company", value) == "must be a string"


# --- email, phone, website, timezone, currency, language -----------------------------------


def test_email_is_stored_as_given_apart_from_trimming() -> None:
    assert validate_customer(body(email="  Mei.Ling@Example.COM "))["email"] == (
        "Mei.Ling@Example.COM"
    )


@pytest.mark.parametrize(
    "address", ["tan@example.com", "a+tag@sub.example.co.uk", "josé@exämple.com", "x@gmail.com"]
)
def test_valid_email_addresses_are_accepted(address: str) -> None:
    assert validate_customer(body(email=address))["email"] == address


@pytest.mark.parametrize(
    "address", ["plainaddress", "a@b", "a@@b.com", "a b@example.com", "a@localhost", "a.@x.com"]
)
def test_invalid_email_addresses_are_rejected(address: str) -> None:
    assert error_of("email", address).startswith("is not a valid email address")


@pytest.mark.parametrize("phone", ["+60 12-345 6789", "012-345 6789", "call me", "12"])
def test_phone_is_accepted_as_typed_even_when_not_a_valid_number(phone: str) -> None:
    assert validate_customer(body(phone=phone))["phone"] == phone


@pytest.mark.parametrize(
    "url", ["https://acme.example.com", "http://acme.my/path?q=1", "HTTPS://ACME.MY:8443/"]
)
def test_website_accepts_http_and_https_urls(url: str) -> None:
    assert validate_customer(body(website=url))["website"] == url


@pytest.mark.parametrize(
    "url",
    [
        "acme.example.com",
        "ftp://acme.my",
        "https://",
        "http:///path",
        "https://a b.com",
        "http://x:99999",
    ],
)
def test_website_must_be_an_http_url_with_a_host(url: str) -> None:
    assert error_of("website", url) == "must be an http:// or https:// URL with a host name"


@pytest.mark.parametrize("zone", ["Asia/Kuala_Lumpur", "UTC", "America/Argentina/Buenos_Aires"])
def test_timezone_accepts_iana_zones(zone: str) -> None:
    assert validate_customer(body(timezone=zone))["timezone"] == zone


@pytest.mark.parametrize("zone", ["Mars/Olympus", "asia/kuala_lumpur", "GMT+8", "MYT"])
def test_timezone_rejects_what_is_not_an_iana_zone(zone: str) -> None:
    assert error_of("timezone", zone) == "must be an IANA time zone such as Asia/Kuala_Lumpur"


@pytest.mark.parametrize("code", ["MYR", "USD", "SGD", "EUR", "XAU"])
def test_currency_accepts_iso_4217_codes(code: str) -> None:
    assert validate_customer(body(currency=code))["currency"] == code


def test_currency_must_be_uppercase() -> None:
    assert error_of("currency", "myr") == "must be an uppercase ISO 4217 code (MYR)"


@pytest.mark.parametrize("code", ["ABC", "HRK", "12$"])
def test_currency_rejects_unknown_or_withdrawn_codes(code: str) -> None:
    assert error_of("currency", code) == "must be an ISO 4217 currency code such as MYR"


def test_iso_4217_list_is_three_uppercase_letters_each() -> None:
    assert all(len(code) == 3 and code.isalpha() and code.isupper() for code in ISO_4217_CODES)
    assert len(ISO_4217_CODES) > 150


@pytest.mark.parametrize("language", ["en", "ms"])
def test_language_accepts_english_and_malay(language: str) -> None:
    assert validate_customer(body(language=language))["language"] == language


def test_language_rejects_others() -> None:
    assert error_of("language", "fr") == "must be one of: en, ms"


# --- enums -------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", CUSTOMER_STATUSES)
def test_every_seed_status_is_accepted(status: str) -> None:
    assert validate_customer(body(status=status))["status"] == status


@pytest.mark.parametrize("customer_type", CUSTOMER_TYPES)
def test_every_seed_customer_type_is_accepted(customer_type: str) -> None:
    values = validate_customer(body(customerType=customer_type, company="Acme Sdn Bhd"))
    assert values["customerType"] == customer_type


@pytest.mark.parametrize("source", CUSTOMER_SOURCES)
def test_every_seed_source_is_accepted(source: str) -> None:
    assert validate_customer(body(source=source))["source"] == source


@pytest.mark.parametrize(
    ("field", "value"),
    [("status", "Active"), ("status", "deleted"), ("customerType", "person"), ("source", "tv")],
)
def test_values_outside_an_enum_are_rejected(field: str, value: str) -> None:
    assert error_of(field, value).startswith("must be one of: ")


# --- company rule ------------------------------------------------------------------------------


@pytest.mark.parametrize("customer_type", ["company", "non-profit", "government"])
def test_company_is_required_for_organisation_customers(customer_type: str) -> None:
    assert errors_of(body(customerType=customer_type)) == {
        "company": f"is required when customerType is {customer_type}"
    }


def test_company_is_required_for_government_customers() -> None:
    assert "company" in errors_of(body(customerType="government", company="  "))


def test_company_is_optional_for_individual_customers() -> None:
    assert validate_customer(body(customerType="individual"))["company"] is None


def test_patch_to_an_organisation_type_needs_a_company_on_the_merged_record() -> None:
    current = validate_customer(body())
    assert errors_of({"customerType": "company"}, current=current) == {
        "company": "is required when customerType is company"
    }
    values = validate_customer({"customerType": "company", "company": "Acme"}, current=current)
    assert values == {"customerType": "company", "company": "Acme"}


def test_patch_removing_the_company_of_an_organisation_is_rejected() -> None:
    current = validate_customer(body(customerType="non-profit", company="Hope Foundation"))
    assert "company" in errors_of({"company": None}, current=current)


def test_patch_of_the_type_uses_the_company_already_stored() -> None:
    current = validate_customer(body(company="Acme"))
    assert validate_customer({"customerType": "company"}, current=current) == {
        "customerType": "company"
    }


# --- datetimes and numbers ---------------------------------------------------------------------


def test_datetimes_accept_iso_8601_and_return_utc_at_millisecond_precision() -> None:
    values = validate_customer(
        body(lastContactAt="2025-01-15T17:30:00.123456+08:00", nextFollowUpAt="2025-02-01")
    )
    assert values["lastContactAt"] == datetime(2025, 1, 15, 9, 30, 0, 123000, tzinfo=UTC)
    assert values["nextFollowUpAt"] == datetime(2025, 2, 1, tzinfo=UTC)


def test_datetimes_accept_datetime_objects() -> None:
    local = datetime(2025, 1, 15, 17, 30, 0, 999999, tzinfo=timezone(timedelta(hours=8)))
    assert validate_customer(body(lastContactAt=local))["lastContactAt"] == datetime(
        2025, 1, 15, 9, 30, 0, 999000, tzinfo=UTC
    )


@pytest.mark.parametrize("value", ["yesterday", "2025-13-01", 1736933400, "0001-01-01T00:00+01:00"])
def test_datetimes_reject_what_is_not_iso_8601(value: Any) -> None:
    assert error_of("nextFollowUpAt", value).startswith("must be an ISO 8601 date-time")


def test_total_revenue_accepts_integers_as_floats() -> None:
    assert validate_customer(body(totalRevenue=1500))["totalRevenue"] == 1500.0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-0.01, "must be at least 0"),
        (True, "must be a number"),
        ("100", "must be a number"),
        (float("nan"), "must be a finite number"),
        (float("inf"), "must be a finite number"),
        (10**400, "must be a finite number"),
    ],
)
def test_total_revenue_must_be_a_finite_number_not_below_zero(value: Any, message: str) -> None:
    assert error_of("totalRevenue", value) == message


def test_total_invoices_accepts_an_integral_float() -> None:
    assert validate_customer(body(totalInvoices=3.0))["totalInvoices"] == 3


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, "must be at least 0"),
        (False, "must be an integer"),
        (2.5, "must be an integer"),
        ("3", "must be an integer"),
        (2**31, "must be at most 2147483647"),
    ],
)
def test_total_invoices_must_be_a_whole_number_not_below_zero(value: Any, message: str) -> None:
    assert error_of("totalInvoices", value) == message


# --- notes and metadata ------------------------------------------------------------------------


def test_notes_accept_a_json_string_or_an_object_and_return_compact_text() -> None:
    text = '{ "general": "Regular customer", "preferences": "Prefers email" }'
    expected = '{"general":"Regular customer","preferences":"Prefers email"}'
    assert validate_customer(body(notes=text))["notes"] == expected
    assert validate_customer(body(notes=json.loads(text)))["notes"] == expected


def test_notes_keep_non_ascii_characters_unescaped() -> None:
    assert validate_customer(body(notes={"general": "Señora 陈"}))["notes"] == (
        '{"general":"Señora 陈"}'
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{not json", "must be valid JSON"),
        ('["a"]', "must be a JSON object"),
        ("null", "must be a JSON object"),
        ('{"a": NaN}', "must be valid JSON"),
        (42, "must be a JSON object"),
        ({"a": {1, 2}}, "must contain only JSON values"),
        ({"a": float("inf")}, "must not contain NaN or Infinity"),
        ("[" * 5000 + "]" * 5000, "is nested too deeply"),
    ],
)
def test_notes_must_be_a_json_object(value: Any, message: str) -> None:
    assert error_of("notes", value) == message


def test_deeply_nested_json_is_rejected() -> None:
    deep = '{"a":' * 50 + "1" + "}" * 50
    assert error_of("metadata", deep) == "is nested too deeply"


@pytest.mark.parametrize(
    ("notes", "field", "message"),
    [
        ({"general": 1}, "notes.general", "must be a string"),
        ({"preferences": ["email"]}, "notes.preferences", "must be a string"),
        ({"importantInfo": {}}, "notes.importantInfo", "must be a string"),
        ({"customFields": "x"}, "notes.customFields", "must be an object"),
    ],
)
def test_notes_known_keys_have_the_seed_types(notes: Any, field: str, message: str) -> None:
    assert errors_of(body(notes=notes)) == {field: message}


def test_notes_keep_keys_the_seed_does_not_name() -> None:
    assert validate_customer(body(notes={"general": "x", "mood": "calm"}))["notes"] == (
        '{"general":"x","mood":"calm"}'
    )


def test_metadata_tags_are_cleaned() -> None:
    values = validate_customer(body(metadata={"tags": [" VIP ", "vip", "Enterprise"]}))
    assert values["metadata"] == '{"tags":["VIP","Enterprise"]}'


def test_metadata_tag_errors_are_named_metadata_tags() -> None:
    assert set(errors_of(body(metadata={"tags": ["ok", ""]}))) == {"metadata.tags"}


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ({"customFields": []}, "metadata.customFields"),
        ({"integrationData": "crm"}, "metadata.integrationData"),
        ({"lastSyncAt": 5}, "metadata.lastSyncAt"),
    ],
)
def test_metadata_known_keys_have_the_seed_types(metadata: Any, field: str) -> None:
    assert set(errors_of(body(metadata=metadata))) == {field}


def test_metadata_keeps_status_change_keys_as_sent() -> None:
    metadata = {
        "tags": ["vip"],
        "statusChangeReason": "Churned",
        "statusChangedAt": "2025-01-15T09:30:00.000+00:00",
        "statusChangedBy": OWNER,
    }
    assert json.loads(validate_customer(body(metadata=metadata))["metadata"]) == metadata


def test_metadata_given_as_a_dict_is_not_modified() -> None:
    metadata = {"tags": [" vip "]}
    validate_customer(body(metadata=metadata))
    assert metadata == {"tags": [" vip "]}


# --- relations, system keys, unknown keys ------------------------------------------------------


@pytest.mark.parametrize("field", ["userId", "assignedTo", "createdBy", "updatedBy"])
def test_relations_take_record_ids(field: str) -> None:
    assert validate_customer(body(**{field: "user_42"}))[field] == "user_42"


@pytest.mark.parametrize("value", ["-starts-with-dash", "has space", "x" * 37, 42])
def test_relations_reject_what_is_not_an_id(value: Any) -> None:
    assert "id" in error_of("assignedTo", value)


def test_system_keys_are_accepted_as_plain_values() -> None:
    values = validate_customer(
        body(**{"$id": "cust_1", "$createdAt": "2025-01-15T09:30:00Z", "$sequence": 7})
    )
    assert values["$id"] == "cust_1"
    assert values["$createdAt"] == datetime(2025, 1, 15, 9, 30, tzinfo=UTC)
    assert values["$sequence"] == 7


def test_unknown_fields_are_rejected_by_name() -> None:
    assert errors_of(body(nickname="Ling", tags=["vip"])) == {
        "nickname": "unknown field",
        "tags": "unknown field",
    }


def test_a_body_that_is_not_an_object_is_rejected() -> None:
    assert errors_of(["name"]) == {"body": "must be a JSON object"}


# --- partial update ----------------------------------------------------------------------------


def test_patch_returns_only_the_keys_sent_without_defaults() -> None:
    current = validate_customer(body())
    assert validate_customer({"city": " Ipoh "}, current=current) == {"city": "Ipoh"}


def test_patch_may_not_change_the_owner() -> None:
    current = validate_customer(body())
    assert validate_customer({"userId": OWNER}, current=current) == {"userId": OWNER}
    assert errors_of({"userId": "someone_else"}, current=current) == {
        "userId": "cannot be changed after creation"
    }


def test_patch_still_rejects_null_for_required_fields() -> None:
    assert errors_of({"name": None, "status": None}, current=validate_customer(body())) == {
        "name": "is required",
        "status": "is required",
    }


# --- every problem at once ---------------------------------------------------------------------


def test_every_failing_field_is_reported_at_once() -> None:
    fields = errors_of(
        {
            "name": "",
            "email": "not-an-email",
            "phone": "1\x002",
            "customerType": "government",
            "status": "gone",
            "website": "acme.my",
            "timezone": "Nowhere/Town",
            "currency": "myr",
            "language": "de",
            "totalRevenue": -5,
            "totalInvoices": 1.5,
            "nextFollowUpAt": "soon",
            "metadata": {"tags": "vip", "customFields": 1},
            "notes": {"general": 7},
            "surprise": True,
        }
    )
    assert set(fields) == {
        "name",
        "userId",
        "email",
        "phone",
        "company",
        "status",
        "website",
        "timezone",
        "currency",
        "language",
        "totalRevenue",
        "totalInvoices",
        "nextFollowUpAt",
        "metadata.tags",
        "metadata.customFields",
        "notes.general",
        "surprise",
    }


# --- derived columns ---------------------------------------------------------------------------


def derived(**fields: Any) -> dict[str, Any]:
    return derive_customer_columns(validate_customer(body(**fields)))


@pytest.mark.parametrize(
    "phone", ["+60 12-345 6789", "012-345 6789", "(012) 345.6789", "+60123456789"]
)
def test_phone_is_normalised_to_e164_with_the_default_region(phone: str) -> None:
    columns = derived(phone=phone)
    assert columns["phoneNormalized"] == "+60123456789"
    assert columns["phoneValid"] is True


def test_phone_is_read_with_the_customers_country() -> None:
    assert derived(phone="8123 4567", country="Singapore")["phoneNormalized"] == "+6581234567"
    assert derived(phone="8123 4567", country="SG")["phoneNormalized"] == "+6581234567"


def test_default_region_applies_when_the_country_is_unknown() -> None:
    record = validate_customer(body(phone="8123 4567", country="Atlantis"))
    assert derive_customer_columns(record, default_region="SG")["phoneNormalized"] == (
        "+6581234567"
    )


def test_invalid_phone_is_flagged_not_rewritten() -> None:
    columns = derived(phone="+60 12")
    assert columns["phoneValid"] is False
    assert columns["phoneNormalized"] == "+6012"


def test_unparseable_phone_keeps_its_digits() -> None:
    columns = derived(phone="ext. 5")
    assert (columns["phoneNormalized"], columns["phoneValid"]) == ("5", False)


def test_no_phone_means_no_phone_columns() -> None:
    columns = derived()
    assert (columns["phoneNormalized"], columns["phoneValid"]) == (None, None)


@pytest.mark.parametrize(
    ("email", "key"),
    [
        ("Mei.Ling+crm@Gmail.com", "meiling@gmail.com"),
        ("mei.ling@googlemail.com", "meiling@gmail.com"),
        ("Mei.Ling+crm@Acme.MY", "mei.ling@acme.my"),
        (None, None),
    ],
)
def test_email_key_ignores_case_plus_tags_and_gmail_dots(email: str | None, key: str) -> None:
    assert derived(email=email)["emailKey"] == key


def test_reordered_names_at_one_company_share_a_duplicate_key() -> None:
    one = derived(name="Tan Mei Ling", company="Acme Sdn Bhd")["duplicateNameKey"]
    two = derived(name="Mei-Ling TAN", company="ACME Sdn. Bhd.")["duplicateNameKey"]
    assert one == two == "acme sdn bhd|ling mei tan"


def test_no_duplicate_name_key_without_a_company() -> None:
    assert derived()["duplicateNameKey"] is None


def test_search_text_holds_folded_words_and_both_phone_digit_forms() -> None:
    text = derived(name="José Tan", email="jose@acme.my", company="Acme", phone="+60 12-345 6789")[
        "searchText"
    ]
    words = text.split()
    assert {"jose", "tan", "acme", "my", "60123456789", "0123456789"} <= set(words)
    assert any(w.startswith("0123") for w in words) and any(w.startswith("6012") for w in words)


@pytest.mark.parametrize(
    ("country", "region"),
    [("Malaysia", "MY"), ("MY", "MY"), ("my", "MY"), ("Singapore", "SG"), ("Singapura", "SG")],
)
def test_country_names_and_codes_map_to_phone_regions(country: str, region: str) -> None:
    assert region_for_country(country) == region


def test_unknown_country_falls_back_to_the_default_region() -> None:
    assert region_for_country("Atlantis", "SG") == "SG"
    assert region_for_country(None) == "MY"


def test_address_is_measured_after_crlf_becomes_newline() -> None:
    address = "a" * 250 + "\r\n" + "b" * 249
    assert validate_customer(body(address=address))["address"] == "a" * 250 + "\n" + "b" * 249
