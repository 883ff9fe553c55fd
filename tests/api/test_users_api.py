"""`/api/users` over HTTP: staff invite, create, list, block, unblock and delete accounts;
password hashes never leave the server; deleting a record owner is a clean 409."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from clientbook.db.engine import Database
from clientbook.db.tables import audit_logs
from tests.factories import TEST_PASSWORD, make_customer, make_staff, make_user

if TYPE_CHECKING:
    from tests.api.conftest import Api

USER_KEYS = {"$id", "$createdAt", "$updatedAt", "email", "name", "role", "status", "lastLoginAt"}


def actions(db: Database, entity_id: str) -> list[str]:
    with db.read() as conn:
        query = select(audit_logs.c.action).where(audit_logs.c.entityId == entity_id)
        return list(conn.execute(query.order_by(audit_logs.c.seq)).scalars())


def assert_no_hash(text: str) -> None:
    assert "passwordHash" not in text and "$argon2" not in text


def test_invite_and_create_accounts(api: Api) -> None:
    headers = api.staff_headers()
    invited = api.post(
        "/api/users", json={"email": "inv@example.com", "name": "Inv"}, headers=headers
    )
    assert invited.status_code == 201, invited.text
    assert set(invited.json()) == USER_KEYS and invited.json()["status"] == "invited"
    assert invited.headers["location"] == f"/api/users/{invited.json()['$id']}"
    body = {"email": "rep@example.com", "role": "super_admin", "password": TEST_PASSWORD}
    active = api.post("/api/users", json=body, headers=headers)
    assert active.json()["status"] == "active"
    assert_no_hash(active.text)
    login = api.post(
        "/api/auth/login", json={"email": "rep@example.com", "password": TEST_PASSWORD}
    )
    assert login.status_code == 200
    assert actions(api.db, active.json()["$id"])[0] == "user.created"
    bad = api.post("/api/users", json={"status": "active", "password": "x"}, headers=headers)
    assert bad.status_code == 422
    assert set(bad.json()["error"]["fields"]) == {"status", "password", "email"}


def test_no_response_carries_a_password_hash(api: Api) -> None:
    headers = api.staff_headers()
    user = make_user(api.db)
    for response in (
        api.get("/api/users", headers=headers),
        api.get(f"/api/users/{user['id']}", headers=headers),
        api.patch(f"/api/users/{user['id']}", json={"name": "N"}, headers=headers),
        api.get("/api/users?limit=1000&sort=-$createdAt", headers=headers),
    ):
        assert response.status_code == 200, response.text
        assert_no_hash(response.text)


def test_list_filters_and_pages(api: Api) -> None:
    headers = api.staff_headers()
    made = [make_user(api.db) for _ in range(5)]
    make_user(api.db, status="blocked")
    page = api.get(
        "/api/users", params={"role": "user", "status": "active", "limit": "2"}, headers=headers
    )
    body = page.json()
    assert body["total"] == 5 and len(body["rows"]) == 2
    rest = api.get(
        "/api/users",
        params={"role": "user", "status": "active", "limit": "10", "cursor": body["cursor"]},
        headers=headers,
    ).json()
    assert [u["$id"] for u in body["rows"] + rest["rows"]] == [u["id"] for u in made]
    by_email = api.get("/api/users", params={"email": made[1]["email"].upper()}, headers=headers)
    assert [u["$id"] for u in by_email.json()["rows"]] == [made[1]["id"]]
    bad = api.get("/api/users", params={"lastLoginAt[gt]": "now"}, headers=headers)
    assert bad.status_code == 400 and "lastLoginAt[gt]" in bad.json()["error"]["fields"]


def test_blocking_signs_the_user_out_at_once_and_unblocking_lets_them_back(api: Api) -> None:
    headers = api.staff_headers()
    user = make_user(api.db)
    theirs = api.bearer(user)
    assert api.get("/api/auth/me", headers=theirs).status_code == 200
    blocked = api.patch(f"/api/users/{user['id']}", json={"status": "blocked"}, headers=headers)
    assert blocked.status_code == 200 and blocked.json()["status"] == "blocked"
    assert api.get("/api/auth/me", headers=theirs).status_code == 401
    login = {"email": user["email"], "password": TEST_PASSWORD}
    assert api.post("/api/auth/login", json=login).status_code == 403
    api.patch(f"/api/users/{user['id']}", json={"status": "active"}, headers=headers)
    assert api.post("/api/auth/login", json=login).status_code == 200
    written = actions(api.db, user["id"])
    assert written[-4:] == ["user.blocked", "user.login_failed", "user.unblocked", "user.login"]


def test_staff_cannot_block_or_demote_themselves(api: Api) -> None:
    make_staff(api.db)
    me = make_staff(api.db)
    for body, field in (({"status": "blocked"}, "status"), ({"role": "user"}, "role")):
        response = api.patch(f"/api/users/{me['id']}", json=body, headers=api.bearer(me))
        assert response.status_code == 403
        assert set(response.json()["error"]["fields"]) == {field}
    response = api.delete(f"/api/users/{me['id']}", headers=api.bearer(me))
    assert response.status_code == 403


def test_deleting_a_user_who_owns_a_record_is_409_and_changes_nothing(api: Api) -> None:
    headers = api.staff_headers()
    owner = make_user(api.db)
    record = make_customer(api.db, owner=owner)
    response = api.delete(f"/api/users/{owner['id']}", headers=headers)
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "conflict",
        "message": "This user still owns a customer record; delete the record first",
        "fields": {"customerId": record["id"]},
    }
    assert api.get(f"/api/users/{owner['id']}", headers=headers).status_code == 200
    assert "user.deleted" not in actions(api.db, owner["id"])


def test_deleting_a_rep_unassigns_their_customers(api: Api) -> None:
    staff = make_staff(api.db)
    rep = make_staff(api.db)
    record = make_customer(api.db, assignedTo=rep["id"])
    rep_session = api.bearer(rep)
    assert api.delete(f"/api/users/{rep['id']}", headers=api.bearer(staff)).status_code == 204
    assert api.get(f"/api/users/{rep['id']}", headers=api.bearer(staff)).status_code == 404
    assert api.get("/api/auth/me", headers=rep_session).status_code == 401
    assert actions(api.db, record["id"])[-1] == "customer.assigned"
    assert actions(api.db, rep["id"])[-1] == "user.deleted"
    timeline = api.get(f"/api/customers/{record['id']}/timeline", headers=api.bearer(staff))
    event = timeline.json()["rows"][0]["event"]
    assert event["changes"] == {"assignedTo": {"from": rep["id"], "to": None}}


def test_unknown_user_is_404(api: Api) -> None:
    headers = api.staff_headers()
    assert api.get("/api/users/nobody", headers=headers).status_code == 404
    assert api.patch("/api/users/nobody", json={"name": "x"}, headers=headers).status_code == 404
    assert api.delete("/api/users/nobody", headers=headers).status_code == 404


def test_a_system_field_sent_by_staff_is_403_naming_it(api: Api) -> None:
    # SPEC §12, as for customers, notes and interactions: never "unknown field".
    headers = api.staff_headers()
    target = make_user(api.db)
    system = {
        "$createdAt": "2024-01-01T00:00:00Z",
        "$updatedAt": "2024-01-01T00:00:00Z",
        "createdBy": target["id"],
        "updatedBy": target["id"],
        "lastLoginAt": "2024-01-01T00:00:00Z",
    }
    for name, value in system.items():
        body = {"email": f"{name.strip('$').lower()}@example.com", name: value}
        created = api.post("/api/users", json=body, headers=headers)
        changed = api.patch(f"/api/users/{target['id']}", json={name: value}, headers=headers)
        for response in (created, changed):
            assert response.status_code == 403, response.text
            assert response.json()["error"]["fields"] == {name: "set by the system only"}
    together = api.patch(
        f"/api/users/{target['id']}", json={**system, "name": "New"}, headers=headers
    )
    assert set(together.json()["error"]["fields"]) == set(system)
    assert api.get(f"/api/users/{target['id']}", headers=headers).json()["name"] == target["name"]


def test_an_accounts_id_sent_on_update_is_403_as_for_customers(api: Api) -> None:
    # It was a 422 "unknown field"; a customer's `$id` on update is this 403 (SPEC §12).
    headers = api.staff_headers()
    target = make_user(api.db)
    url = f"/api/users/{target['id']}"
    alone = api.patch(url, json={"$id": "x"}, headers=headers)
    assert alone.status_code == 403, alone.text
    assert alone.json()["error"]["fields"] == {"$id": "cannot be changed after creation"}
    record = make_customer(api.db)
    customer = api.patch(f"/api/customers/{record['id']}", json={"$id": "x"}, headers=headers)
    assert customer.status_code == 403
    assert customer.json()["error"]["fields"] == alone.json()["error"]["fields"]
    both = api.patch(url, json={"$createdAt": "2020", "$id": "x", "name": "N"}, headers=headers)
    assert both.status_code == 403, both.text
    assert both.json()["error"]["fields"] == {
        "$createdAt": "set by the system only",
        "$id": "cannot be changed after creation",
    }
    assert api.get(url, headers=headers).json()["name"] == target["name"]
    assert actions(api.db, target["id"]) == ["user.created"]
