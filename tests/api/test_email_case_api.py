"""Through HTTP: an address in another case of any letter (`öSA@…` for `Ösa@…`) is the same
address on both backends (SPEC §3, §12): 409 naming `email` for a second account or record,
found by `?email=` and by signing in."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from tests.api.conftest import Api
from tests.factories import TEST_PASSWORD, make_customer, make_user

STORED, OTHER_CASE = "Ösa.Ünal@Example.com", "öSA.üNAL@example.COM"


def _conflict_fields(response: httpx.Response) -> set[str]:
    assert response.status_code == 409, response.text
    return set(response.json()["error"]["fields"])


@pytest.mark.parametrize("path", ["/api/auth/signup", "/api/users"])
def test_a_second_account_in_another_case_is_409_naming_email(api: Api, path: str) -> None:
    make_user(api.db, email=STORED)
    body = {"email": OTHER_CASE, "password": TEST_PASSWORD}
    headers = api.staff_headers() if path == "/api/users" else {}
    assert _conflict_fields(api.post(path, json=body, headers=headers)) == {"email"}


def test_a_second_record_in_another_case_is_409_naming_email(api: Api) -> None:
    make_customer(api.db, email=STORED)
    body = {"name": "Again", "email": OTHER_CASE, "userId": make_user(api.db)["id"]}
    response = api.post("/api/customers", json=body, headers=api.staff_headers())
    assert _conflict_fields(response) == {"email"}


def test_email_filters_and_sign_in_find_the_address_in_another_case(api: Api) -> None:
    account = make_user(api.db, email=STORED)
    record = make_customer(api.db, account, email=STORED)
    headers = api.staff_headers()
    customers = api.get(f"/api/customers?email={quote(OTHER_CASE)}", headers=headers).json()
    assert [row["$id"] for row in customers["rows"]] == [record["id"]]
    assert "emailFolded" not in customers["rows"][0]
    accounts = api.get(f"/api/users?email={quote(OTHER_CASE)}", headers=headers).json()
    assert [row["$id"] for row in accounts["rows"]] == [account["id"]]
    assert "emailFolded" not in accounts["rows"][0]

    signed = api.post("/api/auth/login", json={"email": OTHER_CASE, "password": TEST_PASSWORD})
    assert signed.status_code == 200, signed.text
    assert signed.json()["user"]["email"] == STORED
