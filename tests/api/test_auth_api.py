"""`/api/auth` and principal resolution over HTTP, on both backends.

Each test reads as a scenario: what the client sends, the status, the body's shape, what must
not appear, and the audit rows written.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy import select, update

from clientbook.access import SYSTEM
from clientbook.db.engine import Database
from clientbook.db.tables import audit_logs, sessions, users
from clientbook.domain.timestamps import utcnow
from clientbook.services import auth
from clientbook.services.auth import throttle
from tests.factories import TEST_PASSWORD, make_customer, make_staff, make_user

if TYPE_CHECKING:
    from tests.api.conftest import Api

NEW_PASSWORD = "a different good password"


def error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


def audit(db: Database, action: str) -> list[dict[str, Any]]:
    with db.read() as conn:
        query = select(audit_logs).where(audit_logs.c.action == action).order_by(audit_logs.c.seq)
        return [dict(r._mapping) for r in conn.execute(query)]


def login(api: Api, email: str, password: str = TEST_PASSWORD, **kwargs: Any) -> httpx.Response:
    return api.post("/api/auth/login", json={"email": email, "password": password}, **kwargs)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- sign up, me, sign out -------------------------------------------------------------------


def test_signup_me_logout_me(api: Api) -> None:
    signup = api.post(
        "/api/auth/signup",
        json={"email": "mei@example.com", "password": TEST_PASSWORD, "name": "Tan Mei"},
    )
    assert signup.status_code == 201, signup.text
    body = signup.json()
    assert set(body) == {"user", "token", "expiresAt"}
    assert body["user"]["role"] == "user" and body["user"]["email"] == "mei@example.com"
    assert "passwordHash" not in body["user"]
    assert signup.headers["location"] == "/api/auth/me"
    cookie = signup.headers["set-cookie"]
    assert cookie.startswith(f"{auth.SESSION_COOKIE}={body['token']};")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie

    me = api.get("/api/auth/me")
    assert me.status_code == 200
    assert me.json()["user"]["$id"] == body["user"]["$id"]
    assert me.json()["customerId"] is None
    csrf = me.json()["csrfToken"]

    assert api.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    after = api.get("/api/auth/me")
    assert after.status_code == 401 and error_code(after) == "unauthenticated"
    # The token itself is dead too, not only the cookie.
    assert api.get("/api/auth/me", headers=bearer(body["token"])).status_code == 401
    assert [r["entityId"] for r in audit(api.db, "user.signup")] == [body["user"]["$id"]]


def test_me_names_the_users_customer_record(api: Api) -> None:
    user = make_user(api.db)
    customer = make_customer(api.db, owner=user)
    me = api.get("/api/auth/me", headers=api.bearer(user))
    assert me.json()["customerId"] == customer["id"]


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({}, {"email", "password"}),
        ({"email": "nope", "password": "short", "name": "x" * 200}, {"email", "password", "name"}),
        ({"email": "a@example.com", "password": TEST_PASSWORD, "role": "super_admin"}, {"role"}),
        # An unknown field was named alone, hiding the others.
        ({"email": "bad", "password": "x", "foo": 1}, {"email", "password", "foo"}),
    ],
)
def test_signup_validation_lists_every_failing_field(
    api: Api, payload: dict[str, Any], fields: set[str]
) -> None:
    response = api.post("/api/auth/signup", json=payload)
    assert response.status_code == 422
    assert error_code(response) == "validation_failed"
    assert set(response.json()["error"]["fields"]) == fields


def test_signup_with_a_used_email_is_409_naming_email(api: Api) -> None:
    make_user(api.db, email="dup@example.com")
    response = api.post(
        "/api/auth/signup", json={"email": "DUP@example.com", "password": TEST_PASSWORD}
    )
    assert response.status_code == 409
    assert set(response.json()["error"]["fields"]) == {"email"}


@pytest.mark.parametrize("email", ["Ösolo@example.com", "solo@EXÄMPLE.com", "Ωmega@example.com"])
def test_an_address_with_a_non_ascii_capital_signs_in_as_it_was_given(api: Api, email: str) -> None:
    # Such an account could never sign in: Python folded the letter and SQLite's lower() not.
    assert api.post("/api/auth/signup", json={"email": email, "password": TEST_PASSWORD}).is_success
    response = login(api, email)
    assert response.status_code == 200
    assert response.json()["user"]["email"] == email
    again = api.post("/api/auth/signup", json={"email": email, "password": TEST_PASSWORD})
    assert again.status_code == 409


def test_secure_cookie_over_https(api: Api) -> None:
    make_user(api.db, email="tls@example.com")
    api.base_url = httpx.URL("https://testserver")
    response = login(api, "tls@example.com")
    assert response.status_code == 200
    assert "Secure" in response.headers["set-cookie"]


# --- sign in ---------------------------------------------------------------------------------


def test_login_returns_a_bearer_token_and_records_the_request(api: Api) -> None:
    user = make_user(api.db, email="ravi@example.com")
    response = login(
        api, "Ravi@Example.com", headers={"X-Request-ID": "trace-42", "User-Agent": "tests/1"}
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"user", "token", "expiresAt"} and body["user"]["$id"] == user["id"]
    me = api.get("/api/auth/me", headers=bearer(body["token"]))
    assert me.status_code == 200 and me.json()["user"]["email"] == "ravi@example.com"
    (row,) = audit(api.db, "user.login")
    assert row["actorId"] == user["id"]
    assert (row["requestId"], row["userAgent"]) == ("trace-42", "tests/1")


def test_unknown_email_and_wrong_password_get_the_same_answer(api: Api) -> None:
    make_user(api.db, email="real@example.com")
    wrong = login(api, "real@example.com", "not the password")
    unknown = login(api, "ghost@example.com", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.content == unknown.content
    assert "set-cookie" not in wrong.headers
    assert [r["reason"] for r in audit(api.db, "user.login_failed")] == [
        "wrong password",
        "unknown account",
    ]


def test_blocked_user_gets_403_only_with_the_right_password(api: Api) -> None:
    user = make_user(api.db, email="blocked@example.com")
    with api.db.transaction() as conn:
        conn.execute(update(users).where(users.c.id == user["id"]).values(status="blocked"))
    assert login(api, "blocked@example.com", "not the password").status_code == 401
    blocked = login(api, "blocked@example.com")
    assert blocked.status_code == 403 and "blocked" in blocked.json()["error"]["message"]


def test_locked_account_gets_429_with_retry_after(api: Api) -> None:
    make_user(api.db, email="locked@example.com")
    with api.db.transaction() as conn:
        counter = throttle.account_counter("locked@example.com")
        for _ in range(throttle.ACCOUNT_LIMIT):
            throttle.record_failure(conn, [counter], utcnow())
    response = login(api, "locked@example.com")  # even the right password waits
    assert response.status_code == 429
    assert error_code(response) == "throttled"
    assert 0 < int(response.headers["retry-after"]) <= throttle.LOCKOUT.total_seconds()


def test_login_body_must_be_complete(api: Api) -> None:
    response = api.post("/api/auth/login", json={"email": "x@example.com"})
    assert response.status_code == 422
    assert set(response.json()["error"]["fields"]) == {"password"}


# --- credentials and CSRF --------------------------------------------------------------------


def test_cookie_writes_need_the_csrf_header(api: Api) -> None:
    csrf = api.sign_in(make_user(api.db))
    refused = api.post("/api/auth/logout")
    assert refused.status_code == 403 and error_code(refused) == "csrf_failed"
    wrong = api.post("/api/auth/logout", headers={"X-CSRF-Token": "0" * 64})
    assert wrong.status_code == 403 and error_code(wrong) == "csrf_failed"
    assert api.get("/api/auth/me").json()["csrfToken"] == csrf  # reads need no token
    assert api.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204


def test_bearer_and_api_key_writes_are_exempt_from_csrf(api: Api) -> None:
    user = make_user(api.db)
    assert api.post("/api/auth/logout", headers=api.bearer(user)).status_code == 204
    key = api.create_api_key()
    assert api.post("/api/auth/logout", headers=api.key_headers(key)).status_code == 204


def test_bad_credentials_are_401_like_none(api: Api) -> None:
    user = make_user(api.db)
    anonymous = api.get("/api/auth/me")
    expired = api.session_token(user)
    with api.db.transaction() as conn:
        past = utcnow() - timedelta(seconds=1)
        query = update(sessions).where(sessions.c.tokenHash == auth.hash_token(expired))
        conn.execute(query.values(expiresAt=past))
    for headers in (
        bearer("unknown-token"),
        bearer(expired),
        {"X-API-Key": "cbk_unknown"},
        bearer("cbk_unknown"),
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ):
        response = api.get("/api/auth/me", headers=headers)
        assert response.status_code == 401
        assert response.content == anonymous.content
        assert response.headers["www-authenticate"] == "Bearer"


def test_api_key_works_until_revoked(api: Api) -> None:
    with api.db.transaction() as conn:
        issued = auth.create_api_key(conn, SYSTEM, name="Zapier")
    for headers in ({"X-API-Key": issued.secret}, bearer(issued.secret)):
        me = api.get("/api/auth/me", headers=headers)
        assert me.status_code == 200
        assert me.json()["user"] is None and me.json()["csrfToken"] is None
        assert me.json()["apiKey"]["$id"] == issued.key["id"]
        assert "keyHash" not in me.json()["apiKey"]
    with api.db.transaction() as conn:
        auth.revoke_api_key(conn, SYSTEM, issued.key["id"])
    assert api.get("/api/auth/me", headers={"X-API-Key": issued.secret}).status_code == 401
    assert api.get("/api/auth/me", headers=bearer(issued.secret)).status_code == 401


def test_staff_session_resolves_with_its_role(api: Api) -> None:
    staff = make_staff(api.db)
    me = api.get("/api/auth/me", headers=api.bearer(staff))
    assert me.json()["user"]["role"] == "super_admin"


# --- password change -------------------------------------------------------------------------


def test_password_change_ends_every_session_and_returns_a_fresh_one(api: Api) -> None:
    user = make_user(api.db)
    old_tokens = [api.session_token(user) for _ in range(2)]
    response = api.post(
        "/api/auth/password",
        json={"currentPassword": TEST_PASSWORD, "newPassword": NEW_PASSWORD},
        headers=bearer(old_tokens[0]),
    )
    assert response.status_code == 200, response.text
    fresh = response.json()["token"]
    for token in old_tokens:
        assert api.get("/api/auth/me", headers=bearer(token)).status_code == 401
    assert api.get("/api/auth/me", headers=bearer(fresh)).status_code == 200
    assert login(api, user["email"], NEW_PASSWORD).status_code == 200
    assert len(audit(api.db, "user.password_changed")) == 1


def test_password_change_with_a_wrong_current_password_is_422(api: Api) -> None:
    user = make_user(api.db)
    response = api.post(
        "/api/auth/password",
        json={"currentPassword": "nope nope", "newPassword": NEW_PASSWORD},
        headers=api.bearer(user),
    )
    assert response.status_code == 422
    assert set(response.json()["error"]["fields"]) == {"currentPassword"}


def test_password_change_by_cookie_needs_csrf_and_renews_the_cookie(api: Api) -> None:
    csrf = api.sign_in(make_user(api.db))
    payload = {"currentPassword": TEST_PASSWORD, "newPassword": NEW_PASSWORD}
    assert api.post("/api/auth/password", json=payload).status_code == 403
    response = api.post("/api/auth/password", json=payload, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 200
    assert api.cookies.get(auth.SESSION_COOKIE) == response.json()["token"]
    assert api.get("/api/auth/me").status_code == 200


def test_anonymous_cannot_sign_out_or_change_password(api: Api) -> None:
    assert api.post("/api/auth/logout").status_code == 401
    payload = {"currentPassword": TEST_PASSWORD, "newPassword": NEW_PASSWORD}
    assert api.post("/api/auth/password", json=payload).status_code == 401


def test_use_of_a_session_is_recorded_at_most_every_few_minutes(api: Api) -> None:
    user = make_user(api.db)
    token = api.session_token(user)
    long_ago = utcnow() - timedelta(hours=1)
    query = update(sessions).where(sessions.c.userId == user["id"])
    with api.db.transaction() as conn:
        conn.execute(query.values(lastUsedAt=long_ago))

    def last_used() -> Any:
        with api.db.read() as conn:
            return conn.execute(select(sessions.c.lastUsedAt)).scalar_one()

    assert api.get("/api/auth/me", headers=bearer(token)).status_code == 200
    first = last_used()
    assert first > long_ago
    assert api.get("/api/auth/me", headers=bearer(token)).status_code == 200
    assert last_used() == first


def test_openapi_documents_the_auth_routes(api: Api) -> None:
    paths = api.get("/api/openapi.json").json()["paths"]
    for path in ("signup", "login", "logout", "me", "password"):
        assert f"/api/auth/{path}" in paths
