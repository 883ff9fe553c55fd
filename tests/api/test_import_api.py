"""Imports over HTTP: files refused whole answer 422 naming what is wrong, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from clientbook.db.engine import Database
from tests.api.conftest import Api
from tests.factories import make_user

DEEP = 1_000  # levels: past Python's recursion limit


def post_file(api: Api, name: str, data: bytes) -> tuple[int, dict[str, object]]:
    files = {"file": (name, data, "application/octet-stream")}
    response = api.post("/api/customers/import", files=files, headers=api.staff_headers())
    return response.status_code, response.json()


@pytest.mark.parametrize(
    "text",
    [
        "[" + "[" * DEEP + "]" * DEEP + "]",
        '[{"name":"a","email":"x@ex.example","notes":' + '{"a":' * DEEP + "1" + "}" * DEEP + "}]",
        '[{"name":"a","email":"x@ex.example","tags":' + "[" * 3 * DEEP + "]" * 3 * DEEP + "}]",
    ],
    ids=["array", "notes", "tags"],
)
def test_json_nested_past_the_recursion_limit_is_422_on_file(api: Api, text: str) -> None:
    status, body = post_file(api, "d.json", text.encode())
    assert status == 422, body
    error = body["error"]
    assert isinstance(error, dict) and set(error["fields"]) == {"file"}


@pytest.mark.parametrize(
    ("data", "column"),
    [
        (b"name,email,bogus\nAda,ada@x.io,1\n", "columns.bogus"),
        (b"name,email,Email\nAda,ada@x.io,a@x.io\n", "columns.Email"),
        (b"name,email,bogus\n", "columns.bogus"),  # a header alone: still refused
    ],
)
def test_an_unknown_or_repeated_column_is_422_naming_it(api: Api, data: bytes, column: str) -> None:
    """As a malformed file is: refused before any job (it was 200 with a failed job)."""
    status, body = post_file(api, "people.csv", data)
    assert status == 422, body
    error = body["error"]
    assert isinstance(error, dict) and set(error["fields"]) == {column}
    assert error["code"] == "validation_failed"


def test_failed_rows_without_skip_errors_answer_422_with_the_failed_job(api: Api) -> None:
    """SPEC §4: a validation failure is 422, nothing written (it was 200 with the job
    `failed`); the error names each failed row's fields, the job carries the report."""
    data = b"name,email\nOk,ok@x.io\nAda,not an address\n,bo@x.io\n"
    status, body = post_file(api, "people.csv", data)
    assert status == 422, body
    error = body["error"]
    assert isinstance(error, dict) and error["code"] == "rows_failed"
    assert set(error["fields"]) == {"rows[2].email", "rows[3].name"}
    job = body["job"]
    assert isinstance(job, dict) and job["status"] == "failed"
    assert job["error"]["code"] == "rows_failed"
    report = job["report"]
    assert (report["created"], report["failed"], report["applied"]) == (0, 2, False)
    assert report["withSkipErrors"] == {"created": 1, "updated": 0}
    assert [f["row"] for f in report["failures"]] == [2, 3]
    listed = api.get("/api/customers", headers=api.staff_headers()).json()
    assert listed["total"] == 0


def test_the_422_names_the_first_hundred_failed_rows_only(api: Api) -> None:
    data = b"name,email\n" + b"".join(b",x%d@x.io\n" % i for i in range(150))
    status, body = post_file(api, "people.csv", data)
    assert status == 422
    error = body["error"]
    assert isinstance(error, dict) and len(error["fields"]) == 100
    job = body["job"]
    assert isinstance(job, dict) and len(job["report"]["failures"]) == 150


def test_dry_run_and_skip_errors_with_failed_rows_answer_200(api: Api) -> None:
    data = b"name,email\nOk,ok@x.io\n,bad\n"
    for option in ("dryRun", "skipErrors"):
        files = {"file": ("people.csv", data, "text/csv")}
        response = api.post(
            "/api/customers/import", files=files, data={option: "true"},
            headers=api.staff_headers(),
        )  # fmt: skip
        assert response.status_code == 200, (option, response.text)
        assert response.json()["job"]["status"] == "succeeded"


@pytest.fixture
def two_rows_api(database: Database) -> Iterator[Api]:
    db = Database(replace(database.settings, max_import_rows=2))
    with Api(db) as client:
        yield client
    db.dispose()


def test_a_file_with_too_many_rows_is_413_naming_file(two_rows_api: Api) -> None:
    status, body = post_file(two_rows_api, "people.csv", b"name\nA\nB\nC\n")
    assert status == 413, body
    error = body["error"]
    assert isinstance(error, dict) and error["code"] == "too_large"
    assert set(error["fields"]) == {"file"}
    job = body["job"]
    assert isinstance(job, dict) and job["status"] == "failed"


def test_an_owners_file_of_several_rows_is_422(api: Api) -> None:
    owner = make_user(api.db)
    files = {"file": ("me.csv", b"name\nA\nB\n", "text/csv")}
    response = api.post("/api/customers/import", files=files, headers=api.bearer(owner))
    assert response.status_code == 422, response.text
    body = response.json()
    assert set(body["error"]["fields"]) == {"file"}
    assert body["job"]["error"]["code"] == "validation_failed"
