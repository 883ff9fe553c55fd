"""GDPR (SPEC §5, §6): a signed-in user downloads everything held about them, or erases it.

**Export** — one JSON document: the account (never its hash), its sessions, the customer record,
the record's `shared` notes and interactions, and the audit entries about the account or the
record or made by the user. Other people's data stays out: entries someone else made lose their
request origin (ip, user agent, request id), and entries the user made about something that is
not theirs (e.g. as former staff, about another customer) lose their `changes` and `reason`.

**Erase** — after the password, when one is sent, is checked (outside the writer; the API
takes the session or token alone, the web form asks for it), one transaction deletes the
customer record (its notes, interactions and tags cascade), pseudonymises the user's personal
data inside the audit entries (values replaced by `ERASED`), forgets their sign-in throttle
counter and deletes the account (sessions cascade). The audit rows themselves stay: the trail of
what happened is kept, only who it happened to is gone. A `user.erased` row, without origin,
records that it was done. The last active super_admin cannot erase themselves (409).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import orjson
from sqlalchemy import Connection, and_, or_, select, update

from clientbook.access import PROFILE_FIELDS, Principal, require_authenticated
from clientbook.db.engine import Database
from clientbook.db.tables import audit_logs, customer_interactions, customer_notes, sessions, users
from clientbook.domain.errors import Conflict, Forbidden, ValidationFailed
from clientbook.domain.timestamps import format_datetime, utcnow
from clientbook.services import audit
from clientbook.services import customers as customer_service
from clientbook.services import users as user_service
from clientbook.services.audit_log import present_audit_entry, without_origin
from clientbook.services.auth import throttle
from clientbook.services.interactions import present_interaction
from clientbook.services.notes import present_note
from clientbook.services.passwords import verify_password

ERASED = "[erased]"
# Inside `changes` of entries about the account or the record: what the person typed about
# themselves. Staff fields (status, assignedTo, revenue, ...) are business facts and stay.
PERSONAL_FIELDS = PROFILE_FIELDS | {"email", "name"}
# Inside `changes` of entries about the record's notes and interactions: their free text.
ITEM_TEXT_FIELDS = frozenset({"subject", "description", "outcome", "title", "content"})
ITEM_ENTITIES = ("note", "interaction")

Entity = tuple[str, str]


def _own_user_id(principal: Principal | None) -> str:
    principal = require_authenticated(principal)
    if principal.user_id is None:
        raise Forbidden("Only a signed-in user has personal data here (not an API key)")
    return principal.user_id


# --- export ----------------------------------------------------------------------------------


def _shared_items(conn: Connection, record_id: str) -> tuple[list[dict], list[dict]]:
    notes = conn.execute(
        select(customer_notes)
        .where(customer_notes.c.customerId == record_id, customer_notes.c.visibility == "shared")
        .order_by(customer_notes.c.seq)
    ).mappings()
    interactions = conn.execute(
        select(customer_interactions)
        .where(
            customer_interactions.c.customerId == record_id,
            customer_interactions.c.visibility == "shared",
        )
        .order_by(customer_interactions.c.seq)
    ).mappings()
    return [present_note(dict(r)) for r in notes], [
        present_interaction(dict(r)) for r in interactions
    ]


def _sessions(conn: Connection, user_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(sessions).where(sessions.c.userId == user_id).order_by(sessions.c.createdAt)
    ).mappings()
    return [
        {
            "$id": row["id"],
            "$createdAt": format_datetime(row["createdAt"]),
            "expiresAt": format_datetime(row["expiresAt"]),
            "lastUsedAt": format_datetime(row["lastUsedAt"]),
            "ip": row["ip"],
            "userAgent": row["userAgent"],
        }
        for row in rows
    ]


def _about(user_id: str, record_id: str | None) -> set[Entity]:
    owned = {("user", user_id)}
    if record_id is not None:
        owned.add(("customer", record_id))
    return owned


def _by(user_id: str) -> Any:
    return and_(audit_logs.c.actorType == "user", audit_logs.c.actorId == user_id)


def _entity_in(entities: Iterable[Entity]) -> list[Any]:
    """One `entityType = k AND entityId IN (...)` per kind: each is a range of the entity
    index."""
    by_kind: dict[str, list[str]] = {}
    for kind, entity_id in entities:
        by_kind.setdefault(kind, []).append(entity_id)
    return [
        and_(audit_logs.c.entityType == kind, audit_logs.c.entityId.in_(sorted(ids)))
        for kind, ids in sorted(by_kind.items())
    ]


def _export_entry(row: Mapping[str, Any], user_id: str, owned: set[Entity]) -> dict[str, Any]:
    entry = present_audit_entry(row)
    by_them = row["actorType"] == "user" and row["actorId"] == user_id
    if not by_them:
        entry = without_origin(entry)
    elif (row["entityType"], row["entityId"]) not in owned:
        # What they did to someone else's data: the fact is theirs, the data is not.
        entry["changes"] = None
        entry["reason"] = None
    return entry


def export_my_data(conn: Connection, principal: Principal | None) -> dict[str, Any]:
    """Everything held about the calling user, as one JSON-ready document."""
    user_id = _own_user_id(principal)
    account = user_service.get_user(conn, user_id)
    record = customer_service.find_own_customer(conn, principal)
    record_id = record["id"] if record else None
    notes, interactions = _shared_items(conn, record_id) if record_id else ([], [])
    about = _about(user_id, record_id)
    # Items of their record are theirs to see in the entries they made about them.
    owned = about | {("note", n["$id"]) for n in notes}
    owned |= {("interaction", i["$id"]) for i in interactions}
    rows = conn.execute(
        select(audit_logs).where(or_(*_entity_in(about), _by(user_id))).order_by(audit_logs.c.seq)
    ).mappings()
    return {
        "exportedAt": format_datetime(utcnow()),
        "account": user_service.present_user(account),
        "sessions": _sessions(conn, user_id),
        "customer": customer_service.present_customer(record) if record else None,
        "notes": notes,
        "interactions": interactions,
        "auditLog": [_export_entry(dict(row), user_id, owned) for row in rows],
    }


# --- erase -----------------------------------------------------------------------------------


def _credentials(conn: Connection, user_id: str) -> dict[str, Any]:
    columns = [users.c.id, users.c.email, users.c.passwordHash]
    row = conn.execute(select(*columns).where(users.c.id == user_id)).first()
    if row is None:
        raise Conflict("Your account no longer exists")
    return dict(row._mapping)


def erase_me(db: Database, principal: Principal | None, password: Any) -> None:
    """Erase the caller in one transaction (see the module notes), once `password` is checked.

    `password` None: none was sent, and the signed-in session or token is enough (the API,
    SPEC §6 "erases it"); the web form always sends its field, so an empty one there is still
    a 422. A wrong password is a 422 on `password` and counts against the sign-in throttle, so
    that a stolen session cannot be used to guess it.
    """
    user_id = _own_user_id(principal)
    assert principal is not None
    if password is None:
        with db.transaction() as conn:
            erase_account(conn, principal, _credentials(conn, user_id))
        return
    if not isinstance(password, str) or not password:
        raise ValidationFailed({"password": "is required to confirm"})
    with db.read() as conn:
        account = _credentials(conn, user_id)
        counters = throttle.counters_for(account["email"] or user_id, principal.ip)
        throttle.assert_not_locked(conn, counters, utcnow())
    if not verify_password(account["passwordHash"], password):
        with db.transaction() as conn:
            throttle.record_failure(conn, counters, utcnow())
        raise ValidationFailed({"password": "is not correct"})
    with db.transaction() as conn:
        erase_account(conn, principal, account)


def erase_account(conn: Connection, principal: Principal, checked: Mapping[str, Any]) -> None:
    """Write step of the erase; `checked` is the account as read when its password was verified
    (a password changed since is a 409)."""
    user_id = checked["id"]
    current = _credentials(conn, user_id)
    if current["passwordHash"] != checked["passwordHash"]:
        raise Conflict("Your password changed meanwhile; try again")
    user = user_service.get_user(conn, user_id)
    user_service.assert_keeps_an_admin(conn, user)
    # Rows written by the erase itself carry no origin: there would be nothing left to erase.
    actor = replace(principal, ip=None, user_agent=None)
    record = customer_service.find_own_customer(conn, actor)
    record_id = record["id"] if record else None
    items = _item_entities(conn, record_id) if record_id else set()
    if record_id is not None:
        customer_service.delete_customer(conn, actor, record_id)
    user_service.remove_account(conn, actor, user)
    throttle.reset(conn, throttle.account_counter(current["email"] or ""))
    pseudonymise(conn, user_id, _about(user_id, record_id), items)
    audit.record(conn, actor, "user.erased", entity_type="user", entity_id=user_id)


def _item_entities(conn: Connection, record_id: str) -> set[Entity]:
    """The record's notes and interactions, present or deleted before (found through their
    `*.deleted` audit rows, whose `changes` name the record)."""
    found: set[Entity] = set()
    for kind, table in (("note", customer_notes), ("interaction", customer_interactions)):
        ids = conn.execute(select(table.c.id).where(table.c.customerId == record_id)).scalars()
        found |= {(kind, item_id) for item_id in ids}
    deleted = conn.execute(
        select(audit_logs.c.entityType, audit_logs.c.entityId, audit_logs.c.changes).where(
            audit_logs.c.action.in_([f"{kind}.deleted" for kind in ITEM_ENTITIES]),
            # A cheap pre-filter on the text; the parsed check below decides.
            audit_logs.c.changes.contains(record_id, autoescape=True),
        )
    )
    for kind, entity_id, changes in deleted:
        moved = orjson.loads(changes or "{}").get("customerId", {})
        if moved.get("from") == record_id:
            found.add((kind, entity_id))
    return found


def _erased(change: Any) -> Any:
    if not isinstance(change, dict):
        return ERASED
    return {side: None if value is None else ERASED for side, value in change.items()}


def _scrub_changes(text: str | None, fields: frozenset[str] | set[str]) -> str | None:
    if not text:
        return text
    changes = orjson.loads(text)
    scrubbed = {k: _erased(v) if k in fields else v for k, v in changes.items()}
    return orjson.dumps(scrubbed).decode()


def _pseudonymised(
    row: Mapping[str, Any], user_id: str, about: set[Entity], items: set[Entity]
) -> dict[str, Any]:
    """The new values of one audit row (only the columns that change)."""
    entity = (row["entityType"], row["entityId"])
    by_them = row["actorType"] == "user" and row["actorId"] == user_id
    # Anonymous sign-in attempts on their account were, most likely, their own.
    attempt = row["actorType"] == "user" and row["actorId"] is None and entity in about
    new: dict[str, Any] = {}
    if by_them or attempt:
        new.update({k: ERASED for k in ("ip", "userAgent") if row[k] is not None})
    fields = PERSONAL_FIELDS if entity in about else ITEM_TEXT_FIELDS if entity in items else None
    if fields is not None:
        new["changes"] = _scrub_changes(row["changes"], fields)
    if entity in about and entity[0] == "customer" and row["reason"] is not None:
        new["reason"] = ERASED
    return {k: v for k, v in new.items() if v != row[k]}


def pseudonymise(conn: Connection, user_id: str, about: set[Entity], items: set[Entity]) -> None:
    """Replace the user's personal data inside the audit entries by them or about them (their
    account, their record, the record's items) with `ERASED`."""
    entities = about | items
    rows = conn.execute(
        select(audit_logs).where(or_(_by(user_id), *_entity_in(entities)))
    ).mappings()
    for row in rows.all():
        new = _pseudonymised(dict(row), user_id, about, items)
        if new:
            conn.execute(update(audit_logs).where(audit_logs.c.seq == row["seq"]).values(**new))
