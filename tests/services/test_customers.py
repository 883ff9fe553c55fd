"""The customer use cases at the service layer: the seed's rules, SPEC §5's matrix, the audit."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from clientbook.access import SYSTEM, Principal
from clientbook.db.engine import Database
from clientbook.db.tables import audit_logs, customer_interactions, customer_tags, customers
from clientbook.domain.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    Unauthenticated,
    ValidationFailed,
)
from clientbook.services import customers as svc
from tests.factories import as_principal, make_customer, make_staff, make_user

API_KEY = Principal(kind="api_key", id="key1", role="super_admin")


def audit_actions(db: Database, entity_id: str) -> list[str]:
    with db.read() as conn:
        rows = conn.execute(
            select(audit_logs.c.action)
            .where(audit_logs.c.entityId == entity_id)
            .order_by(audit_logs.c.seq)
        )
        return [r.action for r in rows]


def create(db: Database, principal: Principal | None, data: dict[str, Any]) -> dict[str, Any]:
    with db.transaction() as conn:
        return svc.create_customer(conn, principal, data)


def update(db: Database, principal: Principal, cid: str, data: dict[str, Any], **kw: Any) -> Any:
    with db.transaction() as conn:
        return svc.update_customer(conn, principal, cid, data, **kw)


def count_customers(db: Database) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(customers)).scalar_one()


# --- create ----------------------------------------------------------------------------------


def test_user_creates_own_record_with_seed_defaults(database: Database) -> None:
    user = make_user(database, name="Tan Mei Ling")
    record = create(database, as_principal(user), {"name": "Tan Mei Ling"})
    assert record["userId"] == user["id"]
    assert record["status"] == "active"
    assert record["customerType"] == "individual"
    assert record["currency"] == "MYR"
    assert record["language"] == "en"
    assert record["totalRevenue"] == 0.0
    assert record["totalInvoices"] == 0
    assert record["createdBy"] == user["id"]
    assert record["updatedBy"] is None
    assert audit_actions(database, record["id"]) == ["customer.created"]


def test_user_create_is_prefilled_from_the_account(database: Database) -> None:
    user = make_user(database, name="Siti Aminah", email="siti@example.my")
    record = create(database, as_principal(user), {})
    assert record["name"] == "Siti Aminah"
    assert record["email"] == "siti@example.my"


def test_second_record_for_the_same_user_is_a_conflict(database: Database) -> None:
    user = make_user(database)
    create(database, as_principal(user), {"name": "First"})
    with pytest.raises(Conflict) as caught:
        create(database, as_principal(user), {"name": "Second", "email": "other@example.com"})
    assert "userId" in caught.value.fields
    assert count_customers(database) == 1


def test_duplicate_email_in_other_case_is_a_conflict(database: Database) -> None:
    make_customer(database, email="Ali@Example.com")
    with pytest.raises(Conflict) as caught:
        make_customer(database, email="ali@example.COM")
    assert "email" in caught.value.fields


def test_user_cannot_create_a_record_for_someone_else(database: Database) -> None:
    user, other = make_user(database), make_user(database)
    with pytest.raises(Forbidden) as caught:
        create(database, as_principal(user), {"name": "X", "userId": other["id"]})
    assert "userId" in caught.value.fields


def test_staff_create_a_record_for_any_user_without_one(database: Database) -> None:
    staff, user = make_staff(database), make_user(database)
    record = create(
        database, as_principal(staff), {"name": "Acme", "userId": user["id"], "totalRevenue": 10}
    )
    assert record["userId"] == user["id"]
    assert record["createdBy"] == staff["id"]
    assert record["totalRevenue"] == 10


def test_api_key_creates_with_no_acting_user(database: Database) -> None:
    user = make_user(database)
    record = create(database, API_KEY, {"name": "Via key", "userId": user["id"]})
    assert record["createdBy"] is None


@pytest.mark.parametrize("field", ["status", "assignedTo", "source", "totalRevenue"])
def test_user_sending_a_staff_only_field_is_forbidden_naming_it(
    database: Database, field: str
) -> None:
    user = make_user(database)
    with pytest.raises(Forbidden) as caught:
        create(database, as_principal(user), {"name": "X", field: None})
    assert field in caught.value.fields
    assert count_customers(database) == 0


@pytest.mark.parametrize("field", ["createdBy", "updatedBy", "$createdAt", "$updatedAt"])
def test_system_fields_are_forbidden_even_for_staff(database: Database, field: str) -> None:
    staff, user = make_staff(database), make_user(database)
    with pytest.raises(Forbidden) as caught:
        create(database, as_principal(staff), {"name": "X", "userId": user["id"], field: "x"})
    assert field in caught.value.fields


def test_anonymous_cannot_create(database: Database) -> None:
    with pytest.raises(Unauthenticated):
        create(database, None, {"name": "X"})


def test_staff_create_needs_an_existing_user(database: Database) -> None:
    with pytest.raises(ValidationFailed) as caught:
        create(database, SYSTEM, {"name": "X", "userId": "nosuchuser"})
    assert "userId" in caught.value.fields


def test_company_customer_types_require_a_company(database: Database) -> None:
    user = make_user(database)
    with pytest.raises(ValidationFailed) as caught:
        create(database, as_principal(user), {"name": "X", "customerType": "government"})
    assert "company" in caught.value.fields


def test_client_supplied_id_is_used(database: Database) -> None:
    record = make_customer(database, **{"$id": "my-own.id_1"})
    assert record["id"] == "my-own.id_1"


# --- read ------------------------------------------------------------------------------------


def test_user_cannot_read_another_users_customer(database: Database) -> None:
    record = make_customer(database)
    stranger = make_user(database)
    with database.read() as conn, pytest.raises(NotFound):
        svc.get_customer(conn, as_principal(stranger), record["id"])


def test_staff_read_any_record(database: Database) -> None:
    record = make_customer(database)
    with database.read() as conn:
        assert svc.get_customer(conn, API_KEY, record["id"])["id"] == record["id"]


# --- update ----------------------------------------------------------------------------------


def test_owner_updates_profile_fields_and_updated_by_is_set(database: Database) -> None:
    user = make_user(database)
    record = make_customer(database, owner=user)
    changed = update(database, as_principal(user), record["id"], {"city": " Ipoh "})
    assert changed["city"] == "Ipoh"
    assert changed["updatedBy"] == user["id"]
    assert changed["version"] == record["version"] + 1
    assert audit_actions(database, record["id"])[-1] == "customer.updated"


def test_owner_cannot_update_staff_only_fields(database: Database) -> None:
    user = make_user(database)
    record = make_customer(database, owner=user)
    with pytest.raises(Forbidden) as caught:
        update(database, as_principal(user), record["id"], {"status": "lead"})
    assert "status" in caught.value.fields


def test_user_id_is_immutable(database: Database) -> None:
    record = make_customer(database)
    other = make_user(database)
    with pytest.raises(Forbidden) as caught:
        update(database, SYSTEM, record["id"], {"userId": other["id"]})
    assert "userId" in caught.value.fields


def test_user_cannot_update_another_users_record(database: Database) -> None:
    record = make_customer(database)
    stranger = make_user(database)
    with pytest.raises(NotFound):
        update(database, as_principal(stranger), record["id"], {"city": "Ipoh"})


def test_an_update_that_changes_nothing_writes_nothing(database: Database) -> None:
    record = make_customer(database, city="Ipoh")
    same = update(database, SYSTEM, record["id"], {"city": "Ipoh"})
    assert same["version"] == record["version"]
    assert audit_actions(database, record["id"]) == ["customer.created"]


def test_stale_version_is_a_precondition_failure(database: Database) -> None:
    record = make_customer(database)
    update(database, SYSTEM, record["id"], {"city": "Ipoh"})
    with pytest.raises(PreconditionFailed):
        update(database, SYSTEM, record["id"], {"city": "Klang"}, expected_version=1)


def test_email_change_to_a_taken_email_is_a_conflict(database: Database) -> None:
    make_customer(database, email="taken@example.com")
    record = make_customer(database)
    with pytest.raises(Conflict):
        update(database, SYSTEM, record["id"], {"email": "TAKEN@example.com"})


def test_assignee_must_be_an_active_super_admin(database: Database) -> None:
    record = make_customer(database)
    plain = make_user(database)
    with database.transaction() as conn, pytest.raises(ValidationFailed) as caught:
        svc.assign_customer(conn, SYSTEM, record["id"], plain["id"])
    assert "assignedTo" in caught.value.fields
    rep = make_staff(database)
    with database.transaction() as conn:
        assert svc.assign_customer(conn, SYSTEM, record["id"], rep["id"])["assignedTo"] == rep["id"]
    assert audit_actions(database, record["id"])[-1] == "customer.assigned"


# --- status, last contact, tags -------------------------------------------------------------


def test_status_change_merges_reason_into_metadata_and_audits(database: Database) -> None:
    staff = make_staff(database)
    record = make_customer(database, metadata={"tags": ["vip"]})
    with database.transaction() as conn:
        changed = svc.change_status(
            conn, as_principal(staff), record["id"], "inactive", reason="No reply"
        )
    metadata = orjson.loads(changed["metadata"])
    assert changed["status"] == "inactive"
    assert metadata["tags"] == ["vip"]
    assert metadata["statusChangeReason"] == "No reply"
    assert metadata["statusChangedBy"] == staff["id"]
    assert metadata["statusChangedAt"].endswith("+00:00")
    assert changed["updatedBy"] == staff["id"]
    with database.read() as conn:
        row = conn.execute(
            select(audit_logs).where(audit_logs.c.action == "customer.status_changed")
        ).one()
    assert row.reason == "No reply"
    assert orjson.loads(row.changes)["status"] == {"from": "active", "to": "inactive"}


def test_status_change_without_reason_removes_the_old_reason(database: Database) -> None:
    record = make_customer(database)
    with database.transaction() as conn:
        svc.change_status(conn, SYSTEM, record["id"], "lead", reason="Cold")
        changed = svc.change_status(conn, SYSTEM, record["id"], "prospect")
    assert "statusChangeReason" not in orjson.loads(changed["metadata"])


def test_status_changed_by_patch_is_recorded_in_metadata_like_the_action(
    database: Database,
) -> None:
    # PATCH {"status"} used to leave the previous change's reason, time and actor in place.
    staff = make_staff(database)
    record = make_customer(database, metadata={"tags": ["vip"]})
    with database.transaction() as conn:
        svc.change_status(conn, SYSTEM, record["id"], "lead", reason="Cold")
        changed = svc.update_customer(
            conn, as_principal(staff), record["id"], {"status": "archived"}
        )
    metadata = orjson.loads(changed["metadata"])
    assert changed["status"] == "archived"
    assert "statusChangeReason" not in metadata
    assert metadata["statusChangedBy"] == staff["id"]
    assert metadata["tags"] == ["vip"]
    assert audit_actions(database, record["id"])[-1] == "customer.status_changed"


def test_a_patch_sending_status_and_metadata_keeps_the_metadata_it_sent(
    database: Database,
) -> None:
    # The seed's updateCustomerStatus merges the reason into metadata itself.
    record = make_customer(database)
    sent = {"statusChangeReason": "Paid", "statusChangedAt": "2026-01-02T03:04:05.000+00:00"}
    with database.transaction() as conn:
        changed = svc.update_customer(
            conn, SYSTEM, record["id"], {"status": "inactive", "metadata": sent}
        )
    assert orjson.loads(changed["metadata"]) == sent


def test_status_change_to_the_current_status_is_a_no_op(database: Database) -> None:
    record = make_customer(database)
    with database.transaction() as conn:
        same = svc.change_status(conn, SYSTEM, record["id"], "active", reason="why")
    assert same["version"] == record["version"]
    assert audit_actions(database, record["id"]) == ["customer.created"]


def test_a_bad_reason_or_contact_time_is_named_as_sent(database: Database) -> None:
    # They were named by the fields they end up in: `metadata` and `lastContactAt`.
    record = make_customer(database)
    for reason in ("x" * 6000, "nul\x00byte"):
        with pytest.raises(ValidationFailed) as caught, database.transaction() as conn:
            svc.change_status(conn, SYSTEM, record["id"], "lead", reason=reason)
        assert set(caught.value.fields) == {"reason"}
    with pytest.raises(ValidationFailed) as caught, database.transaction() as conn:
        svc.record_contact(conn, SYSTEM, record["id"], at="garbage")
    assert set(caught.value.fields) == {"at"}


def test_owner_cannot_change_status(database: Database) -> None:
    user = make_user(database)
    record = make_customer(database, owner=user)
    with database.transaction() as conn, pytest.raises(Forbidden):
        svc.change_status(conn, as_principal(user), record["id"], "archived")


def test_invalid_status_is_rejected(database: Database) -> None:
    record = make_customer(database)
    with database.transaction() as conn, pytest.raises(ValidationFailed) as caught:
        svc.change_status(conn, SYSTEM, record["id"], "deleted")
    assert "status" in caught.value.fields


def test_record_contact_sets_last_contact(database: Database) -> None:
    record = make_customer(database)
    with database.transaction() as conn:
        changed = svc.record_contact(conn, SYSTEM, record["id"], at="2025-01-15T09:30:00Z")
    assert changed["lastContactAt"].isoformat() == "2025-01-15T09:30:00+00:00"


def test_owner_manages_their_own_tags_and_the_side_table_follows(database: Database) -> None:
    user = make_user(database)
    record = make_customer(database, owner=user)
    principal = as_principal(user)
    with database.transaction() as conn:
        svc.set_tags(conn, principal, record["id"], ["VIP", "vip", " enterprise "])
        svc.add_tag(conn, principal, record["id"], "priority")
        changed = svc.remove_tag(conn, principal, record["id"], "ENTERPRISE")
    assert orjson.loads(changed["metadata"])["tags"] == ["VIP", "priority"]
    with database.read() as conn:
        keys = conn.execute(
            select(customer_tags.c.tagKey).where(customer_tags.c.customerId == record["id"])
        )
        assert sorted(r.tagKey for r in keys) == ["priority", "vip"]


# --- delete ----------------------------------------------------------------------------------


def test_owner_deletes_their_record_and_it_is_audited(database: Database) -> None:
    user = make_user(database)
    record = make_customer(database, owner=user, metadata={"tags": ["a"]})
    with database.transaction() as conn:
        svc.delete_customer(conn, as_principal(user), record["id"])
    assert count_customers(database) == 0
    assert audit_actions(database, record["id"])[-1] == "customer.deleted"
    with database.read() as conn:
        assert conn.execute(select(func.count()).select_from(customer_tags)).scalar_one() == 0
        assert (
            conn.execute(select(func.count()).select_from(customer_interactions)).scalar_one() == 0
        )


def test_stranger_cannot_delete(database: Database) -> None:
    record = make_customer(database)
    stranger = as_principal(make_user(database))
    with database.transaction() as conn, pytest.raises(NotFound):
        svc.delete_customer(conn, stranger, record["id"])


# --- the audit and the transaction ----------------------------------------------------------


def test_a_rolled_back_change_leaves_no_audit_row(database: Database) -> None:
    record = make_customer(database)
    with pytest.raises(RuntimeError), database.transaction() as conn:
        svc.update_customer(conn, SYSTEM, record["id"], {"city": "Ipoh"})
        raise RuntimeError("the face failed after the service returned")
    with database.read() as conn:
        assert svc.get_customer(conn, SYSTEM, record["id"])["city"] is None
    assert audit_actions(database, record["id"]) == ["customer.created"]


def test_every_change_has_its_audit_row(database: Database) -> None:
    record = make_customer(database)
    with database.transaction() as conn:
        svc.update_customer(conn, SYSTEM, record["id"], {"city": "Ipoh", "state": "Perak"})
        svc.change_status(conn, SYSTEM, record["id"], "lead")
        svc.record_contact(conn, SYSTEM, record["id"])
        svc.set_tags(conn, SYSTEM, record["id"], ["x"])
    assert audit_actions(database, record["id"]) == [
        "customer.created",
        "customer.updated",
        "customer.status_changed",
        "customer.contacted",
        "customer.tagged",
    ]


# --- an API key naming the human actor (appwrite-compat §3) ----------------------------------

_KEY = Principal(kind="api_key", id="key-1", role="super_admin")


def test_an_api_key_naming_a_new_actor_alone_is_a_change(database: Database) -> None:
    # It was dropped: no field changed, so nothing was written and `updatedBy` stayed as it was.
    owner, rep = make_user(database), make_staff(database)
    record = make_customer(database, owner=owner)
    with database.transaction() as conn:
        updated = svc.update_customer(
            conn, _KEY, record["id"], {"updatedBy": rep["id"]}, tolerate_unchanged=True
        )
        again = svc.update_customer(
            conn, _KEY, record["id"], {"updatedBy": rep["id"]}, tolerate_unchanged=True
        )
    assert updated["updatedBy"] == rep["id"]
    assert updated["version"] == record["version"] + 1
    assert again["version"] == updated["version"]  # the same name again changes nothing
    assert audit_actions(database, record["id"])[-1] == "customer.updated"


def test_an_api_key_may_name_the_actor_as_updated_by_on_create(database: Database) -> None:
    owner, rep = make_user(database), make_staff(database)
    data = {"name": "Lim", "userId": owner["id"], "createdBy": rep["id"], "updatedBy": rep["id"]}
    with database.transaction() as conn:
        created = svc.create_customer(conn, _KEY, data, tolerate_unchanged=True)
    assert created["createdBy"] == rep["id"] and created["updatedBy"] == rep["id"]
    other = make_staff(database)
    data = {"name": "Ong", "userId": make_user(database)["id"], "createdBy": rep["id"],
            "updatedBy": other["id"]}  # fmt: skip
    with pytest.raises(ValidationFailed) as info, database.transaction() as conn:
        svc.create_customer(conn, _KEY, data, tolerate_unchanged=True)
    assert "updatedBy" in info.value.fields


# --- an owner's metadata: staff's keys stay staff's (SPEC §5) ------------------------------------


def _owned_with_a_status_reason(database: Database) -> tuple[dict[str, Any], dict[str, Any]]:
    user = make_user(database)
    record = make_customer(database, owner=user, metadata={"tags": ["a"]})
    with database.transaction() as conn:
        record = svc.change_status(conn, SYSTEM, record["id"], "lead", reason="Called")
    return user, record


def test_an_owner_may_not_write_staffs_metadata_keys(database: Database) -> None:
    # An owner could forge the status change's reason, or erase it by sending only tags.
    user, record = _owned_with_a_status_reason(database)
    forged = {"tags": ["x"], "statusChangeReason": "forged", "integrationData": {"crm": 1}}
    with pytest.raises(Forbidden) as caught, database.transaction() as conn:
        svc.update_customer(conn, as_principal(user), record["id"], {"metadata": forged})
    assert set(caught.value.fields) == {
        "metadata.statusChangeReason",
        "metadata.integrationData",
    }
    newcomer = as_principal(make_user(database))
    with pytest.raises(Forbidden), database.transaction() as conn:
        svc.create_customer(conn, newcomer, {"name": "N", "metadata": {"lastSyncAt": "x"}})


def test_an_owners_metadata_keeps_staffs_keys(database: Database) -> None:
    user, record = _owned_with_a_status_reason(database)
    stored = orjson.loads(record["metadata"])
    with database.transaction() as conn:
        only_tags = svc.update_customer(
            conn, as_principal(user), record["id"], {"metadata": {"tags": ["b"]}}
        )
        sent_back = svc.update_customer(
            conn,
            as_principal(user),
            record["id"],
            {"metadata": {**stored, "tags": ["c"], "customFields": {"size": 3}, "colour": "red"}},
        )
        cleared = svc.update_customer(conn, as_principal(user), record["id"], {"metadata": None})
    assert orjson.loads(only_tags["metadata"]) == {**stored, "tags": ["b"]}
    assert orjson.loads(sent_back["metadata"]) == {
        **stored,
        "tags": ["c"],
        "customFields": {"size": 3},
        "colour": "red",  # a key of the owner's own: kept as sent (appwrite-compat §4)
    }
    kept = {k: v for k, v in stored.items() if k != "tags"}
    assert orjson.loads(cleared["metadata"]) == kept
    assert kept["statusChangeReason"] == "Called"
