"""Customer use cases (SPEC §6): the seed's createCustomer, updateCustomerStatus,
updateLastContact and tag helpers, plus get, partial update, assignment and delete.

Each function takes the caller's open transaction and the acting principal, checks the
permission matrix itself, validates, writes, and appends exactly one audit row per changed
record. None of them commits.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, delete, insert, select, update

from clientbook.access import (
    Principal,
    assert_can_create_for,
    assert_can_set_customer_fields,
    customer_owner_scope,
    owner_metadata,
    require_authenticated,
    require_staff,
)
from clientbook.db.tables import customer_tags, customers, users
from clientbook.domain import tags as tag_rules
from clientbook.domain.customers import (
    CUSTOMER_ATTRIBUTES,
    derive_customer_columns,
    validate_customer,
)
from clientbook.domain.errors import (
    BadQuery,
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
)
from clientbook.domain.fields import FieldError, parse_json_object
from clientbook.domain.ids import is_valid_id, new_id
from clientbook.domain.text import email_folded
from clientbook.domain.timestamps import format_datetime, utcnow
from clientbook.query.compiler import Page, run_list
from clientbook.query.fields import CUSTOMERS
from clientbook.query.model import ListQuery
from clientbook.services import audit
from clientbook.services import users as user_service
from clientbook.services.bulk import build_customer_row, customer_tag_rows
from clientbook.services.records import Presenter, settings_of, unique_conflicts

# The seed's TypeScript `Customer` interface, in its order.
PUBLIC_COLUMNS = (
    "id", "createdAt", "updatedAt", "userId", "assignedTo", "createdBy", "updatedBy", "name",
    "email", "phone", "company", "jobTitle", "address", "city", "state", "zipCode", "country",
    "website", "status", "source", "industry", "customerType", "currency", "language",
    "timezone", "notes", "metadata", "lastContactAt", "nextFollowUpAt", "totalRevenue",
    "totalInvoices",
)  # fmt: skip
_READ_COLUMNS = [customers.c[name] for name in (*PUBLIC_COLUMNS, "seq", "version")]

EMAIL_TAKEN = ("email", "A customer with this email already exists")
UNIQUE_MESSAGES = {
    # SQLite names the indexed column, PostgreSQL the index.
    "customers.emailFolded": EMAIL_TAKEN,
    "ux_customers_emailFolded": EMAIL_TAKEN,
    "customers.userId": ("userId", "This user already has a customer record"),
    "ux_customers_userId": ("userId", "This user already has a customer record"),
    "customers.id": ("$id", "This id is already used"),
    "uq_customers_id": ("$id", "This id is already used"),
}

Customer = dict[str, Any]


_PRESENT = Presenter(customers, PUBLIC_COLUMNS)


def present_customer(row: Mapping[str, Any]) -> dict[str, Any]:
    """The public JSON object of a customer row (SPEC §2)."""
    return _PRESENT(row)


def etag(row: Mapping[str, Any]) -> str:
    return f'"{row["id"]}.{row["version"]}"'


# --- reading ---------------------------------------------------------------------------------


# Built once: building a 33-column SELECT costs more than running it (~150 µs against ~20 µs).
_BY_ID = select(*_READ_COLUMNS).where(customers.c.id == bindparam("customer_id"))
_BY_ID_OF_OWNER = _BY_ID.where(customers.c.userId == bindparam("owner"))
_BY_OWNER = select(*_READ_COLUMNS).where(customers.c.userId == bindparam("owner"))


def get_customer(conn: Connection, principal: Principal | None, customer_id: str) -> Customer:
    """The record, if this principal may see it; otherwise NotFound (never Forbidden)."""
    principal = require_authenticated(principal)
    owner = customer_owner_scope(principal)
    statement = _BY_ID if owner is None else _BY_ID_OF_OWNER
    row = conn.execute(statement, {"customer_id": customer_id, "owner": owner}).first()
    if row is None:
        raise NotFound("Customer not found")
    return dict(row._mapping)


def list_customers(conn: Connection, principal: Principal | None, query: ListQuery) -> Page:
    """A page of the records this principal may see (an owner's list holds only their own)."""
    principal = require_authenticated(principal)
    owner = customer_owner_scope(principal)
    scope = None if owner is None else customers.c.userId == owner
    return run_list(conn, CUSTOMERS, query, scope=scope)


def find_own_customer(conn: Connection, principal: Principal | None) -> Customer | None:
    """The acting user's own record (the seed's getCustomerByUserId)."""
    principal = require_authenticated(principal)
    if principal.user_id is None:
        return None
    row = conn.execute(_BY_OWNER, {"owner": principal.user_id}).first()
    return None if row is None else dict(row._mapping)


def get_own_customer(conn: Connection, principal: Principal | None) -> Customer:
    row = find_own_customer(conn, principal)
    if row is None:
        raise NotFound("You have no customer record yet")
    return row


# --- writing ---------------------------------------------------------------------------------


# Why a relationship fails when it names no user at all (the Appwrite face tells this apart
# from a user who may not be related, compat §6).
NO_SUCH_USER = "no user has this id"


def _check_references(conn: Connection, values: Mapping[str, Any]) -> None:
    """`userId` must be a user; `assignedTo` an active super_admin (SPEC §12)."""
    errors: dict[str, str] = {}
    if "userId" in values:
        exists = conn.execute(select(users.c.id).where(users.c.id == values["userId"])).first()
        if exists is None:
            errors["userId"] = NO_SUCH_USER
    assignee_problem = assignee_error(conn, values.get("assignedTo"))
    if assignee_problem is not None:
        errors["assignedTo"] = assignee_problem
    if errors:
        raise ValidationFailed(errors)


def assignee_error(conn: Connection, assignee: str | None) -> str | None:
    """Why `assignee` cannot be assigned (None when it can, or when unassigning): it must be an
    active user with role super_admin (SPEC §12). Shared by the single and bulk assignment."""
    if assignee is None:
        return None
    row = conn.execute(select(users.c.role, users.c.status).where(users.c.id == assignee)).first()
    if row is None:
        return NO_SUCH_USER
    if row.role != "super_admin" or row.status != "active":
        return "must be an active staff user (super_admin)"
    return None


def _check_email_free(conn: Connection, email: str | None, *, except_id: str | None) -> None:
    """The seed's duplicate-email check; the unique index makes it race-free behind this."""
    if email is None:
        return
    query = select(customers.c.id).where(customers.c.emailFolded == email_folded(email))
    if except_id is not None:
        query = query.where(customers.c.id != except_id)
    if conn.execute(query).first() is not None:
        field, message = EMAIL_TAKEN
        raise Conflict(message, fields={field: message})


def _sync_tags(conn: Connection, customer_id: str, metadata: str | None) -> None:
    conn.execute(delete(customer_tags).where(customer_tags.c.customerId == customer_id))
    rows = customer_tag_rows(customer_id, metadata)
    if rows:
        conn.execute(insert(customer_tags), rows)


def prefill_from_account(conn: Connection, owner_id: str, data: dict[str, Any]) -> None:
    """A user's create without name/email takes them from the account (SPEC §6, §12)."""
    if data.get("name") and "email" in data:
        return
    account = conn.execute(
        select(users.c.name, users.c.email).where(users.c.id == owner_id)
    ).first()
    if account is None:
        return
    if not data.get("name") and account.name:
        data["name"] = account.name
    if "email" not in data and account.email:
        data["email"] = account.email


def create_customer(
    conn: Connection,
    principal: Principal | None,
    data: Mapping[str, Any],
    *,
    tolerate_unchanged: bool = False,
) -> Customer:
    """The seed's createCustomer: one record per user, valid unique email, defaults, audit.

    `tolerate_unchanged`: the Appwrite face's seed tolerance (see `tolerate_unchanged`)."""
    principal = require_authenticated(principal)
    data = dict(data)
    record_id = data.pop("$id", None)
    actor_id = principal.user_id
    # Only the Appwrite face may name `updatedBy` on create (the native API refuses it below).
    names_updated_by = "updatedBy" in data
    if tolerate_unchanged:
        data, actor_id = _tolerate_unchanged(conn, principal, data, current=None)
    assert_can_set_customer_fields(principal, data, creating=True)
    data = dict(with_owner_metadata(principal, data, current=None))
    if "userId" not in data and not principal.is_staff:
        data["userId"] = principal.id
    if data.get("userId") is None:
        raise ValidationFailed({"userId": "required: the user who owns this record"})
    if not isinstance(data["userId"], str) or not is_valid_id(data["userId"]):
        raise ValidationFailed({"userId": "must be a user id"})
    assert_can_create_for(principal, data["userId"])
    if not principal.is_staff:
        prefill_from_account(conn, data["userId"], data)
    if record_id is not None and (not isinstance(record_id, str) or not is_valid_id(record_id)):
        raise ValidationFailed({"$id": "1-36 characters of a-z A-Z 0-9 . _ -, not starting "
                                "with . _ or -"})  # fmt: skip

    settings = settings_of(conn)
    values = validate_customer(data, default_region=settings.default_region)
    _check_references(conn, values)
    existing = conn.execute(
        select(customers.c.id).where(customers.c.userId == values["userId"])
    ).first()
    if existing is not None:
        message = "This user already has a customer record"
        raise Conflict(message, fields={"userId": message})
    _check_email_free(conn, values.get("email"), except_id=None)

    now = utcnow()
    row = build_customer_row(
        values,
        record_id=record_id or new_id(),
        created_at=now,
        created_by=actor_id,
        updated_by=actor_id if names_updated_by else None,
        default_region=settings.default_region,
    )
    with unique_conflicts(UNIQUE_MESSAGES):
        conn.execute(insert(customers), [row])
    _sync_tags(conn, row["id"], row.get("metadata"))
    created = {k: v for k, v in values.items() if v is not None}
    audit.record(
        conn,
        principal,
        "customer.created",
        entity_type="customer",
        entity_id=row["id"],
        changes=audit.diff({}, created),
    )
    return get_customer(conn, principal, row["id"])


def with_owner_metadata(
    principal: Principal, data: Mapping[str, Any], *, current: Customer | None = None
) -> Mapping[str, Any]:
    """An owner's `metadata` as `access.owner_metadata` leaves it (staff send theirs whole).
    Metadata that is not a JSON object is left for validation to name."""
    if principal.is_staff or "metadata" not in data:
        return data
    raw = data["metadata"]
    stored_text = current["metadata"] if current else None
    try:
        sent = {} if raw is None else parse_json_object(raw) or {}
        stored = {} if stored_text is None else parse_json_object(stored_text) or {}
    except FieldError:
        return data
    merged = owner_metadata(sent, stored)
    return {**data, "metadata": None if raw is None and not merged else merged}


def _load_for_write(
    conn: Connection, principal: Principal, customer_id: str, expected_version: int | None
) -> Customer:
    row = get_customer(conn, principal, customer_id)
    if expected_version is not None and row["version"] != expected_version:
        raise PreconditionFailed("The record changed since you read it")
    return row


def _apply_changes(
    conn: Connection,
    principal: Principal,
    current: Customer,
    changes: Mapping[str, Any],
    *,
    action: str,
    reason: str | None = None,
    updated_by: str | None = None,
) -> Customer:
    """Write the fields that really differ, bump the version, audit once; no-op if none.

    `updatedBy` is the acting user, or `updated_by` when given (an API key's human actor)."""
    changed = {k: v for k, v in changes.items() if current.get(k) != v}
    # An API key may name the human who made the change (appwrite-compat §3): a new name is a
    # change of its own.
    new_actor = updated_by is not None and updated_by not in (
        principal.user_id,
        current["updatedBy"],
    )
    if not changed and not new_actor:
        return current
    settings = settings_of(conn)
    merged = {**current, **changed}
    derived = derive_customer_columns(merged, default_region=settings.default_region)
    with unique_conflicts(UNIQUE_MESSAGES):
        conn.execute(
            update(customers)
            .where(customers.c.id == current["id"])
            .values(
                **changed,
                **derived,
                updatedAt=utcnow(),
                updatedBy=updated_by if updated_by is not None else principal.user_id,
                version=current["version"] + 1,
            )
        )
    if "metadata" in changed:
        _sync_tags(conn, current["id"], changed["metadata"])
    audit.record(
        conn,
        principal,
        action,
        entity_type="customer",
        entity_id=current["id"],
        changes=audit.diff(current, {**changed, "updatedBy": updated_by} if new_actor else changed),
        reason=reason,
    )
    return get_customer(conn, principal, current["id"])


def _action_for(changed: Mapping[str, Any]) -> str:
    if "status" in changed:
        return "customer.status_changed"
    if set(changed) == {"assignedTo"}:
        return "customer.assigned"
    return "customer.updated"


def update_customer(
    conn: Connection,
    principal: Principal | None,
    customer_id: str,
    data: Mapping[str, Any],
    *,
    expected_version: int | None = None,
    tolerate_unchanged: bool = False,
) -> Customer:
    """Partial update (PATCH): only the keys sent; `updatedBy` set; one audit row.

    `tolerate_unchanged`: the Appwrite face's seed tolerance (see `tolerate_unchanged`)."""
    principal = require_authenticated(principal)
    current = _load_for_write(conn, principal, customer_id, expected_version)
    actor_id = principal.user_id
    if tolerate_unchanged:
        data, actor_id = _tolerate_unchanged(conn, principal, data, current=current)
    assert_can_set_customer_fields(principal, data, creating=False)
    data = with_owner_metadata(principal, data, current=current)
    settings = settings_of(conn)
    values = validate_customer(data, current=current, default_region=settings.default_region)
    changed = {k: v for k, v in values.items() if current.get(k) != v}
    _check_references(conn, {k: v for k, v in changed.items() if k == "assignedTo"})
    if "email" in changed:
        _check_email_free(conn, changed["email"], except_id=customer_id)
    reason = None
    if "status" in changed and "metadata" in data:
        # The seed's updateCustomerStatus sends the merged metadata itself.
        if changed.get("metadata"):
            reason = orjson.loads(changed["metadata"]).get("statusChangeReason")
    elif "status" in changed:
        # A status changed by PATCH is recorded as by the status action, with no reason.
        metadata = status_change_metadata(
            current["metadata"], reason=None, actor_id=principal.id, at=utcnow()
        )
        changed |= validate_customer({"metadata": metadata}, current=current)
    return _apply_changes(
        conn,
        principal,
        current,
        changed,
        action=_action_for(changed),
        reason=reason,
        updated_by=actor_id,
    )


# --- the Appwrite face's seed tolerance (appwrite-compat §3) ------------------------------------
#
# The seed's createCustomer sends `status`, `totalRevenue: 0`, `totalInvoices: 0` and
# `createdBy: userId` as a plain user. With `tolerate_unchanged=True` a field this principal may
# not set is accepted (and dropped) when its value is what clientbook would store anyway: the
# default on create, the current value on update, the caller's own id for the field that records
# the caller (`createdBy` on create, `updatedBy` on update). Any other value still gets Forbidden
# naming the field. An API key has no acting user, so it may name the human actor in that field
# instead (an existing user; the audit actor stays the key).


def _tolerate_unchanged(
    conn: Connection, principal: Principal, data: Mapping[str, Any], *, current: Customer | None
) -> tuple[dict[str, Any], str | None]:
    """`data` without the tolerated fields, and the user to record as createdBy/updatedBy."""
    creating = current is None
    kept = dict(data)
    actor_id = principal.user_id
    # The fields that record the caller: createdBy and updatedBy on create, updatedBy on update.
    named_actors = ("createdBy", "updatedBy") if creating else ("updatedBy",)
    for name, raw in data.items():
        try:
            # The one rule of who may set what, asked field by field.
            assert_can_set_customer_fields(principal, [name], creating=creating)
            continue
        except Forbidden:
            pass
        value = _cleaned_value(name, raw, current)
        if principal.kind == "api_key" and name in named_actors and isinstance(value, str):
            _check_actor_exists(conn, name, value)
            if actor_id is not None and actor_id != value:
                raise ValidationFailed({name: "must name the same user as createdBy"})
            actor_id = value
            del kept[name]
        elif value is not _INVALID and (
            (name in named_actors and value is not None and value == principal.user_id)
            or _stored_anyway(name, value, current)
        ):
            del kept[name]
    return kept, actor_id


_INVALID = object()


def _cleaned_value(name: str, raw: Any, current: Customer | None) -> Any:
    """`raw` as validation would store it, or _INVALID (then it is not tolerated)."""
    try:
        return validate_customer({name: raw}, current=current or {}).get(name)
    except ValidationFailed:
        return _INVALID


def _stored_anyway(name: str, value: Any, current: Customer | None) -> bool:
    """The current value on update, the default on create."""
    if current is not None:
        return bool(current.get(name) == value)
    spec = CUSTOMER_ATTRIBUTES.get(name)
    default = spec.make_default() if spec is not None and spec.has_default else None
    return bool(value == default)


def _check_actor_exists(conn: Connection, name: str, user_id: str) -> None:
    if conn.execute(select(users.c.id).where(users.c.id == user_id)).first() is None:
        raise ValidationFailed({name: NO_SUCH_USER})


@contextmanager
def _named_as(field: str, sent: str) -> Iterator[None]:
    """A failure of `field`, derived from the request's `sent`, named as `sent`."""
    try:
        yield
    except ValidationFailed as exc:
        if field not in exc.fields:
            raise
        fields = {(sent if name == field else name): why for name, why in exc.fields.items()}
        raise ValidationFailed(fields) from None


def clean_status_reason(reason: Any) -> str | None:
    """A status change's optional reason: text, trimmed; blank counts as none."""
    if reason is not None and not isinstance(reason, str):
        raise ValidationFailed({"reason": "must be text"})
    return (reason or "").strip() or None


def status_change_metadata(
    metadata: str | None, *, reason: str | None, actor_id: str | None, at: datetime
) -> dict[str, Any]:
    """The seed's updateCustomerStatus merge: the stored metadata with `statusChangedAt`,
    `statusChangedBy` and `statusChangeReason` (removed when there is no reason, SPEC §12).
    Shared by the single-record and the bulk status change."""
    merged: dict[str, Any] = orjson.loads(metadata or "{}")
    merged.pop("statusChangeReason", None)
    if reason is not None:
        merged["statusChangeReason"] = reason
    merged["statusChangedAt"] = format_datetime(at)
    merged["statusChangedBy"] = actor_id
    return merged


def change_status(
    conn: Connection,
    principal: Principal | None,
    customer_id: str,
    status: str,
    *,
    reason: str | None = None,
    expected_version: int | None = None,
) -> Customer:
    """The seed's updateCustomerStatus: staff only; the reason merged into metadata.

    A change to the current status is a no-op (SPEC §12): no write, no audit row.
    """
    principal = require_staff(principal)
    current = _load_for_write(conn, principal, customer_id, expected_version)
    values, reason = _status_change_values(current, status, reason, actor_id=principal.id)
    if values["status"] == current["status"]:
        return current
    return _apply_changes(
        conn, principal, current, values, action="customer.status_changed", reason=reason
    )


def _status_change_values(
    current: Customer, status: Any, reason: Any, *, actor_id: str | None
) -> tuple[dict[str, Any], str | None]:
    """The new `status` and merged `metadata`, and the cleaned reason; a bad status and a bad
    reason are named together in one ValidationFailed (SPEC §4), whether or not the status
    would change."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    try:
        values = validate_customer({"status": status}, current=current)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    try:
        reason = clean_status_reason(reason)
        metadata = status_change_metadata(
            current["metadata"], reason=reason, actor_id=actor_id, at=utcnow()
        )
        with _named_as("metadata", "reason"):  # what was sent is the reason
            values = validate_customer({**values, "metadata": metadata}, current=current)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    if errors:
        raise ValidationFailed(errors)
    return values, reason


def note_contact(
    conn: Connection, principal: Principal, customer_id: str, occurred_at: datetime
) -> None:
    """An interaction that occurred at `occurred_at` moves `lastContactAt` to the later of the
    two, unless it lies in the future (SPEC §3; the seed: "Update lastContactAt when
    interactions are logged"), audited as `customer.contacted` by whoever logged it."""
    if occurred_at > utcnow():
        return
    # Locked first (PostgreSQL): of two interactions logged at once, the later time stays.
    conn.execute(select(customers.c.id).where(customers.c.id == customer_id).with_for_update())
    current = get_customer(conn, principal, customer_id)
    last = current["lastContactAt"]
    if last is None or last < occurred_at:
        changes = {"lastContactAt": occurred_at}
        _apply_changes(conn, principal, current, changes, action="customer.contacted")


def record_contact(
    conn: Connection,
    principal: Principal | None,
    customer_id: str,
    *,
    at: datetime | str | None = None,
) -> Customer:
    """The seed's updateLastContact: staff only; `lastContactAt` = `at` or now."""
    principal = require_staff(principal)
    current = get_customer(conn, principal, customer_id)
    with _named_as("lastContactAt", "at"):
        values = validate_customer({"lastContactAt": at or utcnow()}, current=current)
    return _apply_changes(conn, principal, current, values, action="customer.contacted")


def assign_customer(
    conn: Connection,
    principal: Principal | None,
    customer_id: str,
    assignee_id: str | None,
    *,
    expected_version: int | None = None,
) -> Customer:
    """Assign to a sales rep (an active super_admin), or unassign with None. Staff only."""
    principal = require_staff(principal)
    current = _load_for_write(conn, principal, customer_id, expected_version)
    values = validate_customer({"assignedTo": assignee_id}, current=current)
    _check_references(conn, values)
    return _apply_changes(conn, principal, current, values, action="customer.assigned")


def set_tags(
    conn: Connection,
    principal: Principal | None,
    customer_id: str,
    tags: list[str],
    *,
    expected_version: int | None = None,
) -> Customer:
    """Replace the record's tags (the seed's setCustomerTags); owners manage their own."""
    principal = require_authenticated(principal)
    current = _load_for_write(conn, principal, customer_id, expected_version)
    # What was sent is the list of tags, not the metadata that keeps them.
    with _named_as(tag_rules.TAGS_FIELD, "tags"), _named_as("metadata", "tags"):
        metadata = tag_rules.set_customer_tags(current["metadata"], tags)
        values = validate_customer({"metadata": metadata}, current=current)
    return _apply_changes(conn, principal, current, values, action="customer.tagged")


def add_tag(conn: Connection, principal: Principal | None, customer_id: str, tag: str) -> Customer:
    """The seed's addCustomerTag as a use case."""
    current = get_customer(conn, require_authenticated(principal), customer_id)
    return set_tags(
        conn, principal, customer_id, [*tag_rules.get_customer_tags(current["metadata"]), tag]
    )


def remove_tag(
    conn: Connection, principal: Principal | None, customer_id: str, tag: str
) -> Customer:
    """The seed's removeCustomerTag as a use case (case-insensitive)."""
    current = get_customer(conn, require_authenticated(principal), customer_id)
    metadata = tag_rules.remove_customer_tag(current["metadata"], tag)
    return set_tags(conn, principal, customer_id, tag_rules.get_customer_tags(metadata))


def delete_customer(
    conn: Connection,
    principal: Principal | None,
    customer_id: str,
    *,
    expected_version: int | None = None,
) -> None:
    """Delete a record; its notes, interactions and tags go with it (ON DELETE CASCADE)."""
    principal = require_authenticated(principal)
    current = _load_for_write(conn, principal, customer_id, expected_version)
    conn.execute(delete(customers).where(customers.c.id == customer_id))
    audit.record(
        conn,
        principal,
        "customer.deleted",
        entity_type="customer",
        entity_id=customer_id,
        changes={"name": {"from": current["name"], "to": None}},
    )


# --- presenting ------------------------------------------------------------------------------

RELATIONS = ("userId", "assignedTo", "createdBy", "updatedBy")


def parse_expand(value: str | None) -> tuple[str, ...]:
    """`?expand=userId,assignedTo`: the relations to populate as user objects."""
    if not value:
        return ()
    names = tuple(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))
    unknown = [n for n in names if n not in RELATIONS]
    if unknown:
        raise BadQuery(
            f"Cannot expand {', '.join(unknown)}",
            fields={"expand": f"one or more of {', '.join(RELATIONS)}"},
        )
    return names


def parse_json_option(value: str | None) -> bool:
    """`?parse=json`: notes and metadata as objects rather than JSON text."""
    if value is None or value == "json":
        return value == "json"
    raise BadQuery(f"Cannot parse as {value!r}", fields={"parse": "must be json"})


def present_customers(
    conn: Connection | None,
    rows: Sequence[Mapping[str, Any]],
    *,
    expand: tuple[str, ...] = (),
    parse_json: bool = False,
) -> list[dict[str, Any]]:
    """Public objects for rows, with `expand`ed relations and, if asked, parsed JSON fields
    (`conn` is only needed to `expand`)."""
    out = [_PRESENT(row) for row in rows]
    if parse_json:
        for item in out:
            for field in ("notes", "metadata"):
                if item[field] is not None:
                    item[field] = orjson.loads(item[field])
    if expand:
        assert conn is not None, "expanding relations reads the users"
        ids = {item[f] for item in out for f in expand if item[f] is not None}
        people = {user["$id"]: user for user in user_service.present_users(conn, ids)}
        for item in out:
            for field in expand:
                if item[field] is not None:
                    item[field] = people.get(item[field], item[field])
    return out


def _body_key_errors(
    data: Mapping[str, Any], allowed: tuple[str, ...], required: tuple[str, ...]
) -> dict[str, str]:
    errors = {key: "unknown field" for key in data if key not in allowed}
    errors.update({key: "required" for key in required if key not in data})
    return errors


def check_body_keys(
    data: Mapping[str, Any], allowed: tuple[str, ...], *, required: tuple[str, ...] = ()
) -> None:
    """Unknown keys are named, never silently dropped (SPEC §12); missing ones too."""
    errors = _body_key_errors(data, allowed, required)
    if errors:
        raise ValidationFailed(errors)


@contextmanager
def body_keys_checked(
    data: Mapping[str, Any], allowed: tuple[str, ...], *, required: tuple[str, ...] = ()
) -> Iterator[None]:
    """Around a record action: its body's unknown and missing keys named in one
    ValidationFailed with the action's own field errors (SPEC §4: every failing field at once).

    The action runs even when keys are wrong, so that its values are checked too; the error
    then rolls the caller's transaction back. Its other errors (401, 403, 404, 412) come first.
    """
    errors = _body_key_errors(data, allowed, required)
    try:
        yield
    except ValidationFailed as exc:
        raise ValidationFailed({**exc.fields, **errors}) from None
    if errors:
        raise ValidationFailed(errors)
