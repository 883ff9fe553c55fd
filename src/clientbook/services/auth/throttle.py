"""Login throttling, kept in the database so that every server process sees the same counts.

Two counters guard each attempt: one per account (slow password guessing on one victim) and one
per client address (one machine trying many accounts). Unknown emails count exactly like known
ones, so a lockout never tells whether an account exists.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Executable, case, delete, literal, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from clientbook.db.tables import login_throttle
from clientbook.domain.errors import Throttled
from clientbook.domain.text import email_folded

ACCOUNT_LIMIT = 5
ADDRESS_LIMIT = 30
WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
_KEY_SIZE = 320  # the `key` column's size
_Timestamp = login_throttle.c.windowStart.type


@dataclass(frozen=True)
class Counter:
    """One throttle row: its key and how many failures within WINDOW lock it."""

    key: str
    limit: int


def account_counter(email: str) -> Counter:
    """One counter per account as sign-in finds it: the address in any case."""
    return Counter(f"account:{email_folded(email)}"[:_KEY_SIZE], ACCOUNT_LIMIT)


def address_counter(ip: str) -> Counter:
    return Counter(f"ip:{ip}"[:_KEY_SIZE], ADDRESS_LIMIT)


def counters_for(email: str, ip: str | None) -> list[Counter]:
    """The counters one sign-in attempt is measured against (no address, no address counter)."""
    counters = [account_counter(email)]
    if ip:
        counters.append(address_counter(ip))
    return counters


def assert_not_locked(conn: Connection, counters: Sequence[Counter], now: datetime) -> None:
    """Raise Throttled (with the seconds to wait) when any of the counters is locked."""
    query = select(login_throttle.c.lockedUntil).where(
        login_throttle.c.key.in_([c.key for c in counters]), login_throttle.c.lockedUntil > now
    )
    until = max((row.lockedUntil for row in conn.execute(query)), default=None)
    if until is not None:
        wait = max(1, math.ceil((until - now).total_seconds()))
        raise Throttled("Too many sign-in attempts. Try again later.", retry_after=wait)


def record_failure(conn: Connection, counters: Sequence[Counter], now: datetime) -> None:
    """Count one failed attempt on each counter, locking those that reach their limit.

    One upsert per counter, so that concurrent failures from several processes all count.
    """
    for counter in counters:
        conn.execute(_failure_upsert(conn, counter, now))


def _failure_upsert(conn: Connection, counter: Counter, now: datetime) -> Executable:
    row = login_throttle.c
    stamp = literal(now, _Timestamp)
    locked_until = literal(now + LOCKOUT, _Timestamp)
    window_over = row.windowStart <= now - WINDOW
    failures = case((window_over, 1), else_=row.failures + 1)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(login_throttle).values(
        key=counter.key,
        failures=1,
        windowStart=now,
        lockedUntil=(now + LOCKOUT) if counter.limit <= 1 else None,
    )
    return insert.on_conflict_do_update(
        index_elements=[row.key],
        set_={
            "failures": failures,
            "windowStart": case((window_over, stamp), else_=row.windowStart),
            "lockedUntil": case((failures >= counter.limit, locked_until), else_=row.lockedUntil),
        },
    )


def reset(conn: Connection, counter: Counter) -> None:
    conn.execute(delete(login_throttle).where(login_throttle.c.key == counter.key))


def prune(conn: Connection, now: datetime) -> None:
    """Forget counters whose window and lock are both over (they would restart from zero)."""
    conn.execute(
        delete(login_throttle).where(
            login_throttle.c.windowStart <= now - WINDOW,
            or_(login_throttle.c.lockedUntil.is_(None), login_throttle.c.lockedUntil <= now),
        )
    )
