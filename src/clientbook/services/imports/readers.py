"""Reading an uploaded file as rows of raw cells: CSV, JSON (an array, or JSON Lines), XLSX.

Every reader streams: it holds one row (or one line) at a time, never the file, so memory stays
flat whatever the file's size. A reader yields `(row_number, cells)` where `row_number` counts
data rows from 1 (a header row is not counted) and `cells` maps the file's own column names to
raw values (a CSV cell without the export's formula guard, SPEC §12: the one thing CSV adds to a
value); turning them into customer fields is `columns.py`'s business.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

import orjson

from clientbook.domain.errors import UnsupportedMedia, ValidationFailed
from clientbook.domain.fields import JSON_MAX_DEPTH
from clientbook.services.imports import xlsx
from clientbook.services.transfer_format import GUARD, unguard_cell

ImportFormat = Literal["csv", "json", "jsonl", "xlsx"]
FORMAT_NAMES: Final[dict[str, ImportFormat]] = {
    "csv": "csv",
    "json": "json",
    "jsonl": "jsonl",
    "ndjson": "jsonl",
    "xlsx": "xlsx",
    "excel": "xlsx",
}
_SNIFF_BYTES = 64 * 1024
# A CSV field may hold a whole notes object (5,000 characters) and more: raise the small default.
csv.field_size_limit(1024 * 1024)
Cells = dict[str, Any]
_T = TypeVar("_T")


def parse_format(value: str | None) -> ImportFormat | None:
    """The format an option names (None when not given); 415 for a format we do not read."""
    if value is None or not value.strip():
        return None
    name = value.strip().lower()
    if name not in FORMAT_NAMES:
        raise UnsupportedMedia(
            "Unsupported import format", fields={"format": "one of csv, json, jsonl, xlsx"}
        )
    return FORMAT_NAMES[name]


def detect_format(path: Path, filename: str | None) -> ImportFormat:
    """From the file name's extension, else from the first bytes."""
    suffix = Path(filename or "").suffix.lower().lstrip(".")
    if suffix in FORMAT_NAMES:
        return FORMAT_NAMES[suffix]
    with open(path, "rb") as file:
        head = file.read(_SNIFF_BYTES)
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    text = head.removeprefix(codecs.BOM_UTF8).lstrip()
    if text.startswith(b"["):
        return "json"
    if text.startswith(b"{"):
        return "jsonl"
    if text:
        return "csv"
    raise ValidationFailed({"file": "is empty"})


@dataclass
class Source:
    """An opened upload: its format and a way to read its rows (as often as needed)."""

    path: Path
    format: ImportFormat
    sheet: str | None = None
    headers: list[str] = field(default_factory=list)

    def rows(self) -> Iterator[tuple[int, Cells]]:
        """The data rows; a file that cannot be decoded at all is a ValidationFailed on `file`
        (a row that cannot is that row's error)."""
        return _readable(self._rows())

    def _rows(self) -> Iterator[tuple[int, Cells]]:
        match self.format:
            case "csv":
                return self._csv_rows()
            case "json":
                return _json_array_rows(self.path)
            case "jsonl":
                return _json_lines_rows(self.path)
            case "xlsx":
                return self._xlsx_rows()

    def count(self, limit: int) -> int:
        """How many data rows there are; stops counting past `limit`. CSV rows are only split
        into fields and XLSX rows read up to their first value, not turned into cells: that is
        most of what reading them costs."""
        if self.format == "xlsx":
            return self._xlsx_count(limit)
        count = 0
        records = _readable(self._csv_records()) if self.format == "csv" else self.rows()
        for count, _record in records:
            if count > limit:
                break
        return count

    # CSV

    def _csv_rows(self) -> Iterator[tuple[int, Cells]]:
        for number, record in self._csv_records():
            # The formula guard is CSV's alone (SPEC §12): XLSX and JSON values are as written.
            record = [unguard_cell(cell) if cell[:1] == GUARD else cell for cell in record]
            yield number, _zip_cells(self.headers, record, number)

    def _csv_records(self) -> Iterator[tuple[int, list[str]]]:
        """The data records as lists of fields; sets `headers` from the first."""
        with _open_text(self.path) as text:
            dialect = _csv_dialect(text)
            reader = csv.reader(text, dialect)
            header = next(reader, None)
            if header is None:
                return
            self.headers = header
            for number, record in enumerate(reader, start=1):
                if not any(record):
                    # A blank line (spreadsheets end files with them): not a row.
                    continue
                yield number, record

    # XLSX

    def _xlsx_rows(self) -> Iterator[tuple[int, Cells]]:
        rows = xlsx.read_rows(self.path, sheet=self.sheet)
        header = next(rows, None)
        if header is None:
            return
        names = _header_names(header)
        self.headers = names
        for number, record in enumerate(rows, start=1):
            if all(cell is None or cell == "" for cell in record):
                continue
            yield number, _zip_cells(names, record, number)

    def _xlsx_count(self, limit: int) -> int:
        """`count` for a workbook: the number of the last row with a value, as `_xlsx_rows`
        numbers them, without reading every cell."""
        scan = _readable(xlsx.scan_rows(self.path, sheet=self.sheet))
        header = next(scan, None)
        if not isinstance(header, list):
            return 0
        self.headers = _header_names(header)
        count = 0
        for number, filled in enumerate(scan, start=1):
            if filled:
                count = number
                if count > limit:
                    break
        return count


def _header_names(header: list[Any]) -> list[str]:
    return ["" if cell is None else str(cell) for cell in header]


def _readable(rows: Iterator[_T]) -> Iterator[_T]:
    """`rows`, with a file that cannot be decoded at all as a ValidationFailed on `file`."""
    try:
        yield from rows
    except UnicodeDecodeError:
        raise ValidationFailed({"file": "is not UTF-8 text"}) from None
    except csv.Error as exc:
        raise ValidationFailed({"file": f"is not readable CSV ({exc})"}) from None


def _zip_cells(header: list[str], record: list[Any], number: int) -> Cells:
    """The row as {column name: cell}; a cell beyond the header is kept under `column N`."""
    if len(record) <= len(header):
        # The usual row (a short one lacks its last cells): what the loop below builds.
        return dict(zip(header, record, strict=False))
    cells: Cells = {}
    for position, value in enumerate(record):
        if position < len(header):
            cells[header[position]] = value
        elif value not in (None, ""):
            cells[f"column {position + 1}"] = value
    return cells


def _open_text(path: Path) -> io.TextIOWrapper:
    """UTF-8 with or without a BOM; newline="" so that quoted line breaks stay in their field."""
    return open(path, encoding="utf-8-sig", errors="strict", newline="")


def _csv_dialect(text: io.TextIOWrapper) -> type[csv.Dialect]:
    """`,` or `;`: whichever the header line holds more of outside quotes (Excel in locales
    with a decimal comma writes `;`)."""
    try:
        head = text.read(_SNIFF_BYTES)
    except UnicodeDecodeError:
        raise ValidationFailed({"file": "is not UTF-8 text"}) from None
    text.seek(0)
    first_line = _first_record_text(head)
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","

    class Dialect(csv.excel):
        pass

    Dialect.delimiter = delimiter
    return Dialect


def _first_record_text(head: str) -> str:
    """The header record's text with quoted parts removed."""
    out: list[str] = []
    quoted = False
    for char in head:
        if char == '"':
            quoted = not quoted
        elif not quoted:
            if char in "\r\n":
                break
            out.append(char)
    return "".join(out)


# --- JSON ----------------------------------------------------------------------------------------


# Deeper than any valid record (`notes` and `metadata` nest at most JSON_MAX_DEPTH levels). A
# record nested deeper is its row's error as it is read, before anything walks it recursively
# (the engine's spool pickles rows: ~500 levels reach Python's recursion limit).
MAX_RECORD_DEPTH: Final = 2 * JSON_MAX_DEPTH


def _object(value: Any, number: int) -> Cells:
    if not isinstance(value, dict):
        # Reported as that row's error, not the file's: the other rows are still readable.
        return {"\x00row": "must be a JSON object"}
    if _deeper_than(value, MAX_RECORD_DEPTH):
        return {"\x00row": f"is nested more than {MAX_RECORD_DEPTH} levels deep"}
    return value


def _deeper_than(value: dict[str, Any], limit: int) -> bool:
    """Whether objects and arrays nest more than `limit` levels in `value` (a level at a time,
    without recursion)."""
    level: list[Any] = [value]
    for _ in range(limit):
        level = [
            child
            for container in level
            for child in (container.values() if isinstance(container, dict) else container)
            if isinstance(child, (dict, list))
        ]
        if not level:
            return False
    return True


def _json_lines_rows(path: Path) -> Iterator[tuple[int, Cells]]:
    number = 0
    with open(path, "rb") as file:
        for line in file:
            line = line.strip()
            if number == 0:
                line = line.removeprefix(codecs.BOM_UTF8)
            if not line:
                continue
            number += 1
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield number, {"\x00row": f"is not valid JSON ({exc.msg})"}
                continue
            yield number, _object(value, number)


_DECODER = json.JSONDecoder()
_READ_CHARS = 1024 * 1024
_MAX_OBJECT_CHARS = 8 * 1024 * 1024


def _json_array_rows(path: Path) -> Iterator[tuple[int, Cells]]:
    """The objects of a top-level JSON array, decoded one at a time.

    The exporter writes one object per line, which orjson decodes directly; any other layout
    (pretty-printed, one long line) goes through the standard decoder's `raw_decode` over a
    sliding window, so no file is ever decoded whole."""
    with open(path, encoding="utf-8-sig") as text:
        window = _JsonWindow(text)
        window.expect("[")
        number = 0
        if window.peek() == "]":
            window.advance(1)
            window.expect_end()
            return
        while True:
            number += 1
            yield number, _object(window.value(), number)
            separator = window.next_char()
            if separator == "]":
                window.expect_end()
                return
            if separator != ",":
                raise ValidationFailed({"file": f"is not a JSON array (after record {number})"})


class _JsonWindow:
    """A read-ahead buffer over JSON text for decoding one value after another."""

    def __init__(self, text: io.TextIOBase) -> None:
        self.text = text
        self.buffer = ""
        self.position = 0
        self.eof = False

    def _fill(self) -> bool:
        if self.eof:
            return False
        chunk = self.text.read(_READ_CHARS)
        if not chunk:
            self.eof = True
            return False
        self.buffer = self.buffer[self.position :] + chunk
        self.position = 0
        return True

    def _skip_space(self) -> None:
        while True:
            while self.position < len(self.buffer) and self.buffer[self.position] in " \t\r\n":
                self.position += 1
            if self.position < len(self.buffer) or not self._fill():
                return

    def peek(self) -> str:
        self._skip_space()
        return self.buffer[self.position : self.position + 1]

    def advance(self, count: int) -> None:
        self.position += count

    def next_char(self) -> str:
        char = self.peek()
        self.advance(1)
        return char

    def expect(self, char: str) -> None:
        if self.next_char() != char:
            raise ValidationFailed({"file": "is not a JSON array of objects"})

    def expect_end(self) -> None:
        if self.peek() != "":
            raise ValidationFailed({"file": "has text after the JSON array"})

    def value(self) -> Any:
        self._skip_space()
        while True:
            end = self.buffer.find("\n", self.position)
            if end != -1:
                # Fast path: the value may be exactly this line (less a trailing comma).
                line = self.buffer[self.position : end].rstrip()
                candidate = line[:-1] if line.endswith(",") else line
                try:
                    value = orjson.loads(candidate)
                except orjson.JSONDecodeError:
                    pass
                else:
                    self.position += len(candidate)
                    return value
            try:
                value, stop = _DECODER.raw_decode(self.buffer, self.position)
            except RecursionError:
                # The standard decoder recurses a level at a time (orjson, above, stops itself).
                raise ValidationFailed({"file": "is nested too deeply to read"}) from None
            except json.JSONDecodeError as exc:
                if self.eof or len(self.buffer) - self.position > _MAX_OBJECT_CHARS:
                    raise ValidationFailed({"file": f"is not valid JSON ({exc.msg})"}) from None
                self._fill()
                continue
            if stop == len(self.buffer) and not self.eof and self._fill():
                continue  # a number may go on in the next chunk: decode again with it
            self.position = stop
            return value


def json_layout(path: Path) -> ImportFormat:
    """SPEC §8's JSON is an array of objects or JSON Lines: "jsonl" when the text starts with
    an object that ends on its first line, else "json" (an array, or what the array reader
    names as malformed)."""
    with open(path, "rb") as file:
        first = file.readline(_MAX_OBJECT_CHARS).removeprefix(codecs.BOM_UTF8)
        while first and not first.strip():
            first = file.readline(_MAX_OBJECT_CHARS)
    if not first.lstrip().startswith(b"{"):
        return "json"
    try:
        orjson.loads(first)
    except orjson.JSONDecodeError:
        return "json"  # an object over several lines: not JSON Lines
    return "jsonl"


def open_source(
    path: Path, *, filename: str | None, fmt: str | None, sheet: str | None = None
) -> Source:
    """The upload at `path` with its format (the option, else detected); JSON that is JSON
    Lines is read as such."""
    chosen = parse_format(fmt) or detect_format(path, filename)
    if chosen == "json":
        chosen = json_layout(path)
    return Source(path=path, format=chosen, sheet=sheet)
