"""Imports over HTTP: files refused whole answer 422 naming what is wrong, never a 500."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api

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


def test_failed_rows_without_skip_errors_answer_200_with_a_failed_job(api: Api) -> None:
    """What a file whose columns are fine but whose rows fail answers (unchanged)."""
    status, body = post_file(api, "people.csv", b"name,email\nAda,not an address\n")
    assert status == 200, body
    job = body["job"]
    assert isinstance(job, dict) and job["status"] == "failed"
    assert job["error"]["code"] == "rows_failed"
    [failure] = job["report"]["failures"]
    assert failure["row"] == 1 and set(failure["errors"]) == {"email"}
