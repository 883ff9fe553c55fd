"""`POST /api/users/{id}/invitation` (staff) and `POST /api/auth/accept` (the invitee)."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.factories import TEST_PASSWORD, make_user


def _invite(api: Api, email: str = "invitee@example.com") -> tuple[str, dict]:
    headers = api.staff_headers()
    created = api.post("/api/users", json={"email": email, "name": "Invitee"}, headers=headers)
    assert created.status_code == 201
    user_id = created.json()["$id"]
    link = api.post(f"/api/users/{user_id}/invitation", headers=headers)
    assert link.status_code == 201
    return user_id, link.json()


def test_invite_then_accept_signs_in(api: Api) -> None:
    user_id, link = _invite(api)
    assert link["url"] == f"/accept?token={link['token']}"
    accepted = api.post(
        "/api/auth/accept", json={"token": link["token"], "password": TEST_PASSWORD}
    )
    assert accepted.status_code == 200
    assert accepted.json()["user"]["$id"] == user_id
    assert accepted.json()["user"]["status"] == "active"
    me = api.get("/api/auth/me", headers={"Authorization": f"Bearer {accepted.json()['token']}"})
    assert me.status_code == 200
    again = api.post("/api/auth/accept", json={"token": link["token"], "password": TEST_PASSWORD})
    assert again.status_code == 404


def test_accept_reports_a_weak_password_on_its_field(api: Api) -> None:
    _user_id, link = _invite(api)
    response = api.post("/api/auth/accept", json={"token": link["token"], "password": "short"})
    assert response.status_code == 422
    assert "password" in response.json()["error"]["fields"]


def test_only_staff_invite_and_only_invited_accounts(api: Api) -> None:
    user = make_user(api.db)
    response = api.post(f"/api/users/{user['id']}/invitation", headers=api.user_headers())
    assert response.status_code == 403
    response = api.post(f"/api/users/{user['id']}/invitation", headers=api.staff_headers())
    assert response.status_code == 409
    response = api.post("/api/users/nobody/invitation", headers=api.staff_headers())
    assert response.status_code == 404
