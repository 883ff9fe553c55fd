"""Password hashing: argon2id (m=64 MiB, t=3, p=4), with a bound on concurrent hashing so that
a burst of logins cannot exhaust memory (64 MiB each)."""

from __future__ import annotations

import threading
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4)
_slots = threading.BoundedSemaphore(4)


@cache
def _dummy_hash() -> str:
    """Verified against when there is no hash, so that a missing account takes as long as a
    wrong password; made on first use (a hash at import would slow every CLI command)."""
    return _hasher.hash("clientbook-timing-equaliser")


def hash_password(password: str) -> str:
    with _slots:
        return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    with _slots:
        try:
            return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
        except (VerificationError, InvalidHashError):
            return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
