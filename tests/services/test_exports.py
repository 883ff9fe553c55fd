"""The export engine (SPEC §8, §12): formats, filters, scope, formula safety, audit."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select, update

from clientbook.access import SYSTEM
from clientbook.db.engine import Database
from clientbook.db.tables import audit_logs, customers
from clientbook.domain.customers import CUSTOMER_ATTRIBUTES
from clientbook.domain.errors import BadQuery, Unauthenticated
from clientbook.domain.fields import FieldError
from clientbook.domain.ids import is_valid_id
from clientbook.services import export_sqlite, exports
from clientbook.services.imports import xlsx
from clientbook.services.transfer_format import EXPORT_COLUMNS, guard_cell
from tests.factories import as_principal, make_customer, make_user


def export_bytes(db: Database, principal: Any, params: list[tuple[str, str]], fmt: str) -> bytes:
    plan = exports.plan_export(principal, params, fmt=fmt)
    return b"".join(exports.stream_export(db, principal, plan))


def csv_rows(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_json_export_has_the_seeds_data_format(database: Database) -> None:
    record = make_customer(
        database,
        name="John Doe",
        email="john@example.com",
        notes={"general": "Regular customer"},
        metadata={"tags": ["vip", "enterprise"], "customFields": {}},
    )
    [item] = orjson.loads(export_bytes(database, SYSTEM, [], "json"))
    assert list(item) == list(EXPORT_COLUMNS)
    assert item["id"] == record["id"]
    assert item["tags"] == ["vip", "enterprise"]
    assert item["notes"] == {"general": "Regular customer"}
    assert item["metadata"] == {"tags": ["vip", "enterprise"], "customFields": {}}
    assert item["createdAt"].endswith("+00:00") and "." in item["createdAt"]


def test_jsonl_csv_and_xlsx_carry_the_same_rows(database: Database, tmp_path: Path) -> None:
    for n in range(3):
        make_customer(database, name=f"Person {n}", metadata={"tags": ["a", "b"]})
    lines = export_bytes(database, SYSTEM, [], "jsonl").splitlines()
    rows = csv_rows(export_bytes(database, SYSTEM, [], "csv"))
    path = tmp_path / "out.xlsx"
    path.write_bytes(export_bytes(database, SYSTEM, [], "excel"))
    sheet = list(xlsx.read_rows(path))
    assert len(lines) == len(rows) == len(sheet) - 1 == 3
    assert sheet[0] == list(EXPORT_COLUMNS)
    assert rows[0]["tags"] == "a;b"
    assert rows[0]["metadata"] == '{"tags":["a","b"]}'
    assert [orjson.loads(line)["name"] for line in lines] == [r["name"] for r in rows]


def test_export_takes_list_filters_search_and_ids(database: Database) -> None:
    a = make_customer(database, name="Tan Mei Ling", city="Ipoh", status="lead")
    make_customer(database, name="Ahmad Ali", city="Ipoh")
    c = make_customer(database, name="Siti Tan", city="Penang")

    def names(params: list[tuple[str, str]]) -> list[str]:
        return [r["name"] for r in orjson.loads(export_bytes(database, SYSTEM, params, "json"))]

    assert names([("city", "Ipoh"), ("status", "lead")]) == ["Tan Mei Ling"]
    assert sorted(names([("q", "tan")])) == ["Siti Tan", "Tan Mei Ling"]
    assert names([("ids", f"{a['id']},{c['id']}"), ("sort", "-name")]) == [
        "Tan Mei Ling",
        "Siti Tan",
    ]


def test_export_streams_in_keyset_batches(database: Database, monkeypatch: Any) -> None:
    monkeypatch.setattr(exports, "BATCH_ROWS", 2)
    for n in range(5):
        make_customer(database, name=f"P{n}", city="Ipoh" if n % 2 else "Kuala Lumpur")
    plan = exports.plan_export(SYSTEM, [("sort", "city")], fmt="jsonl")
    rows = [
        orjson.loads(line)
        for line in b"".join(exports.stream_export(database, SYSTEM, plan)).splitlines()
    ]
    assert [r["city"] for r in rows] == [
        "Ipoh",
        "Ipoh",
        "Kuala Lumpur",
        "Kuala Lumpur",
        "Kuala Lumpur",
    ]
    assert len({r["id"] for r in rows}) == 5


def test_owner_exports_only_their_own_record(database: Database) -> None:
    owner = make_user(database)
    mine = make_customer(database, owner=owner)
    make_customer(database)
    rows = orjson.loads(export_bytes(database, as_principal(owner), [], "json"))
    assert [r["id"] for r in rows] == [mine["id"]]


def test_anonymous_cannot_export_and_bad_parameters_are_named() -> None:
    with pytest.raises(Unauthenticated):
        exports.plan_export(None, [], fmt="csv")
    with pytest.raises(BadQuery) as caught:
        exports.plan_export(SYSTEM, [("limit", "5"), ("cursor", "x")], fmt="csv")
    assert set(caught.value.fields) == {"limit", "cursor"}
    with pytest.raises(BadQuery) as caught:
        exports.plan_export(SYSTEM, [], fmt="pdf")
    assert "format" in caught.value.fields
    with pytest.raises(BadQuery) as caught:
        exports.plan_export(SYSTEM, [("jobTitle", "x")], fmt="csv")
    assert "jobTitle" in caught.value.fields


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("+cmd", "'+cmd"),
        ("-2+3", "'-2+3"),
        ("+60 12-345 6789", "+60 12-345 6789"),
        ("-12.5", "-12.5"),
        ("'=x", "''=x"),
        ("'quoted", "'quoted"),
        ("plain", "plain"),
    ],
)
def test_csv_cells_that_would_run_as_formulas_get_a_guard(
    database: Database, value: str, cell: str
) -> None:
    make_customer(database, name=value, jobTitle=value)
    [row] = csv_rows(export_bytes(database, SYSTEM, [], "csv"))
    assert row["name"] == cell
    assert row["jobTitle"] == cell


def test_xlsx_cells_are_typed_strings_not_formulas(database: Database, tmp_path: Path) -> None:
    make_customer(database, name="=1+1", phone="+60 12-345 6789", totalRevenue=0.1 + 0.2)
    path = tmp_path / "out.xlsx"
    path.write_bytes(export_bytes(database, SYSTEM, [], "xlsx"))
    header, row = list(xlsx.read_rows(path))
    values = dict(zip(header, row, strict=False))
    assert values["name"] == "=1+1"
    assert values["totalRevenue"] == repr(0.1 + 0.2)  # 17 digits: kept exact as text
    import zipfile

    with zipfile.ZipFile(path) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet


def test_export_is_audited_once_with_format_count_and_filter(database: Database) -> None:
    make_customer(database, city="Ipoh")
    export_bytes(database, SYSTEM, [("city", "Ipoh")], "csv")
    with database.read() as conn:
        rows = conn.execute(
            select(audit_logs.c.changes).where(audit_logs.c.action == "export.completed")
        ).all()
    assert len(rows) == 1
    changes = orjson.loads(rows[0].changes)
    assert changes["format"]["to"] == "csv"
    assert changes["count"]["to"] == 1
    assert changes["filter"]["to"] == "city=Ipoh"


def test_empty_exports_are_valid_files(database: Database) -> None:
    assert orjson.loads(export_bytes(database, SYSTEM, [], "json")) == []
    assert export_bytes(database, SYSTEM, [], "jsonl") == b""
    assert csv_rows(export_bytes(database, SYSTEM, [], "csv")) == []


HOSTILE: list[dict[str, Any]] = [
    {"name": "=SUM(A1)", "phone": "+60 12-345 6789", "metadata": {"tags": ["=cmd", "vip"]}},
    {"name": "Plain", "phone": "+HYPERLINK(1)"},
    {"name": "Tab", "phone": "-12 34", "company": "\tTabbed"},
    {"name": "Apostrophe", "jobTitle": "'=x", "totalRevenue": 0.1 + 0.2},
    {"name": "Sign", "city": "-Kota", "totalRevenue": 1e21, "notes": {"general": "a\nb"}},
    {"name": "Emoji 😀 مرحبا", "metadata": {"tags": ["@home"], "customFields": {"k": "v"}}},
    {"name": "Quiet", "metadata": {"other": True}, "totalRevenue": 1234.5},
    # RFC 4180: quotes, commas and line breaks inside cells; a formula on a multi-line row.
    {
        "name": 'Say "hi", then go',
        "company": "Tan, Lim & Co",
        "address": 'Unit 8, "Menara"\nJalan 2',
        "industry": "@risk",
        "totalRevenue": 0.1 + 0.7,  # repr needs 16 digits: printf's 15 do not read back
    },
    {"name": "+", "jobTitle": "-", "city": "''=x", "state": "'", "zipCode": "-"},
    {"name": "Ünïcödé 中文 \u202e", "totalRevenue": 1e-05, "metadata": {"tags": ["'=x", "-y"]}},
    # Numbers at the edges of what printf writes as repr does, on lines SQLite finishes.
    {"name": "Wide", "totalRevenue": 1e15, "metadata": {"tags": ["+60 12-345"]}},
    {"name": "Small", "totalRevenue": 0.0001, "metadata": {"tags": ["+", "a"]}},
    {"name": "Digits", "totalRevenue": 123456789012345.0},
]


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl"])
def test_database_encoded_exports_equal_the_reference_writers(
    database: Database, fmt: exports.ExportFormat
) -> None:
    """On SQLite the CSV lines (quoting, tags, the formula guard, numbers) and the JSON
    documents are built by SQL: what the writers make from the plain rows (CSV byte for byte,
    so a wrong quote, guard or number spelling fails here)."""
    made = [make_customer(database, **body) for body in HOSTILE]
    # Stored by older versions or by hand: tags that are not a list, or not all text.
    odd = {made[1]["id"]: '{"tags":"not a list"}', made[2]["id"]: '{"tags":[1,"x",null]}'}
    with database.transaction() as conn:
        for record_id, metadata in odd.items():
            conn.execute(
                update(customers).where(customers.c.id == record_id).values(metadata=metadata)
            )
    plan = exports.plan_export(SYSTEM, [], fmt=fmt)
    with database.read() as conn:
        expected = b"".join(exports.WRITERS[fmt](exports.export_batches(conn, SYSTEM, plan)))
    got = export_bytes(database, SYSTEM, [], fmt)
    if fmt != "csv":
        # The same documents, keys in the same order; a number may be spelled differently
        # (SQLite writes 1e21 as 1.0e+21) but must read back as the very same double.
        def documents(data: bytes) -> list[list[tuple[str, Any]]]:
            parsed = orjson.loads(data) if fmt == "json" else map(orjson.loads, data.splitlines())
            return [list(d.items()) for d in parsed]

        assert documents(got) == documents(expected)
        return
    assert got == expected
    rows = csv_rows(got)
    assert rows[0]["name"] == "'=SUM(A1)" and rows[0]["tags"] == "'=cmd;vip"
    assert rows[0]["phone"] == "+60 12-345 6789" and rows[1]["phone"] == "'+HYPERLINK(1)"
    assert rows[1]["tags"] == "" and rows[2]["tags"] == "x"
    assert rows[7]["name"] == 'Say "hi", then go' and rows[7]["company"] == "Tan, Lim & Co"
    assert rows[7]["address"] == 'Unit 8, "Menara"\nJalan 2' and rows[7]["industry"] == "'@risk"
    assert [rows[8][k] for k in ("name", "jobTitle", "city", "state")] == ["'+", "'-", "'''=x", "'"]
    assert rows[8]["zipCode"] == "'-"
    assert [r["tags"] for r in rows[9:]] == ["''=x;-y", "+60 12-345", "'+;a", ""]
    # Numbers are written as repr writes them, so they read back as the same double.
    for row, body in zip(rows, HOSTILE, strict=True):
        revenue = body.get("totalRevenue", 0.0)
        assert row["totalRevenue"] == repr(revenue) and float(row["totalRevenue"]) == revenue
    # Text cells quoted (quotes doubled), numbers bare, CRLF after each row.
    lines = got.decode("utf-8-sig").split("\r\n")
    assert lines[0] == ",".join(EXPORT_COLUMNS) and lines[-1] == ""
    assert '"Say ""hi"", then go"' in lines[8] and '"Unit 8, ""Menara""\nJalan 2"' in lines[8]
    assert ",0.7999999999999999,0," in lines[8] and ",1000000000000000.0,0," in lines[11]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_database_encoded_exports_take_search_and_filters(database: Database, fmt: str) -> None:
    make_customer(database, name="Tan Mei Ling", city="Ipoh", metadata={"tags": ["=x"]})
    make_customer(database, name="Ahmad Ali", city="Ipoh")
    make_customer(database, name="Siti Tan", city="Penang")

    def names(params: list[tuple[str, str]]) -> list[str]:
        data = export_bytes(database, SYSTEM, params, fmt)
        if fmt == "csv":
            return sorted(r["name"] for r in csv_rows(data))
        return sorted(orjson.loads(line)["name"] for line in data.splitlines())

    assert names([("q", "tan")]) == ["Siti Tan", "Tan Mei Ling"]
    assert names([("q", "tan"), ("city", "Ipoh"), ("sort", "-name")]) == ["Tan Mei Ling"]


def test_only_free_text_cells_can_hold_a_quote_or_start_a_formula() -> None:
    """The SQLite CSV path writes ids, choices and times between quotes without escaping and
    tests only free text for the formula guard: the checks of those kinds must keep it so."""
    hostile = ["=1", "+x", "-x", "@x", "'=x", 'a"b', "\tx"]
    assert not any(map(is_valid_id, hostile))  # `id`
    for name, kind in export_sqlite.CELL_KINDS.items():
        if kind == "enum":
            for value in CUSTOMER_ATTRIBUTES[name].values:
                assert value[0].isalnum() and guard_cell(value) == value and '"' not in value
        elif kind in ("relation", "datetime", "json") and name in CUSTOMER_ATTRIBUTES:
            for value in hostile:
                try:
                    cleaned = CUSTOMER_ATTRIBUTES[name].check(value)
                except FieldError:
                    continue
                assert cleaned[0].isalnum() and '"' not in cleaned, (name, value)  # trimmed
        else:
            # Free text, numbers, tags, and `id`, `createdAt`, `updatedAt` (system-made).
            assert kind in ("string", "float", "int", "tags", "relation", "datetime"), name
