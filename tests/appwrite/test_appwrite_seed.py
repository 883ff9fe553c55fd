"""The seed's business logic and every query of its "Query Patterns", through the real Python
SDK against a live server (appwrite-compat §8), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from appwrite.exception import AppwriteException
from appwrite.id import ID
from appwrite.query import Query
from sqlalchemy import select

from clientbook.db.tables import audit_logs
from tests.appwrite.live import Live, unique
from tests.appwrite.seed import (
    CUSTOMER_NOTES_COLLECTION_ID,
    CUSTOMERS_COLLECTION_ID,
    DATABASE_ID,
    USERS_COLLECTION_ID,
    Seed,
    add_customer_tag,
    get_customer_tags,
    remove_customer_tag,
    set_customer_tags,
)

pytestmark = pytest.mark.xdist_group("appwrite")  # one worker: the live servers start once


def _audit(live: Live, entity_id: str) -> list[dict[str, Any]]:
    with live.db.read() as conn:
        rows = conn.execute(
            select(audit_logs).where(audit_logs.c.entityId == entity_id).order_by(audit_logs.c.seq)
        )
        return [dict(row._mapping) for row in rows]


# --- createCustomer --------------------------------------------------------------------------


def test_create_customer_as_the_signed_in_user(live: Live) -> None:
    user = live.user()
    seed = Seed(live.tables(live.as_user(user)))
    email = f"{unique('mei')}@example.com"

    customer = seed.create_customer(
        {"name": "Tan Mei Ling", "email": email, "phone": "+60 12-345 6789"}, user["id"]
    )

    data = customer.data
    assert customer.tableid == "customers" and customer.databaseid == DATABASE_ID
    assert customer.sequence.isdigit()
    assert data["userId"] == user["id"] and data["createdBy"] == user["id"]
    assert data["status"] == "active" and data["customerType"] == "individual"
    assert data["totalRevenue"] == 0 and data["totalInvoices"] == 0
    assert data["currency"] == "MYR" and data["language"] == "en"
    assert f'read("user:{user["id"]}")' in customer.permissions
    assert seed.audit_logger.calls == [("created", user["id"], customer.id, "Tan Mei Ling")]
    assert [row["action"] for row in _audit(live, customer.id)] == ["customer.created"]
    with pytest.raises(ValueError, match="already exists for this user"):
        seed.create_customer({"name": "Again"}, user["id"])


def test_create_customer_with_an_api_key_names_the_owner_as_creator(live: Live) -> None:
    user = live.user()
    seed = Seed(live.tables())

    customer = seed.create_customer({"name": "Lim Wei", "company": "Lim Trading"}, user["id"])

    assert customer.data["createdBy"] == user["id"]
    assert _audit(live, customer.id)[0]["actorType"] == "api_key"


def test_create_customer_checks_of_the_seed(live: Live) -> None:
    owner, other = live.user(), live.user()
    email = f"{unique('dup')}@example.com"
    seed = Seed(live.tables())
    seed.create_customer({"name": "First", "email": email}, owner["id"])
    with pytest.raises(ValueError, match="name is required"):
        seed.create_customer({"email": "x@example.com"}, other["id"])
    with pytest.raises(ValueError, match="Invalid email format"):
        seed.create_customer({"name": "Bad", "email": "not-an-email"}, other["id"])
    with pytest.raises(ValueError, match="this email already exists"):
        seed.create_customer({"name": "Second", "email": email.upper()}, other["id"])


# --- updateCustomerStatus, updateLastContact ---------------------------------------------------


def test_update_customer_status_merges_the_reason_into_metadata(live: Live) -> None:
    staff = live.staff()
    customer = live.customer(metadata={"tags": ["vip"], "customFields": {"tier": 2}})
    seed = Seed(live.tables())

    seed.update_customer_status(customer["id"], "prospect", staff["id"], "Qualified on call")

    row = seed.get_customer(customer["id"])
    assert row is not None
    metadata = json.loads(row.data["metadata"])
    assert row.data["status"] == "prospect" and row.data["updatedBy"] == staff["id"]
    assert metadata["tags"] == ["vip"] and metadata["customFields"] == {"tier": 2}
    assert metadata["statusChangeReason"] == "Qualified on call"
    assert metadata["statusChangedBy"] == staff["id"] and metadata["statusChangedAt"]
    change = _audit(live, customer["id"])[-1]
    assert change["action"] == "customer.status_changed"
    assert change["reason"] == "Qualified on call" and change["actorType"] == "api_key"
    assert seed.audit_logger.calls[-1][3:] == ("active", "prospect", "Qualified on call")


def test_update_customer_status_of_a_missing_customer(live: Live) -> None:
    with pytest.raises(ValueError, match="Customer not found"):
        Seed(live.tables()).update_customer_status(ID.unique(), "lead", live.staff()["id"])


def test_update_last_contact(live: Live) -> None:
    customer = live.customer()
    seed = Seed(live.tables())

    seed.update_last_contact(customer["id"])
    first = seed.get_customer(customer["id"])
    assert first is not None and first.data["lastContactAt"] is not None
    stamped = datetime.fromisoformat(first.data["lastContactAt"])
    assert abs(stamped - datetime.now(UTC)) < timedelta(minutes=1)

    seed.update_last_contact(customer["id"], "2025-01-15T09:30:00Z")
    second = seed.get_customer(customer["id"])
    assert second is not None
    assert second.data["lastContactAt"] == "2025-01-15T09:30:00.000+00:00"


# --- tags ------------------------------------------------------------------------------------


def test_tag_helpers_and_the_seed_usage_example(live: Live) -> None:
    tag = unique("tag")
    customer_row = live.customer(metadata={"tags": [tag, "enterprise"]})
    tables_db = live.tables()
    customer = Seed(tables_db).get_customer(customer_row["id"])
    assert customer is not None

    # Get tags from customer metadata
    tags = get_customer_tags(customer.data["metadata"])  # Returns: [tag, "enterprise"]
    assert tags == [tag, "enterprise"]

    # Set tags in metadata
    updated_metadata = set_customer_tags(customer.data["metadata"], [*tags, "priority"])

    # Update customer with new tags
    tables_db.update_row(
        database_id=DATABASE_ID,
        table_id=CUSTOMERS_COLLECTION_ID,
        row_id=customer.id,
        data={"metadata": updated_metadata},
    )

    added = add_customer_tag(updated_metadata, "Priority")  # already there, any case
    assert get_customer_tags(added) == [tag, "enterprise", "priority"]
    removed = remove_customer_tag(added, "ENTERPRISE")
    row = tables_db.update_row(
        DATABASE_ID, CUSTOMERS_COLLECTION_ID, customer.id, {"metadata": removed}
    )
    assert get_customer_tags(row.data["metadata"]) == [tag, "priority"]
    found = tables_db.list_rows(
        DATABASE_ID, CUSTOMERS_COLLECTION_ID, [Query.contains("tags", [tag])]
    )
    assert [r.id for r in found.rows] == [customer.id]
    assert (
        tables_db.list_rows(
            DATABASE_ID, CUSTOMERS_COLLECTION_ID, [Query.contains_all("tags", [tag, "enterprise"])]
        ).total
        == 0
    )


# --- Query Patterns --------------------------------------------------------------------------


@pytest.fixture
def book(live: Live) -> dict[str, Any]:
    """A small book of customers of one company, assigned to one new rep."""
    rep = live.staff()
    company = unique("Company ")
    word = unique("zq")
    now = datetime.now(UTC)
    made = {
        "tan": live.customer(
            name=f"Tan {word}", email=f"{word}@example.com", company=company, assignedTo=rep["id"],
            lastContactAt=now - timedelta(days=3), nextFollowUpAt=now - timedelta(days=1),
            totalRevenue=1200.0,
        ),
        "lim": live.customer(
            name=f"Lim {word}", company=company, assignedTo=rep["id"], status="lead",
            nextFollowUpAt=now - timedelta(days=2), totalRevenue=300.0,
        ),
        "ahmad": live.customer(
            name="Ahmad bin Ali", company=company, assignedTo=rep["id"],
            lastContactAt=now - timedelta(days=1), nextFollowUpAt=now + timedelta(days=5),
        ),
        "archived": live.customer(
            name="Zed Archived", company=company, status="archived",
            nextFollowUpAt=now - timedelta(days=9),
        ),
    }  # fmt: skip
    return {"rep": rep, "company": company, "word": word, "made": made}


def _ids(result: Any) -> list[str]:
    return [row.id for row in result.rows]


def test_get_customer_by_user_id_with_its_user(live: Live, book: dict[str, Any]) -> None:
    tan = book["made"]["tan"]
    user_id = tan["userId"]
    tables_db = live.tables()

    # Basic query using relationship field
    customer = tables_db.list_rows(
        database_id=DATABASE_ID,
        table_id=CUSTOMERS_COLLECTION_ID,
        queries=[
            Query.equal("userId", user_id),  # Relationship query
            Query.limit(1),
        ],
    )

    # With relationship population (if supported by your Appwrite version)
    customer_with_user = None
    if len(customer.rows) > 0:
        user = tables_db.get_row(
            database_id=DATABASE_ID,
            table_id=USERS_COLLECTION_ID,
            row_id=customer.rows[0].data["userId"],
        )
        customer_with_user = {**customer.rows[0].data, "userId": user}

    assert _ids(customer) == [tan["id"]] and customer.total == 1
    assert customer_with_user is not None
    user_row = customer_with_user["userId"]
    assert user_row.id == user_id and user_row.tableid == "users"
    assert set(user_row.data) == {"email", "name", "role", "status", "lastLoginAt"}


def test_get_customer_by_email(live: Live, book: dict[str, Any]) -> None:
    email = book["made"]["tan"]["email"]
    customer = live.tables().list_rows(
        database_id=DATABASE_ID,
        table_id=CUSTOMERS_COLLECTION_ID,
        queries=[Query.equal("email", email.upper()), Query.limit(1)],
    )
    assert _ids(customer) == [book["made"]["tan"]["id"]]


def _nulls_lowest(values: list[Any], *, descending: bool) -> bool:
    present = [v for v in values if v is not None]
    ordered = sorted(present, reverse=descending)
    if descending:
        return values == ordered + [None] * (len(values) - len(present))
    return values == [None] * (len(values) - len(present)) + ordered


def test_get_active_customers(live: Live, book: dict[str, Any]) -> None:
    active_customers = live.tables().list_rows(
        database_id=DATABASE_ID,
        table_id=CUSTOMERS_COLLECTION_ID,
        queries=[
            Query.equal("status", "active"),
            Query.order_desc("lastContactAt"),
            Query.limit(50),
        ],
    )
    rows = active_customers.rows
    assert 0 < len(rows) <= 50 and active_customers.total >= len(rows)
    assert all(row.data["status"] == "active" for row in rows)
    assert _nulls_lowest([row.data["lastContactAt"] for row in rows], descending=True)


def test_get_customers_by_assigned_user(live: Live, book: dict[str, Any]) -> None:
    user_id = book["rep"]["id"]
    # Query customers by assigned user relationship
    assigned_customers = live.tables().list_rows(
        database_id=DATABASE_ID,
        table_id=CUSTOMERS_COLLECTION_ID,
        queries=[
            Query.equal("assignedTo", user_id),  # Relationship query
            Query.equal("status", "active"),
            Query.order_asc("name"),
        ],
    )
    made = book["made"]
    assert _ids(assigned_customers) == [made["ahmad"]["id"], made["tan"]["id"]]


def test_get_customers_by_company(live: Live, book: dict[str, Any]) -> None:
    company_customers = live.tables().list_rows(
        database_id=DATABASE_ID,
        table_id=CUSTOMERS_COLLECTION_ID,
        queries=[Query.equal("company", book["company"]), Query.order_asc("name")],
    )
    made = book["made"]
    expected = [made[k]["id"] for k in ("ahmad", "lim", "tan", "archived")]
    assert _ids(company_customers) == expected and company_customers.total == 4


def test_get_customers_needing_follow_up(live: Live, book: dict[str, Any]) -> None:
    pattern = [
        Query.less_than_equal("nextFollowUpAt", datetime.now(UTC).isoformat()),
        Query.not_equal("status", "archived"),
        Query.order_asc("nextFollowUpAt"),
    ]
    tables_db = live.tables()
    follow_up_customers = tables_db.list_rows(
        database_id=DATABASE_ID, table_id=CUSTOMERS_COLLECTION_ID, queries=pattern
    )
    dues = [row.data["nextFollowUpAt"] for row in follow_up_customers.rows]
    assert dues and None not in dues and dues == sorted(dues)
    assert all(row.data["status"] != "archived" for row in follow_up_customers.rows)
    ours = tables_db.list_rows(
        DATABASE_ID, CUSTOMERS_COLLECTION_ID, [*pattern, Query.equal("company", book["company"])]
    )
    assert _ids(ours) == [book["made"]["lim"]["id"], book["made"]["tan"]["id"]]


def test_search_customers_by_name_or_email(live: Live, book: dict[str, Any]) -> None:
    search_term = book["word"]
    tables_db = live.tables()
    # Note: Appwrite doesn't support OR queries directly, so we need to search separately
    name_results = tables_db.list_rows(
        database_id=DATABASE_ID,
        table_id=CUSTOMERS_COLLECTION_ID,
        queries=[Query.search("name", search_term), Query.limit(25)],
    )
    email_results = tables_db.list_rows(
        database_id=DATABASE_ID,
        table_id=CUSTOMERS_COLLECTION_ID,
        queries=[Query.search("email", search_term), Query.limit(25)],
    )
    # Combine and deduplicate results
    all_results = [*name_results.rows, *email_results.rows]
    unique_results = list({c.id: c for c in all_results}.values())

    made = book["made"]
    assert {c.id for c in unique_results} == {made["tan"]["id"], made["lim"]["id"]}
    either = tables_db.list_rows(
        DATABASE_ID,
        CUSTOMERS_COLLECTION_ID,
        [Query.or_queries([Query.search("name", search_term), Query.equal("status", "lead")])],
    )
    assert made["lim"]["id"] in _ids(either)


def test_get_top_revenue_customers(live: Live, book: dict[str, Any]) -> None:
    top_customers = live.tables().list_rows(
        database_id=DATABASE_ID,
        table_id=CUSTOMERS_COLLECTION_ID,
        queries=[
            Query.greater_than("totalRevenue", 0),
            Query.order_desc("totalRevenue"),
            Query.limit(10),
        ],
    )
    revenue = [row.data["totalRevenue"] for row in top_customers.rows]
    assert revenue and all(r > 0 for r in revenue) and revenue == sorted(revenue, reverse=True)


# --- Appwrite Relationship Usage -------------------------------------------------------------


def test_relationship_usage(live: Live) -> None:
    user, admin_user, current_user = live.user(), live.staff(), live.staff()
    tables_db = live.tables()

    customer = tables_db.create_row(
        database_id=DATABASE_ID,
        table_id=CUSTOMERS_COLLECTION_ID,
        row_id=ID.unique(),
        data={
            "userId": user["id"],  # Use user $id for relationship (required, unique)
            "name": "John Doe",
            "assignedTo": admin_user["id"],  # Use user $id for relationship (optional)
            "createdBy": current_user["id"],  # Use user $id for relationship (optional)
        },
    )
    assert customer.data["createdBy"] == current_user["id"]
    assert customer.data["assignedTo"] == admin_user["id"]

    # Query customer by user relationship
    by_user = tables_db.list_rows(
        database_id=DATABASE_ID,
        table_id=CUSTOMERS_COLLECTION_ID,
        queries=[Query.equal("userId", user["id"])],  # Relationship query works like regular
    )
    # Query customers by assigned user
    assigned = tables_db.list_rows(
        database_id=DATABASE_ID,
        table_id=CUSTOMERS_COLLECTION_ID,
        queries=[Query.equal("assignedTo", admin_user["id"])],  # Relationship query
    )
    assert _ids(by_user) == [customer.id] and _ids(assigned) == [customer.id]

    # Populate user data
    customer_with_user = None
    if len(by_user.rows) > 0:
        populated = tables_db.get_row(
            database_id=DATABASE_ID,
            table_id=USERS_COLLECTION_ID,
            row_id=by_user.rows[0].data["userId"],
        )
        customer_with_user = {**by_user.rows[0].data, "userId": populated}
    assert customer_with_user is not None and customer_with_user["userId"].id == user["id"]

    # `select` populates a readable related row in one request.
    selected = tables_db.get_row(
        DATABASE_ID,
        CUSTOMERS_COLLECTION_ID,
        customer.id,
        queries=[Query.select(["name", "userId.*", "assignedTo.*"])],
    )
    assert set(selected.data) == {"name", "userId", "assignedTo"}
    assert selected.data["userId"]["$id"] == user["id"]
    assert selected.data["assignedTo"]["$tableId"] == "users"

    # Get all notes for a customer (using relationship)
    tables_db.create_row(
        DATABASE_ID,
        CUSTOMER_NOTES_COLLECTION_ID,
        ID.unique(),
        {"customerId": customer.id, "content": "Prefers WhatsApp", "isPinned": True},
    )
    notes = tables_db.list_rows(
        database_id=DATABASE_ID,
        table_id=CUSTOMER_NOTES_COLLECTION_ID,
        queries=[Query.equal("customerId", customer.id)],  # Relationship query
    )
    assert notes.total == 1 and notes.rows[0].data["content"] == "Prefers WhatsApp"
    assert notes.rows[0].tableid == "customer_notes"


def test_item_text_is_filtered_next_to_its_customer(live: Live) -> None:
    """compat §5: any attribute of interactions/notes, `description` and `content` too, next to
    equal('customerId')."""
    tables_db = live.tables()
    customer = live.customer()
    for content in ("Prefers WhatsApp", "Call after 6pm"):
        tables_db.create_row(
            DATABASE_ID, CUSTOMER_NOTES_COLLECTION_ID, ID.unique(),
            {"customerId": customer["id"], "content": content},
        )  # fmt: skip
    tables_db.create_row(
        DATABASE_ID, "customer_interactions", ID.unique(),
        {"customerId": customer["id"], "type": "call", "subject": "Hi", "description": "Asked"},
    )  # fmt: skip
    mine = Query.equal("customerId", customer["id"])

    notes = tables_db.list_rows(
        DATABASE_ID, CUSTOMER_NOTES_COLLECTION_ID, [mine, Query.contains("content", "WhatsApp")]
    )
    assert [row.data["content"] for row in notes.rows] == ["Prefers WhatsApp"]
    calls = tables_db.list_rows(
        DATABASE_ID, "customer_interactions", [mine, Query.equal("description", "Asked")]
    )
    assert calls.total == 1
    with pytest.raises(AppwriteException) as info:
        tables_db.list_rows(
            DATABASE_ID, CUSTOMER_NOTES_COLLECTION_ID, [Query.contains("content", "WhatsApp")]
        )
    assert info.value.type == "general_query_invalid"
