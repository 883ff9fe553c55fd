"""The field rules every record is validated with (SPEC §4, §12), written once.

A record validator is a mapping of attribute name → `Field`; `clean_record` runs each value
through its field and collects every failure, so one `ValidationFailed` lists them all. A field
check raises `FieldError` (filed under the field's own name) or `ValidationFailed` (already
keyed, e.g. `metadata.tags`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Final, Literal

from clientbook.domain.errors import ValidationFailed
from clientbook.domain.ids import is_valid_id
from clientbook.domain.timestamps import parse_datetime, to_millis

Kind = Literal["string", "enum", "relation", "datetime", "float", "int", "bool", "json"]

INT32_MAX: Final = 2_147_483_647  # PostgreSQL INTEGER; a larger value would fail in the database
JSON_MAX_DEPTH: Final = 32
_JSON_MAX_INPUT = 100_000  # refuse to parse absurd inputs before measuring them

# C0/C1 controls and DEL; lone surrogates too, since no database can store them as UTF-8.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


class FieldError(ValueError):
    """One value broke one rule; the record validator files `message` under the field's name."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Final = _NoDefault()


# --- primitives ------------------------------------------------------------------------------


def check_control_characters(text: str, *, multiline: bool = False) -> None:
    """Reject control characters; tab and newline only where `multiline` allows them."""
    if not text.isprintable() and (_CONTROL_MULTILINE if multiline else _CONTROL).search(text):
        extra = " other than tab and newline" if multiline else ""
        raise FieldError(f"must not contain control characters{extra}")


def clean_text(value: Any, *, size: int | None, multiline: bool = False) -> str | None:
    """Trimmed text within `size` Unicode characters; None when empty after trimming."""
    if not isinstance(value, str):
        raise FieldError("must be a string")
    text = value.strip()
    if not text:
        return None
    if multiline and "\r" in text:
        # Browsers submit textarea newlines as CRLF; store (and measure) one convention.
        text = text.replace("\r\n", "\n")
    if size is not None and len(text) > size:
        raise FieldError(f"must be at most {size} characters")
    if not text.isprintable():  # the fast C scan first: real values nearly always pass
        check_control_characters(text, multiline=multiline)
    return text


def clean_choice(value: Any, *, values: tuple[str, ...], size: int | None = None) -> str | None:
    text = clean_text(value, size=size)
    if text is not None and text not in values:
        raise FieldError(f"must be one of: {', '.join(values)}")
    return text


def clean_id(value: Any) -> str | None:
    """A record id (`ids.is_valid_id`); an empty string means no reference."""
    if not isinstance(value, str):
        raise FieldError("must be an id string")
    text = value.strip()
    if not text:
        return None
    if not is_valid_id(text):
        raise FieldError("must be a valid id (1-36 characters of a-z A-Z 0-9 . _ -)")
    return text


def clean_datetime(value: Any) -> datetime | None:
    """ISO 8601 text or a datetime → aware UTC at millisecond precision (naive = UTC)."""
    try:
        if isinstance(value, datetime):
            return to_millis(value)
        if isinstance(value, str):
            return parse_datetime(value) if value.strip() else None
    except (ValueError, OverflowError):
        pass
    raise FieldError("must be an ISO 8601 date-time, e.g. 2025-01-15T09:30:00.000Z")


def clean_number(value: Any, *, minimum: float | None = None) -> float:
    """A finite JSON number (bools are not numbers), returned as float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FieldError("must be a number")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise FieldError("must be a finite number")
    if minimum is not None and number < minimum:
        raise FieldError(f"must be at least {minimum:g}")
    return number


def clean_integer(value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """A whole number; an integral float such as 3.0 is accepted (JSON cannot tell them apart)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError("must be an integer")
    if minimum is not None and value < minimum:
        raise FieldError(f"must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise FieldError(f"must be at most {maximum}")
    return value


def clean_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise FieldError("must be true or false")
    return value


# --- JSON objects ----------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def stored_object(value: Any) -> dict[str, Any]:
    """A JSON object as the seed stores it (text) or as given (a dict); {} when absent, not
    valid JSON or not an object (as the seed's helpers read `metadata`)."""
    if isinstance(value, str) and value:
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return {}
    return value if isinstance(value, dict) else {}


def parse_json_object(value: Any) -> dict[str, Any] | None:
    """A JSON object given as text (as the seed stores it) or as a dict; None for empty text."""
    if isinstance(value, str):
        if not value.strip():
            return None
        if len(value) > _JSON_MAX_INPUT:
            raise FieldError(f"must be at most {_JSON_MAX_INPUT} characters of JSON")
        try:
            value = json.loads(value, parse_constant=_reject_constant)
        except RecursionError:
            raise FieldError("is nested too deeply") from None
        except ValueError:
            raise FieldError("must be valid JSON") from None
    if not isinstance(value, dict):
        raise FieldError("must be a JSON object")
    check_json_value(value)
    return value


def check_json_value(value: Any, depth: int = 0) -> None:
    """Only JSON types, string keys, finite numbers, no control characters but tab/newline."""
    if depth > JSON_MAX_DEPTH:
        raise FieldError("is nested too deeply")
    # Printable strings (nearly all of them) are passed over here rather than in a call per
    # string; one as deep as the limit still takes the call, which finds it nested too deeply.
    plain_leaf = depth < JSON_MAX_DEPTH
    if isinstance(value, str):
        check_control_characters(value, multiline=True)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise FieldError("must have string keys only")
            if not key.isprintable():
                check_control_characters(key, multiline=True)
            if not (plain_leaf and type(item) is str and item.isprintable()):
                check_json_value(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            if not (plain_leaf and type(item) is str and item.isprintable()):
                check_json_value(item, depth + 1)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise FieldError("must not contain NaN or Infinity")
    elif value is not None and not isinstance(value, bool | int):
        raise FieldError("must contain only JSON values")


# json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False), built once.
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def dump_json(value: Any) -> str:
    """Compact JSON text: the form notes and metadata are stored and measured in."""
    return _COMPACT_JSON.encode(value)


def clean_json_object(
    value: Any, *, size: int | None, shape: Callable[[dict[str, Any]], dict[str, Any]] | None
) -> str | None:
    """A JSON object (text or dict) checked by `shape`, returned as compact text within `size`."""
    obj = parse_json_object(value)
    if obj is None:
        return None
    if shape is not None:
        obj = shape(obj)
    try:
        text = dump_json(obj)
    except (ValueError, TypeError):  # an int beyond Python's digit limit, say
        raise FieldError("must contain only JSON values") from None
    if size is not None and len(text) > size:
        raise FieldError(f"must be at most {size} characters as compact JSON")
    return text


# --- fields and records ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Field:
    """One attribute's rules: its kind, size, whether required, its default, its choices.

    `rule` is an extra check applied to the kind-checked value (for `json` fields: to the parsed
    object before it is serialised); `parse` replaces the kind's own check altogether (a
    password, say, is not trimmed). `default_factory` supplies defaults such as "now".
    """

    kind: Kind
    size: int | None = None
    required: bool = False
    default: Any = NO_DEFAULT
    values: tuple[str, ...] = ()
    multiline: bool = False
    minimum: int | None = None
    maximum: int | None = None
    rule: Callable[[Any], Any] | None = None
    parse: Callable[[Any], Any] | None = None
    default_factory: Callable[[], Any] | None = None

    check: Callable[[Any], Any] = dataclasses.field(init=False, repr=False, compare=False)
    has_default: bool = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Built once: the kind's check with the extra rule folded in, called per value.
        object.__setattr__(self, "check", self._build_check())
        has_default = self.default is not NO_DEFAULT or self.default_factory is not None
        object.__setattr__(self, "has_default", has_default)

    def _build_check(self) -> Callable[[Any], Any]:
        kind_check = self.parse or _kind_check(self)
        rule = self.rule
        if rule is None or self.kind == "json":
            return kind_check

        def check(value: Any) -> Any:
            cleaned = kind_check(value)
            return None if cleaned is None else rule(cleaned)

        return check

    def make_default(self) -> Any:
        return self.default_factory() if self.default_factory is not None else self.default


def _kind_check(field: Field) -> Callable[[Any], Any]:
    match field.kind:
        case "string":
            return _string_check(field.size, field.multiline)
        case "enum":
            return _choice_check(field.values, field.size)
        case "relation":
            return clean_id
        case "datetime":
            return clean_datetime
        case "float":
            return _number_check(field.minimum)
        case "int":
            return partial(clean_integer, minimum=field.minimum, maximum=field.maximum)
        case "bool":
            return clean_bool
        case "json":
            return partial(clean_json_object, size=field.size, shape=field.rule)
    raise ValueError(f"unknown field kind {field.kind!r}")


# The checks below answer the common valid value inline and hand anything else to the general
# function, so every error (and every unusual value) still takes the one path that defines it.


def _string_check(size: int | None, multiline: bool) -> Callable[[Any], Any]:
    """`clean_text`: printable text has no control character and no CR to fold, so trimmed,
    non-empty and within `size` it is the answer as it stands."""
    limit = sys.maxsize if size is None else size

    def check(value: Any) -> Any:
        if type(value) is str:
            text = value.strip()
            if text and len(text) <= limit and text.isprintable():
                return text
        return clean_text(value, size=size, multiline=multiline)

    return check


def _choice_check(values: tuple[str, ...], size: int | None) -> Callable[[Any], Any]:
    """`clean_choice`: a trimmed value that is one of the choices (each of which `clean_text`
    itself would pass unchanged) is the answer."""
    plain = frozenset(
        value
        for value in values
        if value
        and value == value.strip()
        and value.isprintable()
        and (size is None or len(value) <= size)
    )

    def check(value: Any) -> Any:
        if type(value) is str:
            text = value.strip()
            if text in plain:
                return text
        return clean_choice(value, values=values, size=size)

    return check


def _number_check(minimum: int | None) -> Callable[[Any], Any]:
    """`clean_number`: a finite float at or above `minimum` is the answer (float() of a float
    is the float itself)."""
    floor = -math.inf if minimum is None else minimum

    def check(value: Any) -> Any:
        if type(value) is float and math.isfinite(value) and value >= floor:
            return value
        return clean_number(value, minimum=minimum)

    return check


def clean_record(fields: Mapping[str, Field], data: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """Clean every key of `data`; returns (cleaned values, every field error).

    Null, or text that is empty once trimmed, is None: an error only where the field is required.
    """
    if type(data) is not dict and not isinstance(data, Mapping):  # the ABC check is slow
        raise ValidationFailed({"body": "must be a JSON object"})
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    lookup = fields.get
    for key, value in data.items():
        field = lookup(key) if isinstance(key, str) else None
        if field is None:
            errors[str(key)] = "unknown field"
        elif value is None:
            if field.required:
                errors[key] = "is required"
            else:
                cleaned[key] = None
        else:
            try:
                result = field.check(value)
            except FieldError as exc:
                errors[key] = exc.message
                continue
            except ValidationFailed as exc:
                errors.update(exc.fields)
                continue
            if result is None and field.required:
                errors[key] = "is required"
            else:
                cleaned[key] = result
    return cleaned, errors


def apply_defaults(
    fields: Mapping[str, Field],
    data: Mapping[str, Any],
    cleaned: dict[str, Any],
    errors: dict[str, str],
) -> None:
    """On create: absent fields take their default; absent required ones are errors. An
    optional field sent as null or blank takes its default too (a create with `currency: null`
    gets MYR, as Appwrite fills a null); a required one so sent stays an error."""
    for name, field in fields.items():
        if name in data and (field.required or cleaned.get(name) is not None or name in errors):
            continue
        if field.has_default:
            factory = field.default_factory  # make_default(), without the method call
            cleaned[name] = field.default if factory is None else factory()
        elif field.required:
            errors[name] = "is required"
        else:
            cleaned[name] = None


def validate_record(
    fields: Mapping[str, Field],
    data: Any,
    *,
    create: bool,
    cross_check: Callable[[dict[str, Any], dict[str, str]], None] | None = None,
) -> dict[str, Any]:
    """Clean `data` (all of `fields` on create, only the keys given on update), run the
    record-level `cross_check`, and raise one ValidationFailed listing every failing field."""
    cleaned, errors = clean_record(fields, data)
    if create:
        apply_defaults(fields, data, cleaned, errors)
    if cross_check is not None:
        cross_check(cleaned, errors)
    if errors:
        raise ValidationFailed(errors)
    return cleaned
