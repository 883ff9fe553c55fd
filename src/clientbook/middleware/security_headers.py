"""Security headers on every response, errors included; a header the route set is kept.

* `Content-Security-Policy`: HTML pages get a strict policy (own files only, no inline script,
  forms post only here, never framed); other responses `default-src 'none'`. The API's own
  documentation page (Swagger UI from its CDN, one inline bootstrap script) gets a policy of its
  own, limited to that path.
* `Cache-Control: no-store` on everything but `/static/` (API answers and pages hold personal
  data); `Strict-Transport-Security` when the request came over https.

The headers added are chosen once per kind of answer (page or data, static or not, https or
not) and kept in a table: a response costs one look at its own header names.
"""

from __future__ import annotations

from collections.abc import Iterable

from clientbook.middleware.answers import ASGIApp, Message, Receive, Scope, Send

Header = tuple[bytes, bytes]

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
DATA_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_PATH = "/api/docs"
DOCS_CSP = (
    "default-src 'self'; script-src 'self' https://cdn.jsdelivr.net 'unsafe-inline'; "
    "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
STATIC_PREFIX = "/static/"
HSTS = (b"strict-transport-security", b"max-age=31536000")
CSP = b"content-security-policy"
CACHE_CONTROL = b"cache-control"

_ALWAYS: tuple[Header, ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
_NO_STORE = (CACHE_CONTROL, b"no-store")
_POLICIES = {"page": PAGE_CSP.encode(), "data": DATA_CSP.encode(), "docs": DOCS_CSP.encode()}
# Every header name this module may add: a response that sets none of them (nearly all) takes
# its headers straight from the table.
_OURS = frozenset({name for name, _ in _ALWAYS} | {CSP, CACHE_CONTROL, HSTS[0]})


def _added(policy: str, static: bool, https: bool) -> tuple[Header, ...]:
    added = [*_ALWAYS, (CSP, _POLICIES[policy])]
    if not static:
        added.append(_NO_STORE)
    if https:
        added.append(HSTS)
    return tuple(added)


_TABLE: dict[tuple[str, bool, bool], tuple[Header, ...]] = {
    (policy, static, https): _added(policy, static, https)
    for policy in _POLICIES
    for static in (False, True)
    for https in (False, True)
}


def secure(headers: Iterable[Header], path: str, https: bool) -> list[Header]:
    """`headers` (a response's) with the security headers it lacks appended."""
    headers = list(headers)
    content_type = b""
    own = False
    for name, value in headers:
        lower = name.lower()
        if lower == b"content-type":
            content_type = value
        elif lower in _OURS:
            own = True
    if path == DOCS_PATH:
        policy = "docs"
    else:
        policy = "page" if content_type[:9].lower() == b"text/html" else "data"
    added = _TABLE[policy, path.startswith(STATIC_PREFIX), https]
    if own:  # the route set one of ours: keep its value
        present = {name.lower() for name, _ in headers}
        added = tuple(item for item in added if item[0] not in present)
    headers += added
    return headers


class SecurityHeaders:
    """The headers alone, as a layer of their own (the server's stack adds them in
    `middleware.operations`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        https = scope.get("scheme") == "https"

        async def secured_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = secure(message.get("headers", ()), path, https)
            await send(message)

        await self.app(scope, receive, secured_send)
