"""PostgreSQL connections (db/engine.py): a short read costs only its own round trips, and a
connection the server dropped while it sat idle in the pool is replaced before it is used."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from clientbook.access import SYSTEM
from clientbook.db import engine as engine_module
from clientbook.db.engine import Database
from clientbook.domain.timestamps import utcnow
from clientbook.services import auth
from tests.conftest import POSTGRES_URL

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="CLIENTBOOK_TEST_POSTGRES_URL is not set"),
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """How many times psycopg waited on the server's socket: its round trips. (Setting
    autocommit, or a rollback with no transaction open, runs without any.)"""
    counted = [0]
    wait = psycopg.Connection.wait

    def on_socket(gen: Generator[Any, Any, Any]) -> Generator[Any, Any, Any]:
        try:
            item = next(gen)
        except StopIteration as done:
            return done.value
        counted[0] += 1
        while True:
            ready = yield item
            try:
                item = gen.send(ready)
            except StopIteration as done:
                return done.value

    def counting(self: psycopg.Connection[Any], gen: Any, *args: Any, **kwargs: Any) -> Any:
        return wait(self, on_socket(gen), *args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "wait", counting)
    yield counted


def backend_pid(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_credential_lookup_is_one_round_trip(database: Database, round_trips: list[int]):
    with database.transaction() as conn:
        secret = auth.create_api_key(conn, SYSTEM, name="k").secret
    backend_pid(database)  # a pooled connection, used a moment ago
    round_trips[0] = 0
    with database.read() as conn:
        found = auth.authenticate(conn, auth.Credentials(api_key=secret), now=utcnow())
    assert found is not None
    assert round_trips[0] == 1


def test_a_read_pings_no_connection_used_a_moment_ago(database: Database, round_trips: list[int]):
    backend_pid(database)
    round_trips[0] = 0
    backend_pid(database)
    assert round_trips[0] == 1  # the statement alone: reads run in autocommit (no BEGIN,
    # no ROLLBACK: under READ COMMITTED each statement is its own snapshot anyway)


def test_a_connection_dropped_while_idle_is_replaced(
    database: Database, monkeypatch: pytest.MonkeyPatch
):
    first = backend_pid(database)
    with psycopg.connect(POSTGRES_URL or "", autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (first,))
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 0.0)
    assert backend_pid(database) != first
    with database.read() as conn:
        assert conn.execute(text("SELECT 1")).scalar_one() == 1


def test_instants_load_in_utc_whatever_the_servers_time_zone(database: Database):
    """The connection names `UTC`, so psycopg loads timestamptz with `datetime.UTC` itself (no
    zone to convert from per value) and the server's date arithmetic is UTC's."""
    with database.read() as conn:
        assert conn.execute(text("SHOW TimeZone")).scalar_one() == "UTC"
        at = conn.execute(text("SELECT timestamptz '2026-03-29 00:30:00+01'")).scalar_one()
        day = conn.execute(text("SELECT date_trunc('day', timestamptz '2026-03-29 00:30+01')"))
        assert day.scalar_one() == datetime(2026, 3, 28, tzinfo=UTC)
    assert at.tzinfo is UTC
    assert at == datetime(2026, 3, 28, 23, 30, tzinfo=UTC)
