"""`$id` inside `data` (appwrite-compat §2, §3): the id param alone chooses a record's id.

Client code sends a row back whole (`{...row, name}`): its own `$id` is ignored on update, as any
system value equal to what is stored; another id is refused (401 naming `$id`), never a 500. On
create `rowId`/`documentId` decides; `data.$id` may repeat it, a different one is a 400.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
from appwrite.id import ID

from tests.appwrite.live import Live, Records, records
from tests.appwrite.test_appwrite_errors import fails

pytestmark = pytest.mark.xdist_group("appwrite")  # one worker: the live servers start once


@pytest.fixture(params=["row", "document"])
def face(request: pytest.FixtureRequest, live: Live) -> Records:
    return records(live, request.param)


def _items(live: Live, face: Records) -> list[tuple[str, str, dict[str, Any]]]:
    """(table, id, a change) of a customer, one of its interactions and one of its notes."""
    customer = live.customer(name="Tan")
    interaction = face.create(
        "customer_interactions",
        ID.unique(),
        {"customerId": customer["id"], "type": "call", "subject": "Hello"},
    )
    note = face.create(
        "customer_notes", ID.unique(), {"customerId": customer["id"], "content": "Likes tea"}
    )
    return [
        ("customers", customer["id"], {"name": "Tan Mei Ling"}),
        ("customer_interactions", interaction.id, {"subject": "Hello again"}),
        ("customer_notes", note.id, {"content": "Likes green tea"}),
    ]


def test_an_update_may_carry_the_records_own_id(live: Live, face: Records) -> None:
    for table, record_id, change in _items(live, face):
        updated = face.update(table, record_id, {"$id": record_id, **change})
        assert updated.id == record_id
        assert all(updated.data[name] == value for name, value in change.items())
        # Only the own id: nothing to change, the record as it is.
        assert face.update(table, record_id, {"$id": record_id}).id == record_id


def test_an_update_naming_another_id_is_refused(live: Live, face: Records) -> None:
    for table, record_id, change in _items(live, face):
        sent = {"$id": ID.unique(), **change}
        body = fails(
            401, "user_unauthorized", functools.partial(face.update, table, record_id, sent)
        )
        assert "$id" in body["message"]
        assert face.get(table, record_id).id == record_id


def test_the_owner_may_send_their_record_back_whole(live: Live, face: Records) -> None:
    owner = live.user()
    mine = live.customer(owner, name="Siti")
    as_owner = records(live, face.face, live.as_user(owner))
    row = as_owner.get("customers", mine["id"])
    sent = {**row.data, "$id": row.id, "city": "Ipoh"}
    assert as_owner.update("customers", mine["id"], sent).data["city"] == "Ipoh"


def test_a_record_sent_back_with_everything_it_shows_is_updated(live: Live, face: Records) -> None:
    # `$createdAt`, `$sequence`, `$tableId`, `$permissions`... as read were refused (401 or 400).
    for table, record_id, change in _items(live, face):
        shown = face.get(table, record_id).to_dict()
        shown.pop("data", None)
        assert {"$createdAt", "$sequence", "$permissions"} <= set(shown)
        updated = face.update(table, record_id, {**shown, **change})
        assert all(updated.data[name] == value for name, value in change.items())
        moved = {**shown, "$createdAt": "2001-01-01T00:00:00.000+00:00"}
        body = fails(
            401, "user_unauthorized", functools.partial(face.update, table, record_id, moved)
        )
        assert "$createdAt" in body["message"]


def test_another_id_on_an_unseen_record_is_not_found(live: Live, face: Records) -> None:
    theirs = live.customer()
    as_me = records(live, face.face, live.as_user(live.user()))
    fails(
        404,
        f"{face.face}_not_found",
        lambda: as_me.update("customers", theirs["id"], {"$id": ID.unique(), "city": "Ipoh"}),
    )


def test_the_id_param_chooses_a_new_records_id(live: Live, face: Records) -> None:
    chosen = ID.unique()
    data = {"userId": live.user()["id"], "name": "Aminah", "$id": chosen}
    assert face.create("customers", chosen, data).id == chosen


@pytest.mark.parametrize("record_id", ["unique()", "id-param"])
def test_data_id_never_overrides_the_id_param(live: Live, face: Records, record_id: str) -> None:
    sent_id = ID.unique() if record_id == "id-param" else record_id
    data_id = ID.unique()
    data = {"userId": live.user()["id"], "name": "Aminah", "$id": data_id}
    body = fails(400, "general_argument_invalid", lambda: face.create("customers", sent_id, data))
    assert f"{face.face}Id" in body["message"]
    fails(404, f"{face.face}_not_found", lambda: face.get("customers", data_id))
