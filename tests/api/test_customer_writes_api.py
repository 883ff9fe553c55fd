"""The write routes of `/api/customers` as black-box testers found them: `?parse=json` on every
route that answers with a record (SPEC §4), every failing field of an action's body in one 422,
the body's own field names, and authentication before `If-Match` (SPEC §5)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api
from tests.factories import make_customer, make_user

WRITES_WITH_A_RECORD = [
    ("POST", "/api/customers", {"name": "Parsed", "metadata": {"tags": ["vip"]}}),
    ("PATCH", "/api/customers/{id}", {"city": "Ipoh"}),
    ("PUT", "/api/customers/{id}/tags", {"tags": ["vip"]}),
    ("PUT", "/api/customers/{id}/status", {"status": "active"}),
    ("PUT", "/api/customers/{id}/assignment", {"assignedTo": None}),
    ("POST", "/api/customers/{id}/contact", {}),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES_WITH_A_RECORD)
def test_parse_json_returns_objects_on_writes_too(
    api: Api, method: str, path: str, body: dict[str, Any]
) -> None:
    record = make_customer(api.db, metadata={"tags": ["vip"]}, notes='{"a": 1}')
    if path == "/api/customers":  # a record for another user
        body = {**body, "userId": make_user(api.db)["id"]}
    url = path.format(id=record["id"]) + "?parse=json"
    response = api.request(method, url, json=body, headers=api.key_headers())
    assert response.status_code in (200, 201), response.text
    assert response.json()["metadata"]["tags"] == ["vip"]


def test_a_bad_parse_value_on_a_write_is_400_and_writes_nothing(api: Api) -> None:
    record = make_customer(api.db, city="Klang")
    url = f"/api/customers/{record['id']}?parse=xml"
    response = api.patch(url, json={"city": "Ipoh"}, headers=api.key_headers())
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"parse": "must be json"}
    after = api.get(f"/api/customers/{record['id']}", headers=api.key_headers())
    assert after.json()["city"] == "Klang"


def test_openapi_declares_parse_on_the_writes(api: Api) -> None:
    paths = api.get("/api/openapi.json").json()["paths"]
    for method, path, _body in WRITES_WITH_A_RECORD:
        template = path.replace("{id}", "{customer_id}")
        parameters = paths[template][method.lower()].get("parameters", [])
        assert "parse" in {p["name"] for p in parameters if p["in"] == "query"}, (method, path)


@pytest.mark.parametrize(
    ("path", "body", "failing"),
    [
        ("/status", {"status": "bogus", "x": 1}, {"status", "x"}),
        ("/status", {"reason": "why", "x": 1}, {"status", "x"}),
        ("/assignment", {"assignedTo": "nobody", "x": 1}, {"assignedTo", "x"}),
        ("/contact", {"at": "not a time", "x": 1}, {"at", "x"}),
        ("/tags", {"tags": "vip", "x": 1}, {"tags", "x"}),
    ],
)
def test_an_action_names_every_failing_field_at_once(
    api: Api, path: str, body: dict[str, Any], failing: set[str]
) -> None:
    record = make_customer(api.db)
    url = f"/api/customers/{record['id']}{path}"
    method = "POST" if path == "/contact" else "PUT"
    response = api.request(method, url, json=body, headers=api.key_headers())
    assert response.status_code == 422, response.text
    fields = response.json()["error"]["fields"]
    assert set(fields) == failing, fields
    assert fields["x"] == "unknown field"


def test_an_action_with_an_unknown_key_changes_nothing(api: Api) -> None:
    record = make_customer(api.db, status="lead")
    url = f"/api/customers/{record['id']}"
    before = api.get(url, headers=api.key_headers()).headers["ETag"]
    response = api.put(
        f"{url}/status", json={"status": "archived", "x": 1}, headers=api.key_headers()
    )
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"x": "unknown field"}
    after = api.get(url, headers=api.key_headers())
    assert after.json()["status"] == "lead" and after.headers["ETag"] == before


@pytest.mark.parametrize("reason", [5, "x" * 6000, "nul\x00byte"])
@pytest.mark.parametrize("status", ["bogus", "lead"])
def test_a_bad_status_and_a_bad_reason_are_named_in_one_422(
    api: Api, status: str, reason: Any
) -> None:
    # The reason used to be checked only once the status had passed, and not at all when the
    # status was the current one (a no-op).
    record = make_customer(api.db, status="lead")
    url = f"/api/customers/{record['id']}"
    before = api.get(url, headers=api.key_headers()).headers["ETag"]
    body = {"status": status, "reason": reason}
    response = api.put(f"{url}/status", json=body, headers=api.key_headers())
    assert response.status_code == 422, response.text
    expected = {"reason"} | ({"status"} if status == "bogus" else set())
    assert set(response.json()["error"]["fields"]) == expected
    assert api.get(url, headers=api.key_headers()).headers["ETag"] == before


def test_a_bad_tag_is_named_as_the_body_key_tags(api: Api) -> None:
    record = make_customer(api.db)
    url = f"/api/customers/{record['id']}/tags"
    response = api.put(url, json={"tags": ["x" * 51]}, headers=api.key_headers())
    assert response.status_code == 422
    assert list(response.json()["error"]["fields"]) == ["tags"]


@pytest.mark.parametrize("method", ["PATCH", "DELETE", "PUT"])
@pytest.mark.parametrize("if_match", ['"someone-else.1"', "garbage", '"{id}.99"'])
def test_authentication_comes_before_if_match(api: Api, method: str, if_match: str) -> None:
    record = make_customer(api.db)
    path = f"/api/customers/{record['id']}" + ("/tags" if method == "PUT" else "")
    header = {"If-Match": if_match.format(id=record["id"])}
    body = {"tags": ["x"]} if method == "PUT" else {"city": "Ipoh"} if method == "PATCH" else None
    anonymous = api.request(method, path, json=body, headers=header)
    assert anonymous.status_code == 401, anonymous.text
    stranger = api.request(method, path, json=body, headers={**header, **api.user_headers()})
    assert stranger.status_code == 404, stranger.text
    staff = api.request(method, path, json=body, headers={**header, **api.staff_headers()})
    assert staff.status_code == 412, staff.text
    assert api.get(f"/api/customers/{record['id']}", headers=api.key_headers()).status_code == 200
