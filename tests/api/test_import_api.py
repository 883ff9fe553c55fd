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
