"""Bulk actions over customers (SPEC §6): status, assign, unassign, tag, untag, delete, export —
over a list of ids or over a native list filter, all or nothing, one audit row per changed record.

A bulk action runs in three steps inside the caller's transaction:

1. select the targets (ids, or the filter compiled by `clientbook.query`), locked for update;
2. plan: compute every record's new values with the single-record rules (status metadata
   merge, tag helpers, validation) and refuse the whole request if any record fails;
3. write: one set-based UPDATE/DELETE per chunk where every record gets the same values, one
   executemany'd UPDATE where each gets its own `metadata`, then every audit row in one INSERT.

Records the action does not change (status already equal, already assigned, tag already there,
...) are counted as matched but neither written nor audited. A dry run stops after step 2.
The actions touch `status`, `assignedTo` and `metadata` only, none of which feed the derived
columns (`derive_customer_columns` reads name, email, phone, company, country), so those stay in
step without recomputation; `customer_tags` is kept in step with `metadata.tags` explicitly.

`export` changes nothing and takes no dry run: `plan_bulk_export` turns its ids or filter into a
plan of the one export engine (`services.exports`), which the face streams as the file itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import ColumnElement, Connection, bindparam, delete, insert, select, update

from clientbook.access import Principal, require_staff
from clientbook.db.tables import customer_tags, customers
from clientbook.domain import tags as tag_rules
from clientbook.domain.customers import validate_customer
from clientbook.domain.errors import BadQuery, NotFound, ValidationFailed
from clientbook.domain.timestamps import utcnow
from clientbook.query.fields import CUSTOMERS
from clientbook.query.model import Condition, Filter, Group, ListQuery, Op, conjoin
from clientbook.query.native import CONTROL, parse_list_query
from clientbook.query.predicates import check_query, compile_filter
from clientbook.services import audit, exports
from clientbook.services.customers import (
    assignee_error,
    clean_status_reason,
    status_change_metadata,
)

ACTIONS: Final = ("status", "assign", "unassign", "tag", "untag", "delete", "export")
# The body keys each action takes besides action / ids / filter / dryRun.
ACTION_PARAMS: Final[dict[str, tuple[str, ...]]] = {
    "status": ("status", "reason"),
    "assign": ("assignedTo",),
    "unassign": (),
    "tag": ("tags",),
    "untag": ("tags",),
    "delete": (),
    "export": ("format",),
}
PARAM_KEYS: Final = ("status", "reason", "assignedTo", "tags", "format")
BODY_KEYS: Final = ("action", "ids", "filter", "dryRun", *PARAM_KEYS)
MAX_IDS: Final = 1000
# A filter may match at most this many records: bigger changes are split by the client, which
# keeps one transaction (and the single SQLite writer) short.
MAX_FILTER_MATCHES: Final = 10_000
MAX_REPORTED: Final = 20  # failing records named in one error
_CHUNK: Final = 500  # ids per IN (...) list
AUDIT_ACTIONS: Final = {
    "status": "customer.status_changed",
    "assign": "customer.assigned",
    "unassign": "customer.assigned",
    "tag": "customer.tagged",
    "untag": "customer.tagged",
    "delete": "customer.deleted",
}
# What the actions read: the columns they change, and `name` for a deletion's audit row.
_TARGET_COLUMNS = [
    customers.c[name] for name in ("id", "seq", "name", "status", "assignedTo", "metadata")
]


@dataclass(frozen=True)
class BulkRequest:
    """A validated bulk request: exactly one of `ids` / `where` is set."""

    action: str
    ids: tuple[str, ...] | None = None
    where: Filter | None = None
    dry_run: bool = False
    status: str | None = None
    reason: str | None = None
    assigned_to: str | None = None
    tags: tuple[str, ...] = ()
    format: exports.ExportFormat | None = None  # export only
    filter_text: str = ""  # the filter as given, for an export's audit row


@dataclass(frozen=True)
class BulkResult:
    action: str
    matched: int
    changed: int
    dry_run: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "matched": self.matched,
            "changed": self.changed,
            "dryRun": self.dry_run,
        }


@dataclass
class _Plan:
    """What the action does to each record that it changes."""

    matched: int
    # (current row, new column values) per changed record; values are empty for a delete.
    changes: list[tuple[Mapping[str, Any], dict[str, Any]]] = field(default_factory=list)


# --- the request -----------------------------------------------------------------------------


def parse_bulk_request(principal: Principal | None, data: Mapping[str, Any]) -> BulkRequest:
    """Validate a bulk body (staff only); ValidationFailed lists every problem at once."""
    require_staff(principal)
    errors: dict[str, str] = {key: "unknown field" for key in data if key not in BODY_KEYS}
    action = data.get("action")
    if action is None:
        errors["action"] = f"required: one of {', '.join(ACTIONS)}"
    elif action not in ACTIONS:
        errors["action"] = f"must be one of: {', '.join(ACTIONS)}"
    else:
        for key in PARAM_KEYS:
            if key in data and key not in ACTION_PARAMS[action]:
                errors[key] = f"not used by the {action} action"
    ids, where = _targets(data, errors)
    dry_run = data.get("dryRun", False)
    if not isinstance(dry_run, bool):
        errors["dryRun"] = "must be true or false"
    elif dry_run and action == "export":
        # An export writes nothing, so there is nothing for a dry run to spare.
        errors["dryRun"] = "not used by the export action"
    params = _action_params(action, data, errors) if action in ACTIONS else {}
    if errors:
        raise ValidationFailed(errors)
    filter_text = _filter_text(data["filter"]) if where is not None else ""
    return BulkRequest(
        action=str(action), ids=ids, where=where, dry_run=dry_run, filter_text=filter_text, **params
    )


def _targets(
    data: Mapping[str, Any], errors: dict[str, str]
) -> tuple[tuple[str, ...] | None, Filter | None]:
    has_ids, has_filter = data.get("ids") is not None, data.get("filter") is not None
    if has_ids == has_filter:
        errors["ids"] = errors["filter"] = "send exactly one of ids and filter"
        return None, None
    if has_ids:
        ids = data["ids"]
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            errors["ids"] = "must be a non-empty list of customer ids"
            return None, None
        if len(ids) > MAX_IDS:
            errors["ids"] = f"at most {MAX_IDS} ids per request"
            return None, None
        return tuple(dict.fromkeys(ids)), None
    return None, _parse_filter(data["filter"], errors)


def _filter_params(text: str) -> list[tuple[str, str]]:
    return parse_qsl(text.strip().removeprefix("?"), keep_blank_values=True)


def _filter_text(text: str) -> str:
    """The filter's conditions as the GET export's audit row writes its query (empty ones out)."""
    return urlencode([(key, value) for key, value in _filter_params(text) if value.strip()])


def _parse_filter(text: Any, errors: dict[str, str]) -> Filter | None:
    """The native list query string (`status=lead&country=Malaysia`, `q=` included) as a filter
    of the query model; its problems are body problems (422), named `filter.<parameter>`."""
    if not isinstance(text, str):
        errors["filter"] = "must be a list query string such as status=lead&country=Malaysia"
        return None
    params = _filter_params(text)
    # Paging and sorting mean nothing to a bulk action; `q` (search) is a filter like any other.
    control = sorted({key for key, _ in params} & (CONTROL - {"q"}))
    if control:
        errors["filter"] = f"{', '.join(control)} cannot be used in a bulk filter"
        return None
    try:
        query = parse_list_query(CUSTOMERS, params)
    except BadQuery as exc:
        errors.update({f"filter.{name}": message for name, message in exc.fields.items()})
        return None
    search = Condition("name", Op.SEARCH, query.search, param="q") if query.search else None
    where = conjoin(query.where, search)
    if isinstance(where, Group) and not where.items:
        errors["filter"] = "must have at least one condition (bulk never means every record)"
        return None
    return where


def _action_params(action: str, data: Mapping[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    if action == "status":
        try:
            status = validate_customer({"status": data.get("status")}, current={})["status"]
        except ValidationFailed as exc:
            errors.update(exc.fields)
            status = None
        if "status" not in data:
            errors["status"] = "required"
        try:
            reason = clean_status_reason(data.get("reason"))
        except ValidationFailed as exc:
            errors.update(exc.fields)
            reason = None
        return {"status": status, "reason": reason}
    if action == "assign":
        assignee = data.get("assignedTo")
        if not isinstance(assignee, str) or not assignee:
            errors["assignedTo"] = "required: the id of an active staff user (unassign to clear)"
        return {"assigned_to": assignee}
    if action in ("tag", "untag"):
        try:
            tags = tag_rules.normalize_tags(data.get("tags"))
        except ValidationFailed as exc:
            errors["tags"] = next(iter(exc.fields.values()))
            return {}
        if not tags:
            errors["tags"] = "at least one tag"
        return {"tags": tuple(tags)}
    if action == "export":
        return {"format": _export_format(data.get("format"), errors)}
    return {}


def _export_format(value: Any, errors: dict[str, str]) -> exports.ExportFormat | None:
    """The GET export's format names and default; a bad one is a body problem (422)."""
    try:
        return exports.parse_format(None if value is None else str(value))
    except BadQuery as exc:
        errors.update(exc.fields)
        return None


# --- running ---------------------------------------------------------------------------------


def run_bulk_action(
    conn: Connection, principal: Principal | None, request: BulkRequest
) -> BulkResult:
    """Apply `request` to every target record, or to none (ValidationFailed / NotFound).

    With `dry_run` nothing is written: the answer is what the action would change.
    An `export` is not run here but streamed: see `plan_bulk_export`.
    """
    principal = require_staff(principal)
    if request.action == "export":
        raise ValueError("an export is a file: plan it with plan_bulk_export and stream it")
    now = utcnow()
    rows = _load_targets(conn, request, lock=not request.dry_run)
    plan = _plan(conn, principal, request, rows, now)
    if not request.dry_run:
        _write(conn, principal, request, plan, now)
    return BulkResult(request.action, plan.matched, len(plan.changes), request.dry_run)


def plan_bulk_export(
    conn: Connection, principal: Principal | None, request: BulkRequest
) -> exports.ExportPlan:
    """The export of a bulk `export` request, checked before its first byte: NotFound naming
    unknown ids (as every bulk action), BadQuery for a filter that cannot run. A filter is not
    held to MAX_FILTER_MATCHES: the export streams from a read snapshot and holds no writer,
    as the GET export over the same filter."""
    principal = require_staff(principal)
    assert request.action == "export" and request.format is not None
    if request.ids is not None:
        _check_ids_exist(conn, request.ids)
        # The GET export's own `ids=a,b` (and what its audit row records).
        return exports.plan_export(principal, [("ids", ",".join(request.ids))], fmt=request.format)
    assert request.where is not None
    return exports.plan_filtered_export(
        principal, request.where, fmt=request.format, filter_text=request.filter_text
    )


def _check_ids_exist(conn: Connection, ids: Sequence[str]) -> None:
    found: set[str] = set()
    for chunk in _chunks(ids):
        found.update(
            conn.execute(select(customers.c.id).where(customers.c.id.in_(chunk))).scalars()
        )
    _check_all_found(ids, found)


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _load_targets(conn: Connection, request: BulkRequest, *, lock: bool) -> list[dict[str, Any]]:
    """The target rows in creation order; NotFound naming unknown ids; ValidationFailed when a
    filter matches more than MAX_FILTER_MATCHES."""
    # No ORDER BY in SQL: it could make the database sort every match before the LIMIT.
    base = select(*_TARGET_COLUMNS)
    if lock:
        base = base.with_for_update()  # PostgreSQL; SQLite's writer already holds the lock
    if request.ids is not None:
        rows = [
            dict(row)
            for chunk in _chunks(request.ids)
            for row in conn.execute(base.where(customers.c.id.in_(chunk))).mappings()
        ]
        _check_all_found(request.ids, {row["id"] for row in rows})
    else:
        assert request.where is not None
        query = base.where(_filter_predicate(conn, request.where)).limit(MAX_FILTER_MATCHES + 1)
        rows = [dict(row) for row in conn.execute(query).mappings()]
    if len(rows) > MAX_FILTER_MATCHES:
        message = (
            f"matches more than {MAX_FILTER_MATCHES:,} records; narrow the filter or send "
            "several requests"
        )
        raise ValidationFailed({"filter": message})
    return sorted(rows, key=lambda row: int(row["seq"]))


def _filter_predicate(conn: Connection, where: Filter) -> ColumnElement[bool]:
    """The filter as SQL, through the one query compiler (same checks as a list)."""
    check_query(CUSTOMERS, ListQuery(where=where))
    return compile_filter(CUSTOMERS, where, conn.dialect.name)


def _check_all_found(ids: Sequence[str], found: set[str]) -> None:
    missing = [i for i in ids if i not in found]
    if missing:
        shown = ", ".join(missing[:MAX_REPORTED])
        more = f" and {len(missing) - MAX_REPORTED} more" if len(missing) > MAX_REPORTED else ""
        raise NotFound(
            f"{len(missing)} customer(s) not found; nothing was changed",
            fields={"ids": f"no customer has these ids: {shown}{more}"},
        )


# --- planning: the single-record rules, applied to every target -------------------------------


def _plan(
    conn: Connection,
    principal: Principal,
    request: BulkRequest,
    rows: list[dict[str, Any]],
    now: datetime,
) -> _Plan:
    """Every record's new values; ValidationFailed naming each record that cannot take them."""
    plan = _Plan(matched=len(rows))
    if request.action == "assign":
        problem = assignee_error(conn, request.assigned_to)
        if problem is not None:
            raise ValidationFailed({"assignedTo": problem})
    errors: dict[str, str] = {}
    for row in rows:
        try:
            values = _new_values(principal, request, row, now)
        except ValidationFailed as exc:
            for name, message in exc.fields.items():
                errors[f"customers.{row['id']}.{name}"] = message
            continue
        if values is not None:
            plan.changes.append((row, values))
    if errors:
        failing = len({key.split(".")[1] for key in errors})
        shown = dict(list(errors.items())[:MAX_REPORTED])
        message = f"{failing} record(s) cannot take this change; nothing was changed"
        raise ValidationFailed(shown, message)
    return plan


def _new_values(
    principal: Principal, request: BulkRequest, row: Mapping[str, Any], now: datetime
) -> dict[str, Any] | None:
    """The columns the action changes on `row`, or None when it changes nothing."""
    action = request.action
    if action == "delete":
        return {}
    if action in ("assign", "unassign"):
        target = request.assigned_to if action == "assign" else None
        return None if row["assignedTo"] == target else {"assignedTo": target}
    if action == "status":
        if row["status"] == request.status:
            return None  # SPEC §12: a change to the current status is a no-op
        merged = status_change_metadata(
            row["metadata"], reason=request.reason, actor_id=principal.id, at=now
        )
        return validate_customer({"status": request.status, "metadata": merged}, current=row)
    current = tag_rules.get_customer_tags(row["metadata"])
    if action == "tag":
        wanted = tag_rules.normalize_tags([*current, *request.tags])
    else:
        keys = {tag_rules.tag_key(t) for t in request.tags}
        wanted = [t for t in current if tag_rules.tag_key(t) not in keys]
    if wanted == current:
        return None
    metadata = tag_rules.set_customer_tags(row["metadata"], wanted)
    return validate_customer({"metadata": metadata}, current=row)


# --- writing ---------------------------------------------------------------------------------


def _write(
    conn: Connection, principal: Principal, request: BulkRequest, plan: _Plan, now: datetime
) -> None:
    if not plan.changes:
        return
    ids = [row["id"] for row, _ in plan.changes]
    if request.action == "delete":
        # Notes, interactions and tags go with their record (ON DELETE CASCADE).
        for chunk in _chunks(ids):
            conn.execute(delete(customers).where(customers.c.id.in_(chunk)))
    elif request.action in ("assign", "unassign"):
        for chunk in _chunks(ids):
            conn.execute(
                _stamped(update(customers).where(customers.c.id.in_(chunk)), principal, now).values(
                    assignedTo=request.assigned_to if request.action == "assign" else None
                )
            )
    else:
        _write_each(conn, principal, plan, now)
        if request.action in ("tag", "untag"):
            _sync_tags(conn, request, plan)
    rows = [_audit_row(principal, request, row, values, now) for row, values in plan.changes]
    audit.record_many(conn, rows)


def _stamped(statement: Any, principal: Principal, now: datetime) -> Any:
    """What every change sets besides its own columns (as the single-record `_apply_changes`)."""
    return statement.values(
        updatedAt=now, updatedBy=principal.user_id, version=customers.c.version + 1
    )


def _write_each(conn: Connection, principal: Principal, plan: _Plan, now: datetime) -> None:
    """Per-record values (`metadata` differs for each): one executemany'd UPDATE."""
    columns = sorted(plan.changes[0][1])
    statement = _stamped(
        update(customers)
        .where(customers.c.id == bindparam("target_id"))
        .values({name: bindparam(f"new_{name}") for name in columns}),
        principal,
        now,
    )
    conn.execute(
        statement,
        [
            {"target_id": row["id"], **{f"new_{name}": values[name] for name in columns}}
            for row, values in plan.changes
        ],
    )


def _sync_tags(conn: Connection, request: BulkRequest, plan: _Plan) -> None:
    """Keep `customer_tags` in step with the new `metadata.tags`, set-based."""
    ids = [row["id"] for row, _ in plan.changes]
    if request.action == "untag":
        keys = sorted({tag_rules.tag_key(t) for t in request.tags})
        for chunk in _chunks(ids):
            conn.execute(
                delete(customer_tags).where(
                    customer_tags.c.customerId.in_(chunk), customer_tags.c.tagKey.in_(keys)
                )
            )
        return
    added = []
    for row, values in plan.changes:
        had = {tag_rules.tag_key(t) for t in tag_rules.get_customer_tags(row["metadata"])}
        for tag in tag_rules.get_customer_tags(values["metadata"]):
            if tag_rules.tag_key(tag) not in had:
                added.append(
                    {"customerId": row["id"], "tagKey": tag_rules.tag_key(tag), "tag": tag}
                )
    conn.execute(insert(customer_tags), added)


def _audit_row(
    principal: Principal,
    request: BulkRequest,
    row: Mapping[str, Any],
    values: Mapping[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """The same audit row the single-record action writes."""
    if request.action == "delete":
        changes = {"name": {"from": row["name"], "to": None}}
    else:
        changes = audit.diff(row, values)
    return audit.audit_row(
        principal,
        AUDIT_ACTIONS[request.action],
        entity_type="customer",
        entity_id=row["id"],
        changes=changes,
        reason=request.reason if request.action == "status" else None,
        at=now,
    )
