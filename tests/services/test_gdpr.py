"""GDPR at the service layer: the export holds everything about the user and nothing about
anyone else; the erase removes them in one transaction and pseudonymises the audit trail."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from clientbook.access import SYSTEM, Principal
from clientbook.db.engine import Database
from clientbook.db.tables import (
    audit_logs,
    customer_interactions,
    customer_notes,
    customers,
    login_throttle,
    sessions,
    users,
)
from clientbook.domain.errors import Conflict, Forbidden, ValidationFailed
from clientbook.services import auth, gdpr, interactions, notes
from clientbook.services import customers as customer_service
from tests.factories import TEST_PASSWORD, make_customer, make_staff, make_user

API_KEY = Principal(kind="api_key", id="key1", role="super_admin")
USER_IP, STAFF_IP = "192.0.2.10", "198.51.100.7"


def acting(user: dict[str, Any], ip: str) -> Principal:
    return Principal(kind="user", id=user["id"], role=user["role"], ip=ip, user_agent=f"UA {ip}")


def history(db: Database) -> dict[str, Any]:
    """A user with a record and a varied history; a staff member; another customer."""
    user = make_user(db, email="mei@example.com", name="Tan Mei")
    staff = make_staff(db, email="boss@example.com", name="The Boss")
    other = make_customer(db, name="Other Person", email="other@example.com")
    me, boss = acting(user, USER_IP), acting(staff, STAFF_IP)
    with db.transaction() as conn:
        record = customer_service.create_customer(
            conn, me, {"name": "Tan Mei", "email": "mei@example.com", "phone": "+60 12-345 6789"}
        )
        customer_service.update_customer(conn, me, record["id"], {"city": "Ipoh"})
        customer_service.change_status(conn, boss, record["id"], "lead", reason="Mei asked")
        customer_service.update_customer(conn, boss, other["id"], {"city": "Kuching"})
        mine = notes.add_note(conn, me, record["id"], {"content": "Call me after six"})
        gone = notes.add_note(conn, me, record["id"], {"content": "My old number 0123"})
        notes.delete_note(conn, me, gone["id"])
        internal = notes.add_note(
            conn, boss, record["id"], {"content": "Slow payer", "visibility": "internal"}
        )
        call = interactions.log_interaction(
            conn, boss, record["id"], {"type": "call", "subject": "Intro with Mei"}
        )
        interactions.log_interaction(
            conn,
            boss,
            record["id"],
            {"type": "call", "subject": "Chase debt", "visibility": "internal"},
        )
        auth.create_session(conn, user["id"], origin=me)
    return {
        "user": user, "staff": staff, "record": record, "other": other, "me": me,
        "note": mine, "gone": gone, "internal": internal, "call": call,
    }  # fmt: skip


# --- export ----------------------------------------------------------------------------------


def test_export_holds_account_record_shared_items_sessions_and_history(
    database: Database,
) -> None:
    h = history(database)
    with database.read() as conn:
        export = gdpr.export_my_data(conn, h["me"])
    assert export["account"]["email"] == "mei@example.com"
    assert "passwordHash" not in export["account"]
    assert export["customer"]["$id"] == h["record"]["id"]
    assert [n["$id"] for n in export["notes"]] == [h["note"]["id"]]
    assert [i["$id"] for i in export["interactions"]] == [h["call"]["id"]]
    assert [s["ip"] for s in export["sessions"]] == [USER_IP]
    actions = [(e["action"], e["entityId"]) for e in export["auditLog"]]
    assert ("customer.created", h["record"]["id"]) in actions
    assert ("customer.status_changed", h["record"]["id"]) in actions
    assert ("note.deleted", h["gone"]["id"]) in actions
    assert ("user.created", h["user"]["id"]) in actions


def test_export_leaks_nothing_about_anyone_else(database: Database) -> None:
    h = history(database)
    with database.read() as conn:
        text = orjson.dumps(gdpr.export_my_data(conn, h["me"])).decode()
    for secret in ("Slow payer", "Chase debt", "Other Person", "other@example.com", "Kuching"):
        assert secret not in text
    for staff_data in (STAFF_IP, f"UA {STAFF_IP}", "boss@example.com", "The Boss"):
        assert staff_data not in text
    assert h["other"]["id"] not in text


def test_export_of_what_a_former_staff_member_did_omits_other_peoples_data(
    database: Database,
) -> None:
    staff = make_staff(database)
    other = make_customer(database, name="Someone Else")
    with database.transaction() as conn:
        customer_service.update_customer(
            conn, acting(staff, STAFF_IP), other["id"], {"city": "Miri"}
        )
    with database.read() as conn:
        export = gdpr.export_my_data(conn, acting(staff, STAFF_IP))
    [entry] = [e for e in export["auditLog"] if e["entityId"] == other["id"]]
    assert entry["action"] == "customer.updated"
    assert entry["changes"] is None and entry["ip"] == STAFF_IP
    assert export["customer"] is None


def test_an_api_key_has_no_personal_data(database: Database) -> None:
    with database.read() as conn, pytest.raises(Forbidden):
        gdpr.export_my_data(conn, API_KEY)
    with pytest.raises(Forbidden):
        gdpr.erase_me(database, API_KEY, "anything")


# --- erase -----------------------------------------------------------------------------------


def count(db: Database, table: Any, *where: Any) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def test_erase_deletes_record_items_and_account_and_keeps_the_trail(database: Database) -> None:
    h = history(database)
    record_id, user_id = h["record"]["id"], h["user"]["id"]
    trail_before = count(database, audit_logs)
    gdpr.erase_me(database, h["me"], TEST_PASSWORD)
    assert count(database, customers, customers.c.id == record_id) == 0
    assert count(database, customer_notes, customer_notes.c.customerId == record_id) == 0
    assert (
        count(database, customer_interactions, customer_interactions.c.customerId == record_id) == 0
    )
    assert count(database, users, users.c.id == user_id) == 0
    assert count(database, sessions, sessions.c.userId == user_id) == 0
    # Rows are kept, two more: the record's deletion and the erase itself.
    assert count(database, audit_logs) == trail_before + 2
    with database.read() as conn:
        last = conn.execute(select(audit_logs).order_by(audit_logs.c.seq.desc())).first()
    assert last is not None
    assert (last.action, last.entityId, last.ip) == ("user.erased", user_id, None)


def test_erase_pseudonymises_the_users_personal_data_in_the_audit_trail(
    database: Database,
) -> None:
    h = history(database)
    gdpr.erase_me(database, h["me"], TEST_PASSWORD)
    with database.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(audit_logs))]
    text = str(rows)
    for personal in ("mei@example.com", "Tan Mei", "+60 12-345 6789", "Ipoh", "Mei asked"):
        assert personal not in text
    for personal in ("Call me after six", "My old number 0123", "Intro with Mei", USER_IP):
        assert personal not in text
    # Other people's data and the facts themselves stay.
    assert STAFF_IP in text and "Kuching" in text and "boss@example.com" in text
    status = next(r for r in rows if r["action"] == "customer.status_changed")
    assert orjson.loads(status["changes"])["status"] == {"from": "active", "to": "lead"}
    assert status["reason"] == gdpr.ERASED and status["ip"] == STAFF_IP
    created = next(
        r for r in rows if (r["entityId"], r["action"]) == (h["record"]["id"], "customer.created")
    )
    assert orjson.loads(created["changes"])["email"] == {"from": None, "to": gdpr.ERASED}
    assert created["ip"] == gdpr.ERASED and created["userAgent"] == gdpr.ERASED


def test_erase_needs_the_right_password_and_counts_a_wrong_one(database: Database) -> None:
    h = history(database)
    with pytest.raises(ValidationFailed) as caught:
        gdpr.erase_me(database, h["me"], "not my password")
    assert set(caught.value.fields) == {"password"}
    with pytest.raises(ValidationFailed) as empty:  # the web form's field left empty
        gdpr.erase_me(database, h["me"], "")
    assert set(empty.value.fields) == {"password"}
    assert count(database, users, users.c.id == h["user"]["id"]) == 1
    assert count(database, login_throttle, login_throttle.c.key == "account:mei@example.com") == 1


def test_erase_forgets_the_sign_in_counter_of_the_account(database: Database) -> None:
    h = history(database)
    with pytest.raises(ValidationFailed):
        gdpr.erase_me(database, h["me"], "wrong password")
    gdpr.erase_me(database, h["me"], TEST_PASSWORD)
    assert count(database, login_throttle, login_throttle.c.key == "account:mei@example.com") == 0


def test_erase_without_a_password_takes_the_signed_in_principal(database: Database) -> None:
    h = history(database)
    gdpr.erase_me(database, h["me"], None)
    assert count(database, users, users.c.id == h["user"]["id"]) == 0


def test_erase_without_a_customer_record(database: Database) -> None:
    user = make_user(database)
    gdpr.erase_me(database, acting(user, USER_IP), TEST_PASSWORD)
    assert count(database, users, users.c.id == user["id"]) == 0


def test_the_last_administrator_cannot_erase_themselves(database: Database) -> None:
    only = make_staff(database)
    with pytest.raises(Conflict):
        gdpr.erase_me(database, acting(only, STAFF_IP), TEST_PASSWORD)
    second = make_staff(database)
    record = make_customer(database, assignedTo=only["id"])
    gdpr.erase_me(database, acting(only, STAFF_IP), TEST_PASSWORD)
    with database.read() as conn:
        assert customer_service.get_customer(conn, SYSTEM, record["id"])["assignedTo"] is None
    assert count(database, users, users.c.id == second["id"]) == 1


def test_a_failed_erase_changes_nothing(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One transaction: a failure after the record's deletion rolls everything back."""
    h = history(database)
    before = count(database, audit_logs)

    def fail(*_args: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(gdpr.user_service, "remove_account", fail)
    with pytest.raises(RuntimeError):
        gdpr.erase_me(database, h["me"], TEST_PASSWORD)
    assert count(database, customers, customers.c.id == h["record"]["id"]) == 1
    assert count(database, customer_notes, customer_notes.c.customerId == h["record"]["id"]) == 2
    assert count(database, audit_logs) == before
