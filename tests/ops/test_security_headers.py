"""Security headers on every response (issue 9, hardening)."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from clientbook.middleware.security_headers import SecurityHeaders
from tests.api.conftest import Api

ALWAYS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def _page(_request: object) -> HTMLResponse:
    return HTMLResponse("<html><body>hello</body></html>")


def _cached(_request: object) -> PlainTextResponse:
    return PlainTextResponse("x", headers={"Cache-Control": "public, max-age=60"})


def pages() -> TestClient:
    app = Starlette(
        routes=[Route("/page", _page), Route("/static/app.css", _cached), Route("/own", _cached)]
    )
    return TestClient(SecurityHeaders(app))


def test_html_pages_get_a_strict_policy_without_inline_script() -> None:
    response = pages().get("/page")
    policy = response.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert "unsafe" not in policy
    assert response.headers["cache-control"] == "no-store"
    for name, expected in ALWAYS.items():
        assert response.headers[name] == expected


def test_static_files_stay_cacheable_and_a_routes_own_header_is_kept() -> None:
    client = pages()
    assert client.get("/static/app.css").headers["cache-control"] == "public, max-age=60"
    assert client.get("/own").headers["cache-control"] == "public, max-age=60"
    assert "strict-transport-security" not in client.get("/page").headers


def test_hsts_only_over_https() -> None:
    client = TestClient(
        SecurityHeaders(Starlette(routes=[Route("/page", _page)])), base_url="https://testserver"
    )
    assert client.get("/page").headers["strict-transport-security"] == "max-age=31536000"


@pytest.mark.parametrize(
    ("path", "status"),
    [("/healthz", 200), ("/api/customers", 401), ("/no/such/page", 404), ("/v1/account", 404)],
)
def test_every_api_answer_carries_the_headers_and_no_store(
    ops_api: Api, path: str, status: int
) -> None:
    response = ops_api.get(path)
    assert response.status_code == status
    for name, expected in ALWAYS.items():
        assert response.headers[name] == expected
    assert response.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-request-id"]


def test_an_unexpected_error_also_carries_them(
    ops_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clientbook.services import auth

    def boom(*_args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(auth, "describe", boom)
    response = ops_api.get("/api/auth/me", headers=ops_api.user_headers())
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "Something went wrong on our side"}
    }
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
