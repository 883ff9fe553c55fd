"""Resource caps (issue 9, hardening; SPEC §12 "Uploads"): body size, list parameters, and
requests per minute, each answered 4xx with an error naming what was too much."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest

from clientbook.middleware import limits
from clientbook.middleware.answers import Message
from clientbook.middleware.limits import Caps, RequestLimits
from tests.api.conftest import Api
from tests.ops.conftest import BuildApi

PROJECT = {"X-Appwrite-Project": "clientbook"}


def chunks(total: int, size: int = 512) -> Iterator[bytes]:
    """A JSON-ish body sent without Content-Length (chunked)."""
    yield b'{"name": "'
    for _ in range(total // size):
        yield b"a" * size
    yield b'"}'


@pytest.fixture
def small(build_api: BuildApi) -> Api:
    return build_api(max_body_bytes=2048)


def test_a_declared_body_over_the_cap_is_refused_naming_the_body(small: Api) -> None:
    body = orjson.dumps({"name": "a" * 4000})
    response = small.post(
        "/api/customers",
        content=body,
        headers={**small.user_headers(), "content-type": "application/json"},
    )
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "too_large" and error["fields"] == {"body": "at most 2 KiB"}


@pytest.mark.parametrize("path", ["/api/customers", "/api/auth/login", "/api/auth/signup"])
def test_a_body_without_length_is_cut_off_at_the_cap(small: Api, path: str) -> None:
    headers = {**small.user_headers(), "content-type": "application/json"}
    response = small.post(path, content=chunks(8192), headers=headers)
    assert response.status_code == 413, response.text
    assert response.json()["error"]["fields"] == {"body": "at most 2 KiB"}


def test_the_appwrite_face_answers_in_its_own_shape(small: Api) -> None:
    declared = small.post("/v1/account", content=b"x" * 4096, headers=PROJECT)
    streamed = small.post("/v1/account", content=chunks(8192), headers=PROJECT)
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["code"] == 413
        assert response.json()["type"] == "general_argument_invalid"


def test_uploads_have_their_own_larger_cap(small: Api) -> None:
    rows = b"".join(b"Person %d,p%d@x.io\n" % (n, n) for n in range(200))
    files = {"file": ("people.csv", b"name,email\n" + rows, "text/csv")}
    assert len(files["file"][1]) > 2048
    response = small.post("/api/customers/import", files=files, headers=small.key_headers())
    assert response.status_code == 200, response.text


def test_a_declared_body_over_the_cap_is_answered_before_anything_reads_it() -> None:
    async def app(_scope: object, _receive: object, _send: object) -> None:
        raise AssertionError("the route must not run")

    async def receive() -> Message:
        raise AssertionError("the body must not be read")

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/customers",
        "headers": [(b"content-length", b"5000"), (b"content-type", b"application/json")],
    }
    guard = RequestLimits(app, caps=Caps(max_body_bytes=1024, max_upload_bytes=4096))
    # A thread of its own: Playwright (browser tests, same worker) keeps a loop running here.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, guard(scope, receive, send)).result()
    assert sent[0]["status"] == 413


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("q=" + "a" * 1000, "q"),
        ("status=" + ",".join(["active"] * 101), "status"),
        ("limit=1001", "limit"),
        ("limit=0", "limit"),
    ],
)
def test_list_parameters_are_capped_naming_the_parameter(
    ops_api: Api, query: str, parameter: str
) -> None:
    response = ops_api.get(f"/api/customers?{query}", headers=ops_api.key_headers())
    assert response.status_code == 400
    assert parameter in response.json()["error"]["fields"]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_requests_per_minute_per_credential(
    build_api: BuildApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(6_000_030.0)  # half way through a window
    monkeypatch.setattr(limits, "_monotonic", clock)
    api = build_api(rate_limit_per_credential=3)
    first, second = api.key_headers(), api.key_headers()
    for _ in range(3):
        assert api.get("/api/customers", headers=first).status_code == 200
    refused = api.get("/api/customers", headers=first)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "30"
    assert refused.json()["error"]["code"] == "throttled"
    assert api.get("/api/customers", headers=second).status_code == 200
    assert api.get("/healthz", headers=first).status_code == 200  # never counted
    clock.now += 30
    assert api.get("/api/customers", headers=first).status_code == 200


def test_requests_per_minute_per_address_whatever_the_credential(
    build_api: BuildApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "_monotonic", Clock(6_000_000.0))
    api = build_api(rate_limit_per_address=2)
    assert api.get("/api/customers", headers=api.key_headers()).status_code == 200
    assert api.get("/api/customers", headers=api.key_headers()).status_code == 200
    refused = api.get("/v1/account", headers=PROJECT)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "60"
    assert refused.json()["type"] == "general_rate_limit_exceeded"


def test_limits_are_off_by_default(ops_api: Api) -> None:
    headers = ops_api.key_headers()
    statuses = {ops_api.get("/api/customers", headers=headers).status_code for _ in range(50)}
    assert statuses == {200}
