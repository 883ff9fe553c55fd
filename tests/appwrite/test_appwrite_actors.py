"""An API key has no acting user, so it may name the human actor (appwrite-compat §3): the
backend's `createdBy` / `updatedBy` are stored as sent, alone or with other changes, and the audit
actor stays the key."""

from __future__ import annotations

from typing import Any

import pytest
from appwrite.id import ID
from sqlalchemy import select

from clientbook.db.tables import audit_logs
from tests.appwrite.live import Live, Records, records

pytestmark = pytest.mark.xdist_group("appwrite")  # one worker: the live servers start once


@pytest.fixture(params=["row", "document"])
def face(request: pytest.FixtureRequest, live: Live) -> Records:
    return records(live, request.param)


def _last_audit(live: Live, entity_id: str) -> dict[str, Any]:
    with live.db.read() as conn:
        query = select(audit_logs).where(audit_logs.c.entityId == entity_id)
        row = conn.execute(query.order_by(audit_logs.c.seq.desc()).limit(1)).one()
        return dict(row._mapping)


def test_a_key_may_name_the_updater_alone(live: Live, face: Records) -> None:
    staff = live.staff()
    customer = live.customer()
    before = face.get("customers", customer["id"])

    updated = face.update("customers", customer["id"], {"updatedBy": staff["id"]})

    assert updated.data["updatedBy"] == staff["id"]
    assert updated.updatedat > before.updatedat
    assert face.get("customers", customer["id"]).data["updatedBy"] == staff["id"]
    assert _last_audit(live, customer["id"])["actorType"] == "api_key"


def test_a_key_may_name_the_creator_and_the_updater(live: Live, face: Records) -> None:
    staff = live.staff()
    data = {
        "userId": live.user()["id"],
        "name": "Nurul Huda",
        "createdBy": staff["id"],
        "updatedBy": staff["id"],
    }

    created = face.create("customers", ID.unique(), data)

    assert created.data["createdBy"] == staff["id"] and created.data["updatedBy"] == staff["id"]
    assert _last_audit(live, created.id)["actorType"] == "api_key"
