"""Request-level errors name what the client sent, the same way on every route (SPEC §4)."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api

JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize("path", ["/api/auth/login", "/api/auth/signup", "/api/customers"])
def test_malformed_json_is_named_body(api: Api, path: str) -> None:
    response = api.post(path, content=b'{"email": ', headers={**JSON, **api.key_headers()})
    assert response.status_code == 422, response.text
    fields = response.json()["error"]["fields"]
    assert list(fields) == ["body"]
    assert fields["body"].startswith("not valid JSON (")
