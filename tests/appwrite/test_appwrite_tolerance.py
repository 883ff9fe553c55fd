"""The seed tolerance of appwrite-compat §3, at the service level: `tolerate_unchanged=True`
accepts a staff-only or system field only when its value is what clientbook stores anyway;
without the option (the native API) every such field is refused, as SPEC §5 says."""

from __future__ import annotations

import pytest

from clientbook.access import Principal
from clientbook.db.engine import Database
from clientbook.domain.errors import Forbidden, ValidationFailed
from clientbook.services import customers as svc
from tests.factories import as_principal, make_customer, make_staff, make_user

KEY = Principal(kind="api_key", id="key-1", role="super_admin")
SEED_EXTRAS = {"status": "active", "totalRevenue": 0.0, "totalInvoices": 0, "assignedTo": None}


def test_the_seeds_create_as_a_user_is_accepted(database: Database) -> None:
    user = make_user(database)
    data = {"name": "Tan", "userId": user["id"], **SEED_EXTRAS, "createdBy": user["id"]}
    with database.transaction() as conn:
        row = svc.create_customer(conn, as_principal(user), data, tolerate_unchanged=True)
    assert row["createdBy"] == user["id"] and row["status"] == "active"


def test_the_native_api_stays_strict(database: Database) -> None:
    user = make_user(database)
    data = {"name": "Tan", "userId": user["id"], "status": "active"}
    with pytest.raises(Forbidden), database.transaction() as conn:
        svc.create_customer(conn, as_principal(user), data)


@pytest.mark.parametrize(
    ("field", "value"),
    [("status", "lead"), ("totalRevenue", 5.0), ("createdBy", "someone-else"), ("source", "other")],
)
def test_other_values_are_still_forbidden(database: Database, field: str, value: object) -> None:
    user = make_user(database)
    data = {"name": "Tan", "userId": user["id"], field: value}
    with pytest.raises(Forbidden) as info, database.transaction() as conn:
        svc.create_customer(conn, as_principal(user), data, tolerate_unchanged=True)
    assert field in info.value.fields


def test_an_owner_may_resend_current_values_on_update(database: Database) -> None:
    user = make_user(database)
    record = make_customer(database, user, name="Tan")
    principal = as_principal(user)
    same = {"status": record["status"], "userId": user["id"], "city": "Ipoh"}
    with database.transaction() as conn:
        row = svc.update_customer(conn, principal, record["id"], same, tolerate_unchanged=True)
    assert row["city"] == "Ipoh"
    with pytest.raises(Forbidden), database.transaction() as conn:
        svc.update_customer(
            conn, principal, record["id"], {"status": "archived"}, tolerate_unchanged=True
        )


def test_staff_may_name_only_themselves_as_the_actor(database: Database) -> None:
    staff, other = make_staff(database), make_staff(database)
    record = make_customer(database)
    with database.transaction() as conn:
        row = svc.update_customer(
            conn,
            as_principal(staff),
            record["id"],
            {"updatedBy": staff["id"], "status": "lead"},
            tolerate_unchanged=True,
        )
    assert row["updatedBy"] == staff["id"]
    with pytest.raises(Forbidden), database.transaction() as conn:
        svc.update_customer(
            conn,
            as_principal(staff),
            record["id"],
            {"updatedBy": other["id"]},
            tolerate_unchanged=True,
        )


def test_an_api_key_names_the_human_actor(database: Database) -> None:
    owner, rep = make_user(database), make_staff(database)
    with database.transaction() as conn:
        created = svc.create_customer(
            conn,
            KEY,
            {"name": "Lim", "userId": owner["id"], "createdBy": rep["id"]},
            tolerate_unchanged=True,
        )
        updated = svc.update_customer(
            conn,
            KEY,
            created["id"],
            {"status": "lead", "updatedBy": rep["id"]},
            tolerate_unchanged=True,
        )
    assert created["createdBy"] == rep["id"] and updated["updatedBy"] == rep["id"]
    with pytest.raises(ValidationFailed) as info, database.transaction() as conn:
        svc.update_customer(
            conn, KEY, created["id"], {"updatedBy": "no-such-user"}, tolerate_unchanged=True
        )
    assert "updatedBy" in info.value.fields
    with pytest.raises(Forbidden), database.transaction() as conn:
        svc.update_customer(
            conn, KEY, created["id"], {"createdBy": owner["id"]}, tolerate_unchanged=True
        )
