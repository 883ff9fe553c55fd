"""Race-freedom (issue 2 §5): concurrent creates for one user or one email in different case
give exactly one record; every other attempt is a Conflict, never another error."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

from sqlalchemy import func, select

from clientbook.access import SYSTEM
from clientbook.db.engine import Database
from clientbook.db.tables import customers
from clientbook.domain.errors import Conflict
from clientbook.services import customers as svc
from tests.factories import make_user

ATTEMPTS = 8


def race(db: Database, payloads: list[dict[str, object]]) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    barrier = threading.Barrier(len(payloads))

    def attempt(payload: dict[str, object]) -> Callable[[], None]:
        def run() -> None:
            barrier.wait()
            try:
                with db.transaction() as conn:
                    svc.create_customer(conn, SYSTEM, payload)
                outcomes["created"] += 1
            except Conflict:
                outcomes["conflict"] += 1
            except Exception as exc:  # any other outcome fails the test below
                outcomes[type(exc).__name__] += 1

        return run

    threads = [threading.Thread(target=attempt(p)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def count(db: Database) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(customers)).scalar_one()


def test_concurrent_creates_for_one_user_make_one_record(database: Database) -> None:
    user = make_user(database)
    payloads = [
        {"userId": user["id"], "name": f"Attempt {i}", "email": f"a{i}@example.com"}
        for i in range(ATTEMPTS)
    ]
    assert race(database, payloads) == Counter(created=1, conflict=ATTEMPTS - 1)
    assert count(database) == 1


def test_concurrent_creates_with_one_email_in_other_cases_make_one_record(
    database: Database,
) -> None:
    owners = [make_user(database) for _ in range(ATTEMPTS)]
    spellings = ["ahmad@example.com", "AHMAD@example.com", "Ahmad@Example.com", "ahmad@EXAMPLE.COM"]
    payloads = [
        {"userId": owner["id"], "name": "Ahmad", "email": spellings[i % len(spellings)]}
        for i, owner in enumerate(owners)
    ]
    assert race(database, payloads) == Counter(created=1, conflict=ATTEMPTS - 1)
    assert count(database) == 1
