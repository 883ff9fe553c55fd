"""The customer record: the seed's attribute catalogue, its validation (SPEC §4, §12) and the
derived columns kept in step with each row (normalised phone, folded email, email key, search
text)."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import urlsplit

from clientbook.domain.enums import (
    CUSTOMER_SOURCES,
    CUSTOMER_STATUSES,
    CUSTOMER_TYPES,
    LANGUAGES,
    ORGANISATION_TYPES,
)
from clientbook.domain.errors import ValidationFailed
from clientbook.domain.fields import (
    INT32_MAX,
    Field,
    FieldError,
    apply_defaults,
    clean_record,
)
from clientbook.domain.phones import phone_columns, region_for_country
from clientbook.domain.tags import normalize_tags
from clientbook.domain.text import email_folded, words
from clientbook.domain.users import validate_email_address

# ISO 4217 List One (active codes, funds and X-codes included), as of 2025.
_ISO_4217_LIST = """
    AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP
    BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB
    EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD
    JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP
    MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR
    RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND
    TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU XBA XBB
    XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWG
"""
ISO_4217_CODES: Final = frozenset(_ISO_4217_LIST.split())

# --- attribute rules -------------------------------------------------------------------------

_URL_HOST = re.compile(r"(?=.*\w)[\w.-]+\Z|[0-9A-Fa-f:.]+\Z")
_WHITESPACE = re.compile(r"\s")


# The usual website, https://www.example.com/a/path: an ASCII host name with no port, user or
# query. Every such URL passes `_is_http_url` (urlsplit reads that host as the hostname), so it
# is accepted without parsing; anything else takes the full check.
_PLAIN_URL = re.compile(
    r"https?://(?=[A-Za-z0-9.-]*[A-Za-z0-9])[A-Za-z0-9.-]+(?:/[A-Za-z0-9._~/-]*)?\Z"
)


def check_website(url: str) -> str:
    """An absolute http(s) URL with a host; never rewritten (no scheme is guessed)."""
    if not _PLAIN_URL.match(url) and not _is_http_url(url):
        raise FieldError("must be an http:// or https:// URL with a host name")
    return url


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return False
    if parts.scheme.lower() not in ("http", "https"):
        return False
    hostname = parts.hostname
    return bool(hostname and _URL_HOST.match(hostname)) and not _WHITESPACE.search(url)


@cache
def time_zones() -> frozenset[str]:
    """The IANA zone names `timezone` accepts."""
    # `localtime` is the host's own zone (a link in the system's zoneinfo), not an IANA name.
    return frozenset(zoneinfo.available_timezones()) - {"localtime"}


def check_timezone(name: str) -> str:
    if name not in time_zones():
        raise FieldError("must be an IANA time zone such as Asia/Kuala_Lumpur")
    return name


def check_currency(code: str) -> str:
    if code not in ISO_4217_CODES:
        if code.upper() in ISO_4217_CODES:
            raise FieldError(f"must be an uppercase ISO 4217 code ({code.upper()})")
        raise FieldError("must be an ISO 4217 currency code such as MYR")
    return code


def _check_members(
    obj: Mapping[str, Any], owner: str, types: Mapping[str, tuple[type, ...]]
) -> dict[str, str]:
    """Type-check the known keys of a notes/metadata object (null allowed, others kept)."""
    errors: dict[str, str] = {}
    for key, allowed in types.items():
        value = obj.get(key)
        if value is not None and not isinstance(value, allowed):
            noun = "a string" if allowed == (str,) else "an object"
            errors[f"{owner}.{key}"] = f"must be {noun}"
    return errors


_NOTES_SHAPE: Final = {
    "general": (str,),
    "preferences": (str,),
    "importantInfo": (str,),
    "customFields": (dict,),
}
_METADATA_SHAPE: Final = {"customFields": (dict,), "integrationData": (dict,), "lastSyncAt": (str,)}


def check_notes(obj: dict[str, Any]) -> dict[str, Any]:
    """The seed's CustomerNotes shape: known keys type-checked, other keys kept."""
    errors = _check_members(obj, "notes", _NOTES_SHAPE)
    if errors:
        raise ValidationFailed(errors)
    return obj


def check_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    """The seed's CustomerMetadata shape; tags cleaned (tags.py); other keys kept as sent."""
    errors = _check_members(obj, "metadata", _METADATA_SHAPE)
    if obj.get("tags") is not None:
        try:
            obj = {**obj, "tags": normalize_tags(obj["tags"])}
        except ValidationFailed as exc:
            errors.update(exc.fields)
    if errors:
        raise ValidationFailed(errors)
    return obj


# --- the catalogue ---------------------------------------------------------------------------

CUSTOMER_ATTRIBUTES: Mapping[str, Field] = MappingProxyType(
    {
        "userId": Field("relation", required=True),
        "name": Field("string", 200, required=True),
        "email": Field("string", 255, rule=validate_email_address),
        "phone": Field("string", 50),
        "company": Field("string", 200),
        "jobTitle": Field("string", 100),
        "address": Field("string", 500, multiline=True),
        "city": Field("string", 100),
        "state": Field("string", 100),
        "zipCode": Field("string", 20),
        "country": Field("string", 100),
        "website": Field("string", 255, rule=check_website),
        "status": Field("enum", 20, required=True, default="active", values=CUSTOMER_STATUSES),
        "assignedTo": Field("relation"),
        "source": Field("enum", 50, values=CUSTOMER_SOURCES),
        "industry": Field("string", 100),
        "customerType": Field(
            "enum", 50, required=True, default="individual", values=CUSTOMER_TYPES
        ),
        "currency": Field("string", 3, default="MYR", rule=check_currency),
        "language": Field("enum", 10, default="en", values=LANGUAGES),
        "timezone": Field("string", 50, rule=check_timezone),
        "notes": Field("json", 5000, multiline=True, rule=check_notes),
        "metadata": Field("json", 5000, multiline=True, rule=check_metadata),
        "lastContactAt": Field("datetime"),
        "nextFollowUpAt": Field("datetime"),
        "totalRevenue": Field("float", required=True, default=0.0, minimum=0),
        "totalInvoices": Field("int", required=True, default=0, minimum=0, maximum=INT32_MAX),
        "createdBy": Field("relation"),
        "updatedBy": Field("relation"),
    }
)

# Accepted as plain values here; who may send them is access.py's business.
SYSTEM_ATTRIBUTES: Mapping[str, Field] = MappingProxyType(
    {
        "$id": Field("relation"),
        "$createdAt": Field("datetime"),
        "$updatedAt": Field("datetime"),
        "$sequence": Field("int", minimum=0, maximum=2**63 - 1),
    }
)
_ACCEPTED: Final = {**CUSTOMER_ATTRIBUTES, **SYSTEM_ATTRIBUTES}


def validate_customer(
    data: Mapping[str, Any],
    *,
    current: Mapping[str, Any] | None = None,
    default_region: str = "MY",
) -> dict[str, Any]:
    """Clean a customer body; raise one ValidationFailed listing every failing field.

    Create (no `current`): every attribute is returned, absent ones with the seed's default
    (or None); required ones must be present. Update (`current` given): only the keys sent are
    cleaned and returned; cross-field rules are checked on `current` overlaid with them.
    `default_region` is accepted for symmetry with `derive_customer_columns`: a phone is
    accepted as typed, so validation itself does not depend on it.
    """
    cleaned, errors = clean_record(_ACCEPTED, data)
    if current is None:
        apply_defaults(CUSTOMER_ATTRIBUTES, data, cleaned, errors)
    elif "userId" in cleaned and cleaned["userId"] != current.get("userId"):
        errors.setdefault("userId", "cannot be changed after creation")
    _check_company(cleaned, errors, current)
    if errors:
        raise ValidationFailed(errors)
    return cleaned


def _check_company(
    cleaned: Mapping[str, Any], errors: dict[str, str], current: Mapping[str, Any] | None
) -> None:
    """The seed: `company` is required for company, non-profit and government customers."""
    if "company" in errors or "customerType" in errors:
        return
    if current is not None and "company" not in cleaned and "customerType" not in cleaned:
        return
    merged = cleaned if current is None else {**current, **cleaned}
    customer_type = merged.get("customerType")
    if customer_type in ORGANISATION_TYPES and not merged.get("company"):
        errors["company"] = f"is required when customerType is {customer_type}"


# --- derived columns -------------------------------------------------------------------------


_GMAIL_DOMAINS: Final = frozenset({"gmail.com", "googlemail.com"})


def email_key(email: str | None) -> str | None:
    """The address as duplicates are detected: lowercased, `+tag` dropped, Gmail dots ignored."""
    if not email:
        return None
    local, _, domain = email.lower().rpartition("@")
    local = local.split("+", 1)[0] or local
    if domain in _GMAIL_DOMAINS:
        local, domain = local.replace(".", "") or local, "gmail.com"
    return f"{local}@{domain}"[:255]


def duplicate_name_key(name: str | None, company: str | None) -> str | None:
    """company words | sorted name words: "Mei-Ling TAN" and "Tan Mei Ling" at one company meet."""
    return _name_key(words(name or ""), words(company or ""))


def _name_key(name_words: list[str], company_words: list[str]) -> str | None:
    if not company_words or not name_words:
        return None
    return (" ".join(company_words) + "|" + " ".join(sorted(name_words)))[:320]


def derive_customer_columns(
    record: Mapping[str, Any], *, default_region: str = "MY"
) -> dict[str, Any]:
    """The derived columns of a (validated, complete) record: phoneNormalized, phoneValid,
    emailFolded (what email uniqueness and lookups compare), emailKey (duplicate detection),
    duplicateNameKey and searchText (the folded words of name, email and company, then the
    phone's E.164 and national digits; the search index matches word prefixes)."""
    name_words = words(record.get("name") or "")
    company_words = words(record.get("company") or "")
    email = record.get("email")
    region = region_for_country(record.get("country"), default_region)
    normalized, valid, phone_digits = phone_columns(record.get("phone"), region)
    terms = [*name_words, *words(email or ""), *company_words, *phone_digits]
    return {
        "phoneNormalized": normalized,
        "phoneValid": valid,
        "emailFolded": email_folded(email),
        "emailKey": email_key(email),
        "duplicateNameKey": _name_key(name_words, company_words),
        "searchText": " ".join(dict.fromkeys(terms)),
    }
