"""Schemathesis over the OpenAPI document, as staff and as a user: no input makes a server
error, and every response matches the documented schema, status codes and content types.

The HTTP face is what is fuzzed here, so one SQLite database (built by the migrations when this
module loads) serves the whole run.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from clientbook.access import SYSTEM
from clientbook.app import create_app
from clientbook.db import migrate
from clientbook.db.engine import Database
from clientbook.services import auth
from tests.conftest import settings_for
from tests.factories import make_customer, make_staff, make_user


def _seeded_database() -> tuple[Database, dict[str, dict[str, str]]]:
    path = Path(tempfile.mkdtemp(prefix="clientbook-fuzz-")) / "fuzz.sqlite3"
    db = Database(settings_for(f"sqlite:///{path}"))
    migrate.upgrade(db)
    user = make_user(db)
    make_customer(db, owner=user)
    make_customer(db, owner=make_user(db))
    make_staff(db)
    with db.transaction() as conn:
        key = auth.create_api_key(conn, SYSTEM, name="fuzz").secret
        token = auth.create_session(conn, user["id"], origin=auth.ANONYMOUS).token
    return db, {"staff": {"X-API-Key": key}, "user": {"Authorization": f"Bearer {token}"}}


DB, CREDENTIALS = _seeded_database()
schema = schemathesis.openapi.from_asgi("/api/openapi.json", create_app(db=DB))
# "No server error and no response that breaks its schema" (issue 3): what the API promises.
CHECKS = [
    checks.not_a_server_error,
    checks.response_schema_conformance,
    checks.status_code_conformance,
    checks.content_type_conformance,
]
FUZZ = settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))


@schema.parametrize()
@FUZZ
def test_no_input_breaks_the_api_as_staff(case: Any) -> None:
    case.call_and_validate(headers=CREDENTIALS["staff"], checks=CHECKS)


@schema.parametrize()
@FUZZ
def test_no_input_breaks_the_api_as_a_user(case: Any) -> None:
    case.call_and_validate(headers=CREDENTIALS["user"], checks=CHECKS)
