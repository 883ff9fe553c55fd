"""Interactions and notes at the service layer: visibility, ownership, lastContactAt, audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from clientbook.access import SYSTEM
from clientbook.db.engine import Database
from clientbook.db.tables import audit_logs
from clientbook.domain.errors import Forbidden, NotFound, ValidationFailed
from clientbook.domain.timestamps import format_datetime, utcnow
from clientbook.services import customers as customer_service
from clientbook.services import interactions, notes
from tests.factories import as_principal, make_customer, make_staff, make_user

CALL = {"type": "call", "subject": "Intro call"}


def last_contact(db: Database, customer_id: str) -> object:
    with db.read() as conn:
        return customer_service.get_customer(conn, SYSTEM, customer_id)["lastContactAt"]


def test_logging_a_past_interaction_moves_last_contact_to_the_later_time(
    database: Database,
) -> None:
    record = make_customer(database)
    earlier, later = utcnow() - timedelta(days=3), utcnow() - timedelta(days=1)
    with database.transaction() as conn:
        interactions.log_interaction(
            conn, SYSTEM, record["id"], {"type": "call", "subject": "Hi", "occurredAt": later}
        )
        interactions.log_interaction(
            conn,
            SYSTEM,
            record["id"],
            {"type": "email", "subject": "Older", "occurredAt": format_datetime(earlier)},
        )
    assert last_contact(database, record["id"]) == later


def test_the_last_contact_an_interaction_moves_is_audited_with_its_actor(
    database: Database,
) -> None:
    # It was written behind the audit log's back, with no `updatedBy`.
    staff = make_staff(database)
    record = make_customer(database)
    at = utcnow() - timedelta(hours=2)
    with database.transaction() as conn:
        for occurred in (at, at - timedelta(days=1)):
            data = {**CALL, "occurredAt": occurred}
            interactions.log_interaction(conn, as_principal(staff), record["id"], data)
    with database.read() as conn:
        customer = customer_service.get_customer(conn, SYSTEM, record["id"])
        rows = conn.execute(
            select(audit_logs).where(
                audit_logs.c.entityId == record["id"], audit_logs.c.action == "customer.contacted"
            )
        ).all()
    assert (customer["lastContactAt"], customer["updatedBy"]) == (at, staff["id"])
    assert customer["version"] == record["version"] + 1  # the older call changed nothing
    [row] = rows
    assert row.actorId == staff["id"]
    assert '"lastContactAt":{"from":null' in row.changes


@pytest.mark.parametrize("field", ["createdBy", "updatedBy", "$createdAt", "$updatedAt"])
def test_system_fields_sent_with_an_item_are_403_naming_them(
    database: Database, field: str
) -> None:
    # They were 422 "unknown field"; SPEC §12 says 403 naming the field, staff included.
    staff = as_principal(make_staff(database))
    record = make_customer(database)
    with pytest.raises(Forbidden) as caught, database.transaction() as conn:
        interactions.log_interaction(conn, staff, record["id"], {**CALL, field: "x"})
    assert caught.value.fields == {field: "set by the system only"}
    with database.transaction() as conn:
        item = notes.add_note(conn, staff, record["id"], {"content": "Likes tea"})
    with pytest.raises(Forbidden) as caught, database.transaction() as conn:
        notes.update_note(conn, staff, item["id"], {"content": "x", field: "x"})
    assert caught.value.fields == {field: "set by the system only"}


def test_a_future_interaction_leaves_last_contact_alone(database: Database) -> None:
    record = make_customer(database)
    with database.transaction() as conn:
        interactions.log_interaction(
            conn,
            SYSTEM,
            record["id"],
            {"type": "meeting", "subject": "Next week", "occurredAt": utcnow() + timedelta(days=7)},
        )
    assert last_contact(database, record["id"]) is None


def test_owner_logs_shared_items_but_not_internal_ones(database: Database) -> None:
    user = make_user(database)
    record = make_customer(database, owner=user)
    owner = as_principal(user)
    with database.transaction() as conn:
        note = notes.add_note(conn, owner, record["id"], {"content": "Prefer WhatsApp"})
    assert note["visibility"] == "shared"
    assert note["createdBy"] == user["id"]
    with database.transaction() as conn, pytest.raises(Forbidden) as caught:
        notes.add_note(conn, owner, record["id"], {"content": "x", "visibility": "internal"})
    assert "visibility" in caught.value.fields


def test_internal_items_never_reach_the_owner(database: Database) -> None:
    user = make_user(database)
    record = make_customer(database, owner=user)
    with database.transaction() as conn:
        secret = notes.add_note(
            conn, SYSTEM, record["id"], {"content": "Bad payer", "visibility": "internal"}
        )
    with database.read() as conn, pytest.raises(NotFound):
        notes.get_note(conn, as_principal(user), secret["id"])


def test_strangers_see_no_items(database: Database) -> None:
    record = make_customer(database)
    stranger = as_principal(make_user(database))
    with database.transaction() as conn:
        call = interactions.log_interaction(
            conn, SYSTEM, record["id"], {"type": "call", "subject": "s"}
        )
    with database.read() as conn, pytest.raises(NotFound):
        interactions.get_interaction(conn, stranger, call["id"])
    with database.transaction() as conn, pytest.raises(NotFound):
        notes.add_note(conn, stranger, record["id"], {"content": "hi"})


def test_owner_edits_only_what_they_wrote(database: Database) -> None:
    user = make_user(database)
    record = make_customer(database, owner=user)
    staff = as_principal(make_staff(database))
    owner = as_principal(user)
    with database.transaction() as conn:
        mine = notes.add_note(conn, owner, record["id"], {"content": "mine"})
        theirs = notes.add_note(conn, staff, record["id"], {"content": "from staff"})
    with database.transaction() as conn:
        edited = notes.update_note(conn, owner, mine["id"], {"isPinned": True})
    assert edited["isPinned"] is True
    assert edited["updatedBy"] == user["id"]
    with database.transaction() as conn, pytest.raises(Forbidden):
        notes.update_note(conn, owner, theirs["id"], {"content": "changed"})
    with database.transaction() as conn, pytest.raises(Forbidden):
        notes.delete_note(conn, owner, theirs["id"])
    with database.transaction() as conn:
        notes.delete_note(conn, owner, mine["id"])


def test_item_changes_are_audited(database: Database) -> None:
    record = make_customer(database)
    with database.transaction() as conn:
        call = interactions.log_interaction(
            conn, SYSTEM, record["id"], {"type": "call", "subject": "s"}
        )
        interactions.update_interaction(conn, SYSTEM, call["id"], {"outcome": "Booked"})
        interactions.delete_interaction(conn, SYSTEM, call["id"])
    with database.read() as conn:
        actions = [
            r.action
            for r in conn.execute(
                select(audit_logs.c.action)
                .where(audit_logs.c.entityId == call["id"])
                .order_by(audit_logs.c.seq)
            )
        ]
    assert actions == ["interaction.created", "interaction.updated", "interaction.deleted"]


def test_interaction_fields_are_validated(database: Database) -> None:
    record = make_customer(database)
    with database.transaction() as conn, pytest.raises(ValidationFailed) as caught:
        interactions.log_interaction(
            conn, SYSTEM, record["id"], {"type": "fax", "subject": "", "durationMinutes": 2000}
        )
    assert {"type", "subject", "durationMinutes"} <= set(caught.value.fields)
