"""An address no route has: browsers get the HTML "not found" page, programs the API's JSON."""

from __future__ import annotations

import pytest

from tests.factories import make_staff
from tests.web.conftest import Pages

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.mark.parametrize("path", ["/admin/nonexistent", "/me/nonexistent", "/nonexistent"])
def test_a_browser_gets_an_html_not_found_page(pages: Pages, path: str) -> None:
    pages.sign_in(make_staff(pages.db))
    response = pages.get(path, headers=BROWSER)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "This page does not exist" in response.text
    assert "<title>Not found" in response.text and "Something went wrong" not in response.text


def test_the_not_found_page_speaks_malay(pages: Pages) -> None:
    response = pages.get("/nonexistent", headers={**BROWSER, "Accept-Language": "ms"})
    assert response.status_code == 404
    assert "Halaman ini tidak wujud" in response.text


@pytest.mark.parametrize("path", ["/api/nonexistent", "/v1/nonexistent", "/nonexistent"])
def test_programs_keep_the_json_error(pages: Pages, path: str) -> None:
    headers = BROWSER if path != "/nonexistent" else {"Accept": "application/json"}
    response = pages.get(path, headers=headers)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()  # the face's own error shape
