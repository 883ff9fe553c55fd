"""Secrets handed to clients and what the server keeps of them.

A session token or API key is shown to its holder once; the database keeps only its sha256, so a
leaked database (or backup) signs nobody in. The tokens carry 256 random bits, so a plain hash is
enough: there is nothing to brute-force, unlike a password.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from clientbook.domain.errors import Forbidden

API_KEY_PREFIX = "cbk_"
# How much of a key stays visible (`cbk_` + 6 characters) so that people can tell keys apart.
VISIBLE_KEY_CHARS = len(API_KEY_PREFIX) + 6
# Derivation label: the CSRF token must not be usable as (or reveal) anything else.
_CSRF_LABEL = b"clientbook-csrf-v1:"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class CsrfFailed(Forbidden):
    """A cookie-authenticated write came without the session's CSRF token."""

    code = "csrf_failed"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def is_api_key(token: str) -> bool:
    return token.startswith(API_KEY_PREFIX)


def visible_prefix(api_key: str) -> str:
    return api_key[:VISIBLE_KEY_CHARS]


def hash_token(token: str) -> str:
    """The stored form of a session token or API key: sha256, 64 hex characters."""
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token_for(token_hash: str) -> str:
    """The CSRF token of a session: stable for the session's life, useless without its cookie."""
    return hashlib.sha256(_CSRF_LABEL + token_hash.encode("ascii")).hexdigest()


def check_csrf(token_hash: str, method: str, presented: str | None) -> None:
    """Raise CsrfFailed when an unsafe request of a cookie session lacks the right token.

    Only cookie-authenticated requests need this: a browser attaches cookies to cross-site
    requests on its own, but never an `Authorization` or `X-API-Key` header.
    """
    if method.upper() in SAFE_METHODS:
        return
    expected = csrf_token_for(token_hash)
    if not presented or not hmac.compare_digest(expected, presented.strip()):
        raise CsrfFailed("Missing or wrong CSRF token: send the X-CSRF-Token header")
