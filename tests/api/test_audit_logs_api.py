"""`/api/audit-logs` over HTTP: staff read and filter it; nothing can change or delete it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from clientbook.services import customers as customer_service
from tests.factories import as_principal, make_customer, make_staff

if TYPE_CHECKING:
    from tests.api.conftest import Api

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def audit_paths(api: Api) -> dict[str, set[str]]:
    """Every `/api/audit-logs*` path the app serves, with its methods (from its OpenAPI)."""
    paths = api.get("/api/openapi.json").json()["paths"]
    return {p: set(ops) for p, ops in paths.items() if p.startswith("/api/audit-logs")}


def test_every_audit_log_route_is_read_only(api: Api) -> None:
    paths = audit_paths(api)
    assert set(paths) == {"/api/audit-logs", "/api/audit-logs/{entry_id}"}
    assert all(methods == {"get"} for methods in paths.values())


@pytest.mark.parametrize("method", WRITE_METHODS)
@pytest.mark.parametrize("path", ["/api/audit-logs", "/api/audit-logs/{id}"])
def test_writing_to_the_audit_log_is_405(api: Api, method: str, path: str) -> None:
    staff = make_staff(api.db)
    entry = api.get("/api/audit-logs", headers=api.bearer(staff)).json()["rows"][0]
    url = path.format(id=entry["$id"])
    response = api.request(method, url, json={"action": "forged"}, headers=api.key_headers())
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    after = api.get(f"/api/audit-logs/{entry['$id']}", headers=api.bearer(staff)).json()
    assert after == entry


def test_staff_filter_the_audit_log(api: Api) -> None:
    staff = make_staff(api.db)
    headers = api.bearer(staff)
    record = make_customer(api.db)
    with api.db.transaction() as conn:
        customer_service.change_status(conn, as_principal(staff), record["id"], "lead", reason="R")
    response = api.get(
        "/api/audit-logs",
        params={
            "entityType": "customer",
            "entityId": record["id"],
            "action": "customer.status_changed",
        },
        headers=headers,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 1
    [entry] = body["rows"]
    assert entry["changes"] == {
        "status": {"from": "active", "to": "lead"},
        "metadata": entry["changes"]["metadata"],
    }
    assert (entry["actorType"], entry["actorId"], entry["reason"]) == ("user", staff["id"], "R")
    since = api.get(
        "/api/audit-logs", params={"occurredAt[gte]": entry["occurredAt"]}, headers=headers
    ).json()
    assert entry["$id"] in [row["$id"] for row in since["rows"]]
    before = api.get(
        "/api/audit-logs", params={"occurredAt[lt]": entry["occurredAt"]}, headers=headers
    ).json()
    assert entry["$id"] not in [row["$id"] for row in before["rows"]]


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"entityId": "abc"}, "entityId"),
        ({"occurredAt[gte]": "yesterday"}, "occurredAt[gte]"),
        ({"ip": "1.2.3.4"}, "ip"),
        ({"limit": "0"}, "limit"),
    ],
)
def test_a_bad_filter_is_400_naming_it(api: Api, params: dict[str, str], name: str) -> None:
    response = api.get("/api/audit-logs", params=params, headers=api.staff_headers())
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {name}
