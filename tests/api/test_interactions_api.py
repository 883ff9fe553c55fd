"""`/api/customers/{id}/interactions` and `/api/interactions/{id}` over HTTP: status codes,
body shapes, keyset pages, what an owner never sees, and the audit rows written."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from clientbook.access import SYSTEM
from clientbook.db.engine import Database
from clientbook.db.tables import audit_logs
from clientbook.domain.timestamps import format_datetime, utcnow
from clientbook.services import customers as customer_service
from clientbook.services import interactions
from tests.factories import make_customer, make_staff, make_user

if TYPE_CHECKING:
    from tests.api.conftest import Api

PUBLIC_KEYS = {
    "$id", "$createdAt", "$updatedAt", "customerId", "type", "direction", "subject",
    "description", "occurredAt", "durationMinutes", "outcome", "visibility", "createdBy",
}  # fmt: skip


def audit(db: Database, entity_id: str) -> list[dict[str, Any]]:
    with db.read() as conn:
        query = select(audit_logs).where(audit_logs.c.entityId == entity_id)
        return [dict(r._mapping) for r in conn.execute(query.order_by(audit_logs.c.seq))]


def log(db: Database, customer_id: str, **fields: Any) -> dict[str, Any]:
    with db.transaction() as conn:
        data = {"type": "call", "subject": "Call", **fields}
        return interactions.log_interaction(conn, SYSTEM, customer_id, data)


def test_staff_log_an_interaction(api: Api) -> None:
    staff = make_staff(api.db)
    record = make_customer(api.db)
    when = format_datetime(utcnow() - timedelta(hours=2))
    body = {"type": "meeting", "subject": "Site visit", "occurredAt": when, "durationMinutes": 45}
    response = api.post(
        f"/api/customers/{record['id']}/interactions", json=body, headers=api.bearer(staff)
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert set(created) == PUBLIC_KEYS
    assert response.headers["location"] == f"/api/interactions/{created['$id']}"
    assert (created["visibility"], created["createdBy"]) == ("shared", staff["id"])
    with api.db.read() as conn:
        customer = customer_service.get_customer(conn, SYSTEM, record["id"])
    assert format_datetime(customer["lastContactAt"]) == when
    [row] = audit(api.db, created["$id"])
    assert (row["action"], row["actorId"]) == ("interaction.created", staff["id"])
    read = api.get(response.headers["location"], headers=api.bearer(staff))
    assert read.json() == created


def test_a_bad_body_lists_every_failing_field(api: Api) -> None:
    record = make_customer(api.db)
    body = {"type": "fax", "durationMinutes": 2000, "customerId": record["id"]}
    response = api.post(
        f"/api/customers/{record['id']}/interactions", json=body, headers=api.staff_headers()
    )
    assert response.status_code == 422
    fields = response.json()["error"]["fields"]
    assert set(fields) == {"type", "durationMinutes", "customerId", "subject"}


def test_update_and_delete_write_their_audit_rows(api: Api) -> None:
    headers = api.staff_headers()
    record = make_customer(api.db)
    item = log(api.db, record["id"])
    patched = api.patch(f"/api/interactions/{item['id']}", json={"outcome": "Won"}, headers=headers)
    assert patched.status_code == 200 and patched.json()["outcome"] == "Won"
    assert api.delete(f"/api/interactions/{item['id']}", headers=headers).status_code == 204
    assert api.get(f"/api/interactions/{item['id']}", headers=headers).status_code == 404
    actions = [r["action"] for r in audit(api.db, item["id"])]
    assert actions == ["interaction.created", "interaction.updated", "interaction.deleted"]


def test_pages_are_newest_first_with_no_gaps_or_repeats(api: Api) -> None:
    headers = api.staff_headers()
    record = make_customer(api.db)
    base = utcnow() - timedelta(days=5)
    times = [base + timedelta(hours=i % 9) for i in range(30)]
    made = {log(api.db, record["id"], occurredAt=at)["id"] for at in times}
    url = f"/api/customers/{record['id']}/interactions"
    seen: list[dict[str, Any]] = []
    params: dict[str, str] = {"limit": "7"}
    while True:
        body = api.get(url, params=params, headers=headers).json()
        assert set(body) == {"total", "rows", "cursor"} and body["total"] == 30
        seen += body["rows"]
        if body["cursor"] is None:
            break
        params = {"limit": "7", "cursor": body["cursor"]}
    assert {r["$id"] for r in seen} == made and len(seen) == 30
    seen_times = [r["occurredAt"] for r in seen]
    assert seen_times == sorted(seen_times, reverse=True)
    assert api.get(url, params={"total": "false"}, headers=headers).json()["total"] is None


def test_a_bad_query_parameter_is_400_naming_it(api: Api) -> None:
    headers = api.staff_headers()
    record = make_customer(api.db)
    url = f"/api/customers/{record['id']}/interactions"
    for params, name in (
        ({"limit": "1001"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"nope": "x"}, "nope"),
    ):
        response = api.get(url, params=params, headers=headers)
        assert response.status_code == 400, params
        assert set(response.json()["error"]["fields"]) == {name}


def test_the_owner_never_sees_internal_interactions(api: Api) -> None:
    owner = make_user(api.db)
    record = make_customer(api.db, owner=owner)
    shared = log(api.db, record["id"], subject="Welcome call")
    secret = log(api.db, record["id"], subject="Debt collection", visibility="internal")
    headers = api.bearer(owner)
    listing = api.get(f"/api/customers/{record['id']}/interactions", headers=headers)
    assert [r["$id"] for r in listing.json()["rows"]] == [shared["id"]]
    assert listing.json()["total"] == 1
    for url in (
        f"/api/customers/{record['id']}/interactions?visibility=internal",
        f"/api/customers/{record['id']}/timeline",
        f"/api/interactions/{secret['id']}",
        "/api/me/export",
    ):
        response = api.get(url, headers=headers)
        assert "Debt collection" not in response.text and secret["id"] not in response.text


def test_an_owner_logs_shared_interactions_on_their_own_record(api: Api) -> None:
    owner = make_user(api.db)
    record = make_customer(api.db, owner=owner)
    csrf = api.sign_in(owner)
    response = api.post(
        f"/api/customers/{record['id']}/interactions",
        json={"type": "chat", "subject": "Asked about prices"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 201, response.text
    assert response.json()["createdBy"] == owner["id"]
    # Without the CSRF token a cookie-authenticated write is refused.
    again = api.post(
        f"/api/customers/{record['id']}/interactions", json={"type": "chat", "subject": "x"}
    )
    assert again.status_code == 403 and again.json()["error"]["code"] == "csrf_failed"
