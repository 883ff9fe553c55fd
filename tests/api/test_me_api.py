"""`/api/me` over HTTP: the GDPR export (a download of everything about the caller and nothing
about anyone else) and the erase (a password checked when sent, one transaction, signs the
caller out)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from clientbook.access import SYSTEM
from clientbook.services import auth, notes
from tests.factories import TEST_PASSWORD, make_customer, make_staff, make_user

if TYPE_CHECKING:
    from tests.api.conftest import Api


def test_export_is_a_download_of_the_callers_data_only(api: Api) -> None:
    user = make_user(api.db, email="ada@example.com")
    record = make_customer(api.db, owner=user, phone="+60 12-345 6789")
    make_customer(api.db, name="Bob Stranger", email="bob@example.com")
    with api.db.transaction() as conn:
        notes.add_note(conn, SYSTEM, record["id"], {"content": "Hello Ada"})
        notes.add_note(conn, SYSTEM, record["id"], {"content": "Owes us", "visibility": "internal"})
    response = api.get("/api/me/export", headers=api.bearer(user))
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    body = response.json()
    assert body["account"]["email"] == "ada@example.com"
    assert body["customer"]["phone"] == "+60 12-345 6789"
    assert [n["content"] for n in body["notes"]] == ["Hello Ada"]
    for absent in ("passwordHash", "$argon2", "Owes us", "Bob Stranger", "bob@example.com"):
        assert absent not in response.text


def test_erase_with_the_browser_session(api: Api) -> None:
    user = make_user(api.db)
    record = make_customer(api.db, owner=user)
    csrf = api.sign_in(user)
    no_csrf = api.request("DELETE", "/api/me", json={"password": TEST_PASSWORD})
    assert no_csrf.status_code == 403 and no_csrf.json()["error"]["code"] == "csrf_failed"
    wrong = api.request(
        "DELETE", "/api/me", json={"password": "not it at all"}, headers={"X-CSRF-Token": csrf}
    )
    assert wrong.status_code == 422
    assert set(wrong.json()["error"]["fields"]) == {"password"}
    erased = api.request(
        "DELETE", "/api/me", json={"password": TEST_PASSWORD}, headers={"X-CSRF-Token": csrf}
    )
    assert erased.status_code == 204, erased.text
    assert erased.headers["set-cookie"].startswith(f'{auth.SESSION_COOKIE}=""')
    assert api.get("/api/auth/me").status_code == 401
    staff = api.staff_headers()
    assert api.get(f"/api/users/{user['id']}", headers=staff).status_code == 404
    assert api.get(f"/api/customers/{record['id']}/timeline", headers=staff).status_code == 404
    audit = api.get(
        "/api/audit-logs", params={"entityType": "user", "entityId": user["id"]}, headers=staff
    ).json()
    assert audit["rows"][0]["action"] == "user.erased"
    assert user["email"] not in str(audit)


def test_a_password_sent_with_the_erase_must_be_right(api: Api) -> None:
    user = make_user(api.db)
    headers = api.bearer(user)
    for body in ({"password": ""}, {"password": "not it at all"}):
        response = api.request("DELETE", "/api/me", json=body, headers=headers)
        assert response.status_code == 422
        assert set(response.json()["error"]["fields"]) == {"password"}
    extra = api.request(
        "DELETE", "/api/me", json={"password": TEST_PASSWORD, "force": True}, headers=headers
    )
    assert extra.status_code == 422
    assert api.get("/api/auth/me", headers=headers).status_code == 200


def test_the_session_alone_is_enough_to_erase(api: Api) -> None:
    # SPEC §6 "erases it": the API asks for no password; the web form keeps asking for one.
    for body in (None, {}):
        user = make_user(api.db)
        record = make_customer(api.db, owner=user)
        headers = api.bearer(user)
        response = api.request("DELETE", "/api/me", json=body, headers=headers)
        assert response.status_code == 204, response.text
        assert api.get("/api/auth/me", headers=headers).status_code == 401
        staff = api.key_headers()
        assert api.get(f"/api/customers/{record['id']}", headers=staff).status_code == 404
    assert api.delete("/api/me").status_code == 401
    assert api.delete("/api/me", headers=api.key_headers()).status_code == 403
    last_admin = make_staff(api.db)
    assert api.delete("/api/me", headers=api.bearer(last_admin)).status_code == 409


def test_the_last_administrator_cannot_erase_themselves(api: Api) -> None:
    staff = make_staff(api.db)
    response = api.request(
        "DELETE", "/api/me", json={"password": TEST_PASSWORD}, headers=api.bearer(staff)
    )
    assert response.status_code == 409
    assert api.get(f"/api/users/{staff['id']}", headers=api.key_headers()).status_code == 200
