"""Reading the audit log: staff only, filtered by entity, actor, action and time, newest first,
every row exactly once across pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from clientbook.access import SYSTEM, Principal
from clientbook.db.engine import Database
from clientbook.db.tables import audit_logs
from clientbook.domain.errors import BadQuery, Forbidden, NotFound, Unauthenticated
from clientbook.domain.timestamps import format_datetime, utcnow
from clientbook.services import audit_log, notes
from clientbook.services import customers as customer_service
from tests.factories import as_principal, make_customer, make_staff, make_user

API_KEY = Principal(kind="api_key", id="key1", role="super_admin")
Params = list[tuple[str, str]]


def listed(db: Database, params: Params, principal: Principal | None = API_KEY) -> Any:
    with db.read() as conn:
        return audit_log.list_audit_logs(conn, principal, params)


def test_only_staff_read_the_audit_log(database: Database) -> None:
    user = as_principal(make_user(database))
    with pytest.raises(Forbidden):
        listed(database, [], user)
    with pytest.raises(Unauthenticated):
        listed(database, [], None)
    assert listed(database, [], as_principal(make_staff(database))).total >= 1


def test_filters_by_entity_actor_and_action(database: Database) -> None:
    staff = make_staff(database)
    record = make_customer(database)
    other = make_customer(database)
    with database.transaction() as conn:
        customer_service.change_status(conn, as_principal(staff), record["id"], "lead")
        customer_service.add_tag(conn, as_principal(staff), other["id"], "vip")
        notes.add_note(conn, as_principal(staff), record["id"], {"content": "hello"})

    def actions(params: Params) -> list[str]:
        return [row["action"] for row in listed(database, params).rows]

    entity = [("entityType", "customer"), ("entityId", record["id"])]
    assert actions(entity) == ["customer.status_changed", "customer.created"]
    assert actions([("actorId", staff["id"])]) == [
        "note.created",
        "customer.tagged",
        "customer.status_changed",
    ]
    assert actions([("action", "customer.tagged,note.created")]) == [
        "note.created",
        "customer.tagged",
    ]


def test_entity_id_needs_entity_type(database: Database) -> None:
    with pytest.raises(BadQuery) as caught:
        listed(database, [("entityId", "abc")])
    assert set(caught.value.fields) == {"entityId"}


def test_time_range_is_from_inclusive_to_exclusive(database: Database) -> None:
    base = utcnow() - timedelta(days=10)
    made = [make_user(database) for _ in range(4)]
    with database.transaction() as conn:
        for day, user in enumerate(made):
            conn.execute(
                update(audit_logs)
                .where(audit_logs.c.entityId == user["id"])
                .values(occurredAt=base + timedelta(days=day))
            )
    params = [
        ("occurredAt[gte]", format_datetime(base + timedelta(days=1)) or ""),
        ("occurredAt[lt]", format_datetime(base + timedelta(days=3)) or ""),
    ]
    assert [row["entityId"] for row in listed(database, params).rows] == [
        made[2]["id"],
        made[1]["id"],
    ]


def test_pages_are_newest_first_without_gaps_or_repeats(database: Database) -> None:
    for _ in range(13):
        make_user(database)
    everything = [row["seq"] for row in listed(database, [("limit", "1000")]).rows]
    assert everything == sorted(everything, reverse=True) and len(everything) == 13
    walked: list[int] = []
    cursor = None
    while True:
        params = [("limit", "4"), ("total", "false")] + ([("cursor", cursor)] if cursor else [])
        page = listed(database, params)
        walked += [row["seq"] for row in page.rows]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert walked == everything


def test_one_entry_is_presented_with_its_changes_as_an_object(database: Database) -> None:
    user = make_user(database)
    with database.read() as conn:
        row = listed(database, [("entityType", "user"), ("entityId", user["id"])]).rows[0]
        entry = audit_log.present_audit_entry(audit_log.get_audit_entry(conn, SYSTEM, row["id"]))
        with pytest.raises(NotFound):
            audit_log.get_audit_entry(conn, SYSTEM, "missing")
    assert entry["action"] == "user.created"
    assert entry["changes"]["email"] == {"from": None, "to": user["email"]}
    assert "ip" not in audit_log.without_origin(entry)
