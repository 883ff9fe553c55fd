"""The service functions added for the Appwrite face, tested without HTTP: item lists across
customers, the read-only `users` rows, sessions by id, sign-up with a chosen id, renaming."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from clientbook.access import SYSTEM
from clientbook.db.engine import Database
from clientbook.db.tables import audit_logs
from clientbook.domain.errors import Conflict, Forbidden, NotFound, Unauthenticated
from clientbook.domain.timestamps import utcnow
from clientbook.query import fields
from clientbook.query.model import Condition, ListQuery, Op
from clientbook.services import auth, customer_items
from clientbook.services import interactions as interaction_service
from clientbook.services import notes as note_service
from clientbook.services import users as user_service
from tests.factories import as_principal, make_customer, make_staff, make_user


def test_item_lists_span_customers_for_staff_and_own_shared_items_for_owners(
    database: Database,
) -> None:
    owner = make_user(database)
    mine, theirs = make_customer(database, owner), make_customer(database)
    with database.transaction() as conn:
        for record in (mine, theirs):
            for visibility in ("shared", "internal"):
                body = {"content": f"{visibility} note", "visibility": visibility}
                note_service.add_note(conn, SYSTEM, record["id"], body)
    everything = ListQuery(limit=100)
    with database.read() as conn:
        staff_rows = customer_items.list_items(
            conn, note_service.NOTES, as_principal(make_staff(database)), fields.NOTES, everything
        ).rows
        own_rows = customer_items.list_items(
            conn, note_service.NOTES, as_principal(owner), fields.NOTES, everything
        ).rows
        with pytest.raises(Unauthenticated):
            customer_items.list_items(conn, note_service.NOTES, None, fields.NOTES, everything)
    assert len(staff_rows) == 4
    assert [(r["customerId"], r["visibility"]) for r in own_rows] == [(mine["id"], "shared")]


def test_interaction_lists_filter_by_customer(database: Database) -> None:
    record = make_customer(database)
    with database.transaction() as conn:
        interaction_service.log_interaction(
            conn, SYSTEM, record["id"], {"type": "call", "subject": "Hello"}
        )
    query = ListQuery(where=Condition("customerId", Op.EQ, record["id"]))
    with database.read() as conn:
        page = customer_items.list_items(
            conn, interaction_service.INTERACTIONS, SYSTEM, fields.INTERACTIONS, query
        )
    assert page.total == 1 and page.rows[0]["subject"] == "Hello"


def test_users_see_only_their_own_account_row(database: Database) -> None:
    me, other = make_user(database), make_user(database)
    principal = as_principal(me)
    with database.read() as conn:
        assert user_service.read_visible_user(conn, principal, me["id"])["id"] == me["id"]
        with pytest.raises(NotFound):
            user_service.read_visible_user(conn, principal, other["id"])
        own = user_service.list_visible_users(conn, principal, ListQuery()).rows
        staff_view = user_service.list_visible_users(conn, SYSTEM, ListQuery(limit=1000)).rows
    assert [row["id"] for row in own] == [me["id"]]
    assert {me["id"], other["id"]} <= {row["id"] for row in staff_view}


def test_sessions_by_id_belong_to_their_user(database: Database) -> None:
    user, other = make_user(database), make_user(database)
    with database.transaction() as conn:
        first = auth.create_session(conn, user["id"], origin=auth.ANONYMOUS)
        second = auth.create_session(conn, user["id"], origin=auth.ANONYMOUS)
        theirs = auth.create_session(conn, other["id"], origin=auth.ANONYMOUS)
    with database.transaction() as conn:
        found = auth.find_user_session(conn, user["id"], first.id, now=utcnow())
        assert found is not None and found["expiresAt"] == first.expires_at
        assert auth.find_user_session(conn, user["id"], theirs.id, now=utcnow()) is None
        assert auth.revoke_user_session(conn, user["id"], theirs.id) is False
        assert auth.revoke_user_sessions(conn, user["id"], keep=second.id) == 1
        assert auth.find_user_session(conn, user["id"], second.id, now=utcnow()) is not None
        assert auth.revoke_user_session(conn, user["id"], second.id) is True


def test_create_account_with_a_chosen_id_opens_no_session(database: Database) -> None:
    data = {"email": "chosen@example.com", "password": "long enough pw", "name": "Chosen"}
    user = auth.create_account(database, auth.ANONYMOUS, data, user_id="chosen-id")
    assert user["id"] == "chosen-id" and user["role"] == "user" and user["status"] == "active"
    with database.read() as conn:
        actions = conn.execute(
            select(audit_logs.c.action).where(audit_logs.c.entityId == "chosen-id")
        ).scalars()
        assert sorted(actions) == ["user.created", "user.signup"]
    again = {**data, "email": "other@example.com"}
    with pytest.raises(Conflict) as info:
        auth.create_account(database, auth.ANONYMOUS, again, user_id="chosen-id")
    assert "$id" in info.value.fields


def test_rename_is_the_signed_in_users_own(database: Database) -> None:
    user = make_user(database)
    with database.transaction() as conn:
        renamed = auth.rename(conn, as_principal(user), "  New Name ")
        assert renamed["name"] == "New Name"
        with pytest.raises(Forbidden):
            auth.rename(conn, SYSTEM, "Key")
