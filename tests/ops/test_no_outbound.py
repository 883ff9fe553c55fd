"""The server never fetches a URL a user supplied (issue 9, hardening): creating records with a
`website` and importing a file full of URLs opens no network connection."""

from __future__ import annotations

import socket
import urllib.request
from typing import NoReturn

import pytest

from tests.api.conftest import Api
from tests.factories import make_user

URL = "http://169.254.169.254/latest/meta-data/"


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every way Python opens a connection or resolves a name fails the test (the database
    drivers connect below Python: SQLite is a file, libpq opens its own sockets)."""
    attempts: list[str] = []

    def refuse(what: str) -> object:
        def refused(*args: object, **_kwargs: object) -> NoReturn:
            attempts.append(f"{what}{args[1:] if what.startswith('socket.') else args}")
            raise AssertionError(f"the server tried to reach the network: {what} {args}")

        return refused

    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("socket.connect_ex"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    monkeypatch.setattr(urllib.request, "urlopen", refuse("urlopen"))
    return attempts


def test_records_and_imports_with_urls_open_no_connection(ops_api: Api, offline: list[str]) -> None:
    key = ops_api.key_headers()
    owner = make_user(ops_api.db)
    body = {"name": "Ada", "userId": owner["id"], "website": URL}
    created = ops_api.post("/api/customers", json=body, headers=key)
    assert created.status_code == 201, created.text
    assert created.json()["website"] == URL
    patched = ops_api.patch(
        f"/api/customers/{created.json()['$id']}",
        json={"website": "https://example.com/logo.png"},
        headers=key,
    )
    assert patched.status_code == 200, patched.text
    rows = "".join(f"Person {n},p{n}@x.io,{URL}?n={n}\n" for n in range(20))
    csv = f"name,email,website\n{rows}".encode()
    imported = ops_api.post(
        "/api/customers/import",
        files={"file": ("people.csv", csv, "text/csv")},
        headers=key,
    )
    assert imported.status_code == 200, imported.text
    assert imported.json()["job"]["status"] == "succeeded"
    json_rows = b'[{"name": "Bo", "email": "bo@x.io", "website": "https://example.org/"}]'
    imported = ops_api.post(
        "/api/customers/import",
        files={"file": ("people.json", json_rows, "application/json")},
        headers=key,
    )
    assert imported.status_code == 200, imported.text
    assert offline == []
