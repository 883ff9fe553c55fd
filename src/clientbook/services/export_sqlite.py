"""Export records encoded by SQLite itself: each JSON document and each CSV line is built by
one SQL expression, so Python only joins bytes (SPEC §8 speed: ~150,000 rows a second where
reading the columns and encoding them in Python gave ~55,000 for CSV).

Both write exactly what the reference writers of `services.exports` write from the column
values (PostgreSQL uses those): `json_document` the document of `exports._json_object`,
`csv_line` the line of `exports._csv_file`, except for the rare line SQLite cannot finish alone,
which `settled_line` finishes with the same rules (`tests/services/test_exports.py` compares
them byte for byte).
"""

from __future__ import annotations

import csv
import io
from typing import Any, Final

from sqlalchemy import ColumnElement, literal_column

from clientbook.domain.customers import CUSTOMER_ATTRIBUTES
from clientbook.services.transfer_format import (
    CSV_QUOTING,
    EXPORT_COLUMNS,
    JSON_FIELDS,
    TAG_SEPARATOR,
    guard_cell,
)


def json_document() -> ColumnElement[Any]:
    """One export record as UTF-8 JSON, built by SQLite itself (about twice as fast as reading
    the columns and encoding them here). The same document `exports._json_object` writes: keys in
    `EXPORT_COLUMNS` order, `notes`/`metadata` embedded as JSON, `tags` the text items of
    `metadata.tags` when it is a list (else `[]`), timestamps as stored (ISO text), and
    `totalRevenue` exact: json_object writes a double with 15 significant digits, kept when
    they read back as the same double, else it gets 17 (which always do). Read as a BLOB: the
    bytes go to the file as they are, never decoded to str and encoded back."""
    parts = []
    for name in EXPORT_COLUMNS:
        column = f'"customers"."{name}"'
        if name in JSON_FIELDS:
            value = f"json({column})"
        elif name == "tags":
            items = f"(SELECT json_group_array(value) FROM {_TAG_ITEMS})"
            value = f"CASE WHEN {_HAS_TAG_LIST} THEN {items} ELSE json_array() END"
        elif name == "totalRevenue":
            value = f"CASE WHEN {_REVENUE_15_EXACT} THEN {column} ELSE json({_REVENUE_17}) END"
        else:
            value = column
        parts.append(f"'{name}', {value}")
    return literal_column(f"CAST(json_object({', '.join(parts)}) AS BLOB)").label("document")


_META = '"customers"."metadata"'
# SQL: `metadata.tags` is a list (the test of a NULL metadata is the cheap one), and its items.
_HAS_TAG_LIST = f"{_META} IS NOT NULL AND json_type({_META}, '$.tags') = 'array'"
_TAG_ITEMS = f"json_each({_META}, '$.tags') WHERE type = 'text'"
_REVENUE = '"customers"."totalRevenue"'
_REVENUE_17 = f"printf('%!.17g', {_REVENUE})"
# SQL: printf's 15 significant digits read back as the very same double ...
_REVENUE_15_EXACT = f"CAST(printf('%!.15g', {_REVENUE}) AS REAL) = {_REVENUE}"
# ... and are what `repr` writes too: repr has no exponent from 1e-4 up to 1e16, %g up to 1e15
# (with `!`, both end an integral value in `.0`).
_REVENUE_AS_REPR = (
    f"({_REVENUE} = 0 OR abs({_REVENUE}) >= 1e-4 AND abs({_REVENUE}) < 1e15 "
    f"AND {_REVENUE_15_EXACT})"
)
# SQL: the text starts with a character that can make `guard_cell` change it (GLOB takes a
# leading `-` in a class literally; tab and CR are written as themselves).
_GUARD_GLOB = "GLOB '[-=@+''\t\r]*'"


def _signed_number(text: str) -> str:
    """SQL: `text` is a sign followed only by phone-or-number characters (`runs_as_formula`'s
    `[0-9 ().-]+`), which a spreadsheet does not run: `+60 12-345 6789`."""
    return f"({text} GLOB '[-+]?*' AND ltrim(substr({text}, 2), '0123456789 ().-') = '')"


def _sqlite_guarded(text: str) -> str:
    """SQL: `text` as `guard_cell` writes it (for the tags cell, which is computed in a
    subquery: testing it outside would compute it twice)."""
    bare = f"ltrim({text}, '''')"  # the test is on the text after any apostrophes
    formula = f"({bare} GLOB '[=@\t\r]*' OR {bare} GLOB '[-+]*' AND NOT {_signed_number(bare)})"
    return f"CASE WHEN {text} {_GUARD_GLOB} AND {formula} THEN '''' || {text} ELSE {text} END"


def _may_need_guard(expression: str) -> str:
    """SQL: true when `guard_cell` might change the text (a superset of its test: the exact one
    runs in Python on the rows flagged). For the phone, a sign followed only by phone-or-number
    characters is left out, as `runs_as_formula` leaves it out."""
    if expression != '"customers"."phone"':
        return f"{expression} {_GUARD_GLOB}"
    return f"({expression} {_GUARD_GLOB} AND NOT {_signed_number(expression)})"


# Each export column's kind of value: the kind's check decides what its text can hold.
CELL_KINDS: Final[dict[str, str]] = {
    "id": "relation",
    "createdAt": "datetime",
    "updatedAt": "datetime",
    "tags": "tags",
    **{name: field.kind for name, field in CUSTOMER_ATTRIBUTES.items()},
}
# Text a check of these kinds passes (an id, a choice, an ISO time) holds no quote and starts
# with a letter or digit, so it is quoted without escaping and never needs the formula guard;
# a JSON object starts with `{`. Only free text (`string`) can start with a formula.
# (tests/services/test_exports.py holds the checks to this.)
PLAIN_TEXT_KINDS: Final = ("enum", "relation", "datetime")
_REVENUE_AT: Final = EXPORT_COLUMNS.index("totalRevenue")
_INVOICES_AT: Final = EXPORT_COLUMNS.index("totalInvoices")
_FREE_TEXT_AT: Final = tuple(
    i for i, name in enumerate(EXPORT_COLUMNS) if CELL_KINDS[name] == "string"
)


def csv_line() -> list[ColumnElement[Any]]:
    """The CSV line as SQLite can write it (bytes), then `unsettled`: NULL when the line is
    final, else the record's totalRevenue, for `settled_line` to finish the line. A line is
    unsettled when a free-text cell may need the formula guard, or when printf's 15 digits
    would not be the number `repr` writes."""
    formats: list[str] = []
    values: list[str] = []
    free_texts: list[str] = []
    for name in EXPORT_COLUMNS:
        column = f'"customers"."{name}"'
        kind = CELL_KINDS[name]
        if kind == "tags":
            joined = _sqlite_guarded(f"group_concat(value, '{TAG_SEPARATOR}')")
            tags = f"(SELECT {joined} FROM {_TAG_ITEMS})"
            formats.append('"%w"')
            values.append(f"CASE WHEN {_HAS_TAG_LIST} THEN coalesce({tags}, '') ELSE '' END")
        elif kind == "float":
            formats.append("%!.15g")
            values.append(column)
        elif kind == "int":
            formats.append("%s")
            values.append(column)
        elif kind in PLAIN_TEXT_KINDS:
            formats.append('"%s"')  # printf writes NULL as nothing
            values.append(column)
        else:
            formats.append('"%w"')  # and NULL as `(NULL)`
            values.append(f"coalesce({column}, '')")
            if kind == "string":
                free_texts.append(column)
    line = f"CAST(printf('{','.join(formats)}', {', '.join(values)}) AS BLOB)"
    unsettled = " OR ".join([*map(_may_need_guard, free_texts), f"NOT {_REVENUE_AS_REPR}"])
    return [
        literal_column(line).label("line"),
        literal_column(f"CASE WHEN {unsettled} THEN {_REVENUE} END").label("unsettled"),
    ]


def settled_line(line: bytes, revenue: float) -> bytes:
    """A line SQLite left unsettled, finished: free text guarded where `guard_cell` says so,
    totalRevenue as `repr` writes it."""
    cells: list[Any] = next(csv.reader([line.decode()]))
    for i in _FREE_TEXT_AT:
        cells[i] = guard_cell(cells[i])
    cells[_REVENUE_AT] = revenue
    invoices = cells[_INVOICES_AT]
    cells[_INVOICES_AT] = int(invoices) if invoices.isdigit() else float(invoices)
    text = io.StringIO()
    csv.writer(text, quoting=CSV_QUOTING, lineterminator="").writerow(cells)
    return text.getvalue().encode()
