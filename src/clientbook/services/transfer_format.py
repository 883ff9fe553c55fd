"""The file format customers are exported in and imported from (SPEC §8, §12).

One row per record, in the seed's "Import/Export Data Format": `id`, every attribute of the
seed's table, `tags` (the record's `metadata.tags`), then `createdAt` / `updatedAt` for
information. JSON and JSON Lines carry `notes` / `metadata` as objects and `tags` as a list; CSV
and XLSX cells carry them as compact JSON text and tags joined by `;`.

Formula safety (SPEC §12): in CSV a cell that a spreadsheet would run as a formula gets a leading
`'`, and the importer removes exactly that prefix. XLSX cells are typed strings, never formulas,
so they are written as they are.
"""

from __future__ import annotations

import csv
import re
from typing import Final

from clientbook.domain.customers import CUSTOMER_ATTRIBUTES

# System columns the export writes for information; the system sets them, so an import ignores
# them (and lists them in its report as ignored, rather than dropping them silently).
SYSTEM_COLUMNS: Final = ("createdBy", "updatedBy", "createdAt", "updatedAt")
EXPORT_COLUMNS: Final = ("id", *CUSTOMER_ATTRIBUTES, "tags", "createdAt", "updatedAt")
JSON_FIELDS: Final = ("notes", "metadata")
DATETIME_FIELDS: Final = ("lastContactAt", "nextFollowUpAt")
TAG_SEPARATOR: Final = ";"
# CSV cells: every text cell quoted, an empty one as `""`, numbers bare. RFC 4180 allows quotes
# around any cell, and SQLite's printf quotes one in a step (`"%w"` doubles its quotes) where
# testing whether it needs them costs more (`services.export_sqlite`).
CSV_QUOTING: Final = csv.QUOTE_NONNUMERIC

_PHONE_OR_NUMBER = re.compile(r"[0-9 ().-]+\Z")
_FORMULA_START = frozenset("=@\t\r")
_SIGNS = frozenset("+-")
# First characters that can make a cell need (or carry) the guard: everything else is plain.
GUARD_TRIGGERS = frozenset("=@\t\r+-'")
GUARD = "'"


def runs_as_formula(text: str) -> bool:
    """SPEC §12: a spreadsheet would evaluate this cell (`=`, `@`, tab, CR, or `+`/`-` not
    followed by a phone-or-number pattern such as `+60 12-345 6789`)."""
    if not text:
        return False
    first = text[0]
    if first in _FORMULA_START:
        return True
    return first in _SIGNS and _PHONE_OR_NUMBER.match(text, 1) is None


def _guarded_form(text: str) -> bool:
    # Apostrophes followed by a formula: the guard is applied to these too, so that a value that
    # really starts with `'=` survives the importer's unguarding (exact round trip).
    return runs_as_formula(text.lstrip(GUARD))


def guard_cell(text: str) -> str:
    """The CSV cell for `text`: with a leading `'` when a spreadsheet would run it."""
    if text and text[0] in GUARD_TRIGGERS and _guarded_form(text):
        return GUARD + text
    return text


def unguard_cell(text: str) -> str:
    """The value of a CSV cell: removes exactly the prefix `guard_cell` adds."""
    if text.startswith(GUARD) and _guarded_form(text):
        return text[1:]
    return text


def join_tags(tags: list[str]) -> str:
    return TAG_SEPARATOR.join(tags)


def split_tags(text: str) -> list[str]:
    return [tag.strip() for tag in text.split(TAG_SEPARATOR) if tag.strip()]
