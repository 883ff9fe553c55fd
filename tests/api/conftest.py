"""The HTTP face under test: `api` is the app over the test database, driven in-process.

    def test_staff_lists_customers(api: Api) -> None:
        staff = make_staff(api.db)
        response = api.get("/api/customers", headers=api.bearer(staff))

Signing in through the helpers opens a session with the service (no password hashing), so
tests stay quick; tests of the sign-in itself go through `POST /api/auth/login`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from clientbook.access import SYSTEM
from clientbook.app import create_app
from clientbook.db.engine import Database
from clientbook.services import auth
from tests.factories import make_staff, make_user


class Api(TestClient):
    """A TestClient over `create_app(db=...)`, with ways to act as a user, staff or a key."""

    def __init__(self, db: Database, **kwargs: Any) -> None:
        super().__init__(create_app(db=db), **kwargs)
        self.db = db

    def session_token(self, user: dict[str, Any]) -> str:
        """A fresh session token for `user` (as if they had signed in)."""
        with self.db.transaction() as conn:
            return auth.create_session(conn, user["id"], origin=auth.ANONYMOUS).token

    def bearer(self, user: dict[str, Any]) -> dict[str, str]:
        """Headers that authenticate as `user` with a bearer session token (no CSRF needed)."""
        return {"Authorization": f"Bearer {self.session_token(user)}"}

    def staff_headers(self) -> dict[str, str]:
        return self.bearer(make_staff(self.db))

    def user_headers(self) -> dict[str, str]:
        return self.bearer(make_user(self.db))

    def sign_in(self, user: dict[str, Any]) -> str:
        """Act as `user` through the session cookie, like a browser; returns the CSRF token
        (send it as `X-CSRF-Token` on POST/PUT/PATCH/DELETE)."""
        token = self.session_token(user)
        self.cookies.set(auth.SESSION_COOKIE, token, domain=self._cookie_domain(), path="/")
        return auth.csrf_token_for(auth.hash_token(token))

    def _cookie_domain(self) -> str:
        # Where the jar files the server's own Set-Cookie (cookielib adds `.local` to a dotless
        # host), so that a later Set-Cookie replaces this cookie instead of doubling it.
        host = self.base_url.host
        return host if "." in host else f"{host}.local"

    def sign_out(self) -> None:
        self.cookies.clear()

    def create_api_key(self, name: str = "integration") -> str:
        """A new API key (acts as staff); returns the plain key."""
        with self.db.transaction() as conn:
            return auth.create_api_key(conn, SYSTEM, name=name).secret

    def key_headers(self, key: str | None = None) -> dict[str, str]:
        return {"X-API-Key": key or self.create_api_key()}


@pytest.fixture
def api(database: Database) -> Iterator[Api]:
    with Api(database) as client:
        yield client
