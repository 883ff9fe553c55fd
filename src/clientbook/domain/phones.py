"""Phone numbers: the region a customer's country implies, and the derived phone columns
(E.164 where parseable, else the digits; validity; the digit strings the search index holds).

SPEC §4: an invalid number is accepted as typed and flagged, never rewritten.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Final

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat
from phonenumbers import phonenumberutil as _pnu
from phonenumbers.phonemetadata import PhoneMetadata, PhoneNumberDesc

from clientbook.domain.text import words

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


@lru_cache(maxsize=256)
def _pattern(regex: str) -> re.Pattern[str]:
    """re.compile, kept: re.match would find it again in re's own cache on every number."""
    return re.compile(regex)


def _parse_national(digits: str, region: str) -> PhoneNumber | None:
    """phonenumbers.parse(digits, region) for a number without +, or None to let it decide."""
    metadata = PhoneMetadata.metadata_for_region(region)
    code = None if metadata is None else metadata.country_code
    if metadata is None or code is None or digits.startswith(str(code)):
        return None  # parse() then tries reading the region's own country code
    if metadata.international_prefix and _pattern(metadata.international_prefix).match(digits):
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

# A PhoneNumberDesc as phonenumbers' _is_number_matching_desc reads it: its possible lengths
# (empty: any) and its compiled pattern (None: matches nothing); None for an absent desc.
_Desc = tuple[tuple[int, ...], re.Pattern[str] | None] | None


def _desc(desc: PhoneNumberDesc | None) -> _Desc:
    if desc is None:
        return None
    pattern = desc.national_number_pattern
    return tuple(desc.possible_length), re.compile(pattern) if pattern else None


def _matches(nsn: str, desc: _Desc) -> bool:
    """_is_number_matching_desc(nsn, desc): not an absent desc, a possible length, and the
    pattern matching the whole number (its match-then-fullmatch is the fullmatch alone)."""
    if desc is None:
        return False
    lengths, pattern = desc
    if lengths and len(nsn) not in lengths:
        return False
    return pattern is not None and pattern.fullmatch(nsn) is not None


@dataclass(frozen=True, slots=True)
class _Tables:
    """One country code's metadata, read once: phonenumbers looks each pattern up by its text
    (and its helpers run several calls deep) on every number."""

    general: _Desc
    types: tuple[_Desc, ...]  # in _NUMBER_TYPES order
    # Per national format, in order: its leading-digits pattern (None: any), its pattern, and the
    # digits it puts before the number (None: more than that, so format_number must say).
    formats: tuple[tuple[re.Pattern[str] | None, re.Pattern[str], str | None], ...]


@cache
def _tables(code: int, region: str) -> _Tables | None:
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
    if metadata is None:
        return None
    formats = tuple(
        (
            re.compile(fmt.leading_digits_pattern[-1]) if fmt.leading_digits_pattern else None,
            re.compile(fmt.pattern or ""),  # every format has both (the metadata schema says)
            _national_prefix_digits(
                fmt.pattern or "", fmt.format or "", fmt.national_prefix_formatting_rule
            ),
        )
        for fmt in metadata.number_format
    )
    types = tuple(_desc(getattr(metadata, kind)) for kind in _NUMBER_TYPES)
    return _Tables(_desc(metadata.general_desc), types, formats)


def is_valid_phone(number: PhoneNumber) -> bool:
    """phonenumbers.is_valid_number: the general pattern and any type's pattern match.

    The library tries the rare types first; a country code of one region is checked here with
    the common types (mobile, fixed line) first, which gives the same verdict sooner.
    """
    code = number.country_code
    regions = () if code is None else phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code, ())
    if code is None or not _FAST_PHONE or len(regions) != 1:
        return phonenumbers.is_valid_number(number)
    tables = _tables(code, regions[0])
    if tables is None:
        return False
    nsn = phonenumbers.national_significant_number(number)
    if not _matches(nsn, tables.general):
        return False
    return any(_matches(nsn, desc) for desc in tables.types)


_GROUP_REFERENCE = re.compile(r"\\(\d)")


def _national_prefix_digits(
    pattern: str, number_format: str, prefix_rule: str | None
) -> str | None:
    """The digits a national format puts before the national significant number ("0" for the
    rule "0\\1"), or None when the format does more than that (Argentina inserts "15")."""
    references = [int(group) for group in _GROUP_REFERENCE.findall(number_format)]
    if references != list(range(1, re.compile(pattern).groups + 1)):
        return None
    if _NON_DIGITS.sub("", _GROUP_REFERENCE.sub("", number_format)):
        return None
    return _NON_DIGITS.sub("", _GROUP_REFERENCE.sub("", prefix_rule or ""))


def national_digits(number: PhoneNumber) -> str:
    """The digits of the number in national format ("0123456789" for +60 12-345 6789)."""
    nsn = phonenumbers.national_significant_number(number)
    code = number.country_code
    tables = None
    if code is not None and _FAST_PHONE:
        tables = _tables(code, phonenumbers.region_code_for_country_code(code))
    if tables is not None:
        # _choose_formatting_pattern_for_number: the first format whose last leading-digits
        # pattern matches the start and whose pattern matches the whole number.
        for leading, pattern, prefix in tables.formats:
            if (leading is None or leading.match(nsn)) and pattern.fullmatch(nsn):
                if prefix is None:
                    break
                return prefix + nsn
        else:
            return nsn  # no format applies: the number is written as its digits
    return _NON_DIGITS.sub("", phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL))


def phone_columns(phone: str | None, region: str) -> tuple[str | None, bool | None, list[str]]:
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
