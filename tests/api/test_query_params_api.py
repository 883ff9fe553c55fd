"""SPEC §12: "Anything wrong in the query string (unknown operator, bad value, …) → 400 naming
the parameter" — on every `/api` route, not only the lists."""

from __future__ import annotations

import re

import pytest

from tests.api.conftest import Api
from tests.factories import make_customer, make_user


def api_routes(api: Api) -> list[tuple[str, str]]:
    """Every documented `/api` operation, as (method, path template)."""
    paths = api.get("/api/openapi.json").json()["paths"]
    return [
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/api/")
        for method in operations
    ]


def test_every_api_route_refuses_an_unknown_query_parameter(api: Api) -> None:
    headers = api.key_headers()
    record = make_customer(api.db)  # the lists under a record look it up first
    routes = api_routes(api)
    assert len(routes) > 30
    for method, template in routes:
        path = re.sub(r"\{[^}]+\}", record["id"], template)
        response = api.request(method, f"{path}?zz=1&yy=2", headers=headers)
        assert response.status_code == 400, (method, template, response.text)
        error = response.json()["error"]
        assert error["code"] == "bad_query", (method, template)
        assert {"zz", "yy"} <= set(error["fields"]), (method, template, error)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/customers/{id}"),
        ("PATCH", "/api/customers/{id}"),
        ("DELETE", "/api/customers/{id}"),
        ("POST", "/api/customers"),
        ("PUT", "/api/customers/{id}/status"),
        ("POST", "/api/customers/{id}/notes"),
        ("GET", "/api/notes/{id}"),
        ("POST", "/api/auth/login"),
        ("DELETE", "/api/me"),
        ("GET", "/api/users/{id}"),
    ],
)
def test_an_unknown_query_parameter_is_named_with_the_lists_wording(
    api: Api, method: str, path: str
) -> None:
    record = make_customer(api.db)
    url = path.format(id=record["id"]) + "?foo=1"
    response = api.request(method, url, headers=api.key_headers())
    assert response.status_code == 400, response.text
    assert response.json() == {
        "error": {
            "code": "bad_query",
            "message": "Unknown query parameter(s): foo",
            "fields": {"foo": "unknown query parameter"},
        }
    }
    # Refused before anything was done: the record is still there.
    assert api.get(f"/api/customers/{record['id']}", headers=api.key_headers()).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/customers/{id}"), ("PATCH", "/api/customers/{id}"), ("DELETE", "/api/me")],
)
def test_an_anonymous_caller_is_told_401_before_the_query_is_judged(
    api: Api, method: str, path: str
) -> None:
    record = make_customer(api.db)
    response = api.request(method, path.format(id=record["id"]) + "?foo=1")
    assert response.status_code == 401, response.text


def test_a_route_anyone_may_call_judges_the_query_at_once(api: Api) -> None:
    response = api.post("/api/auth/login?foo=1", json={"email": "a@example.com", "password": "x"})
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"foo"}


def test_the_parameters_a_route_takes_still_work(api: Api) -> None:
    owner = make_user(api.db)
    record = make_customer(api.db, owner=owner, metadata={"tags": ["vip"]})
    headers = api.key_headers()
    answers = [
        api.get(f"/api/customers/{record['id']}?parse=json&expand=userId", headers=headers),
        api.get("/api/customers/me?parse=json", headers=api.bearer(owner)),
        api.get("/api/customers?status=lead&expand=userId&limit=5", headers=headers),
        api.get("/api/customers/stats?tz=UTC", headers=headers),
        api.get("/api/customers/duplicates?reason=email&limit=5", headers=headers),
        api.get(f"/api/customers/{record['id']}/notes?limit=5&sort=-$createdAt", headers=headers),
        api.get("/api/users?role=user", headers=headers),
        api.get("/api/audit-logs?entityType=customer", headers=headers),
    ]
    assert [a.status_code for a in answers] == [200] * len(answers), [a.text for a in answers]
    assert answers[0].json()["metadata"] == {"tags": ["vip"]}
    assert answers[0].json()["userId"]["$id"] == owner["id"]


def test_a_list_still_checks_its_own_parameters(api: Api) -> None:
    response = api.get("/api/customers?colour=red", headers=api.key_headers())
    assert response.status_code == 400
    assert "colour" in response.json()["error"]["fields"]
