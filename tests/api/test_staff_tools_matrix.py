"""SPEC §5's permission matrix for every "Staff tools" endpoint (interactions, notes, timeline,
audit logs, users, GDPR), over HTTP, on both backends.

Callers: anonymous; `owner` (user A, asking about their own record); `other` (user B, who has a
record of their own, asking about A's); `staff` (a super_admin); `key` (an admin API key).
Expected: 401 anonymous, 404 for someone else's record (its existence is not revealed), 403 for
staff-only endpoints and for owner actions the matrix forbids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from clientbook.db.engine import Database
from clientbook.services import interactions, notes
from tests.factories import TEST_PASSWORD, as_principal, make_customer, make_staff, make_user

if TYPE_CHECKING:
    from tests.api.conftest import Api

WHO = ("anonymous", "owner", "other", "staff", "key")
CALL = {"type": "call", "subject": "Hello"}
NOTE = {"content": "Hello"}


@dataclass
class World:
    users: dict[str, dict[str, Any]]
    ids: dict[str, str]

    def headers(self, api: Api, who: str) -> dict[str, str]:
        if who == "anonymous":
            return {}
        if who == "key":
            return api.key_headers()
        return api.bearer(self.users[who])


def make_world(db: Database) -> World:
    owner, other, staff, rep = make_user(db), make_user(db), make_staff(db), make_staff(db)
    record = make_customer(db, owner=owner)
    make_customer(db, owner=other)
    a, s = as_principal(owner), as_principal(staff)
    internal = {"visibility": "internal"}
    with db.transaction() as conn:
        ids = {
            "record": record["id"],
            "owner": owner["id"],
            "other": other["id"],
            "rep": rep["id"],
            "shared_i": interactions.log_interaction(conn, a, record["id"], CALL)["id"],
            "staff_i": interactions.log_interaction(conn, s, record["id"], CALL)["id"],
            "internal_i": interactions.log_interaction(conn, s, record["id"], {**CALL, **internal})[
                "id"
            ],
            "shared_n": notes.add_note(conn, a, record["id"], NOTE)["id"],
            "staff_n": notes.add_note(conn, s, record["id"], NOTE)["id"],
            "internal_n": notes.add_note(conn, s, record["id"], {**NOTE, **internal})["id"],
        }
    with db.read() as conn:
        ids["entry"] = str(conn.exec_driver_sql("SELECT id FROM audit_logs LIMIT 1").scalar())
    return World({"owner": owner, "other": other, "staff": staff}, ids)


def expect(anonymous: int, owner: int, other: int, staff: int, key: int) -> dict[str, int]:
    return dict(zip(WHO, (anonymous, owner, other, staff, key), strict=True))


ITEM_READ = expect(401, 200, 404, 200, 200)
HIDDEN_ITEM = expect(401, 404, 404, 200, 200)
STAFF_ONLY_READ = expect(401, 403, 403, 200, 200)

CASES: list[tuple[str, str, dict[str, Any] | None, dict[str, int]]] = []
for kind, plural, body in (("i", "interactions", CALL), ("n", "notes", NOTE)):
    CASES += [
        ("GET", f"/api/customers/{{record}}/{plural}", None, ITEM_READ),
        ("POST", f"/api/customers/{{record}}/{plural}", body, expect(401, 201, 404, 201, 201)),
        (
            "POST",
            f"/api/customers/{{record}}/{plural}",
            {**body, "visibility": "internal"},
            expect(401, 403, 404, 201, 201),
        ),
        ("GET", f"/api/{plural}/{{shared_{kind}}}", None, ITEM_READ),
        ("GET", f"/api/{plural}/{{internal_{kind}}}", None, HIDDEN_ITEM),
        ("PATCH", f"/api/{plural}/{{shared_{kind}}}", body, ITEM_READ),
        ("PATCH", f"/api/{plural}/{{staff_{kind}}}", body, expect(401, 403, 404, 200, 200)),
        ("PATCH", f"/api/{plural}/{{internal_{kind}}}", body, HIDDEN_ITEM),
        ("DELETE", f"/api/{plural}/{{shared_{kind}}}", None, expect(401, 204, 404, 204, 204)),
        ("DELETE", f"/api/{plural}/{{staff_{kind}}}", None, expect(401, 403, 404, 204, 204)),
        ("DELETE", f"/api/{plural}/{{internal_{kind}}}", None, expect(401, 404, 404, 204, 204)),
    ]
CASES += [
    ("GET", "/api/customers/{record}/timeline", None, ITEM_READ),
    ("GET", "/api/audit-logs", None, STAFF_ONLY_READ),
    ("GET", "/api/audit-logs/{entry}", None, STAFF_ONLY_READ),
    ("GET", "/api/users", None, STAFF_ONLY_READ),
    ("POST", "/api/users", {"email": "new@example.com"}, expect(401, 403, 403, 201, 201)),
    ("GET", "/api/users/{other}", None, STAFF_ONLY_READ),
    ("PATCH", "/api/users/{other}", {"name": "Renamed"}, STAFF_ONLY_READ),
    ("DELETE", "/api/users/{rep}", None, expect(401, 403, 403, 204, 204)),
    ("DELETE", "/api/users/{owner}", None, expect(401, 403, 403, 409, 409)),
    ("GET", "/api/me/export", None, expect(401, 200, 200, 200, 403)),
    ("DELETE", "/api/me", {"password": TEST_PASSWORD}, expect(401, 204, 204, 204, 403)),
    ("DELETE", "/api/me", {"password": "wrong password"}, expect(401, 422, 422, 422, 403)),
]
CODES = {401: "unauthenticated", 403: "forbidden", 404: "not_found", 409: "conflict"}


@pytest.mark.parametrize(
    ("method", "path", "body", "who", "status"),
    [
        pytest.param(method, path, body, who, status, id=f"{method} {path} {who}")
        for method, path, body, expected in CASES
        for who, status in expected.items()
    ],
)
def test_permission_matrix(
    api: Api, method: str, path: str, body: dict[str, Any] | None, who: str, status: int
) -> None:
    world = make_world(api.db)
    response = api.request(
        method, path.format(**world.ids), json=body, headers=world.headers(api, who)
    )
    assert response.status_code == status, response.text
    if status in CODES:
        assert response.json()["error"]["code"] == CODES[status]


DOCUMENTED = {
    "/api/customers/{customer_id}/interactions": {"get": "200", "post": "201"},
    "/api/interactions/{interaction_id}": {"get": "200", "patch": "200", "delete": "204"},
    "/api/customers/{customer_id}/notes": {"get": "200", "post": "201"},
    "/api/notes/{note_id}": {"get": "200", "patch": "200", "delete": "204"},
    "/api/customers/{customer_id}/timeline": {"get": "200"},
    "/api/audit-logs": {"get": "200"},
    "/api/audit-logs/{entry_id}": {"get": "200"},
    "/api/users": {"get": "200", "post": "201"},
    "/api/users/{user_id}": {"get": "200", "patch": "200", "delete": "204"},
    "/api/me/export": {"get": "200"},
    "/api/me": {"delete": "204"},
}


def test_openapi_documents_every_request_and_response(api: Api) -> None:
    paths = api.get("/api/openapi.json").json()["paths"]
    for path, operations in DOCUMENTED.items():
        assert set(paths[path]) == set(operations), path
        for method, success in operations.items():
            operation = paths[path][method]
            assert {success, "401", "403", "404", "422"} <= set(operation["responses"]), path
            if success != "204":
                content = operation["responses"][success]["content"]["application/json"]
                assert content["schema"], (method, path)
            if method in ("post", "patch") or path == "/api/me":
                body = operation["requestBody"]["content"]["application/json"]["schema"]
                assert body, (method, path)
