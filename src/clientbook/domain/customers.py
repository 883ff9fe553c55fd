"""The customer record: the seed's attribute catalogue, its validation (SPEC §4, §12) and the
derived columns kept in step with each row (normalised phone, email key, search text)."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from functools import cache, lru_cache
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import urlsplit

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat
from phonenumbers import phonenumberutil as _pnu
from phonenumbers.phonemetadata import PhoneMetadata

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
from clientbook.domain.tags import normalize_tags
from clientbook.domain.text import words
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


def check_website(url: str) -> str:
    """An absolute http(s) URL with a host; never rewritten (no scheme is guessed)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or not _URL_HOST.match(parts.hostname)
        or _WHITESPACE.search(url)
    ):
        raise FieldError("must be an http:// or https:// URL with a host name")
    return url


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_timezone(name: str) -> str:
    if name not in _time_zones():
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

# English names of the regions phonenumbers knows, then common aliases (Malay names, ISO alpha-3
# codes, short forms). Keys are compared as folded words, so case and accents do not matter.
_COUNTRY_NAMES: Final = (
    "AD=Andorra;AE=United Arab Emirates;AF=Afghanistan;AG=Antigua and Barbuda;AI=Anguilla;"
    "AL=Albania;AM=Armenia;AO=Angola;AR=Argentina;AS=American Samoa;AT=Austria;AU=Australia;"
    "AW=Aruba;AX=Åland Islands;AZ=Azerbaijan;BA=Bosnia and Herzegovina;BB=Barbados;BD=Bangladesh;"
    "BE=Belgium;BF=Burkina Faso;BG=Bulgaria;BH=Bahrain;BI=Burundi;BJ=Benin;BL=Saint Barthélemy;"
    "BM=Bermuda;BN=Brunei;BO=Bolivia;BQ=Bonaire, Sint Eustatius and Saba;BR=Brazil;BS=Bahamas;"
    "BT=Bhutan;BW=Botswana;BY=Belarus;BZ=Belize;CA=Canada;CC=Cocos Islands;"
    "CD=The Democratic Republic Of Congo;CF=Central African Republic;CG=Congo;CH=Switzerland;"
    "CI=Côte d'Ivoire;CK=Cook Islands;CL=Chile;CM=Cameroon;CN=China;CO=Colombia;CR=Costa Rica;"
    "CU=Cuba;CV=Cape Verde;CW=Curaçao;CX=Christmas Island;CY=Cyprus;CZ=Czech Republic;DE=Germany;"
    "DJ=Djibouti;DK=Denmark;DM=Dominica;DO=Dominican Republic;DZ=Algeria;EC=Ecuador;EE=Estonia;"
    "EG=Egypt;EH=Western Sahara;ER=Eritrea;ES=Spain;ET=Ethiopia;FI=Finland;FJ=Fiji;"
    "FK=Falkland Islands;FM=Micronesia;FO=Faroe Islands;FR=France;GA=Gabon;GB=United Kingdom;"
    "GD=Grenada;GE=Georgia;GF=French Guiana;GG=Guernsey;GH=Ghana;GI=Gibraltar;GL=Greenland;"
    "GM=Gambia;GN=Guinea;GP=Guadeloupe;GQ=Equatorial Guinea;GR=Greece;GT=Guatemala;GU=Guam;"
    "GW=Guinea-Bissau;GY=Guyana;HK=Hong Kong;HN=Honduras;HR=Croatia;HT=Haiti;HU=Hungary;"
    "ID=Indonesia;IE=Ireland;IL=Israel;IM=Isle Of Man;IN=India;IO=British Indian Ocean Territory;"
    "IQ=Iraq;IR=Iran;IS=Iceland;IT=Italy;JE=Jersey;JM=Jamaica;JO=Jordan;JP=Japan;KE=Kenya;"
    "KG=Kyrgyzstan;KH=Cambodia;KI=Kiribati;KM=Comoros;KN=Saint Kitts And Nevis;KP=North Korea;"
    "KR=South Korea;KW=Kuwait;KY=Cayman Islands;KZ=Kazakhstan;LA=Laos;LB=Lebanon;LC=Saint Lucia;"
    "LI=Liechtenstein;LK=Sri Lanka;LR=Liberia;LS=Lesotho;LT=Lithuania;LU=Luxembourg;LV=Latvia;"
    "LY=Libya;MA=Morocco;MC=Monaco;MD=Moldova;ME=Montenegro;MF=Saint Martin;MG=Madagascar;"
    "MH=Marshall Islands;MK=Macedonia;ML=Mali;MM=Myanmar;MN=Mongolia;MO=Macao;"
    "MP=Northern Mariana Islands;MQ=Martinique;MR=Mauritania;MS=Montserrat;MT=Malta;MU=Mauritius;"
    "MV=Maldives;MW=Malawi;MX=Mexico;MY=Malaysia;MZ=Mozambique;NA=Namibia;NC=New Caledonia;"
    "NE=Niger;NF=Norfolk Island;NG=Nigeria;NI=Nicaragua;NL=Netherlands;NO=Norway;NP=Nepal;"
    "NR=Nauru;NU=Niue;NZ=New Zealand;OM=Oman;PA=Panama;PE=Peru;PF=French Polynesia;"
    "PG=Papua New Guinea;PH=Philippines;PK=Pakistan;PL=Poland;PM=Saint Pierre And Miquelon;"
    "PR=Puerto Rico;PS=Palestine;PT=Portugal;PW=Palau;PY=Paraguay;QA=Qatar;RE=Reunion;RO=Romania;"
    "RS=Serbia;RU=Russia;RW=Rwanda;SA=Saudi Arabia;SB=Solomon Islands;SC=Seychelles;SD=Sudan;"
    "SE=Sweden;SG=Singapore;SH=Saint Helena;SI=Slovenia;SJ=Svalbard And Jan Mayen;SK=Slovakia;"
    "SL=Sierra Leone;SM=San Marino;SN=Senegal;SO=Somalia;SR=Suriname;SS=South Sudan;"
    "ST=Sao Tome And Principe;SV=El Salvador;SX=Sint Maarten (Dutch part);SY=Syria;SZ=Swaziland;"
    "TC=Turks And Caicos Islands;TD=Chad;TG=Togo;TH=Thailand;TJ=Tajikistan;TK=Tokelau;"
    "TL=Timor-Leste;TM=Turkmenistan;TN=Tunisia;TO=Tonga;TR=Turkey;TT=Trinidad and Tobago;"
    "TV=Tuvalu;TW=Taiwan;TZ=Tanzania;UA=Ukraine;UG=Uganda;US=United States;UY=Uruguay;"
    "UZ=Uzbekistan;VA=Vatican;VC=Saint Vincent And The Grenadines;VE=Venezuela;"
    "VG=British Virgin Islands;VI=U.S. Virgin Islands;VN=Vietnam;VU=Vanuatu;WF=Wallis And Futuna;"
    "WS=Samoa;YE=Yemen;YT=Mayotte;ZA=South Africa;ZM=Zambia;ZW=Zimbabwe;"
    "AC=Ascension Island;TA=Tristan da Cunha;XK=Kosovo;"
    "US=USA;US=United States of America;US=America;US=Amerika Syarikat;GB=UK;GB=Great Britain;"
    "GB=Britain;GB=England;GB=Scotland;GB=Wales;GB=Northern Ireland;KR=Korea;"
    "KR=Republic of Korea;KR=Korea Selatan;KP=Korea Utara;CZ=Czechia;TR=Türkiye;"
    "MK=North Macedonia;SZ=Eswatini;CV=Cabo Verde;CD=DR Congo;"
    "CD=Democratic Republic of the Congo;CI=Ivory Coast;VN=Viet Nam;BN=Brunei Darussalam;"
    "MO=Macau;HK=Hong Kong SAR;AE=UAE;SA=KSA;SG=Singapura;JP=Jepun;CN=Cina;DE=Jerman;"
    "FR=Perancis;PH=Filipina;NL=Belanda;NL=Holland;ES=Sepanyol;IT=Itali;EG=Mesir;KH=Kemboja;"
    "SA=Arab Saudi;AE=Emiriah Arab Bersatu;TH=Thai;MM=Burma;"
    "MY=MYS;SG=SGP;ID=IDN;TH=THA;PH=PHL;VN=VNM;BN=BRN;KH=KHM;LA=LAO;MM=MMR;CN=CHN;HK=HKG;"
    "TW=TWN;JP=JPN;KR=KOR;IN=IND;AU=AUS;NZ=NZL;US=USA;GB=GBR;DE=DEU;FR=FRA;CA=CAN;AE=ARE;SA=SAU"
)


@cache
def _country_regions() -> dict[str, str]:
    table: dict[str, str] = {}
    for entry in _COUNTRY_NAMES.split(";"):
        region, _, name = entry.partition("=")
        if name:
            table.setdefault(" ".join(words(name)), region)
    return table


@lru_cache(maxsize=1024)
def region_for_country(country: str | None, default_region: str = "MY") -> str:
    """The phone region of a `country` value ("Malaysia", "MY", "Singapura", ...), else default."""
    if country:
        code = country.strip().upper()
        if len(code) == 2 and code in phonenumbers.SUPPORTED_REGIONS:
            return code
        region = _country_regions().get(" ".join(words(country)))
        if region is not None:
            return region
    return default_region.strip().upper()


# phonenumbers' parser re-reads the text character by character (~10 µs a number). For a phone
# written only with digits, spaces and ( ) . - (optionally after a leading +) its result depends
# on the digits alone, so the fast paths below run just the digit steps of that parser, with its
# own helpers and metadata; anything unusual is left to phonenumbers.parse itself. A property
# test holds the two to the same answers.
_PLAIN_PHONE = re.compile(r"\+?[0-9 ().\-]*\Z")
_NON_DIGITS = re.compile(r"[^0-9]+")
_PHONE_NORMALIZED_MAX = 32  # the column's size; only an unparseable number's digits can exceed it
_PNU_HELPERS = (
    "_extract_country_code",
    "_maybe_strip_national_prefix_carrier_code",
    "_test_number_length",
    "_set_italian_leading_zeros_for_phone_number",
    "_choose_formatting_pattern_for_number",
    "_is_number_matching_desc",
)
_FAST_PHONE = all(hasattr(_pnu, name) for name in _PNU_HELPERS)
# Keep phonenumbers' compiled metadata patterns instead of re-finding them in re's small cache.
phonenumbers.enable_pattern_cache()
_LENGTH_REJECTS: Final = (
    _pnu.ValidationResult.TOO_SHORT,
    _pnu.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    _pnu.ValidationResult.INVALID_LENGTH,
)


def _finish_number(code: int, national: str, metadata: PhoneMetadata) -> PhoneNumber | None:
    """parse()'s last steps: strip a national prefix if what remains is a possible length."""
    _, stripped, _ = _pnu._maybe_strip_national_prefix_carrier_code(national, metadata)
    if _pnu._test_number_length(stripped, metadata) not in _LENGTH_REJECTS:
        national = stripped
    if not 2 <= len(national) <= 17:
        return None
    number = PhoneNumber(country_code=code, national_number=int(national))
    _pnu._set_italian_leading_zeros_for_phone_number(national, number)
    return number


def _parse_international(digits: str) -> PhoneNumber | None:
    """phonenumbers.parse("+" + digits), or None to let it decide."""
    code, national = _pnu._extract_country_code(digits)
    if code == 0 or len(national) < 2:
        return None
    region = phonenumbers.region_code_for_country_code(code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
    return None if metadata is None else _finish_number(code, national, metadata)


def _parse_national(digits: str, region: str) -> PhoneNumber | None:
    """phonenumbers.parse(digits, region) for a number without +, or None to let it decide."""
    metadata = PhoneMetadata.metadata_for_region(region)
    code = None if metadata is None else metadata.country_code
    if metadata is None or code is None or digits.startswith(str(code)):
        return None  # parse() then tries reading the region's own country code
    if metadata.international_prefix and re.match(metadata.international_prefix, digits):
        return None  # an international dialling prefix (00 from Malaysia): a country code follows
    return _finish_number(code, digits, metadata)


def parse_phone(phone: str, region: str) -> PhoneNumber | None:
    """The phone as phonenumbers.parse reads it with `region` as the default, or None."""
    if _FAST_PHONE and _PLAIN_PHONE.match(phone):
        digits = _NON_DIGITS.sub("", phone)
        if len(digits) >= 3 and phone.startswith("+"):
            number = _parse_international(digits) if digits[0] != "0" else None
        elif len(digits) >= 3 and region in phonenumbers.SUPPORTED_REGIONS:
            number = _parse_national(digits, region)
        else:
            number = None
        if number is not None:
            return number
    try:
        return phonenumbers.parse(phone, region)
    except NumberParseException:
        return None


_NUMBER_TYPES: Final = (
    "mobile",
    "fixed_line",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
)


def is_valid_phone(number: PhoneNumber) -> bool:
    """phonenumbers.is_valid_number: the general pattern and any type's pattern match.

    The library tries the rare types first; a country code of one region is checked here with
    the common types (mobile, fixed line) first, which gives the same verdict sooner.
    """
    code = number.country_code
    regions = () if code is None else phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code, ())
    if code is None or not _FAST_PHONE or len(regions) != 1:
        return phonenumbers.is_valid_number(number)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, regions[0])
    if metadata is None:
        return False
    nsn = phonenumbers.national_significant_number(number)
    if not _pnu._is_number_matching_desc(nsn, metadata.general_desc):
        return False
    return any(
        _pnu._is_number_matching_desc(nsn, getattr(metadata, kind)) for kind in _NUMBER_TYPES
    )


_GROUP_REFERENCE = re.compile(r"\\(\d)")


@lru_cache(maxsize=1024)
def _national_prefix_digits(pattern: str, number_format: str, prefix_rule: str) -> str | None:
    """The digits a national format puts before the national significant number ("0" for the
    rule "0\\1"), or None when the format does more than that (Argentina inserts "15")."""
    references = [int(group) for group in _GROUP_REFERENCE.findall(number_format)]
    if references != list(range(1, re.compile(pattern).groups + 1)):
        return None
    if _NON_DIGITS.sub("", _GROUP_REFERENCE.sub("", number_format)):
        return None
    return _NON_DIGITS.sub("", _GROUP_REFERENCE.sub("", prefix_rule))


def national_digits(number: PhoneNumber) -> str:
    """The digits of the number in national format ("0123456789" for +60 12-345 6789)."""
    nsn = phonenumbers.national_significant_number(number)
    code = number.country_code
    metadata = None
    if code is not None:
        region = phonenumbers.region_code_for_country_code(code)
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
    if _FAST_PHONE and metadata is not None:
        chosen = _pnu._choose_formatting_pattern_for_number(metadata.number_format, nsn)
        if chosen is None:
            return nsn
        prefix = _national_prefix_digits(
            chosen.pattern, chosen.format, chosen.national_prefix_formatting_rule or ""
        )
        if prefix is not None:
            return prefix + nsn
    return _NON_DIGITS.sub("", phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL))


def _phone_columns(phone: str | None, region: str) -> tuple[str | None, bool | None, list[str]]:
    """(phoneNormalized, phoneValid, digit strings for search) of a phone as typed."""
    if not phone:
        return None, None, []
    number = parse_phone(phone, region)
    if number is None:
        digits = _NON_DIGITS.sub("", phone)
        return digits[:_PHONE_NORMALIZED_MAX] or None, False, [digits] if digits else []
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    national = national_digits(number)
    searchable = [e164[1:]] if national == e164[1:] else [e164[1:], national]
    return e164, is_valid_phone(number), searchable


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
    return _name_key(_words(name or ""), _words(company or ""))


def _name_key(name_words: list[str], company_words: list[str]) -> str | None:
    if not company_words or not name_words:
        return None
    return (" ".join(company_words) + "|" + " ".join(sorted(name_words)))[:320]


_ASCII_NON_WORD = re.compile(r"[^a-z0-9]+")


def _words(text: str) -> list[str]:
    """text.words(), with a fast path giving the same words for ASCII text."""
    if text.isascii():
        return [w for w in _ASCII_NON_WORD.split(text.lower()) if w]
    return words(text)


def derive_customer_columns(
    record: Mapping[str, Any], *, default_region: str = "MY"
) -> dict[str, Any]:
    """The derived columns of a (validated, complete) record: phoneNormalized, phoneValid,
    emailKey, duplicateNameKey and searchText (the folded words of name, email and company,
    then the phone's E.164 and national digits; the search index matches word prefixes)."""
    name_words = _words(record.get("name") or "")
    company_words = _words(record.get("company") or "")
    email = record.get("email")
    region = region_for_country(record.get("country"), default_region)
    normalized, valid, phone_digits = _phone_columns(record.get("phone"), region)
    terms = [*name_words, *_words(email or ""), *company_words, *phone_digits]
    return {
        "phoneNormalized": normalized,
        "phoneValid": valid,
        "emailKey": email_key(email),
        "duplicateNameKey": _name_key(name_words, company_words),
        "searchText": " ".join(dict.fromkeys(terms)),
    }
