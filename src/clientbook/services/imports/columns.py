"""From a file's columns and cells to the customer body the API would take (SPEC §8).

Column names are matched without regard to case, spaces or punctuation (`E-mail`, `zip code`,
`Job Title`), plus a few common aliases. Cells are typed for their field: text stays text (a
number typed into a spreadsheet's phone column becomes its digits), numbers are read from text,
an Excel date serial becomes a datetime, `tags` are split on `;`. Validation proper is the
domain's `validate_customer`, exactly as for the API.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Final, NamedTuple

import orjson

from clientbook.domain.customers import CUSTOMER_ATTRIBUTES
from clientbook.domain.errors import ValidationFailed
from clientbook.services.imports.xlsx import excel_serial_to_iso
from clientbook.services.transfer_format import SYSTEM_COLUMNS, join_tags, split_tags

ROW_ERROR: Final = "\x00row"  # a reader's key for "this whole row is unreadable"
ID: Final = "$id"
TAGS: Final = "tags"
IGNORED: Final = "\x00ignored"
_FOLD = re.compile(r"[^0-9a-z]+")


def fold(name: str) -> str:
    """`E-mail` -> `email`, `Zip Code` -> `zipcode`, `$id` -> `id`."""
    return _FOLD.sub("", name.casefold())


_ALIASES: Final = {
    "customerid": ID,
    "recordid": ID,
    "emailaddress": "email",
    "mail": "email",
    "fullname": "name",
    "customername": "name",
    "phonenumber": "phone",
    "telephone": "phone",
    "tel": "phone",
    "mobile": "phone",
    "companyname": "company",
    "organisation": "company",
    "organization": "company",
    "position": "jobTitle",
    "title": "jobTitle",
    "streetaddress": "address",
    "street": "address",
    "town": "city",
    "province": "state",
    "region": "state",
    "zip": "zipCode",
    "postcode": "zipCode",
    "postalcode": "zipCode",
    "url": "website",
    "web": "website",
    "homepage": "website",
    "type": "customerType",
    "leadsource": "source",
    "owner": "userId",
    "user": "userId",
    "assignee": "assignedTo",
    "assigned": "assignedTo",
    "tz": "timezone",
    "lang": "language",
    "revenue": "totalRevenue",
    "invoices": "totalInvoices",
    "lastcontact": "lastContactAt",
    "nextfollowup": "nextFollowUpAt",
    "followup": "nextFollowUpAt",
    "tag": TAGS,
    "created": "createdAt",
    "updated": "updatedAt",
}
_TARGETS: Final[dict[str, str]] = {
    **{fold(name): name for name in CUSTOMER_ATTRIBUTES},
    "id": ID,
    TAGS: TAGS,
    **{fold(name): name for name in SYSTEM_COLUMNS},
    **_ALIASES,
}
# Non-nullable attributes: an empty cell means their default (they cannot be null).
_DEFAULT_WHEN_EMPTY: Final = {
    name: spec.make_default()
    for name, spec in CUSTOMER_ATTRIBUTES.items()
    if spec.required and spec.has_default
}
_TEXT_KINDS: Final = frozenset({"string", "enum", "relation"})


@lru_cache(maxsize=4096)
def target_of(column: str) -> str | None:
    """The field a column fills (`$id`, an attribute, `tags`, a system column), or None."""
    return _TARGETS.get(fold(column))


@dataclass
class ColumnMap:
    """What each column of a file fills, and the columns the import ignores; `plan` is what
    `row_body` does with each column's cells, worked out once per file rather than per cell."""

    targets: dict[str, str] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    plan: dict[str, _Step] = field(default_factory=dict)


def map_columns(columns: Iterable[str]) -> ColumnMap:
    """The mapping of a header row; ValidationFailed naming unknown and repeated columns."""
    mapping = ColumnMap()
    errors: dict[str, str] = {}
    seen: dict[str, str] = {}
    for column in columns:
        if not column.strip():
            continue  # an empty header: its cells must be empty too (checked per row)
        target = target_of(column)
        if target is None:
            errors[f"columns.{column}"] = "unknown column"
        elif target in seen:
            errors[f"columns.{column}"] = f"fills {target}, as column {seen[target]!r} does"
        else:
            seen[target] = column
            if target in SYSTEM_COLUMNS:
                mapping.ignored.append(column)
            mapping.targets[column] = target
    if errors:
        raise ValidationFailed(errors, "The file's columns are not all customer fields")
    mapping.plan = {
        column: _step_for(target)
        for column, target in mapping.targets.items()
        if target not in SYSTEM_COLUMNS
    }
    return mapping


class RowBody:
    """One row as an API body (`data`), or the problems that kept it from being one. A JSON
    row also tells which of its keys it ignored (system fields) and which fill a field of
    another name (`id` fills `$id`): its keys vary, so the header cannot tell."""

    __slots__ = ("data", "errors", "ignored", "named")

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.errors: dict[str, str] = {}
        self.ignored: list[str] | None = None
        self.named: dict[str, str] | None = None  # {field: the row's key}


def column_names(mapping: ColumnMap) -> dict[str, str]:
    """{field: the file's column} for the columns named otherwise than their field."""
    return {target: column for column, target in mapping.targets.items() if column != target}


def row_body(cells: dict[str, Any], mapping: ColumnMap | None, *, spreadsheet: bool) -> RowBody:
    """Convert one row. `mapping` is the header's (None for JSON, whose keys vary by row);
    `spreadsheet` rows (CSV, XLSX) carry text cells, JSON rows typed values."""
    body = RowBody()
    if ROW_ERROR in cells:
        body.errors["row"] = str(cells[ROW_ERROR])
        return body
    if mapping is not None and spreadsheet:
        _mapped_body(body, cells, mapping)
        return body
    tags: Any = None
    tags_text: str | None = None
    for column, raw in cells.items():
        target = mapping.targets.get(column) if mapping is not None else target_of(column)
        if target is None:
            if mapping is None:
                body.errors[column] = "unknown field"
            elif raw not in (None, ""):
                body.errors[column] = "has a value but no column name"
            continue
        if target in SYSTEM_COLUMNS:
            body.ignored = [*(body.ignored or ()), column]  # listed in the report
            continue
        if target != column:
            body.named = {**(body.named or {}), target: column}
        if target in body.data or (target == TAGS and tags is not None):
            body.errors[column] = f"fills {target} a second time"
            continue
        if target == TAGS:
            tags, tags_text = _tags(raw, body.errors, column)
            continue
        body.data[target] = _typed(target, raw)
    if tags is not None:
        _merge_tags(body, tags, tags_text)
    return body


# How `_mapped_body` converts a column's cells: kept as they are, or one of the converters.
_KEEP: Final = 0
_TEXT: Final = 1
_NUMBER: Final = 2
_DATETIME: Final = 3
_TAGS: Final = 4


class _Step(NamedTuple):
    target: str
    how: int
    empty: Any  # the value of an empty cell


def _step_for(target: str) -> _Step:
    """`_typed`'s choices for one target, made once per column."""
    if target == TAGS:
        return _Step(target, _TAGS, None)
    spec = CUSTOMER_ATTRIBUTES.get(target)
    kind = "relation" if spec is None else spec.kind
    how = _KEEP
    if kind in _TEXT_KINDS:
        how = _TEXT
    elif kind == "float" or kind == "int":
        how = _NUMBER
    elif kind == "datetime":
        how = _DATETIME
    return _Step(target, how, _DEFAULT_WHEN_EMPTY.get(target))


def _mapped_body(body: RowBody, cells: dict[str, Any], mapping: ColumnMap) -> None:
    """`row_body` for a CSV or XLSX row, whose columns the header mapped: the same result as
    the general loop, per cell only what the cell itself decides. The mapping has one column
    per target, so no target can be filled twice."""
    plan = mapping.plan
    data = body.data
    tags: Any = None
    tags_text: str | None = None
    for column, raw in cells.items():
        step = plan.get(column)
        if step is None:
            # A system column (ignored), or a cell under no column name.
            if column not in mapping.targets and raw is not None and raw != "":
                body.errors[column] = "has a value but no column name"
            continue
        if raw is None or raw == "":
            if step.how == _TAGS:
                tags, tags_text = [], ""
            else:
                data[step.target] = step.empty
            continue
        how = step.how
        if how == _TEXT:
            data[step.target] = raw if raw.__class__ is str else _as_text(raw)
        elif how == _NUMBER:
            data[step.target] = _as_number(raw)
        elif how == _DATETIME:
            data[step.target] = _as_datetime(raw)
        elif how == _TAGS:
            tags, tags_text = _tags(raw, body.errors, column)
        else:
            data[step.target] = raw
    if tags is not None:
        _merge_tags(body, tags, tags_text)


def _typed(target: str, value: Any) -> Any:
    if value is None or value == "":
        return _DEFAULT_WHEN_EMPTY.get(target)
    spec = CUSTOMER_ATTRIBUTES.get(target)
    kind = "relation" if spec is None else spec.kind
    if kind in _TEXT_KINDS:
        return _as_text(value)
    if kind == "float" or kind == "int":
        return _as_number(value)
    if kind == "datetime":
        return _as_datetime(value)
    return value


def _as_text(value: Any) -> Any:
    """A spreadsheet number in a text column (a phone, a postcode) as the digits shown."""
    if isinstance(value, float) and not isinstance(value, bool) and math.isfinite(value):
        return str(int(value)) if value.is_integer() else repr(value)
    return value


def _as_number(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            return value  # validation names it: "must be a number"
        if not math.isfinite(number):
            return value
        return int(text) if text.lstrip("+-").isdigit() else number
    return value


def _as_datetime(value: Any) -> Any:
    if isinstance(value, float) and not isinstance(value, bool):
        try:
            return excel_serial_to_iso(value)
        except (OverflowError, ValueError):
            return value
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    return value


def _tags(value: Any, errors: dict[str, str], column: str) -> tuple[Any, str | None]:
    if value is None or value == "":
        return [], ""
    if isinstance(value, str):
        return split_tags(value), value
    if isinstance(value, list):
        return value, None
    errors[column] = "must be a list of tags, or text with tags separated by ;"
    return None, None


def _merge_tags(body: RowBody, tags: list[Any], tags_text: str | None) -> None:
    """`tags` and `metadata.tags` say the same thing twice (the export writes both). When they
    agree, metadata's list is kept as it is (a tag may contain `;`); when the `tags` column was
    edited, it wins."""
    metadata = body.data.get("metadata")
    parsed: Any = metadata
    if isinstance(metadata, str):
        try:
            parsed = orjson.loads(metadata)
        except orjson.JSONDecodeError:
            return  # validation reports the metadata itself
    if parsed is not None and not isinstance(parsed, dict):
        return
    current = parsed.get("tags") if parsed else None
    if isinstance(current, list):
        same = (
            join_tags([str(t) for t in current]) == tags_text
            if tags_text is not None
            else current == tags
        )
        if same:
            return
    elif not tags:
        return
    body.data["metadata"] = {**(parsed or {}), "tags": tags}
