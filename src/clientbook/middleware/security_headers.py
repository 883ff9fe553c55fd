"""Security headers on every response, errors included; a header the route set is kept.

* `Content-Security-Policy`: HTML pages get a strict policy (own files only, no inline script,
  forms post only here, never framed); other responses `default-src 'none'`. The API's own
  documentation page (Swagger UI from its CDN, one inline bootstrap script) gets a policy of its
  own, limited to that path.
* `Cache-Control: no-store` on everything but `/static/` (API answers and pages hold personal
  data); `Strict-Transport-Security` when the request came over https.
"""

from __future__ import annotations

from clientbook.middleware.answers import ASGIApp, Message, Receive, Scope, Send

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

_ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
_NO_STORE = (b"cache-control", b"no-store")


def _policy(path: str, content_type: bytes) -> bytes:
    if path == DOCS_PATH:
        return DOCS_CSP.encode()
    return (PAGE_CSP if content_type.startswith(b"text/html") else DATA_CSP).encode()


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def secured_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = self._headers(scope, list(message.get("headers", ())))
            await send(message)

        await self.app(scope, receive, secured_send)

    @staticmethod
    def _headers(scope: Scope, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        present = {name.lower() for name, _ in headers}
        content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")
        path: str = scope.get("path", "")
        added = [item for item in _ALWAYS if item[0] not in present]
        if b"content-security-policy" not in present:
            added.append((b"content-security-policy", _policy(path, content_type.lower())))
        if b"cache-control" not in present and not path.startswith(STATIC_PREFIX):
            added.append(_NO_STORE)
        if scope.get("scheme") == "https" and HSTS[0] not in present:
            added.append(HSTS)
        return headers + added
