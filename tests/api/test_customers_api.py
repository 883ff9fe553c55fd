"""`/api/customers` through HTTP: the authorization matrix of SPEC §5, mass assignment, ETags,
and the error shape."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from clientbook.access import STAFF_FIELDS, SYSTEM_FIELDS
from tests.api.conftest import Api
from tests.factories import make_customer, make_staff, make_user

ACTORS = ("anonymous", "owner", "other_user", "staff", "api_key")


@dataclass
class World:
    """Two users with a record each (A is the target), a staff member and an API key."""

    api: Api
    record: dict[str, Any]
    headers: dict[str, dict[str, str]]
    rep: dict[str, Any]


@pytest.fixture
def world(api: Api) -> World:
    owner, other = make_user(api.db), make_user(api.db)
    record = make_customer(api.db, owner=owner, name="Target Record")
    make_customer(api.db, owner=other)
    staff = make_staff(api.db)
    headers = {
        "anonymous": {},
        "owner": api.bearer(owner),
        "other_user": api.bearer(other),
        "staff": api.bearer(staff),
        "api_key": api.key_headers(),
    }
    return World(api, record, headers, rep=staff)


def _call(world: World, actor: str, method: str, path: str, body: Any = None) -> int:
    path = path.format(id=world.record["id"], rep=world.rep["id"])
    response = world.api.request(method, path, json=body, headers=world.headers[actor])
    return response.status_code


MATRIX = [
    # method, path, body, expected status for anonymous, owner, other_user, staff, api_key
    ("GET", "/api/customers/{id}", None, (401, 200, 404, 200, 200)),
    ("PATCH", "/api/customers/{id}", {"city": "Ipoh"}, (401, 200, 404, 200, 200)),
    ("PATCH", "/api/customers/{id}", {"status": "lead"}, (401, 403, 404, 200, 200)),
    ("DELETE", "/api/customers/{id}", None, (401, 204, 404, 204, 204)),
    ("PUT", "/api/customers/{id}/status", {"status": "lead"}, (401, 403, 403, 200, 200)),
    ("PUT", "/api/customers/{id}/tags", {"tags": ["vip"]}, (401, 200, 404, 200, 200)),
    ("POST", "/api/customers/{id}/contact", {}, (401, 403, 403, 200, 200)),
    ("PUT", "/api/customers/{id}/assignment", {"assignedTo": "{rep}"}, (401, 403, 403, 200, 200)),
    ("GET", "/api/customers/me", None, (401, 200, 200, 404, 404)),
]


@pytest.mark.parametrize(("method", "path", "body", "expected"), MATRIX)
@pytest.mark.parametrize("actor", ACTORS)
def test_authorization_matrix(
    world: World, actor: str, method: str, path: str, body: Any, expected: tuple[int, ...]
) -> None:
    if isinstance(body, dict) and body.get("assignedTo") == "{rep}":
        body = {"assignedTo": world.rep["id"]}
    assert _call(world, actor, method, path, body) == expected[ACTORS.index(actor)]


def test_user_creates_own_record_once(api: Api) -> None:
    user = make_user(api.db, name="Aisyah", email="aisyah@example.my")
    headers = api.bearer(user)
    first = api.post("/api/customers", json={"phone": "012-345 6789"}, headers=headers)
    assert first.status_code == 201
    body = first.json()
    assert first.headers["Location"] == f"/api/customers/{body['$id']}"
    assert body["name"] == "Aisyah" and body["email"] == "aisyah@example.my"
    assert body["$createdAt"].endswith("+00:00") and len(body["$createdAt"]) == 29
    second = api.post("/api/customers", json={"name": "Again"}, headers=headers)
    assert second.status_code == 409
    assert "userId" in second.json()["error"]["fields"]


def test_user_cannot_create_for_someone_else(api: Api) -> None:
    user, other = make_user(api.db), make_user(api.db)
    response = api.post(
        "/api/customers", json={"name": "X", "userId": other["id"]}, headers=api.bearer(user)
    )
    assert response.status_code == 403
    assert "userId" in response.json()["error"]["fields"]


@pytest.mark.parametrize("field", sorted(STAFF_FIELDS))
def test_user_sending_a_staff_only_field_gets_403_naming_it(api: Api, field: str) -> None:
    user = make_user(api.db)
    record = make_customer(api.db, owner=user)
    headers = api.bearer(user)
    patch = api.patch(f"/api/customers/{record['id']}", json={field: None}, headers=headers)
    assert patch.status_code == 403
    assert field in patch.json()["error"]["fields"]


def test_one_403_names_every_field_the_caller_may_not_send(api: Api) -> None:
    user = make_user(api.db)
    headers = api.bearer(user)
    created = api.post("/api/customers", json={"status": "lead", "createdBy": "x"}, headers=headers)
    assert created.status_code == 403
    assert set(created.json()["error"]["fields"]) == {"status", "createdBy"}
    record = make_customer(api.db, owner=user)
    body = {"userId": user["id"], "status": "lead", "totalRevenue": 1, "$updatedAt": "x"}
    patched = api.patch(f"/api/customers/{record['id']}", json=body, headers=headers)
    assert patched.status_code == 403
    assert set(patched.json()["error"]["fields"]) == set(body)


@pytest.mark.parametrize("field", sorted(SYSTEM_FIELDS | {"userId", "$id"}))
def test_staff_sending_a_system_field_on_update_gets_403(api: Api, field: str) -> None:
    record = make_customer(api.db)
    response = api.patch(
        f"/api/customers/{record['id']}", json={field: "x"}, headers=api.staff_headers()
    )
    assert response.status_code == 403
    assert field in response.json()["error"]["fields"]


def test_an_update_naming_the_records_own_id_gets_403_and_writes_nothing(api: Api) -> None:
    # Was a 500: `$id` reached the UPDATE statement as a column name.
    user = make_user(api.db)
    record = make_customer(api.db, owner=user)
    url = f"/api/customers/{record['id']}"
    for headers in (api.staff_headers(), api.bearer(user)):
        response = api.patch(url, json={"$id": record["id"], "city": "Ipoh"}, headers=headers)
        assert response.status_code == 403
        assert response.json()["error"]["fields"] == {"$id": "cannot be changed after creation"}
    assert api.get(url, headers=api.staff_headers()).json()["city"] == record["city"]


def test_validation_lists_every_failing_field(api: Api) -> None:
    staff = api.staff_headers()
    user = make_user(api.db)
    response = api.post(
        "/api/customers",
        json={
            "userId": user["id"],
            "name": "",
            "email": "not-an-email",
            "status": "deleted",
            "website": "ftp://x",
            "surprise": 1,
        },
        headers=staff,
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert {"name", "email", "status", "website", "surprise"} <= set(error["fields"])


def test_etag_and_if_match(api: Api) -> None:
    record = make_customer(api.db)
    staff = api.staff_headers()
    read = api.get(f"/api/customers/{record['id']}", headers=staff)
    etag = read.headers["ETag"]
    ok = api.patch(
        f"/api/customers/{record['id']}",
        json={"city": "Ipoh"},
        headers={**staff, "If-Match": etag},
    )
    assert ok.status_code == 200 and ok.headers["ETag"] != etag
    stale = api.patch(
        f"/api/customers/{record['id']}",
        json={"city": "Klang"},
        headers={**staff, "If-Match": etag},
    )
    assert stale.status_code == 412
    gone = api.delete(f"/api/customers/{record['id']}", headers={**staff, "If-Match": etag})
    assert gone.status_code == 412


def test_bodies_must_be_json_objects(api: Api) -> None:
    staff = api.staff_headers()
    not_json = api.post(
        "/api/customers", content=b"name=x", headers={**staff, "Content-Type": "text/plain"}
    )
    assert not_json.status_code == 415
    broken = api.post(
        "/api/customers", content=b"{", headers={**staff, "Content-Type": "application/json"}
    )
    assert broken.status_code == 422
    array = api.post("/api/customers", json=[1], headers=staff)
    assert array.status_code == 422


def test_expand_populates_user_objects(api: Api) -> None:
    owner = make_user(api.db, name="Owner Person")
    record = make_customer(api.db, owner=owner)
    response = api.get(
        f"/api/customers/{record['id']}?expand=userId,assignedTo", headers=api.staff_headers()
    )
    body = response.json()
    assert body["userId"]["name"] == "Owner Person"
    assert "passwordHash" not in body["userId"]
    assert body["assignedTo"] is None
    bad = api.get(f"/api/customers/{record['id']}?expand=secret", headers=api.staff_headers())
    assert bad.status_code == 400 and "expand" in bad.json()["error"]["fields"]


def test_parse_json_returns_objects(api: Api) -> None:
    record = make_customer(api.db, metadata={"tags": ["vip"]})
    response = api.get(f"/api/customers/{record['id']}?parse=json", headers=api.staff_headers())
    assert response.json()["metadata"] == {"tags": ["vip"]}
    raw = api.get(f"/api/customers/{record['id']}", headers=api.staff_headers())
    assert raw.json()["metadata"] == '{"tags":["vip"]}'


@pytest.mark.parametrize("path", ["/api/customers", "/api/customers/{id}"])
def test_an_unknown_parse_value_is_400_naming_it(api: Api, path: str) -> None:
    # It was ignored: metadata came back as text, as without the parameter.
    record = make_customer(api.db)
    url = path.format(id=record["id"]) + "?parse=xml"
    response = api.get(url, headers=api.staff_headers())
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"parse": "must be json"}


def test_status_change_records_the_reason(api: Api) -> None:
    record = make_customer(api.db)
    staff = make_staff(api.db)
    response = api.put(
        f"/api/customers/{record['id']}/status",
        json={"status": "archived", "reason": "Closed shop"},
        headers=api.bearer(staff),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "archived" and body["updatedBy"] == staff["id"]
    assert '"statusChangeReason":"Closed shop"' in body["metadata"]
    unknown = api.put(
        f"/api/customers/{record['id']}/status",
        json={"status": "lead", "why": "x"},
        headers=api.bearer(staff),
    )
    assert unknown.status_code == 422 and "why" in unknown.json()["error"]["fields"]
