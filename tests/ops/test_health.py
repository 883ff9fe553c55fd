"""Liveness and readiness (SPEC §11, §12): `/readyz` answers exactly SPEC §12's body."""

from __future__ import annotations

import sqlite3

from clientbook import __version__
from tests.api.conftest import Api


def test_readyz_answers_exactly_the_spec_body(ops_api: Api) -> None:
    response = ops_api.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "database", "version", "migrations"}  # no `clientbook` key
    assert (body["status"], body["migrations"]) == ("ready", "current")
    if body["database"] == "sqlite":
        assert body["version"] == sqlite3.sqlite_version


def test_healthz_names_the_clientbook_version(ops_api: Api) -> None:
    response = ops_api.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}
