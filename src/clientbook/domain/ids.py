"""Record ids: Appwrite's `ID.unique()` shape, and the rule for client-supplied ids."""

from __future__ import annotations

import os
import re
import threading
import time

_ID_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,35}$")
_lock = threading.Lock()
_last = 0


def new_id() -> str:
    """20 lowercase hex characters: 13 of microsecond time (strictly increasing), 7 random."""
    global _last
    with _lock:
        now = time.time_ns() // 1000
        _last = now if now > _last else _last + 1
        stamp = _last
    return f"{stamp // 1_000_000:08x}{stamp % 1_000_000:05x}{os.urandom(4).hex()[:7]}"


def is_valid_id(value: str) -> bool:
    """1-36 chars of a-zA-Z0-9._- not starting with a special character."""
    return bool(_ID_PATTERN.match(value))
