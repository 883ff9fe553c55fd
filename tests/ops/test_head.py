"""HEAD is answered wherever GET is (RFC 9110 §9.3.2): GET's status and headers, no body. A
route without GET still refuses HEAD."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api
from tests.factories import make_customer

COMPARED = ("content-type", "content-length", "cache-control", "content-security-policy")


@pytest.mark.parametrize(
    "path",
    ["/healthz", "/readyz", "/signin", "/", "/api/customers", "/api/customers/{id}",
     "/api/openapi.json", "/static/no-such-file.css", "/no/such/path"],
)  # fmt: skip
def test_head_answers_as_get_without_the_body(ops_api: Api, path: str) -> None:
    staff = ops_api.staff_headers()
    path = path.replace("{id}", make_customer(ops_api.db)["id"])
    got = ops_api.get(path, headers=staff, follow_redirects=False)
    head = ops_api.head(path, headers=staff, follow_redirects=False)
    assert head.status_code == got.status_code != 405
    assert head.content == b""
    for name in COMPARED:
        assert head.headers.get(name) == got.headers.get(name), name


def test_head_of_a_route_without_get_is_still_refused(ops_api: Api) -> None:
    answer = ops_api.head("/api/auth/login")
    assert answer.status_code == 405
    assert answer.content == b""


def test_head_is_logged_as_head_under_the_get_route(ops_api: Api) -> None:
    ops_api.head("/healthz")
    metrics = ops_api.get("/metrics").text
    assert 'clientbook_http_requests_total{method="HEAD",route="/healthz",status="200"}' in metrics
