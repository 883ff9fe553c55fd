"""Export customers as CSV, JSON, JSON Lines or XLSX (SPEC §8, §12): the one export engine.

    plan = plan_export(principal, request.query_params.multi_items(), fmt="csv")
    for chunk in stream_export(db, principal, plan): ...

`plan_export` checks everything that can be wrong before the first byte is sent (format, every
list filter and `q`, `ids=`), so a face can still answer 400; `plan_filtered_export` does the
same for a filter parsed elsewhere (the bulk `export` action, `services.bulk_actions`).
`stream_export` then reads the rows in keyset batches from one read snapshot (a consistent
export, never a whole result in memory), encodes them as they come, and writes one
`export.completed` audit row at the end.
"""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from operator import itemgetter
from typing import Any, Final, Literal
from urllib.parse import urlencode

import orjson
import xlsxwriter
from sqlalchemy import ColumnElement, Connection, String, type_coerce

from clientbook.access import Principal, customer_owner_scope, require_authenticated
from clientbook.db.tables import customers
from clientbook.db.types import Timestamp
from clientbook.domain.errors import BadQuery
from clientbook.domain.ids import is_valid_id
from clientbook.domain.timestamps import format_datetime
from clientbook.query import cursor as cursors
from clientbook.query.compiler import build_list
from clientbook.query.fields import CUSTOMERS
from clientbook.query.model import Condition, Filter, ListQuery, Op, conjoin
from clientbook.query.native import parse_list_query
from clientbook.query.predicates import check_query
from clientbook.services import audit, export_sqlite, import_uploads
from clientbook.services.runtime import Database
from clientbook.services.transfer_format import (
    CSV_QUOTING,
    EXPORT_COLUMNS,
    GUARD_TRIGGERS,
    JSON_FIELDS,
    guard_cell,
    join_tags,
)

ExportFormat = Literal["csv", "json", "jsonl", "xlsx"]
FORMAT_NAMES: Final[dict[str, ExportFormat]] = {
    "csv": "csv",
    "json": "json",
    "jsonl": "jsonl",
    "xlsx": "xlsx",
    "excel": "xlsx",  # the seed's word (SPEC §12)
}
MEDIA_TYPES: Final[dict[ExportFormat, str]] = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "jsonl": "application/x-ndjson",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# Parameters of the export itself, next to the list filters.
EXPORT_PARAMS: Final = ("format", "ids")
# Paging belongs to lists: an export always takes every matching row.
_PAGING = ("limit", "offset", "cursor")
MAX_IDS: Final = 1000
BATCH_ROWS: Final = 2000
_CHUNK_BYTES = 256 * 1024


@dataclass(frozen=True)
class ExportPlan:
    """A checked export request: what to select, how to encode it, what to call the file."""

    format: ExportFormat
    query: ListQuery
    filter_text: str  # the filter as the caller gave it, for the audit row

    def filename(self, today: date) -> str:
        return f"customers-{today.isoformat()}.{self.format}"

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]


def parse_format(value: str | None, *, param: str = "format") -> ExportFormat:
    """`csv|json|jsonl|xlsx`, `excel` as an alias of `xlsx`; default `json` (the seed's first)."""
    name = (value or "json").strip().lower()
    if name not in FORMAT_NAMES:
        message = "must be one of csv, json, jsonl, xlsx (or excel)"
        raise BadQuery(message, fields={param: message})
    return FORMAT_NAMES[name]


def plan_export(
    principal: Principal | None, params: Iterable[tuple[str, str]], *, fmt: str | None = None
) -> ExportPlan:
    """Check an export request: `params` are the query parameters (every list filter, `q`,
    `sort`, and `format` / `ids`); `fmt` overrides `format`. BadQuery names each bad one."""
    require_authenticated(principal)
    items = list(params)
    given = dict(items)
    errors = {name: "an export takes every matching row" for name in _PAGING if given.get(name)}
    if errors:
        raise BadQuery("Paging does not apply to an export", fields=errors)
    export_format = parse_format(fmt if fmt is not None else given.get("format"))
    query = parse_list_query(CUSTOMERS, items, reserved=EXPORT_PARAMS)
    ids = _ids(given.get("ids", ""))
    if ids:
        query = replace(query, where=conjoin(query.where, Condition("$id", Op.IN, ids)))
    shown = [(k, v) for k, v in items if k != "format" and v.strip()]
    return _batched(export_format, query, urlencode(shown))


def plan_filtered_export(
    principal: Principal | None, where: Filter, *, fmt: ExportFormat, filter_text: str
) -> ExportPlan:
    """An export of every record the principal may see that matches `where`, a filter the caller
    has parsed already (a bulk export's ids or filter); `filter_text` is what the audit row
    records. BadQuery when the filter cannot run (checked now, before the first byte)."""
    require_authenticated(principal)
    query = ListQuery(where=where)
    check_query(CUSTOMERS, query)
    return _batched(fmt, query, filter_text)


def _batched(fmt: ExportFormat, query: ListQuery, filter_text: str) -> ExportPlan:
    # Batches for the keyset reads; a count would be a second pass over every match.
    return ExportPlan(fmt, replace(query, limit=BATCH_ROWS, with_total=False), filter_text)


def _ids(text: str) -> tuple[str, ...]:
    ids = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    bad = [i for i in ids if not is_valid_id(i)]
    if bad or len(ids) > MAX_IDS:
        message = f"a comma list of at most {MAX_IDS} record ids"
        raise BadQuery(message, fields={"ids": message})
    return ids


# --- reading -----------------------------------------------------------------------------------

# The stored columns of an export row, in file order (`tags` is derived from `metadata`).
STORED_COLUMNS: Final = tuple(name for name in EXPORT_COLUMNS if name != "tags")
_TAGS_AT: Final = EXPORT_COLUMNS.index("tags")
_METADATA_AT: Final = STORED_COLUMNS.index("metadata")
_NOTES_AT: Final = EXPORT_COLUMNS.index("notes")
_DATETIMES_AT: Final = tuple(
    i for i, name in enumerate(STORED_COLUMNS) if isinstance(customers.c[name].type, Timestamp)
)


def _projection(dialect: str) -> list[ColumnElement[Any]]:
    """The export columns as the driver returns them. On SQLite a timestamp is stored as the
    exact ISO text the export writes, so it is read as text: parsing it into a datetime and
    formatting it back costs more than the rest of the row."""
    columns: list[ColumnElement[Any]] = []
    for name in STORED_COLUMNS:
        column: ColumnElement[Any] = customers.c[name]
        if dialect == "sqlite" and isinstance(customers.c[name].type, Timestamp):
            column = type_coerce(column, String()).label(name)
        columns.append(column)
    return columns


def export_batches(
    conn: Connection, principal: Principal, plan: ExportPlan
) -> Iterator[list[list[Any]]]:
    """Every row the principal may see that matches the plan, as value lists in
    `EXPORT_COLUMNS` order, in keyset batches of `BATCH_ROWS`."""
    dialect = conn.dialect.name
    for rows in _keyset_batches(conn, principal, plan, _projection(dialect)):
        yield [_values(row, dialect) for row in rows]


def _keyset_batches(
    conn: Connection,
    principal: Principal,
    plan: ExportPlan,
    projection: list[ColumnElement[Any]],
) -> Iterator[list[Any]]:
    """The rows of `projection` (followed by the keyset columns) in batches of `BATCH_ROWS`.

    The compiler builds each batch's statements (filters, search, order, the keyset position);
    only the projection is the export's own. Owners see only their own record: the scope is a
    filter, as for every read (STYLE #3). On SQLite the rows are the driver's own tuples: the
    projections hold no type that converts a value on the way out, and wrapping each row in a
    Row costs more than reading it."""
    owner = customer_owner_scope(principal)
    scope = None if owner is None else Condition("userId", Op.EQ, owner)
    dialect = conn.dialect.name
    query = plan.query
    while True:
        listing = build_list(CUSTOMERS, query, scope=scope, dialect=dialect)
        keys = [k for k in listing.ordering.keys if not (k.is_rank or k.is_seq)]
        extra = [customers.c.seq, *(CUSTOMERS.fields[k.name].column for k in keys)]
        rows: list[Any] = []
        tier = None
        for segment in listing.segments:
            wanted = query.limit - len(rows)
            if wanted <= 0:
                break
            statements = segment.statements  # a statement built once has parameters
            statement = statements.statement.with_only_columns(*projection, *extra)
            result = conn.execute(statement.limit(wanted), statements.params)
            if dialect == "sqlite":
                found = result.cursor.fetchall()
                result.close()
            else:
                found = result.all()
            if found:
                rows.extend(found)
                tier = segment.tier
        if rows:
            yield rows
        if len(rows) < query.limit:
            return
        last = rows[-1]
        position = {"seq": last[len(projection)]}
        for offset, key in enumerate(keys, start=len(projection) + 1):
            position[key.column] = last[offset]
        cursor = cursors.cursor_from_row(listing.ordering, position, rank=tier)
        query = replace(query, cursor=cursor)


def _csv_lines(conn: Connection, principal: Principal, plan: ExportPlan) -> Iterator[list[bytes]]:
    """SQLite's CSV lines in keyset batches; the few it leaves unsettled are finished here."""
    for rows in _keyset_batches(conn, principal, plan, export_sqlite.csv_line()):
        lines = list(map(itemgetter(0), rows))
        unsettled = list(map(itemgetter(1), rows))
        if unsettled.count(None) < len(rows):  # C loops: a test per row in Python costs more
            for i, revenue in enumerate(unsettled):
                if revenue is not None:
                    lines[i] = export_sqlite.settled_line(lines[i], revenue)
        yield lines


def _json_documents(
    conn: Connection, principal: Principal, plan: ExportPlan
) -> Iterator[list[bytes]]:
    """Encoded JSON records in keyset batches: SQLite encodes them, PostgreSQL's rows are
    encoded here."""
    if conn.dialect.name != "sqlite":
        for batch in export_batches(conn, principal, plan):
            yield [_json_object(values) for values in batch]
        return
    for rows in _keyset_batches(conn, principal, plan, [export_sqlite.json_document()]):
        yield list(map(itemgetter(0), rows))


def _values(row: Any, dialect: str) -> list[Any]:
    values = list(row[: len(STORED_COLUMNS)])
    if dialect != "sqlite":
        for i in _DATETIMES_AT:
            if values[i] is not None:
                values[i] = format_datetime(values[i])
    metadata = values[_METADATA_AT]
    tags: list[str] = []
    if metadata:
        found = orjson.loads(metadata).get("tags")
        if isinstance(found, list):
            tags = [tag for tag in found if isinstance(tag, str)]
    values.insert(_TAGS_AT, tags)
    return values


# --- writers: value lists in, bytes out --------------------------------------------------------

Batches = Iterable[list[list[Any]]]


def _json_object(values: list[Any]) -> bytes:
    record = dict(zip(EXPORT_COLUMNS, values, strict=True))
    for name in JSON_FIELDS:
        if record[name] is not None:
            # Stored as compact, validated JSON already: embedded without a parse.
            record[name] = orjson.Fragment(record[name])
    return orjson.dumps(record)


def write_jsonl(batches: Batches) -> Iterator[bytes]:
    return _jsonl_documents([_json_object(values) for values in batch] for batch in batches)


def write_json(batches: Batches) -> Iterator[bytes]:
    return _json_array([_json_object(values) for values in batch] for batch in batches)


def _jsonl_documents(documents: Iterable[list[bytes]]) -> Iterator[bytes]:
    for batch in documents:
        if batch:
            batch.append(b"")  # the last line's terminator, without copying the batch again
            yield b"\n".join(batch)


def _json_array(documents: Iterable[list[bytes]]) -> Iterator[bytes]:
    """A JSON array, one object per line: valid JSON that a reader can also take line by line."""
    separator = b"[\n"
    for batch in documents:
        if batch:
            yield separator
            yield b",\n".join(batch)
            separator = b",\n"
    yield b"[]\n" if separator == b"[\n" else b"\n]\n"


def _text_cells(values: list[Any]) -> list[Any]:
    cells: list[Any] = []
    for value in values:
        if value.__class__ is str:
            cells.append(guard_cell(value) if value and value[0] in GUARD_TRIGGERS else value)
        elif value is None:
            cells.append("")
        elif value.__class__ is list:
            cells.append(guard_cell(join_tags(value)))
        else:
            # A number: the csv module writes its repr, the shortest text that reads back as
            # the same float.
            cells.append(value)
    return cells


def write_csv(batches: Batches) -> Iterator[bytes]:
    return _csv_file([_text_cells(values) for values in batch] for batch in batches)


# UTF-8 with a BOM (so that Excel reads it as UTF-8), `,`-separated, CRLF, RFC 4180 quoting.
_CSV_HEADER: Final = "\ufeff" + ",".join(EXPORT_COLUMNS) + "\r\n"


def _csv_file(cells: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    """The CSV file of `cells`: batches of rows ready for the csv module, as `_text_cells`
    makes them (text guarded, numbers as numbers)."""
    text = io.StringIO()
    writer = csv.writer(text, quoting=CSV_QUOTING, lineterminator="\r\n")
    text.write(_CSV_HEADER)
    for batch in cells:
        writer.writerows(batch)
        yield text.getvalue().encode()
        text.seek(0)
        text.truncate()
    yield text.getvalue().encode()


def _csv_text(lines: Iterable[list[bytes]]) -> Iterator[bytes]:
    """The CSV file of batches of finished lines (as `_csv_file` writes them)."""
    yield _CSV_HEADER.encode()
    for batch in lines:
        if batch:
            batch.append(b"")  # the last line's terminator, without copying the batch again
            yield b"\r\n".join(batch)


def _exact_in_xlsx(number: float) -> bool:
    """xlsxwriter writes numbers with 16 significant digits; some doubles need 17."""
    return float(f"{number:.16G}") == number


def write_xlsx(batches: Batches) -> Iterator[bytes]:
    """One sheet `customers`; every text cell a typed string (never a formula, never altered),
    numbers as numbers. xlsxwriter's constant_memory mode flushes each row to a temporary file
    and uses inline strings, so memory stays flat; the zip is built at the end and streamed.
    All of its files are in one scratch folder that a restart removes if a crash leaves it
    (`import_uploads`)."""
    scratch = import_uploads.new_export_directory()
    path = scratch / "customers.xlsx"
    try:
        options = {"constant_memory": True, "tmpdir": str(scratch)}
        workbook = xlsxwriter.Workbook(str(path), options)
        sheet = workbook.add_worksheet("customers")
        for col, name in enumerate(EXPORT_COLUMNS):
            sheet.write_string(0, col, name)
        row_index = 0
        for batch in batches:
            for values in batch:
                row_index += 1
                for col, value in enumerate(values):
                    if value is not None:
                        _write_xlsx_cell(sheet, row_index, col, value)
        workbook.close()
        with open(path, "rb") as file:
            while chunk := file.read(_CHUNK_BYTES):
                yield chunk
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _write_xlsx_cell(sheet: Any, row: int, col: int, value: Any) -> None:
    # write_string/write_number, never write(): write() turns "=..." into a formula.
    if value.__class__ is str:
        sheet.write_string(row, col, value)
    elif value.__class__ is list:
        if value:
            sheet.write_string(row, col, join_tags(value))
    elif _exact_in_xlsx(float(value)):
        sheet.write_number(row, col, value)
    else:
        sheet.write_string(row, col, repr(value))


WRITERS: Final[dict[ExportFormat, Callable[[Batches], Iterator[bytes]]]] = {
    "csv": write_csv,
    "json": write_json,
    "jsonl": write_jsonl,
    "xlsx": write_xlsx,
}


# --- the use case ------------------------------------------------------------------------------


@dataclass
class ExportProgress:
    """Rows written so far (the CLI's progress bar reads it)."""

    rows: int = 0


def stream_export(
    db: Database,
    principal: Principal | None,
    plan: ExportPlan,
    *,
    progress: ExportProgress | None = None,
) -> Iterator[bytes]:
    """The export file as byte chunks, then the `export.completed` audit row (format, count,
    filter). An export abandoned half-way (the client went away) is not audited as completed."""
    principal = require_authenticated(principal)
    counter = progress or ExportProgress()

    def counted(batches: Iterator[list[Any]]) -> Iterator[list[Any]]:
        for batch in batches:
            counter.rows += len(batch)
            yield batch

    with db.read() as conn:
        if plan.format in ("json", "jsonl"):
            documents = counted(_json_documents(conn, principal, plan))
            yield from (_json_array if plan.format == "json" else _jsonl_documents)(documents)
        elif plan.format == "csv" and conn.dialect.name == "sqlite":
            yield from _csv_text(counted(_csv_lines(conn, principal, plan)))
        else:
            yield from WRITERS[plan.format](counted(export_batches(conn, principal, plan)))
    with db.transaction() as conn:
        audit.record(
            conn,
            principal,
            "export.completed",
            entity_type="customer",
            entity_id=None,
            changes=audit.diff(
                {}, {"format": plan.format, "count": counter.rows, "filter": plan.filter_text}
            ),
        )
