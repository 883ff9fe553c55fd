"""Staff administration of accounts at the service layer: invite or create, block and unblock,
role changes, delete — and the rules that keep an administrator in charge."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from clientbook.access import SYSTEM, Principal
from clientbook.db.engine import Database
from clientbook.db.tables import audit_logs, sessions, users
from clientbook.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from clientbook.services import auth
from clientbook.services import customers as customer_service
from clientbook.services import users as svc
from tests.factories import TEST_PASSWORD, as_principal, make_customer, make_staff, make_user

API_KEY = Principal(kind="api_key", id="key1", role="super_admin")


def audit_rows(db: Database, entity_id: str) -> list[dict[str, Any]]:
    with db.read() as conn:
        query = select(audit_logs).where(audit_logs.c.entityId == entity_id)
        return [dict(r._mapping) for r in conn.execute(query.order_by(audit_logs.c.seq))]


def patch(db: Database, principal: Principal, user_id: str, data: dict[str, Any]) -> Any:
    with db.transaction() as conn:
        return svc.update_user(conn, principal, user_id, data)


def remove(db: Database, principal: Principal, user_id: str) -> None:
    with db.transaction() as conn:
        svc.delete_user(conn, principal, user_id)


def session_count(db: Database, user_id: str) -> int:
    with db.read() as conn:
        query = select(func.count()).select_from(sessions).where(sessions.c.userId == user_id)
        return int(conn.execute(query).scalar_one())


def open_session(db: Database, user: dict[str, Any]) -> None:
    with db.transaction() as conn:
        auth.create_session(conn, user["id"], origin=auth.ANONYMOUS)


# --- create or invite ------------------------------------------------------------------------


def test_without_a_password_the_account_is_invited(database: Database) -> None:
    staff = as_principal(make_staff(database))
    user = svc.create_or_invite(database, staff, {"email": "new@example.com", "name": "New"})
    assert user["status"] == "invited"
    with database.read() as conn:
        stored = conn.execute(select(users.c.passwordHash).where(users.c.id == user["id"]))
        assert stored.scalar_one() is None
    [row] = audit_rows(database, user["id"])
    assert row["action"] == "user.created" and row["actorId"] == staff.id


def test_with_a_password_the_account_is_active_and_can_sign_in(database: Database) -> None:
    staff = as_principal(make_staff(database))
    data = {"email": "rep@example.com", "role": "super_admin", "password": TEST_PASSWORD}
    user = svc.create_or_invite(database, staff, data)
    assert (user["status"], user["role"]) == ("active", "super_admin")
    signed = auth.login(database, auth.ANONYMOUS, "rep@example.com", TEST_PASSWORD)
    assert signed.user["id"] == user["id"]


def test_create_reports_every_problem_at_once(database: Database) -> None:
    staff = as_principal(make_staff(database))
    data = {"name": "x" * 200, "password": "short", "status": "active", "colour": "red"}
    with pytest.raises(ValidationFailed) as caught:
        svc.create_or_invite(database, staff, data)
    assert set(caught.value.fields) == {"name", "password", "status", "colour", "email"}


def test_a_good_email_is_not_named_when_another_field_fails(database: Database) -> None:
    # It was: the email's check read the values that the failed validation never returned.
    staff = as_principal(make_staff(database))
    data = {"email": "fine@example.com", "password": "short"}
    with pytest.raises(ValidationFailed) as caught:
        svc.create_or_invite(database, staff, data)
    assert set(caught.value.fields) == {"password"}


def test_a_taken_email_is_a_conflict(database: Database) -> None:
    make_user(database, email="taken@example.com")
    with pytest.raises(Conflict) as caught:
        svc.create_or_invite(database, API_KEY, {"email": "TAKEN@example.com"})
    assert "email" in caught.value.fields


def test_only_staff_create_accounts(database: Database) -> None:
    user = as_principal(make_user(database))
    with pytest.raises(Forbidden):
        svc.create_or_invite(database, user, {"email": "x@example.com"})


# --- block, unblock, role --------------------------------------------------------------------


def test_blocking_ends_every_session_and_is_audited(database: Database) -> None:
    staff = as_principal(make_staff(database))
    user = make_user(database)
    open_session(database, user)
    blocked = patch(database, staff, user["id"], {"status": "blocked"})
    assert blocked["status"] == "blocked"
    assert session_count(database, user["id"]) == 0
    unblocked = patch(database, staff, user["id"], {"status": "active"})
    assert unblocked["status"] == "active"
    actions = [r["action"] for r in audit_rows(database, user["id"])]
    assert actions[-2:] == ["user.blocked", "user.unblocked"]


def test_unblocking_an_account_without_a_password_returns_it_to_invited(
    database: Database,
) -> None:
    staff = as_principal(make_staff(database))
    invited = svc.create_or_invite(database, staff, {"email": "inv@example.com"})
    patch(database, staff, invited["id"], {"status": "blocked"})
    assert patch(database, staff, invited["id"], {"status": "active"})["status"] == "invited"
    with pytest.raises(ValidationFailed) as caught:
        patch(database, staff, invited["id"], {"status": "invited"})
    assert set(caught.value.fields) == {"status"}


def test_patch_takes_name_role_status_only(database: Database) -> None:
    staff = as_principal(make_staff(database))
    user = make_user(database)
    with pytest.raises(ValidationFailed) as caught:
        patch(database, staff, user["id"], {"email": "x@example.com", "password": TEST_PASSWORD})
    assert set(caught.value.fields) == {"email", "password"}
    renamed = patch(database, staff, user["id"], {"name": "Renamed", "role": "super_admin"})
    assert (renamed["name"], renamed["role"]) == ("Renamed", "super_admin")
    assert audit_rows(database, user["id"])[-1]["action"] == "user.role_changed"


def test_a_patch_that_changes_nothing_writes_nothing(database: Database) -> None:
    staff = as_principal(make_staff(database))
    user = make_user(database)
    before = len(audit_rows(database, user["id"]))
    patch(database, staff, user["id"], {"name": user["name"], "status": "active"})
    assert len(audit_rows(database, user["id"])) == before


@pytest.mark.parametrize(
    ("data", "field"), [({"status": "blocked"}, "status"), ({"role": "user"}, "role")]
)
def test_staff_cannot_lock_themselves_out(
    database: Database, data: dict[str, str], field: str
) -> None:
    make_staff(database)
    me = make_staff(database)
    with pytest.raises(Forbidden) as caught:
        patch(database, as_principal(me), me["id"], data)
    assert set(caught.value.fields) == {field}


def test_the_last_active_administrator_cannot_be_demoted_or_blocked(database: Database) -> None:
    only = make_staff(database)
    for data in ({"role": "user"}, {"status": "blocked"}):
        with pytest.raises(Conflict):
            patch(database, API_KEY, only["id"], data)
    second = make_staff(database)
    assert patch(database, API_KEY, only["id"], {"role": "user"})["role"] == "user"
    with pytest.raises(Conflict):
        patch(database, API_KEY, second["id"], {"status": "blocked"})


def test_users_cannot_read_or_change_accounts(database: Database) -> None:
    user = as_principal(make_user(database))
    other = make_user(database)
    with database.read() as conn, pytest.raises(Forbidden):
        svc.read_user(conn, user, other["id"])
    with pytest.raises(Forbidden):
        patch(database, user, other["id"], {"name": "Hacked"})
    with pytest.raises(Forbidden):
        remove(database, user, other["id"])


# --- delete ----------------------------------------------------------------------------------


def test_deleting_a_user_who_owns_a_record_is_a_conflict(database: Database) -> None:
    owner = make_user(database)
    record = make_customer(database, owner=owner)
    with pytest.raises(Conflict) as caught:
        remove(database, API_KEY, owner["id"])
    assert caught.value.fields == {"customerId": record["id"]}
    with database.read() as conn:
        assert svc.get_user(conn, owner["id"])["id"] == owner["id"]


def test_the_database_itself_refuses_to_delete_an_owner(database: Database) -> None:
    """ON DELETE RESTRICT on `customers.userId`: the backstop behind the service's check."""
    owner = make_user(database)
    make_customer(database, owner=owner)
    with pytest.raises(IntegrityError), database.transaction() as conn:
        conn.execute(delete(users).where(users.c.id == owner["id"]))


def test_the_database_unassigns_records_of_a_deleted_user(database: Database) -> None:
    """ON DELETE SET NULL on `customers.assignedTo`, verified on each backend."""
    rep = make_staff(database)
    record = make_customer(database, assignedTo=rep["id"])
    with database.transaction() as conn:
        conn.execute(delete(users).where(users.c.id == rep["id"]))
    with database.read() as conn:
        assert customer_service.get_customer(conn, SYSTEM, record["id"])["assignedTo"] is None


def test_deleting_a_rep_unassigns_their_records_with_audit_and_ends_sessions(
    database: Database,
) -> None:
    staff = make_staff(database)
    rep = make_staff(database)
    open_session(database, rep)
    records = [make_customer(database, assignedTo=rep["id"]) for _ in range(2)]
    other = make_customer(database, assignedTo=staff["id"])
    remove(database, as_principal(staff), rep["id"])
    with database.read() as conn:
        with pytest.raises(NotFound):
            svc.get_user(conn, rep["id"])
        for record in records:
            now = customer_service.get_customer(conn, SYSTEM, record["id"])
            assert now["assignedTo"] is None and now["version"] == record["version"] + 1
        assert customer_service.get_customer(conn, SYSTEM, other["id"])["assignedTo"] == staff["id"]
    assert session_count(database, rep["id"]) == 0
    for record in records:
        last = audit_rows(database, record["id"])[-1]
        assert last["action"] == "customer.assigned"
        assert '"from":"' + rep["id"] in last["changes"]
    assert audit_rows(database, rep["id"])[-1]["action"] == "user.deleted"


def test_staff_cannot_delete_themselves_here(database: Database) -> None:
    make_staff(database)
    me = make_staff(database)
    with pytest.raises(Forbidden):
        remove(database, as_principal(me), me["id"])


def test_deleting_the_last_active_administrator_is_a_conflict(database: Database) -> None:
    only = make_staff(database)
    with pytest.raises(Conflict):
        remove(database, API_KEY, only["id"])


def test_user_list_filters_and_pages(database: Database) -> None:
    staff = make_staff(database)
    made = [make_user(database) for _ in range(5)]
    patch(database, as_principal(staff), made[0]["id"], {"status": "blocked"})
    with database.read() as conn:
        blocked = svc.list_user_page(conn, API_KEY, [("status", "blocked")])
        users_only = svc.list_user_page(conn, API_KEY, [("role", "user"), ("limit", "2")])
        second = svc.list_user_page(
            conn, API_KEY, [("role", "user"), ("limit", "2"), ("cursor", users_only.next_cursor)]
        )
        by_email = svc.list_user_page(conn, API_KEY, [("email", made[3]["email"].upper())])
    assert [u["id"] for u in blocked.rows] == [made[0]["id"]]
    assert users_only.total == 5
    assert [u["id"] for u in users_only.rows + second.rows] == [u["id"] for u in made[:4]]
    assert [u["id"] for u in by_email.rows] == [made[3]["id"]]
    assert all("passwordHash" not in row for row in users_only.rows)


def test_two_staff_blocking_each_other_at_once_leave_one_administrator(
    database: Database,
) -> None:
    first, second = make_staff(database), make_staff(database)
    inside = threading.Event()
    outcome: list[str] = []

    def block_first() -> None:
        inside.wait(5)
        try:
            patch(database, as_principal(second), first["id"], {"status": "blocked"})
            outcome.append("blocked")
        except Conflict:
            outcome.append("conflict")

    racer = threading.Thread(target=block_first)
    racer.start()
    with database.transaction() as conn:
        svc.update_user(conn, as_principal(first), second["id"], {"status": "blocked"})
        inside.set()
        time.sleep(0.3)  # the racer now reads (and, on PostgreSQL, waits for the row lock)
    racer.join(10)
    assert outcome == ["conflict"]
    with database.read() as conn:
        assert svc.get_user(conn, first["id"])["status"] == "active"


def test_list_staff_is_staff_only_by_name_and_by_status(database: Database) -> None:
    zed = make_staff(database, name="Zed")
    amy = make_staff(database, name="amy")
    make_user(database, name="A customer")
    blocked = make_staff(database, name="Blocked Bob")
    with database.transaction() as conn:
        svc.update_user(conn, as_principal(zed), blocked["id"], {"status": "blocked"})
    with database.read() as conn:
        active = svc.list_staff(conn, as_principal(zed))
        every = svc.list_staff(conn, as_principal(zed), statuses=("active", "blocked"))
        with pytest.raises(Forbidden):
            svc.list_staff(conn, as_principal(make_user(database)))
    assert [u["id"] for u in active] == [amy["id"], zed["id"]]
    assert [u["id"] for u in every] == [amy["id"], blocked["id"], zed["id"]]
