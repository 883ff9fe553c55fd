"""Who may do what (SPEC §5): principals, the permission matrix and the field rules.

Services call these checks; faces never decide permissions themselves. Reads are scoped rather
than checked: `customer_owner_scope` says which records a principal can see at all, so that a
record they may not see is simply not found.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Literal

from clientbook.domain.errors import Forbidden, Unauthenticated

ActorKind = Literal["user", "api_key", "system"]

# SPEC §5: what an owner may set on their own record, what only staff may set, and what only
# the system sets.
PROFILE_FIELDS = frozenset(
    {
        "name", "email", "phone", "company", "jobTitle", "address", "city", "state", "zipCode",
        "country", "website", "customerType", "industry", "currency", "language", "timezone",
        "notes", "metadata",
    }
)  # fmt: skip
STAFF_FIELDS = frozenset(
    {
        "status", "assignedTo", "source", "lastContactAt", "nextFollowUpAt", "totalRevenue",
        "totalInvoices",
    }
)  # fmt: skip
SYSTEM_FIELDS = frozenset({"createdBy", "updatedBy", "$createdAt", "$updatedAt", "$sequence"})
# An account's: the same, and the time of its last sign-in.
USER_SYSTEM_FIELDS = SYSTEM_FIELDS | {"lastLoginAt"}
SYSTEM_ONLY = "set by the system only"
# Chosen once, at creation (SPEC §12): a record's id and owner, an account's id.
CUSTOMER_FIXED_FIELDS = frozenset({"$id", "userId"})
USER_FIXED_FIELDS = frozenset({"$id"})
FIXED_AT_CREATION = "cannot be changed after creation"
# The keys of `metadata` that staff write: the seed's integration data and its status change
# (SPEC §5: an owner sets "metadata (tags and customFields)"). Other keys are the owner's.
STAFF_METADATA_KEYS = frozenset(
    {"integrationData", "lastSyncAt", "statusChangeReason", "statusChangedAt", "statusChangedBy"}
)


@dataclass(frozen=True)
class Principal:
    """The acting party of one request, and where the request came from (for the audit log)."""

    kind: ActorKind
    id: str | None
    role: str = "user"
    request_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.kind in ("api_key", "system") or self.role == "super_admin"

    @property
    def user_id(self) -> str | None:
        """The acting user's id, if a user (not a key or the system) is acting."""
        return self.id if self.kind == "user" else None

    def with_request(
        self, *, request_id: str | None, ip: str | None, user_agent: str | None
    ) -> Principal:
        return replace(self, request_id=request_id, ip=ip, user_agent=user_agent)


SYSTEM = Principal(kind="system", id=None, role="super_admin")


def require_authenticated(principal: Principal | None) -> Principal:
    if principal is None:
        raise Unauthenticated("Sign in or send an API key")
    return principal


def require_staff(principal: Principal | None) -> Principal:
    principal = require_authenticated(principal)
    if not principal.is_staff:
        raise Forbidden("Only staff may do this")
    return principal


def customer_owner_scope(principal: Principal) -> str | None:
    """The `userId` a principal's customer reads are limited to; None means every record."""
    return None if principal.is_staff else principal.id


def forbid(refused: dict[str, str]) -> None:
    """Forbidden naming every refused field with why, in one answer; nothing when none."""
    if refused:
        names = sorted(refused)
        raise Forbidden(
            f"Not allowed to set: {', '.join(names)}",
            fields={name: refused[name] for name in names},
        )


def refusing(fields: Iterable[str], why: str) -> dict[str, str]:
    """`fields` each refused for `why`, to be gathered into one `forbid`."""
    return dict.fromkeys(fields, why)


def assert_can_set_customer_fields(
    principal: Principal, fields: Iterable[str], *, creating: bool
) -> None:
    """Raise Forbidden naming every field this principal may not send (never a silent drop),
    all of them at once: system fields, what is fixed at creation, and staff's fields."""
    sent = set(fields)
    refused = system_fields_refused(sent)
    if not creating:
        refused |= refusing(sent & CUSTOMER_FIXED_FIELDS, FIXED_AT_CREATION)
    if not principal.is_staff:
        refused |= refusing(sent & STAFF_FIELDS, "only staff may set this field")
    forbid(refused)


def system_fields_refused(
    fields: Iterable[str], *, system: frozenset[str] = SYSTEM_FIELDS
) -> dict[str, str]:
    """SPEC §12: the fields only the system sets among `fields`, refused to every client,
    staff included (records, interactions and notes alike; accounts: USER_SYSTEM_FIELDS)."""
    return refusing(set(fields) & system, SYSTEM_ONLY)


def assert_no_system_fields(
    fields: Iterable[str],
    *,
    system: frozenset[str] = SYSTEM_FIELDS,
    fixed: frozenset[str] = frozenset(),
) -> None:
    """Forbidden naming, at once, every field of `fields` only the system sets and, on an
    update, every one fixed at creation (`fixed`, e.g. USER_FIXED_FIELDS)."""
    sent = set(fields)
    forbid(system_fields_refused(sent, system=system) | refusing(sent & fixed, FIXED_AT_CREATION))


def owner_metadata(sent: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """The metadata an owner's write leaves: staff's keys as stored, the rest as sent.

    A staff key sent with a value other than the stored one is Forbidden, naming it; sent with
    the stored value (a record read, changed and sent back whole) it is accepted."""
    refused = sorted(
        key
        for key, value in sent.items()
        if key in STAFF_METADATA_KEYS and (key not in stored or stored[key] != value)
    )
    if refused:
        forbid(refusing([f"metadata.{key}" for key in refused], "only staff may set this key"))
    kept = {key: value for key, value in stored.items() if key in STAFF_METADATA_KEYS}
    return {key: value for key, value in sent.items() if key not in STAFF_METADATA_KEYS} | kept


def assert_can_create_for(principal: Principal, owner_id: str) -> None:
    """A user creates only their own record; staff create one for any user."""
    if not principal.is_staff and owner_id != principal.id:
        raise Forbidden(
            "You can only create your own customer record",
            fields={"userId": "must be your own user id"},
        )
