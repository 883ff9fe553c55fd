"""A safe, streaming XLSX reader: rows of one worksheet as lists of Python values.

Why not python-calamine (measured, see benchmarks/import_export.py): it builds the whole sheet
in memory first — 540 MB of RSS for 200,000 customers, so several GB for a million — while this
reader parses the sheet's XML as it inflates it, one row at a time (flat memory; the shared
strings table, when the file has one, is the only thing held).

Safety (SPEC §8): the zip's entries are checked before anything is inflated (declared size and
compression ratio), inflation is counted again while reading (a header can lie), and every XML
part is parsed with expat refusing any DOCTYPE, so no entity can be declared, let alone expanded.
"""

from __future__ import annotations

import codecs
import posixpath
import re
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Final
from xml.parsers import expat

from clientbook.domain.errors import ValidationFailed

MAX_PART_BYTES: Final = 2 * 1024**3  # a sheet of a million customers inflates to ~1.3 GB
MAX_RATIO: Final = 200  # plain XML compresses ~10-30x; bombs 1000x and more
_READ_BYTES = 256 * 1024
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CELL_REF = re.compile(r"([A-Z]+)(\d+)")


class XlsxError(ValidationFailed):
    def __init__(self, message: str) -> None:
        super().__init__({"file": message})


@contextmanager
def _worksheet(path: Path, sheet: str | None) -> Iterator[tuple[zipfile.ZipFile, str]]:
    """The workbook's archive, checked (sizes, entries), and the path of the sheet to read."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise XlsxError("is not an XLSX workbook (not a zip archive)") from None
    with archive:
        _check_archive(archive)
        yield archive, _sheet_path(archive, sheet)


def read_rows(path: Path, *, sheet: str | None = None) -> Iterator[list[Any]]:
    """The rows of the first worksheet (or the one named `sheet`), as lists of cell values:
    str, float, bool, or None for an empty cell. Missing cells inside a row are None."""
    with _worksheet(path, sheet) as (archive, sheet_path):
        strings = _shared_strings(archive)
        yield from _SheetReader(strings).rows(_open_part(archive, sheet_path))


def scan_rows(path: Path, *, sheet: str | None = None) -> Iterator[list[Any] | bool]:
    """What counting rows needs, for a fraction of `read_rows`' cost: the first row's values,
    then for each further row whether any of its cells holds a value (not None, not "")."""
    with _worksheet(path, sheet) as (archive, sheet_path):
        reader = _SheetReader(_shared_strings(archive))
        texts = reader.row_texts(_open_part(archive, sheet_path))
        first = next(texts, None)
        if first is None:
            return
        yield reader.row(first)
        for text in texts:
            yield reader.filled(text)


def _check_archive(archive: zipfile.ZipFile) -> None:
    for info in archive.infolist():
        if info.file_size > MAX_PART_BYTES:
            raise XlsxError(f"part {info.filename} is too large once inflated")
        if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
            raise XlsxError(f"part {info.filename} inflates suspiciously (a zip bomb?)")


class _CountedPart:
    """An archive member that stops at MAX_PART_BYTES of inflated data, whatever it declares."""

    def __init__(self, handle: IO[bytes], name: str) -> None:
        self.handle = handle
        self.name = name
        self.total = 0

    def read(self, size: int) -> bytes:
        data = self.handle.read(size)
        self.total += len(data)
        if self.total > MAX_PART_BYTES:
            raise XlsxError(f"part {self.name} is too large once inflated")
        return data


def _open_part(archive: zipfile.ZipFile, name: str) -> _CountedPart:
    try:
        return _CountedPart(archive.open(name), name)
    except KeyError:
        raise XlsxError(f"is missing its part {name}") from None


def _parser(
    start: Callable[[str, dict[str, str]], None] | None,
    end: Callable[[str], None] | None,
    text: Callable[[str], None] | None,
) -> Any:
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.buffer_size = 64 * 1024

    def refuse(*_args: Any) -> None:
        raise XlsxError("contains a DOCTYPE or entity declaration, which is not allowed")

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    if start is not None:
        parser.StartElementHandler = start
    if end is not None:
        parser.EndElementHandler = end
    if text is not None:
        parser.CharacterDataHandler = text
    return parser


def _parse_small(part: _CountedPart, start: Callable[[str, dict[str, str]], None]) -> None:
    parser = _parser(start, None, None)
    try:
        while chunk := part.read(_READ_BYTES):
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise XlsxError(f"has malformed XML in {part.name} ({exc})") from None


def _sheet_path(archive: zipfile.ZipFile, wanted: str | None) -> str:
    """The worksheet's part name: workbook.xml lists sheets, its relationships locate them."""
    sheets: list[tuple[str, str]] = []
    targets: dict[str, str] = {}

    def on_sheet(name: str, attrs: dict[str, str]) -> None:
        if name == f"{_MAIN_NS} sheet":
            sheets.append((attrs.get("name", ""), attrs.get(f"{_REL_NS} id", "")))

    def on_rel(name: str, attrs: dict[str, str]) -> None:
        if name.endswith(" Relationship") or name == "Relationship":
            targets[attrs.get("Id", "")] = attrs.get("Target", "")

    _parse_small(_open_part(archive, "xl/workbook.xml"), on_sheet)
    _parse_small(_open_part(archive, "xl/_rels/workbook.xml.rels"), on_rel)
    if not sheets:
        raise XlsxError("has no worksheet")
    if wanted is None:
        rel = sheets[0][1]
    else:
        named = [rel for name, rel in sheets if name == wanted]
        if not named:
            names = ", ".join(name for name, _ in sheets)
            raise ValidationFailed({"sheet": f"no sheet is called {wanted!r} (sheets: {names})"})
        rel = named[0]
    target = targets.get(rel)
    if not target:
        raise XlsxError("names a worksheet that is not in the archive")
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join("xl", target))


def _shared_strings(archive: zipfile.ZipFile) -> list[str]:
    """The shared strings table (empty when the workbook uses inline strings only)."""
    if "xl/sharedStrings.xml" not in archive.namelist():
        return []
    strings: list[str] = []
    parts: list[str] = []
    depth = {"t": False, "phonetic": 0}

    def start(name: str, _attrs: dict[str, str]) -> None:
        local = name.rpartition(" ")[2]
        if local == "si":
            parts.clear()
        elif local == "rPh":
            depth["phonetic"] += 1  # phonetic guides are not part of the text
        elif local == "t" and not depth["phonetic"]:
            depth["t"] = True

    def end(name: str) -> None:
        local = name.rpartition(" ")[2]
        if local == "si":
            strings.append(_ooxml_unescape("".join(parts)))
        elif local == "rPh":
            depth["phonetic"] -= 1
        elif local == "t":
            depth["t"] = False

    def text(data: str) -> None:
        if depth["t"]:
            parts.append(data)

    parser = _parser(start, end, text)
    part = _open_part(archive, "xl/sharedStrings.xml")
    try:
        while chunk := part.read(_READ_BYTES):
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise XlsxError(f"has malformed XML in its shared strings ({exc})") from None
    return strings


def _column_index(letters: str) -> int:
    index = 0
    for char in letters:
        index = index * 26 + (ord(char) - 64)
    return index - 1


_ROW_END = "</row>"
# One cell: its attributes, then either `/>` or its content up to `</c>`.
# The lookaheads read `r` and `t` in whichever order the attributes come.
_CELL = re.compile(
    r'<c\b(?=[^>]*?\sr="([A-Z]+)[0-9]+")?(?=[^>]*?\st="(\w+)")?[^>]*?(?:/>|>(.*?)</c>)',
    re.DOTALL,
)
_COLUMNS: dict[str, int] = {}
# The cells the exporter and spreadsheet programs usually write, in their usual attribute
# order: `<c r="B2" [s="1"] [t="..."]>` holding `<is><t>text</t></is>` or `<v>value</v>`, or
# nothing. A row whose cells all have this form is read with this simpler expression alone.
_PLAIN_CELL = re.compile(
    r'<c r="([A-Z]+)[0-9]+"(?: s="[0-9]+")?(?: t="(\w+)")?'
    r"(?:/>|>(?:(<is><t>[^<]*)</t></is>|(<v>[^<]*)</v>)?</c>)"
)
_VALUE = re.compile(r"<v>([^<]*)</v>")
_PHONETIC = re.compile(r"<rPh\b.*?</rPh>", re.DOTALL)
_TEXT_RUN = re.compile(r"<t(?:\s[^>]*)?>([^<]*)</t>")
_REFERENCE = re.compile(r"&(?:#x([0-9A-Fa-f]+)|#([0-9]+)|(amp|lt|gt|quot|apos));")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_FORBIDDEN = ("<!DOCTYPE", "<!ENTITY")


_OOXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _unescape(text: str) -> str:
    """XML's five entities and character references (no others can exist: no DOCTYPE), then
    OOXML's `_xHHHH_` escapes."""
    if "&" in text:
        text = _REFERENCE.sub(_entity, text)
    return _ooxml_unescape(text)


def _entity(match: re.Match[str]) -> str:
    hexa, decimal, name = match.groups()
    if name:
        return _NAMED[name]
    return chr(int(hexa, 16) if hexa else int(decimal))


def _ooxml_unescape(text: str) -> str:
    """`_x0000_` is how OOXML writes a control character, `_x005F_` a literal `_` before one."""
    if "_x" not in text:
        return text
    return _OOXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


class _SheetReader:
    """The rows of a worksheet's XML as it inflates.

    The sheet part is cut at each `</row>` and each row's cells are matched with one regular
    expression: measured ~5x faster than expat's per-element Python callbacks, and the sheet
    XML that spreadsheet programs write (SpreadsheetML's `<row><c r t><v>|<is>`) is regular
    enough for it. Workbook, relationships and shared strings are small and go through expat.
    """

    def __init__(self, strings: list[str]) -> None:
        self.strings = strings

    def rows(self, part: _CountedPart) -> Iterator[list[Any]]:
        return map(self.row, self.row_texts(part))

    def row_texts(self, part: _CountedPart) -> Iterator[str]:
        """Each row's XML, up to its `</row>`."""
        decoder = _utf8_decoder()
        pending = ""
        checked_prolog = False
        while True:
            chunk = part.read(_READ_BYTES)
            text = decoder.decode(chunk, final=not chunk)
            pending += text
            if not checked_prolog or any(word in text for word in _FORBIDDEN):
                checked_prolog = True
                if any(word in pending for word in _FORBIDDEN):
                    raise XlsxError(
                        "contains a DOCTYPE or entity declaration, which is not allowed"
                    )
            cut = pending.rfind(_ROW_END)
            if cut != -1:
                complete, pending = pending[: cut + len(_ROW_END)], pending[cut + len(_ROW_END) :]
                yield from complete.split(_ROW_END)[:-1]
            if not chunk:
                return

    def filled(self, text: str) -> bool:
        """Whether the row holds a value: `row(text)` has a cell not None nor "". Stops at
        the first such cell, usually the first cell."""
        start = text.find("<row")
        if start == -1:
            return False
        for match in _CELL.finditer(text, start):
            value = self._cell(match[2], match[3])
            if value is not None and value != "":
                return True
        return False

    def row(self, text: str) -> list[Any]:
        start = text.find("<row")
        if start == -1:
            return []
        plain = _PLAIN_CELL.findall(text, start)
        if len(plain) == text.count("<c", start):
            # Every cell has the plain form (each match is one `<c`; text holds no raw `<`).
            cells = [(letters, self._plain(kind, inline, v)) for letters, kind, inline, v in plain]
        else:
            cells = [(m[0], self._cell(m[1], m[2])) for m in _CELL.findall(text, start)]
        row: list[Any] = []
        columns = _COLUMNS
        for letters, value in cells:
            column = columns.get(letters) if letters else len(row)
            if column is None:
                column = columns.setdefault(letters, _column_index(letters))
            if column == len(row):
                row.append(value)
            elif column > len(row):
                row.extend([None] * (column - len(row)))
                row.append(value)
            else:
                row[column] = value
        return row

    def _cell(self, kind: str | None, content: str | None) -> Any:
        if not content:
            return None
        if kind == "inlineStr" and content.startswith("<is><t>") and content.count("<") == 4:
            return _unescape(content[7:-9])  # the common `<is><t>text</t></is>`
        return self._value(kind or "n", content)

    def _plain(self, kind: str, inline: str, value: str) -> Any:
        """A `_PLAIN_CELL`'s value, as `_cell` reads it; `inline` is its `<is><t>text` and
        `value` its `<v>value`, whichever it has ("" for the other)."""
        if not inline and not value:
            return None
        if kind == "inlineStr":
            return _unescape(inline[7:])  # "" for a `<v>`: an inline string has no `<t>` there
        return self._typed(kind or "n", _unescape(value[3:]))  # "" for an `<is>`: no `<v>`

    def _value(self, kind: str, content: str) -> Any:
        if kind == "inlineStr":
            if "<rPh" in content:
                content = _PHONETIC.sub("", content)
            return _unescape("".join(_TEXT_RUN.findall(content)))
        found = _VALUE.search(content)
        return self._typed(kind, _unescape(found.group(1)) if found else "")

    def _typed(self, kind: str, raw: str) -> Any:
        if kind == "str":
            return raw
        if raw == "":
            return None
        if kind == "s":
            try:
                return self.strings[int(raw)]
            except (ValueError, IndexError):
                raise XlsxError("refers to a shared string that does not exist") from None
        if kind == "b":
            return raw == "1"
        if kind in ("e", "d"):
            return raw  # an error value (#N/A) or an ISO date cell: kept as text
        try:
            return float(raw)
        except ValueError:
            raise XlsxError(f"has a cell that is not a number: {raw[:20]!r}") from None


def _utf8_decoder() -> codecs.IncrementalDecoder:
    return codecs.getincrementaldecoder("utf-8")(errors="strict")


EXCEL_EPOCH: Final = datetime(1899, 12, 30)


def excel_serial_to_iso(serial: float) -> str:
    """An Excel date serial (1900 date system, days since 1899-12-30) as ISO text in UTC."""
    moment = EXCEL_EPOCH + timedelta(days=serial)
    return moment.replace(tzinfo=UTC).isoformat(timespec="milliseconds")
