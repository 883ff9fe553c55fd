"""What the SDKs send, parsed: GET arrays as indexed keys, booleans as text, JSON bodies.

The Python SDK sends `queries[0]=…&queries[1]=…` (URL-encoded JSON, ordered by index); other
clients send `queries[]=…` or repeated `queries=…`: all three are accepted (compat §2). GETs
carry an empty `content-type:` header, and DELETE sends `{}`: both are tolerated.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import orjson
from fastapi import Request

from clientbook.appwrite.errors import argument_invalid

_INDEXED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)\[(?P<index>\d{0,6})\]")
MAX_BODY_BYTES = 1024 * 1024  # far above any record (5,000-char JSON fields)


class Params:
    """A GET request's parameters: scalars by name and arrays in index order."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self.scalars: dict[str, str] = {}
        entries: dict[str, list[tuple[int, int, str]]] = {}
        for position, (key, value) in enumerate(items):
            match = _INDEXED.fullmatch(key)
            if match is None:
                name, index = key, position
                self.scalars.setdefault(key, value)
            else:
                name = match["name"]
                index = int(match["index"]) if match["index"] else position
            entries.setdefault(name, []).append((index, position, value))
        self.arrays = {name: [v for *_, v in sorted(found)] for name, found in entries.items()}

    def array(self, name: str) -> list[str]:
        """Every `name[i]` (in index order), `name[]` or repeated `name` value."""
        return self.arrays.get(name, [])

    def flag(self, name: str, default: bool) -> bool:
        """`true` / `false` (and 1 / 0); anything else is 400."""
        raw = self.scalars.get(name)
        if raw is None or raw == "":
            return default
        lowered = raw.lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise argument_invalid(f"Invalid `{name}` param: Value must be a valid boolean")

    def refuse_transactions(self) -> None:
        if "transactionId" in self.scalars:
            raise argument_invalid("Transactions are not supported by this server")


def params_of(request: Request) -> Params:
    params = Params(request.query_params.multi_items())
    params.refuse_transactions()
    return params


async def json_body(request: Request) -> dict[str, Any]:
    """The body as a JSON object (empty for none); `transactionId` is refused (compat §2)."""
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise argument_invalid("The request body is too large")
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise argument_invalid("The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise argument_invalid("The request body must be a JSON object")
    if body.get("transactionId") is not None:
        raise argument_invalid("Transactions are not supported by this server")
    return body
