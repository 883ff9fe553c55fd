"""`/api/customers/bulk`, `/stats` and `/duplicates` through HTTP: who may call them, the
status codes and bodies, the audit rows a bulk writes, and their OpenAPI documentation."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from clientbook.db.tables import audit_logs
from tests.api.conftest import Api
from tests.factories import make_customer, make_staff, make_user

ACTORS = ("anonymous", "owner", "staff", "api_key")


@pytest.fixture
def headers(api: Api) -> dict[str, dict[str, str]]:
    owner = make_user(api.db)
    make_customer(api.db, owner=owner)
    return {
        "anonymous": {},
        "owner": api.bearer(owner),
        "staff": api.staff_headers(),
        "api_key": api.key_headers(),
    }


def audit_count(api: Api, action: str) -> int:
    with api.db.read() as conn:
        query = select(func.count()).where(audit_logs.c.action == action)
        return int(conn.execute(query).scalar_one())


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/customers/stats", None),
        ("GET", "/api/customers/duplicates", None),
        ("POST", "/api/customers/bulk", {"action": "tag", "filter": "status=lead", "tags": ["x"]}),
    ],
)
@pytest.mark.parametrize(
    ("actor", "expected"), list(zip(ACTORS, (401, 403, 200, 200), strict=True))
)
def test_only_staff_and_api_keys_use_the_tools(
    api: Api,
    headers: dict[str, dict[str, str]],
    method: str,
    path: str,
    body: Any,
    actor: str,
    expected: int,
) -> None:
    response = api.request(method, path, json=body, headers=headers[actor])
    assert response.status_code == expected, response.text
    if expected != 200:
        assert set(response.json()["error"]) >= {"code", "message"}


def test_bulk_status_change_answers_counts_and_audits_each_change(api: Api) -> None:
    leads = [make_customer(api.db, status="lead") for _ in range(3)]
    make_customer(api.db, status="active")
    body = {"action": "status", "filter": "status=lead", "status": "prospect", "reason": "Met"}
    staff = api.staff_headers()
    dry = api.post("/api/customers/bulk", json={**body, "dryRun": True}, headers=staff)
    assert dry.json() == {"action": "status", "matched": 3, "changed": 3, "dryRun": True}
    assert audit_count(api, "customer.status_changed") == 0

    response = api.post("/api/customers/bulk", json=body, headers=staff)
    assert response.status_code == 200
    assert response.json() == {"action": "status", "matched": 3, "changed": 3, "dryRun": False}
    assert audit_count(api, "customer.status_changed") == 3
    record = api.get(f"/api/customers/{leads[0]['id']}", headers=api.staff_headers()).json()
    assert record["status"] == "prospect"


def test_unknown_ids_are_a_404_naming_them(api: Api) -> None:
    record = make_customer(api.db)
    body = {"action": "delete", "ids": [record["id"], "ghost"]}
    response = api.post("/api/customers/bulk", json=body, headers=api.staff_headers())
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert "ghost" in error["fields"]["ids"]
    assert api.get(f"/api/customers/{record['id']}", headers=api.staff_headers()).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "assign", "ids": ["a"], "assignedTo": None}, "assignedTo"),
        ({"action": "delete", "filter": "status[zz]=lead"}, "filter.status[zz]"),
        ({"action": "delete", "ids": ["a"], "extra": 1}, "extra"),
    ],
)
def test_bad_bulk_bodies_are_422_naming_the_field(
    api: Api, body: dict[str, Any], field: str
) -> None:
    response = api.post("/api/customers/bulk", json=body, headers=api.staff_headers())
    assert response.status_code == 422
    assert field in response.json()["error"]["fields"]


def test_assigning_to_a_non_staff_user_is_422_and_changes_nothing(api: Api) -> None:
    records = [make_customer(api.db) for _ in range(2)]
    body = {
        "action": "assign",
        "ids": [r["id"] for r in records],
        "assignedTo": records[0]["userId"],
    }
    response = api.post("/api/customers/bulk", json=body, headers=api.staff_headers())
    assert response.status_code == 422
    assert set(response.json()["error"]["fields"]) == {"assignedTo"}
    assert audit_count(api, "customer.assigned") == 0


def test_stats_route_is_not_taken_for_a_record_id(api: Api) -> None:
    rep = make_staff(api.db, name="Rep")
    make_customer(api.db, status="lead", assignedTo=rep["id"], totalRevenue=100.0)
    response = api.get("/api/customers/stats?tz=Asia/Kuala_Lumpur", headers=api.staff_headers())
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 1
    assert body["timezone"] == "Asia/Kuala_Lumpur"
    assert {"value": rep["id"], "count": 1, "name": "Rep"} in body["byAssignedTo"]
    assert len(body["newPerMonth"]) == 12


@pytest.mark.parametrize(
    ("query", "param"),
    [("/stats?tz=Nowhere/Else", "tz"), ("/stats?colour=red", "colour"),
     ("/duplicates?limit=0", "limit"), ("/duplicates?cursor=%21", "cursor"),
     ("/duplicates?reason=nose", "reason")],
)  # fmt: skip
def test_bad_query_parameters_are_400_naming_them(api: Api, query: str, param: str) -> None:
    response = api.get(f"/api/customers{query}", headers=api.staff_headers())
    assert response.status_code == 400
    assert param in response.json()["error"]["fields"]


def test_duplicates_take_a_limit_up_to_1000_as_every_list(api: Api) -> None:
    # SPEC §12 Lists: "limit default 25, maximum 1000".
    make_customer(api.db, phone="012-345 6789")
    make_customer(api.db, phone="+60 12-345 6789")
    staff = api.staff_headers()
    page = api.get("/api/customers/duplicates?limit=1000", headers=staff)
    assert page.status_code == 200, page.text
    assert [g["count"] for g in page.json()["groups"]] == [2]
    too_many = api.get("/api/customers/duplicates?limit=1001", headers=staff)
    assert too_many.status_code == 400
    assert too_many.json()["error"]["fields"] == {"limit": "must be an integer from 1 to 1000"}


def test_duplicates_are_paginated_by_group(api: Api) -> None:
    for phone in ("+60 12-345 6789", "012-345 6789", "+60 3-1234 5678", "03-1234 5678"):
        make_customer(api.db, phone=phone)
    staff = api.staff_headers()
    first = api.get("/api/customers/duplicates?limit=1", headers=staff).json()
    assert [(g["reason"], g["count"]) for g in first["groups"]] == [("phone", 2)]
    second = api.get(
        "/api/customers/duplicates", params={"limit": 1, "cursor": first["cursor"]}, headers=staff
    ).json()
    assert second["groups"][0]["key"] != first["groups"][0]["key"]
    assert second["groups"][0]["customers"][0]["$id"]


def test_openapi_documents_bodies_and_responses(api: Api) -> None:
    paths = api.get("/api/openapi.json").json()["paths"]
    bulk = paths["/api/customers/bulk"]["post"]
    body = bulk["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["action"]["enum"] == [
        "status", "assign", "unassign", "tag", "untag", "delete", "export",
    ]  # fmt: skip
    result = bulk["responses"]["200"]["content"]["application/json"]["schema"]
    assert result["required"] == ["action", "matched", "changed", "dryRun"]
    stats = paths["/api/customers/stats"]["get"]
    assert (
        "followUps"
        in stats["responses"]["200"]["content"]["application/json"]["schema"]["properties"]
    )
    duplicates = paths["/api/customers/duplicates"]["get"]
    assert {p["name"] for p in duplicates["parameters"]} == {"reason", "limit", "cursor"}
