"""Hostile cells (SPEC §8, §12): every value the database can hold survives export -> import in
every format exactly; anything else in a file is a clean per-row error — never a crash, never a
silent change."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clientbook.domain.customers import validate_customer
from clientbook.domain.errors import ValidationFailed
from clientbook.services import exports
from clientbook.services.imports.columns import map_columns, row_body
from clientbook.services.imports.readers import Source
from clientbook.services.transfer_format import (
    EXPORT_COLUMNS,
    guard_cell,
    runs_as_formula,
    unguard_cell,
)

HOSTILE = st.text(
    alphabet=st.one_of(
        st.sampled_from([*"=+-@'\t\r\n\",;\x00 _x0041_", "\u202e", "\u05d0", "😀", "ß"]),
        st.characters(codec="utf-8"),
    ),
    max_size=30,
)
TEXT_FIELDS = ("name", "jobTitle", "address", "city")


def test_guard_examples() -> None:
    assert runs_as_formula("=1") and runs_as_formula("-x") and not runs_as_formula("-1 (2)")
    assert guard_cell("+60 12-345 6789") == "+60 12-345 6789"
    assert unguard_cell("'plain") == "'plain"


@given(HOSTILE)
def test_guard_then_unguard_is_the_identity(text: str) -> None:
    cell = guard_cell(text)
    assert unguard_cell(cell) == text
    assert not runs_as_formula(cell)


def _stored(values: dict[str, Any]) -> dict[str, Any] | None:
    """The record as the database would hold it, or None when it cannot be stored."""
    try:
        return validate_customer({"userId": "u1", **values})
    except ValidationFailed:
        return None


def _export_row(record: dict[str, Any], tags: list[str]) -> list[Any]:
    row = {name: record.get(name) for name in EXPORT_COLUMNS}
    row["id"] = "c1"
    row["tags"] = tags
    for name in ("totalRevenue", "totalInvoices"):
        row[name] = record[name]
    return [row[name] for name in EXPORT_COLUMNS]


def _read_back(fmt: str, data: bytes) -> dict[str, Any] | None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"x.{fmt}"
        path.write_bytes(data)
        source = Source(path=path, format=fmt)  # type: ignore[arg-type]
        rows = list(source.rows())
        if not rows:
            return None  # a row of empty cells is a blank line, not a record
        [(number, cells)] = rows
        mapping = map_columns(source.headers) if fmt in ("csv", "xlsx") else None
        body = row_body(cells, mapping, spreadsheet=mapping is not None)
    assert number == 1 and not body.errors
    return body.data


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["csv", "json", "jsonl", "xlsx"]),
    st.fixed_dictionaries({name: HOSTILE for name in TEXT_FIELDS}),
    st.lists(HOSTILE, max_size=4),
)
def test_storable_values_round_trip_in_every_format(
    fmt: str, texts: dict[str, str], tags: list[str]
) -> None:
    record = _stored({**texts, "metadata": {"tags": tags}})
    if record is None:
        return  # not storable: the next test covers such cells in a file
    stored_tags = validate_customer({"userId": "u", "name": "n", "metadata": {"tags": tags}})
    data = b"".join(exports.WRITERS[fmt]([[_export_row(record, _tags(stored_tags))]]))
    body = _read_back(fmt, data)
    assert body is not None
    again = validate_customer({**body, "userId": "u1"})
    for name in (*TEXT_FIELDS, "metadata"):
        assert again[name] == record[name], name


def _tags(record: dict[str, Any]) -> list[str]:
    import orjson

    metadata = record.get("metadata")
    return list(orjson.loads(metadata).get("tags", [])) if metadata else []


@settings(max_examples=80, deadline=None)
@given(st.fixed_dictionaries({name: HOSTILE for name in TEXT_FIELDS}))
def test_any_cell_in_a_csv_file_is_a_value_or_a_named_error(texts: dict[str, str]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["name", *TEXT_FIELDS[1:]])
    writer.writerow([texts[name] for name in TEXT_FIELDS])
    body = _read_back("csv", buffer.getvalue().encode())
    if body is None:
        assert not any(texts.values())
        return
    try:
        cleaned = validate_customer({**body, "userId": "u1"})
    except ValidationFailed as exc:
        assert set(exc.fields) <= set(TEXT_FIELDS)
        return
    for name in TEXT_FIELDS:
        expected = unguard_cell(texts[name]).strip() or None
        if name == "address" and expected is not None:
            expected = expected.replace("\r\n", "\n")
        assert cleaned[name] == expected
