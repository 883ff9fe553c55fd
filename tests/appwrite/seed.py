"""The seed's business logic (shared/seed/000_f2d375f9094309f6.txt), translated line for line
from TypeScript into the Python SDK 27. The helpers the seed calls but does not show
(`getCustomerByUserId`, `findCustomerByEmail`, `isValidEmail`, `getCustomer`, `auditLogger`, the
tag utilities of `lib/customer-utils.ts`) are written the obvious way, over the same SDK.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from appwrite.exception import AppwriteException
from appwrite.id import ID
from appwrite.models.row import Row
from appwrite.query import Query
from appwrite.services.tables_db import TablesDB

DATABASE_ID = "console-db"
CUSTOMERS_COLLECTION_ID = "customers"
USERS_COLLECTION_ID = "users"
CUSTOMER_NOTES_COLLECTION_ID = "customer_notes"


def now_iso() -> str:
    """JavaScript's `new Date().toISOString()`."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class AuditLogger:
    """The seed's `auditLogger`: clientbook audits on the server; here the calls are kept."""

    calls: list[tuple[Any, ...]] = field(default_factory=list)

    def log_customer_created(self, user_id: str, customer_id: str, name: str) -> None:
        self.calls.append(("created", user_id, customer_id, name))

    def log_customer_status_change(
        self, updated_by: str, customer_id: str, old: str, new: str, reason: str | None
    ) -> None:
        self.calls.append(("status", updated_by, customer_id, old, new, reason))


# --- lib/customer-utils.ts ---------------------------------------------------------------------


def get_customer_tags(metadata: str | None) -> list[str]:
    try:
        tags = json.loads(metadata or "{}").get("tags")
    except ValueError:
        return []
    return tags if isinstance(tags, list) else []


def set_customer_tags(metadata: str | None, tags: list[str]) -> str:
    try:
        parsed = json.loads(metadata or "{}")
    except ValueError:
        parsed = {}
    return json.dumps({**parsed, "tags": tags})


def add_customer_tag(metadata: str | None, tag: str) -> str:
    tags = get_customer_tags(metadata)
    if tag.lower() not in (t.lower() for t in tags):
        tags.append(tag)
    return set_customer_tags(metadata, tags)


def remove_customer_tag(metadata: str | None, tag: str) -> str:
    tags = [t for t in get_customer_tags(metadata) if t.lower() != tag.lower()]
    return set_customer_tags(metadata, tags)


@dataclass
class Seed:
    """The seed's functions over one client (an API key's, or a signed-in user's)."""

    tables_db: TablesDB
    audit_logger: AuditLogger = field(default_factory=AuditLogger)

    # Helpers the seed uses without showing them.

    def get_customer_by_user_id(self, user_id: str) -> Row | None:
        result = self.tables_db.list_rows(
            database_id=DATABASE_ID,
            table_id=CUSTOMERS_COLLECTION_ID,
            queries=[Query.equal("userId", user_id), Query.limit(1)],
        )
        return result.rows[0] if result.rows else None

    def find_customer_by_email(self, email: str) -> Row | None:
        result = self.tables_db.list_rows(
            database_id=DATABASE_ID,
            table_id=CUSTOMERS_COLLECTION_ID,
            queries=[Query.equal("email", email), Query.limit(1)],
        )
        return result.rows[0] if result.rows else None

    @staticmethod
    def is_valid_email(email: str) -> bool:
        return re.fullmatch(r"[^\s@]+@[^\s@]+\.[^\s@]+", email) is not None

    def get_customer(self, customer_id: str) -> Row | None:
        try:
            return self.tables_db.get_row(
                database_id=DATABASE_ID, table_id=CUSTOMERS_COLLECTION_ID, row_id=customer_id
            )
        except AppwriteException as error:
            if error.code == 404:
                return None
            raise

    # --- Customer Creation (Self-Service) ------------------------------------------------------

    def create_customer(self, customer_data: dict[str, Any], user_id: str) -> Row:
        # Validate required fields
        if not customer_data.get("name"):
            raise ValueError("Customer name is required")

        # Check if user already has a customer record
        existing = self.get_customer_by_user_id(user_id)
        if existing:
            raise ValueError("Customer record already exists for this user")

        # Validate email format if provided
        if customer_data.get("email") and not self.is_valid_email(customer_data["email"]):
            raise ValueError("Invalid email format")

        # Check for duplicate email
        if customer_data.get("email"):
            existing_by_email = self.find_customer_by_email(customer_data["email"])
            if existing_by_email:
                raise ValueError("Customer with this email already exists")

        # Set defaults - userId must match the authenticated user
        # Use user $id for relationship fields
        new_customer = {
            **customer_data,
            "userId": user_id,  # Relationship: Use user $id (must match authenticated user)
            "status": customer_data.get("status") or "active",
            "customerType": customer_data.get("customerType") or "individual",
            "totalRevenue": 0.0,
            "totalInvoices": 0,
            "assignedTo": customer_data.get("assignedTo"),  # Relationship (optional)
            "createdBy": user_id,  # Relationship: Use user $id (optional)
        }

        customer = self.tables_db.create_row(
            database_id=DATABASE_ID,
            table_id=CUSTOMERS_COLLECTION_ID,
            row_id=ID.unique(),
            data=new_customer,  # Note: Use 'data' not 'body' for Tables API
        )

        # Log customer creation in audit log
        self.audit_logger.log_customer_created(user_id, customer.id, customer.data["name"])

        return customer

    # --- Update Customer Status ----------------------------------------------------------------

    def update_customer_status(
        self, customer_id: str, new_status: str, updated_by: str, reason: str | None = None
    ) -> None:
        customer = self.get_customer(customer_id)

        if not customer:
            raise ValueError("Customer not found")

        self.tables_db.update_row(
            database_id=DATABASE_ID,
            table_id=CUSTOMERS_COLLECTION_ID,
            row_id=customer_id,
            data={
                "status": new_status,
                "updatedBy": updated_by,  # Relationship: Use user $id
                "metadata": json.dumps(
                    {
                        **json.loads(customer.data["metadata"] or "{}"),
                        "statusChangeReason": reason,
                        "statusChangedAt": now_iso(),
                        "statusChangedBy": updated_by,
                    }
                ),
            },
        )

        # Log status change in audit log
        self.audit_logger.log_customer_status_change(
            updated_by, customer_id, customer.data["status"], new_status, reason
        )

    # --- Update Last Contact -------------------------------------------------------------------

    def update_last_contact(self, customer_id: str, contact_date: str | None = None) -> None:
        self.tables_db.update_row(
            database_id=DATABASE_ID,
            table_id=CUSTOMERS_COLLECTION_ID,
            row_id=customer_id,
            data={
                "lastContactAt": contact_date or now_iso(),
            },
        )
