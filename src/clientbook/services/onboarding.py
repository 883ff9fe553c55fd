"""Staff add a customer who may not have an account yet (the console's "new customer").

Every record belongs to a user (the seed's one-record-per-user rule), so a new customer needs
an owner: the account named by `userId`, else the account with the customer's email, else a
new *invited* account (no password; they set one when they accept). The account and the record
are written in the caller's one transaction, so a record that fails validation leaves no
stray account behind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from clientbook.access import Principal, require_staff
from clientbook.domain.customers import validate_customer
from clientbook.domain.errors import Conflict, ValidationFailed
from clientbook.services import customers as customer_service
from clientbook.services import users as user_service

OWNER_NEEDS_EMAIL = "is required to invite the customer's account"
OWNER_HAS_RECORD = "this account already has a customer record"
_ANY_OWNER = "owner-to-be"  # stands in for the owner while the other fields are checked


def add_customer(
    conn: Connection, principal: Principal | None, data: Mapping[str, Any]
) -> customer_service.Customer:
    """Create the record; find or invite its owner when `userId` is not given."""
    principal = require_staff(principal)
    values = dict(data)
    if not values.get("userId"):
        # The record's own rules first, so that the form shows every problem at once and no
        # account is looked for on an email that is not even valid.
        validate_customer({**values, "userId": _ANY_OWNER})
        values["userId"] = _owner_for(conn, principal, values)
    return customer_service.create_customer(conn, principal, values)


def _owner_for(conn: Connection, principal: Principal, values: Mapping[str, Any]) -> str:
    """The owner's id: the account with the record's email, else a new invited account."""
    email = values.get("email")
    if not isinstance(email, str) or not email.strip():
        raise ValidationFailed({"email": OWNER_NEEDS_EMAIL})
    account = user_service.find_user_by_email(conn, email)
    if account is not None:
        if user_service.owned_customer_id(conn, account["id"]) is not None:
            # A second record for one account is a conflict, as a taken email is (SPEC §12).
            raise Conflict(
                "The account with this email already has a customer record",
                fields={"email": OWNER_HAS_RECORD},
            )
        return str(account["id"])
    name = values.get("name") if isinstance(values.get("name"), str) else ""
    invited = user_service.create_account(
        conn, principal, {"email": email, "name": (name or "")[:128]}, password_hash=None
    )
    return str(invited["id"])
