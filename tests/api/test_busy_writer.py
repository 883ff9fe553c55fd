"""A write that cannot get the SQLite writer in time is a 503 with Retry-After, not a 500.

Found by benchmarks/reliability/soak.py: while a 50,000-row import held the one writer for
77 s, 64 writes waited out the writer timeout and answered 500 "internal_error".
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from clientbook.db import engine
from clientbook.db.engine import Database
from tests.api.conftest import Api
from tests.conftest import settings_for
from tests.factories import make_staff


@pytest.fixture
def impatient_db(
    sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Database]:
    monkeypatch.setattr(engine, "WRITER_WAIT_SECONDS", 0.3)
    path = tmp_path / "busy.sqlite3"
    shutil.copyfile(sqlite_template, path)
    db = Database(settings_for(f"sqlite:///{path}"))
    yield db
    db.dispose()


def test_write_waiting_out_the_writer_is_503_and_writes_nothing(impatient_db: Database) -> None:
    with Api(impatient_db) as api:
        headers = api.bearer(make_staff(impatient_db))
        held, release = threading.Event(), threading.Event()

        def hold_the_writer() -> None:  # as a long import does
            with impatient_db.transaction():
                held.set()
                release.wait(10)

        holder = threading.Thread(target=hold_the_writer)
        holder.start()
        try:
            assert held.wait(5)
            response = api.post("/api/users", json={"email": "late@example.com"}, headers=headers)
        finally:
            release.set()
            holder.join()
        assert response.status_code == 503
        assert response.headers["Retry-After"] == str(engine.BUSY_RETRY_AFTER_SECONDS)
        assert response.json()["error"]["code"] == "busy"
        again = api.post("/api/users", json={"email": "late@example.com"}, headers=headers)
        assert again.status_code == 201
