"""The import engine (SPEC §5, §8): formats, matching, validation, all-or-nothing, owners,
invited users, the report, jobs; and the export -> import round trip in every format."""

from __future__ import annotations

import threading
import time
import zipfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import delete, func, select

from clientbook.access import SYSTEM, Principal
from clientbook.db.engine import Database
from clientbook.db.tables import audit_logs, customer_tags, customers, import_jobs, users
from clientbook.domain.customers import derive_customer_columns
from clientbook.domain.errors import TooLarge, ValidationFailed
from clientbook.domain.timestamps import format_datetime, utcnow
from clientbook.services import customers as customer_service
from clientbook.services import exports
from clientbook.services import import_jobs as jobs
from clientbook.services import users as user_service
from clientbook.services.imports import ImportOptions, ImportReport, open_source, run_import
from clientbook.services.imports import engine as import_engine
from clientbook.services.imports.columns import map_columns, row_body
from clientbook.services.imports.xlsx import XlsxError, _SheetReader
from tests.factories import as_principal, make_customer, make_staff, make_user

HEADER = "name,email,city\n"


def run(
    db: Database,
    path: Path,
    principal: Principal = SYSTEM,
    **options: Any,
) -> ImportReport:
    source = open_source(path, filename=path.name, fmt=options.pop("format", None))
    return run_import(db, principal, source, ImportOptions(**options))


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def all_customers(db: Database) -> list[dict[str, Any]]:
    with db.read() as conn:
        rows = conn.execute(select(customers).order_by(customers.c.seq)).mappings().all()
    return [dict(r) for r in rows]


def count(db: Database, table: Any, *where: Any) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


# --- the round trip ----------------------------------------------------------------------------

CLIENT_FIELDS = (
    "id", "userId", "name", "email", "phone", "company", "jobTitle", "address", "city", "state",
    "zipCode", "country", "website", "status", "assignedTo", "source", "industry", "customerType",
    "currency", "language", "timezone", "notes", "metadata", "lastContactAt", "nextFollowUpAt",
    "totalRevenue", "totalInvoices",
)  # fmt: skip


def varied_records(db: Database) -> dict[str, Any]:
    rep = make_staff(db, name="Sales Rep")
    make_customer(
        db,
        name="Tan Mei Ling",
        email="Mei.Ling@Example.my",
        phone="+60 12-345 6789",
        company="Acme Sdn Bhd",
        jobTitle='=HYPERLINK("x")',
        address="Level 3, 12 Jalan Ampang\nKuala Lumpur",
        city="Kuala Lumpur",
        state="WP",
        zipCode="05450",
        country="Malaysia",
        website="https://acme.example.my/",
        status="prospect",
        assignedTo=rep["id"],
        source="trade_show",
        industry='Retail; wholesale, "quoted"',
        customerType="company",
        currency="USD",
        language="ms",
        timezone="Asia/Kuala_Lumpur",
        notes={"general": "Prefers email", "customFields": {"vip": True, "level": 3}},
        metadata={"tags": ["vip", "a;b", "Ünïcode"], "customFields": {"x": [1, 2.5, None]}},
        lastContactAt="2025-01-15T09:30:00.123Z",
        nextFollowUpAt="2025-02-01T00:00:00Z",
        totalRevenue=0.1 + 0.2,
        totalInvoices=7,
    )
    make_customer(db, name="-minus start", phone="-", currency=None, language=None)
    make_customer(db, name="مرحبا بالعالم 😀", metadata={"customFields": {}}, notes=None)
    make_customer(db, name="@at start", email="at@example.com", totalRevenue=1234567.89)
    return rep


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl", "xlsx"])
def test_export_then_import_into_an_empty_database_is_exact(
    database: Database, tmp_path: Path, fmt: str
) -> None:
    rep = varied_records(database)
    before = all_customers(database)
    plan = exports.plan_export(SYSTEM, [], fmt=fmt)
    path = write(tmp_path, f"export.{fmt}", b"".join(exports.stream_export(database, SYSTEM, plan)))
    owners = [r["userId"] for r in before]
    with database.transaction() as conn:  # empty it: the records and their owners' accounts
        conn.execute(delete(customers))
        conn.execute(delete(users).where(users.c.id.in_(owners)))

    report = run(database, path, overwrite=True)

    assert (report.created, report.failed, report.applied) == (4, 0, True), report.failures
    after = {r["id"]: r for r in all_customers(database)}
    for record in before:
        again = after[record["id"]]
        assert {k: again[k] for k in CLIENT_FIELDS} == {k: record[k] for k in CLIENT_FIELDS}
        assert again["phoneNormalized"] == record["phoneNormalized"]
    assert after[before[0]["id"]]["assignedTo"] == rep["id"]
    # Owners came back as invited accounts with the same ids.
    assert count(database, users, users.c.id.in_(owners), users.c.status == "invited") == 4
    assert count(database, customer_tags) == 3
    # Importing the same file again changes nothing.
    second = run(database, path, overwrite=True)
    assert (second.unchanged, second.created, second.updated) == (4, 0, 0)


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl", "xlsx"])
def test_values_starting_with_an_apostrophe_survive_round_trips(
    database: Database, tmp_path: Path, fmt: str
) -> None:
    """SPEC §12: only CSV carries the formula guard. XLSX cells are typed strings, written as
    they are; its import removed a `'` before a formula all the same, one more each round."""
    make_customer(database, name="'=x", jobTitle="'=x", company="''@y", city="'plain")
    plan = exports.plan_export(SYSTEM, [], fmt=fmt)
    for _ in range(2):
        data = b"".join(exports.stream_export(database, SYSTEM, plan))
        report = run(database, write(tmp_path, f"export.{fmt}", data), overwrite=True)
        assert (report.unchanged, report.failed) == (1, 0), report.failures
    [again] = all_customers(database)
    assert (again["name"], again["jobTitle"], again["company"], again["city"]) == (
        "'=x", "'=x", "''@y", "'plain",
    )  # fmt: skip


# --- formats -------------------------------------------------------------------------------------


def test_csv_with_bom_semicolons_quoted_newlines_and_aliases(
    database: Database, tmp_path: Path
) -> None:
    text = (
        "\ufeffFull Name;E-mail;Zip Code;Job Title;Address\n"
        '"Ada; Lovelace";ADA@x.io;01000;CEO;"a\nb"\n'
    )
    report = run(database, write(tmp_path, "people.csv", text))
    assert report.created == 1, report.failures
    [row] = all_customers(database)
    assert (row["name"], row["email"], row["zipCode"], row["jobTitle"], row["address"]) == (
        "Ada; Lovelace", "ADA@x.io", "01000", "CEO", "a\nb",
    )  # fmt: skip


def test_json_array_pretty_printed_and_json_lines(database: Database, tmp_path: Path) -> None:
    pretty = orjson.dumps(
        [{"name": "A", "tags": ["x"]}, {"name": "B", "metadata": {"tags": ["y"]}}],
        option=orjson.OPT_INDENT_2,
    )
    assert run(database, write(tmp_path, "a.json", pretty)).created == 2
    lines = b'{"name": "C"}\n\n{"name": "D", "email": "d@x.io"}\n'
    assert run(database, write(tmp_path, "b.jsonl", lines)).created == 2
    tags = {r["name"]: r["metadata"] for r in all_customers(database)}
    assert tags["A"] == '{"tags":["x"]}'


@pytest.mark.parametrize(("name", "fmt"), [("a.json", None), ("a.txt", "json"), ("a", None)])
def test_json_lines_are_json(
    database: Database, tmp_path: Path, name: str, fmt: str | None
) -> None:
    """SPEC §8: JSON is an array of objects, or JSON Lines (a `.json` file of lines, or
    format=json, was refused as "not a JSON array of objects")."""
    lines = b'\xef\xbb\xbf{"name": "C"}\n\n{"name": "D", "email": "d@x.io"}\n'
    path = write(tmp_path, name, lines)
    assert open_source(path, filename=name, fmt=fmt).format == "jsonl"
    report = run(database, path, format=fmt)
    assert (report.created, report.failed) == (2, 0), report.failures


def test_a_json_object_over_several_lines_is_not_json_lines(
    database: Database, tmp_path: Path
) -> None:
    path = write(tmp_path, "a.json", b'{\n  "name": "C"\n}\n')
    with pytest.raises(ValidationFailed) as caught:
        run(database, path)
    assert caught.value.fields == {"file": "is not a JSON array of objects"}


DEEP = 1_000  # levels: past Python's recursion limit, which the standard JSON decoder recurses into


def nested(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


@pytest.mark.parametrize(
    "text",
    [
        "[" + "[" * DEEP + "]" * DEEP + "]",
        '[{"name": "A", "email": "a@x.io", "notes": ' + nested(DEEP) + "}]",
        '[{"name": "A", "email": "a@x.io", "tags": ' + "[" * 3 * DEEP + "]" * 3 * DEEP + "}]",
    ],
    ids=["array", "notes", "tags"],
)
def test_a_json_array_nested_past_the_recursion_limit_refuses_the_file(
    database: Database, tmp_path: Path, text: str
) -> None:
    """Not on one line, the records go through the standard decoder, which recursed into
    Python's recursion limit: a RecursionError, and a 500."""
    path = write(tmp_path, "deep.json", text)
    with pytest.raises(ValidationFailed) as caught:
        open_source(path, filename=path.name, fmt=None).count(10)
    assert set(caught.value.fields) == {"file"}
    with pytest.raises(ValidationFailed) as caught:
        run(database, path, skip_errors=True)
    assert set(caught.value.fields) == {"file"}
    assert count(database, customers) == 0


@pytest.mark.parametrize(
    ("name", "layout"), [("deep.json", "[\n{},\n{}\n]"), ("deep.jsonl", "{}\n{}\n")]
)
def test_a_json_record_nested_too_deeply_is_that_rows_error(
    database: Database, tmp_path: Path, name: str, layout: str
) -> None:
    """A record on a line of its own is decoded by orjson, which nests up to 1,024 levels; one
    that deep was spooled with pickle, which recursed into the recursion limit (an internal
    error from about 500 levels)."""
    deep = '{"name": "A", "email": "a@x.io", "notes": ' + nested(DEEP // 2) + "}"
    path = write(tmp_path, name, layout.format(deep, '{"name": "B"}'))
    report = run(database, path, skip_errors=True)
    assert (report.created, report.failed, report.applied) == (1, 1, True)
    [failure] = report.failures
    assert failure.row == 1 and set(failure.errors) == {"row"}
    assert [r["name"] for r in all_customers(database)] == ["B"]


def test_format_is_detected_from_content(database: Database, tmp_path: Path) -> None:
    source = open_source(write(tmp_path, "upload", b'[{"name": "X"}]'), filename=None, fmt=None)
    assert source.format == "json"
    source = open_source(write(tmp_path, "upload2", HEADER), filename="noext", fmt=None)
    assert source.format == "csv"


def test_unknown_and_repeated_columns_refuse_the_file(database: Database, tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed) as caught:
        run(database, write(tmp_path, "x.csv", "name,shoe size,Email,E-mail\nA,42,a@x.io,b@x.io\n"))
    assert set(caught.value.fields) == {"columns.shoe size", "columns.E-mail"}
    assert count(database, customers) == 0


# --- validation and the report -------------------------------------------------------------------


def test_every_field_error_of_every_failed_row_is_reported(
    database: Database, tmp_path: Path
) -> None:
    text = "name,email,status,totalRevenue,website\nOk,ok@x.io,lead,1,\n,bad,nope,-1,ftp://x\n"
    report = run(database, write(tmp_path, "x.csv", text))
    # Nothing was written, and the counts say so; what the valid row would do is apart.
    assert (report.failed, report.created, report.applied) == (1, 0, False)
    assert report.to_json()["withSkipErrors"] == {"created": 1, "updated": 0}
    [failure] = report.failures
    assert failure.row == 2
    assert set(failure.errors) == {"name", "email", "status", "totalRevenue", "website"}
    assert count(database, customers) == 0  # all or nothing


def test_json_system_fields_are_listed_as_ignored(database: Database, tmp_path: Path) -> None:
    """As a CSV's system columns are: never a silent drop."""
    rows = [
        {"name": "A", "createdBy": "x", "$createdAt": "2020-01-01T00:00:00.000Z"},
        {"name": "B", "updatedAt": "2020-01-01T00:00:00.000Z", "createdBy": "y"},
    ]
    report = run(database, write(tmp_path, "x.json", orjson.dumps(rows)))
    assert (report.created, report.failed) == (2, 0), report.failures
    assert report.to_json()["ignoredColumns"] == ["createdBy", "$createdAt", "updatedAt"]
    csv_report = run(database, write(tmp_path, "x.csv", "name,createdBy\nC,x\n"))
    assert csv_report.ignored_columns == ["createdBy"]


def test_skipped_counts_unchanged_rows_and_not_failed_ones(
    database: Database, tmp_path: Path
) -> None:
    make_customer(database, name="Same", email="same@x.io", city=None)
    text = "name,email\nSame,same@x.io\n,bad\nNew,new@x.io\n"
    report = run(database, write(tmp_path, "x.csv", text), overwrite=True, skip_errors=True)
    counts = {k: report.to_json()[k] for k in ("created", "unchanged", "skipped", "failed")}
    assert counts == {"created": 1, "unchanged": 1, "skipped": 1, "failed": 1}
    assert report.to_json()["withSkipErrors"] is None


def test_skip_errors_imports_the_valid_rows(database: Database, tmp_path: Path) -> None:
    text = "name,email\nOk,ok@x.io\n,missing@x.io\nAlso ok,\n"
    report = run(database, write(tmp_path, "x.csv", text), skip_errors=True)
    assert (report.created, report.failed, report.applied) == (2, 1, True)
    assert report.to_json()["failures"] == [{"row": 2, "errors": {"name": "is required"}}]


def test_dry_run_reports_and_writes_nothing(database: Database, tmp_path: Path) -> None:
    report = run(database, write(tmp_path, "x.csv", HEADER + "A,a@x.io,Ipoh\n"), dry_run=True)
    assert (report.created, report.applied) == (1, False)
    assert count(database, customers) == 0
    assert count(database, users) == 0


def test_rows_are_read_and_validated_before_the_writer_is_taken(
    database: Database, tmp_path: Path
) -> None:
    """Other writes go on while a large file is read and checked: on SQLite the import holds
    the one writer only for its second pass (they used to wait for the whole import and fail
    with 503 past the writer wait)."""
    rows = "".join(f"Row {i},row{i}@x.io,Ipoh\n" for i in range(2 * 2_000 + 1))
    source = open_source(write(tmp_path, "x.csv", HEADER + rows), filename="x.csv", fmt=None)
    seen: list[tuple[int, int]] = []
    written: list[dict[str, Any]] = []

    def progress(done: int, total: int) -> None:
        if not seen:  # the first call comes from the first pass, after one batch
            writer = threading.Thread(
                target=lambda: written.append(make_customer(database, name="Meanwhile"))
            )
            writer.start()
            writer.join(timeout=10)
        seen.append((done, total))

    report = run_import(database, SYSTEM, source, ImportOptions(), progress=progress)
    assert [c["name"] for c in written] == ["Meanwhile"]
    assert (report.created, report.applied) == (4_001, True)
    assert count(database, customers) == 4_002
    assert seen[0] == (1_000, 4_001)  # each pass is half of the progress
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert seen[-1] == (4_001, 4_001)


def test_rows_limit_refuses_the_file(database: Database, tmp_path: Path) -> None:
    small = Database(replace(database.settings, max_import_rows=2))
    try:
        with pytest.raises(TooLarge):
            run(small, write(tmp_path, "x.csv", HEADER + "A,,\nB,,\nC,,\n"))
    finally:
        small.dispose()


# --- matching ------------------------------------------------------------------------------------


def test_match_by_id_else_email_and_overwrite(database: Database, tmp_path: Path) -> None:
    a = make_customer(database, name="A", email="a@x.io", city="Ipoh")
    make_customer(database, name="B", email="b@x.io")
    text = f"id,name,email,city\n{a['id']},A2,a@x.io,Penang\n,B2,B@X.IO,\n,C,c@x.io,\n"
    path = write(tmp_path, "x.csv", text)

    refused = run(database, path)
    assert refused.failed == 2 and not refused.applied
    # Named by the file's columns: `id`, not the field `$id` it fills.
    assert {tuple(f.errors) for f in refused.failures} == {("id",), ("email",)}

    report = run(database, path, overwrite=True)
    assert (report.updated, report.created, report.failed) == (2, 1, 0)
    names = {r["email"].lower(): (r["name"], r["city"]) for r in all_customers(database)}
    assert names == {"a@x.io": ("A2", "Penang"), "b@x.io": ("B2", None), "c@x.io": ("C", None)}
    with database.read() as conn:
        reasons = conn.execute(
            select(audit_logs.c.action, audit_logs.c.reason).where(
                audit_logs.c.reason == f"import {report.import_id}"
            )
        ).all()
    actions = sorted(r.action for r in reasons)
    assert actions.count("customer.updated") == 2 and actions.count("customer.created") == 1
    assert "import.completed" in actions


def test_row_errors_name_the_files_columns(database: Database, tmp_path: Path) -> None:
    """A row error names the column the file has (`id`, `E-mail`), not the field it fills."""
    a = make_customer(database, name="A", email="a@x.io")
    text = f"id,Full Name,E-mail\n{a['id']},A,a@x.io\nnew1,B,not an address\n"
    report = run(database, write(tmp_path, "x.csv", text))
    assert [set(f.errors) for f in report.failures] == [{"id"}, {"E-mail"}]
    rows = [{"id": a["id"], "name": "A"}, {"$id": "new2", "name": "B", "email": "no"}]
    report = run(database, write(tmp_path, "x.jsonl", b"\n".join(map(orjson.dumps, rows))))
    assert [set(f.errors) for f in report.failures] == [{"id"}, {"email"}]


def test_rows_repeating_an_email_in_one_file(database: Database, tmp_path: Path) -> None:
    text = "name,email\nFirst,dup@x.io\nSecond,DUP@x.io\n"
    refused = run(database, write(tmp_path, "x.csv", text))
    assert refused.failures[0].row == 2
    report = run(database, write(tmp_path, "y.csv", text), overwrite=True)
    assert (report.created, report.updated) == (1, 1)
    assert [r["name"] for r in all_customers(database)] == ["Second"]


def test_staff_import_invites_users_or_links_existing_accounts(
    database: Database, tmp_path: Path
) -> None:
    account = make_user(database, email="has.account@x.io")
    taken = make_customer(database, email="other@x.io")
    text = f"name,email,userId\nLinked,HAS.account@x.io,\nNew,new@x.io,\nNamed,,{taken['userId']}\n"
    report = run(database, write(tmp_path, "x.csv", text), skip_errors=True)
    assert (report.created, report.failed) == (2, 1)
    assert report.failures[0].errors == {"userId": "This user already has a customer record"}
    rows = {r["name"]: r for r in all_customers(database)}
    assert rows["Linked"]["userId"] == account["id"]
    with database.read() as conn:
        invited = user_service.get_user(conn, rows["New"]["userId"])
    assert (invited["status"], invited["email"], invited["name"]) == ("invited", "new@x.io", "New")


def test_a_created_record_is_audited_as_a_single_create_would_be(
    database: Database, tmp_path: Path
) -> None:
    """Every set field from null, in the body's order, `userId` the owner the import chose
    (the first pass spools the changes as text with a slot for it)."""
    text = 'name,email,userId,city\n"Ada ""userId"":""x",ada@x.io,,Ipoh\n'
    report = run(database, write(tmp_path, "a.csv", text))
    record = all_customers(database)[0]
    with database.read() as conn:
        query = select(audit_logs.c.changes).where(
            audit_logs.c.action == "customer.created", audit_logs.c.entityId == record["id"]
        )
        changes = orjson.loads(conn.execute(query).scalar_one())
    assert report.created == 1
    assert list(changes)[:4] == ["name", "email", "userId", "city"]
    assert changes["userId"] == {"from": None, "to": record["userId"]}
    assert changes["name"] == {"from": None, "to": 'Ada "userId":"x'}


def test_a_record_updated_twice_by_one_file_keeps_its_derived_columns_in_step(
    database: Database, tmp_path: Path
) -> None:
    """An update SETs only the derived columns that change, compared with the record as the
    import last wrote it (not as it was read)."""
    record = make_customer(database, name="Ada", email="ada@x.io", phone="+60 12-345 6789")
    rid = record["id"]
    text = f"id,phone,company\n{rid},+60 13-999 8888,\n{rid},+60 12-345 6789,Acme\n"
    report = run(database, write(tmp_path, "twice.csv", text), overwrite=True)
    assert (report.updated, report.failed) == (2, 0)
    after = all_customers(database)[0]
    assert (after["phone"], after["company"], after["version"]) == ("+60 12-345 6789", "Acme", 3)
    derived = derive_customer_columns(after, default_region=database.settings.default_region)
    assert {k: after[k] for k in derived} == derived
    assert after["phoneNormalized"] == "+60123456789"


def test_assignee_must_be_active_staff(database: Database, tmp_path: Path) -> None:
    user = make_user(database)
    report = run(database, write(tmp_path, "x.csv", f"name,assignedTo\nA,{user['id']}\n"))
    assert report.failures[0].errors == {"assignedTo": "must be an active staff user (super_admin)"}


@pytest.mark.parametrize("email", ["Ösolo@example.com", "ÖSOLO@example.com"])
def test_a_non_ascii_capital_in_an_email_matches_its_record(
    database: Database, tmp_path: Path, email: str
) -> None:
    # The file's address was folded by Python (ö), the stored one by SQLite's lower() (Ö): the
    # record was not found, and the import tried to create a second one with its address.
    record = make_customer(database, email="Ösolo@example.com", city="Ipoh")
    path = write(tmp_path, "m.csv", f"email,city\n{email},Penang\n")
    report = run(database, path, overwrite=True)
    assert (report.updated, report.created, report.failed) == (1, 0, 0), report.failures
    assert all_customers(database)[0]["id"] == record["id"]
    assert all_customers(database)[0]["city"] == "Penang"


# --- owners --------------------------------------------------------------------------------------


def test_owner_restores_their_own_export(database: Database, tmp_path: Path) -> None:
    owner = make_user(database)
    record = make_customer(database, owner=owner, name="Me", city="Ipoh")
    with database.transaction() as conn:  # staff set a staff-only field on it
        customer_service.update_customer(conn, SYSTEM, record["id"], {"status": "lead"})
    me = as_principal(owner)
    plan = exports.plan_export(me, [], fmt="csv")
    path = write(tmp_path, "me.csv", b"".join(exports.stream_export(database, me, plan)))
    text = path.read_text(encoding="utf-8-sig").replace("Ipoh", "Penang")
    report = run(database, write(tmp_path, "me2.csv", text), me, overwrite=True)
    assert (report.updated, report.failed) == (1, 0), report.failures
    assert all_customers(database)[0]["city"] == "Penang"


def test_owner_may_not_set_staff_fields(database: Database, tmp_path: Path) -> None:
    owner = make_user(database)
    me = as_principal(owner)
    report = run(database, write(tmp_path, "a.csv", "name,status\nMe,lead\n"), me)
    assert report.failures[0].errors == {"status": "only staff may set this field"}
    with pytest.raises(ValidationFailed):
        run(database, write(tmp_path, "c.csv", "name\nOne\nTwo\n"), me)
    report = run(database, write(tmp_path, "d.csv", "name,status\nMe,active\n"), me)
    assert report.created == 1
    assert all_customers(database)[0]["userId"] == owner["id"]


def test_an_owners_import_is_their_own_record_whatever_user_id_it_names(
    database: Database, tmp_path: Path
) -> None:
    """SPEC §8: `userId` forced to themselves (a row naming another user failed)."""
    owner, other = make_user(database), make_user(database)
    me = as_principal(owner)
    path = write(tmp_path, "b.csv", f"name,email,userId\nMe,me@x.io,{other['id']}\n")
    report = run(database, path, me)
    assert (report.created, report.failed) == (1, 0), report.failures
    [record] = all_customers(database)
    assert record["userId"] == owner["id"]
    report = run(database, path, me, overwrite=True)  # and again, over their record
    assert (report.unchanged, report.failed) == (1, 0), report.failures


def test_an_owners_import_without_name_or_email_takes_them_from_the_account(
    database: Database, tmp_path: Path
) -> None:
    """SPEC §12, as the API's create: the same service rule."""
    owner = make_user(database, name="Nur Aisyah", email="nur@x.io")
    report = run(database, write(tmp_path, "a.csv", "city\nIpoh\n"), as_principal(owner))
    assert (report.created, report.failed) == (1, 0), report.failures
    [record] = all_customers(database)
    assert (record["name"], record["email"], record["city"]) == ("Nur Aisyah", "nur@x.io", "Ipoh")


def test_an_owners_update_leaves_name_and_email_alone_when_absent(
    database: Database, tmp_path: Path
) -> None:
    owner = make_user(database, name="Account Name", email="account@x.io")
    make_customer(database, owner=owner, name="Record Name", email="record@x.io")
    path = write(tmp_path, "a.csv", "city\nIpoh\n")
    report = run(database, path, as_principal(owner), overwrite=True)
    assert (report.updated, report.failed) == (1, 0), report.failures
    [record] = all_customers(database)
    assert (record["name"], record["email"]) == ("Record Name", "record@x.io")


def test_an_owners_import_sets_only_their_metadata_keys(database: Database, tmp_path: Path) -> None:
    # The API's rule (SPEC §5: tags and customFields), which the import did not apply.
    owner = make_user(database)
    record = make_customer(database, owner=owner, name="Me")
    with database.transaction() as conn:
        customer_service.change_status(conn, SYSTEM, record["id"], "lead", reason="Called")
    me = as_principal(owner)
    forged = '[{"name": "Me", "metadata": {"statusChangeReason": "forged"}}]'
    report = run(database, write(tmp_path, "f.json", forged), me, overwrite=True)
    assert report.failures[0].errors == {
        "metadata.statusChangeReason": "only staff may set this key"
    }
    tags_only = '[{"name": "Me", "metadata": {"tags": ["vip"]}}]'
    report = run(database, write(tmp_path, "t.json", tags_only), me, overwrite=True)
    assert (report.updated, report.failed) == (1, 0), report.failures
    metadata = orjson.loads(all_customers(database)[0]["metadata"])
    assert metadata["tags"] == ["vip"] and metadata["statusChangeReason"] == "Called"


# --- XLSX safety ---------------------------------------------------------------------------------


def _xlsx(tmp_path: Path, sheet_xml: str | bytes, *, extra: dict[str, bytes] | None = None) -> Path:
    path = tmp_path / "book.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "xl/workbook.xml",
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            '<sheets><sheet name="People" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Target="worksheets/sheet1.xml"/></Relationships>',
        )
        archive.writestr("xl/worksheets/sheet1.xml", sheet_xml)
        archive.writestr(
            "xl/sharedStrings.xml",
            "<sst><si><t>name</t></si><si><r><t>Ad</t></r><r><t>a</t></r></si></sst>",
        )
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


def test_xlsx_shared_strings_numbers_and_named_sheet(database: Database, tmp_path: Path) -> None:
    sheet = (
        '<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c>'
        '<c r="C1" t="inlineStr"><is><t>phone</t></is></c></row>'
        '<row r="2"><c r="A2" t="s"><v>1</v></c><c r="C2"><v>60123456789</v></c></row>'
        "</sheetData></worksheet>"
    )
    path = _xlsx(tmp_path, sheet)
    source = open_source(path, filename="book.xlsx", fmt=None, sheet="People")
    assert run_import(database, SYSTEM, source, ImportOptions()).created == 1
    assert all_customers(database)[0]["phone"] == "60123456789"
    with pytest.raises(ValidationFailed) as caught:
        run_import(database, SYSTEM, open_source(path, filename="b.xlsx", fmt=None, sheet="Nope"),
                   ImportOptions())  # fmt: skip
    assert "sheet" in caught.value.fields


def test_only_csv_cells_lose_the_formula_guard(database: Database, tmp_path: Path) -> None:
    sheet = (
        '<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c>'
        '<c r="B1" t="inlineStr"><is><t>jobTitle</t></is></c></row>'
        '<row r="2"><c r="A2" t="s"><v>1</v></c>'
        '<c r="B2" t="inlineStr"><is><t>\'=keep</t></is></c></row>'
        "</sheetData></worksheet>"
    )
    path = _xlsx(tmp_path, sheet)
    source = open_source(path, filename="book.xlsx", fmt=None, sheet="People")
    assert run_import(database, SYSTEM, source, ImportOptions()).created == 1
    assert run(database, write(tmp_path, "x.csv", "name,jobTitle\nBo,'=x\nCy,''=y\n")).created == 2
    json_rows = orjson.dumps([{"name": "Di", "jobTitle": "'=z"}])
    assert run(database, write(tmp_path, "x.json", json_rows)).created == 1
    titles = {r["name"]: r["jobTitle"] for r in all_customers(database)}
    assert titles == {"Ada": "'=keep", "Bo": "=x", "Cy": "'=y", "Di": "'=z"}


def test_header_mapped_rows_convert_as_rows_without_a_mapping() -> None:
    """`row_body`'s plan for a header's columns gives what the per-cell loop gives."""
    cells: dict[str, Any] = {
        "Full Name": "'=1+2", "E-mail": "", "Revenue": "12", "invoices": "1.5",
        "zip": 5450.0, "Phone": 60123456789.0, "status": "",
        "lastContactAt": 45000.5, "nextFollowUpAt": "2025-01-01", "createdAt": "ignored",
        "tags": "a; b", "metadata": '{"tags": ["a", "b"], "x": 1}', "Notes": "'plain",
    }  # fmt: skip
    mapping = map_columns(cells)
    for row in (cells, {**cells, "tags": "c", "invoices": "many"}, {"tags": ""}):
        mapped = row_body(row, mapping, spreadsheet=True)
        general = row_body(row, None, spreadsheet=True)
        assert (mapped.data, mapped.errors) == (general.data, general.errors)
    extra = row_body({"name": "Ada", "": "x", "column 9": "y"}, map_columns(["name", ""]),
                     spreadsheet=True)  # fmt: skip
    assert extra.errors == {"": "has a value but no column name",
                            "column 9": "has a value but no column name"}  # fmt: skip


# Forms of a cell the plain-cell reader takes; each must read as the general reader reads it.
PLAIN_CELLS = (
    '<c r="A1" t="inlineStr"/>',
    '<c r="A1" t="inlineStr"></c>',
    '<c r="A1" t="inlineStr"><is><t></t></is></c>',
    '<c r="A1" t="inlineStr"><is><t>x &amp; _x0009_y</t></is></c>',
    '<c r="A1" t="inlineStr"><v>3</v></c>',
    '<c r="A1" t="str"><is><t>x</t></is></c>',
    '<c r="A1" t="n"><is><t>x</t></is></c>',
    '<c r="A1"><v>3.5</v></c>',
    '<c r="A1"><v></v></c>',
    '<c r="A1" t="str"><v></v></c>',
    '<c r="A1" t="str"></c>',
    '<c r="A1" s="3" t="s"><v>1</v></c>',
    '<c r="A1" t="b"><v>0</v></c>',
    '<c r="A1" t="e"><v>#N/A</v></c>',
    '<c r="A1" s="2"/>',
)


@pytest.mark.parametrize("cell", PLAIN_CELLS)
def test_xlsx_plain_cells_read_as_the_general_reader_reads_them(cell: str) -> None:
    reader = _SheetReader(["", "Ada"])
    # A formula cell is not plain: its row goes through the general expression.
    general = reader.row(f'<row r="1">{cell}<c r="B1" t="str"><f>1+1</f><v>2</v></c></row>')
    assert reader.row(f'<row r="1">{cell}</row>') == general[:1]


def test_counting_rows_skips_blank_rows_as_reading_them_does(tmp_path: Path) -> None:
    blank = ('<c r="A{n}" t="inlineStr"><is><t></t></is></c><c r="B{n}"><v></v></c>'
             '<c r="C{n}" t="str"></c>')  # fmt: skip
    rows = ['<row r="1"><c r="A1" t="inlineStr"><is><t>name</t></is></c></row>']
    for n, cell in enumerate(["Ada", None, "Bo", None, None], start=2):
        text = f'<c r="A{n}" t="inlineStr"><is><t>{cell}</t></is></c>' if cell else blank
        rows.append(f'<row r="{n}">{text.format(n=n)}</row>')
    book = _xlsx(tmp_path, f"<worksheet><sheetData>{''.join(rows)}</sheetData></worksheet>")
    csv_file = write(tmp_path, "p.csv", "name\nAda\n,\nBo\n\n,\n")
    for path in (book, csv_file):
        counted = open_source(path, filename=path.name, fmt=None)
        read = open_source(path, filename=path.name, fmt=None)
        numbers = [number for number, _cells in read.rows()]
        assert numbers == [1, 3]
        assert counted.count(100) == 3
        assert counted.headers == read.headers == ["name"]
        assert counted.count(0) == 1  # stops past the limit


def test_xlsx_that_is_not_utf8_is_refused_before_any_row(
    database: Database, tmp_path: Path
) -> None:
    sheet = b'<worksheet><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>name\xff'
    path = _xlsx(tmp_path, sheet)
    with pytest.raises(ValidationFailed) as caught:
        run(database, path)
    assert caught.value.fields == {"file": "is not UTF-8 text"}


def test_xlsx_with_an_entity_declaration_is_refused(database: Database, tmp_path: Path) -> None:
    sheet = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><worksheet/>'
    with pytest.raises(XlsxError):
        run(database, _xlsx(tmp_path, sheet))


def test_xlsx_zip_bomb_is_refused(database: Database, tmp_path: Path) -> None:
    bomb = "<worksheet><sheetData>" + " " * 50_000_000 + "</sheetData></worksheet>"
    with pytest.raises(XlsxError) as caught:
        run(database, _xlsx(tmp_path, bomb))
    assert "zip bomb" in caught.value.fields["file"]


# --- jobs ----------------------------------------------------------------------------------------


def test_small_imports_finish_inline_and_large_ones_run_as_jobs(
    database: Database, tmp_path: Path, monkeypatch: Any
) -> None:
    staff = as_principal(make_staff(database))
    small = jobs.submit_import(
        database, staff, write(tmp_path, "a.csv", HEADER + "A,a@x.io,\n"),
        filename="a.csv", options=ImportOptions(),
    )  # fmt: skip
    assert small.finished and small.job["status"] == "succeeded"
    assert small.job["report"]["created"] == 1

    monkeypatch.setattr(jobs, "JOB_THRESHOLD_ROWS", 2)
    big = jobs.submit_import(
        database, staff, write(tmp_path, "b.csv", HEADER + "B,,\nC,,\nD,,\n"),
        filename="b.csv", options=ImportOptions(),
    )  # fmt: skip
    assert not big.finished and big.job["status"] in ("queued", "running", "succeeded")
    deadline = time.monotonic() + 20
    job = big.job
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.05)
        job = jobs.get_job(database, staff, big.job["$id"])
    assert job["status"] == "succeeded" and job["report"]["created"] == 3
    assert job["processedRows"] == job["totalRows"] == 3
    other = as_principal(make_user(database))
    with pytest.raises(Exception, match="not found"):
        jobs.get_job(database, other, big.job["$id"])


def test_a_failed_all_or_nothing_import_marks_its_job_failed(
    database: Database, tmp_path: Path
) -> None:
    submitted = jobs.submit_import(
        database, SYSTEM, write(tmp_path, "a.csv", HEADER + ",a@x.io,\n"),
        filename="a.csv", options=ImportOptions(),
    )  # fmt: skip
    assert submitted.job["status"] == "failed"
    assert submitted.job["error"]["code"] == "rows_failed"
    assert submitted.job["report"]["failures"] == [{"row": 1, "errors": {"name": "is required"}}]


def test_json_nested_past_the_recursion_limit_is_refused_before_or_in_a_job(
    database: Database, tmp_path: Path, monkeypatch: Any
) -> None:
    """Refused (422 on `file`) when the job is submitted, or as the job's error when the record
    lies beyond what the submission counts: never an internal error."""
    deep = '{"name": "C", "notes": ' + nested(DEEP) + "}"
    path = write(tmp_path, "a.json", "[" + deep + "]")
    with pytest.raises(ValidationFailed) as caught:
        jobs.submit_import(database, SYSTEM, path, filename="a.json", options=ImportOptions())
    assert set(caught.value.fields) == {"file"}
    assert not path.exists()

    monkeypatch.setattr(jobs, "JOB_THRESHOLD_ROWS", 1)
    path = write(tmp_path, "b.json", '[{"name": "A"}, {"name": "B"}, ' + deep + "]")
    submitted = jobs.submit_import(
        database, SYSTEM, path, filename="b.json", options=ImportOptions()
    )
    assert not submitted.finished
    deadline = time.monotonic() + 20
    job = submitted.job
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.05)
        job = jobs.get_job(database, SYSTEM, job["$id"])
    assert job["status"] == "failed"
    assert job["error"]["code"] == "validation_failed"
    assert set(job["error"]["fields"]) == {"file"}
    assert count(database, customers) == 0


def test_unknown_columns_are_refused_when_submitted_large_or_small(
    database: Database, tmp_path: Path, monkeypatch: Any
) -> None:
    """As a malformed file is: before any job exists (a job that failed on them answered 200)."""
    for threshold in (jobs.JOB_THRESHOLD_ROWS, 1):
        monkeypatch.setattr(jobs, "JOB_THRESHOLD_ROWS", threshold)
        path = write(tmp_path, "a.csv", "name,shoe size\nA,42\nB,43\n")
        with pytest.raises(ValidationFailed) as caught:
            jobs.submit_import(database, SYSTEM, path, filename="a.csv", options=ImportOptions())
        assert set(caught.value.fields) == {"columns.shoe size"}
        assert not path.exists()
    sheet = (
        '<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c>'
        '<c r="B1" t="inlineStr"><is><t>bogus</t></is></c></row>'
        '<row r="2"><c r="A2" t="s"><v>1</v></c></row></sheetData></worksheet>'
    )
    with pytest.raises(ValidationFailed) as caught:
        jobs.submit_import(
            database, SYSTEM, _xlsx(tmp_path, sheet), filename="b.xlsx",
            options=ImportOptions(sheet="People"),
        )  # fmt: skip
    assert set(caught.value.fields) == {"columns.bogus"}
    assert count(database, import_jobs) == 0


def test_jobs_of_a_dead_process_are_failed_at_startup(database: Database) -> None:
    now = utcnow()
    with database.transaction() as conn:
        for job_id, runner in (
            ("dead", "nohost-gone:1"),
            ("gone", f"{jobs.RUNNER.split(':')[0]}:999999999"),
        ):
            conn.execute(
                import_jobs.insert(),
                [{"id": job_id, "status": "running", "format": "csv",
                  "options": orjson.dumps({"runner": runner}).decode(), "actorType": "system",
                  "createdAt": now, "updatedAt": now}],
            )  # fmt: skip
    # Another host's job runs while its heartbeat goes on (PostgreSQL); a SQLite file has one
    # process, so there it was interrupted (tests/ops/test_workers_jobs.py has more).
    assert jobs.fail_interrupted_jobs(database) == (2 if database.is_sqlite else 1)
    assert jobs.get_job(database, SYSTEM, "gone")["status"] == "failed"
    other_host = "failed" if database.is_sqlite else "running"
    assert jobs.get_job(database, SYSTEM, "dead")["status"] == other_host


def test_formatting_the_audit_instants_holds_a_bounded_memo() -> None:
    """A file's dates are mostly distinct: a memo of every formatted one grew with the file
    (~200 MB on a million rows, over the import's memory budget)."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for minute in range(5000):
        at = start + timedelta(minutes=minute)
        changes = import_engine._created({"lastContactAt": at, "name": "A"})
        assert changes["lastContactAt"] == {"from": None, "to": format_datetime(at)}
    assert import_engine._format_instant.cache_info().currsize <= 1024
