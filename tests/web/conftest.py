"""The pages under test, driven in-process: `pages` is a browser-like client over the test
database (cookies kept, forms posted with their CSRF token).

    def test_portal_shows_my_details(pages: Pages) -> None:
        user = make_user(pages.db)
        pages.sign_in(user)
        page = pages.get("/")
        assert "My details" in page.text
        pages.post_form("/me/details", {"firstName": "Ann"})
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from clientbook.db.engine import Database
from tests.api.conftest import Api

_CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


class Pages(Api):
    """The API test client, with what a browser does on pages: keep the form token, post forms."""

    csrf: str | None = None

    def sign_in(self, user: dict[str, Any]) -> str:
        self.csrf = super().sign_in(user)
        return self.csrf

    def form_token(self, path: str = "/signin") -> str:
        """The token a signed-out form carries (GET a page first so the cookie is set)."""
        if self.csrf is not None:
            return self.csrf
        response = self.get(path)
        found = _CSRF_INPUT.search(response.text)
        assert found, f"no csrf_token field on {path}"
        return found.group(1)

    def post_form(
        self, path: str, data: dict[str, Any] | list[tuple[str, str]], **kwargs: Any
    ) -> httpx.Response:
        """POST a form as a browser does: urlencoded, with its CSRF token; no redirects followed."""
        items = list(data.items()) if isinstance(data, dict) else list(data)
        items.append(("csrf_token", self.form_token()))
        form: dict[str, list[str]] = {}
        for name, value in items:
            form.setdefault(name, []).extend(value if isinstance(value, list) else [str(value)])
        kwargs.setdefault("follow_redirects", False)
        return self.post(path, data=form, **kwargs)


@pytest.fixture
def pages(database: Database) -> Iterator[Pages]:
    with Pages(database) as client:
        yield client


def field_errors(html: str) -> dict[str, str]:
    """`{field: message}` of the errors shown next to the fields of a page."""
    return dict(re.findall(r'<p class="field-error" id="e-([^"]+)">([^<]*)</p>', html))
