"""The one import engine (SPEC §5, §8): rows in, records created or updated, a report out.

Every row goes through the API's own rules: `validate_customer`, the access field rules
(`assert_can_set_customer_fields`), the assignee rule, email uniqueness. Rows are matched to
records by `id`, else by email (case-insensitively); `overwrite` updates a matched record, else
the match is a failed row. A staff import creates `invited` users for rows whose owner has no
account; a user's import restores only their own record.

The whole import is one transaction: all rows or none without `skipErrors`, and a crash leaves
nothing half-applied either way. It runs in two passes, so that the transaction (on SQLite: the
one writer, which every other write of the server waits for) is held only for the part that
needs the database:

1. reading, converting and validating every row as a new record, with its derived columns
   (about two thirds of the work), before any transaction, into a spool: memory while small, a
   temporary file beyond, so that a million rows do not grow the server's memory;
2. in the transaction, batch by batch from the spool: one lookup per batch for the matches,
   the rules that need the database (uniqueness, the owner, the assignee, field rules),
   creates written through `services.bulk` (executemany), updates validated against the
   record they change and written one statement each.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import IO, Any, Final, NamedTuple

import orjson
from sqlalchemy import Connection, Update, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from clientbook.access import (
    STAFF_FIELDS,
    Principal,
    assert_can_set_customer_fields,
    require_authenticated,
)
from clientbook.db.tables import customer_tags, customers, users
from clientbook.domain.customers import (
    CUSTOMER_ATTRIBUTES,
    derive_customer_columns,
    validate_customer,
)
from clientbook.domain.errors import DomainError, TooLarge, ValidationFailed
from clientbook.domain.ids import new_id
from clientbook.domain.text import email_folded
from clientbook.domain.timestamps import format_datetime, utcnow
from clientbook.domain.users import USER_NAME_MAX_LENGTH
from clientbook.services import audit, bulk
from clientbook.services import customers as customer_service
from clientbook.services import users as user_service
from clientbook.services.imports.columns import (
    ID,
    ColumnMap,
    RowBody,
    column_names,
    map_columns,
    row_body,
)
from clientbook.services.imports.readers import Source
from clientbook.services.imports.report import ImportOptions, ImportReport
from clientbook.services.records import settings_of
from clientbook.services.runtime import Database

BATCH_ROWS: Final = 2_000
SPOOL_MEMORY_BYTES: Final = 8 * 1024 * 1024  # checked rows beyond this go to a temporary file
_EXISTS: Final = (
    "exists: a customer with this value is in the database already (import with overwrite "
    "to update it)"
)
_PLACEHOLDER_OWNER: Final = "0"  # stands for "an owner to be found" during validation
_OWNER_SLOT: Final = "\x00owner"  # where a create's audit changes get their `userId`
_OWNER_SLOT_JSON: Final = '"userId":"\\u0000owner"'
_DEFAULTS: Final = {
    name: spec.make_default() if spec.has_default else None
    for name, spec in CUSTOMER_ATTRIBUTES.items()
}
# Read with the matches so that an update SETs only the derived columns that change: an UPDATE
# OF `searchText` re-indexes the full-text entry, and every SET column rewrites its indexes'
# entries, changed or not (measured: a third of an update's cost). One missing here is SET.
_DERIVED_COLUMNS: Final = (
    "phoneNormalized", "phoneValid", "emailFolded", "emailKey", "duplicateNameKey", "searchText"
)  # fmt: skip
_READ_COLUMNS = [
    customers.c[name] for name in (*customer_service.PUBLIC_COLUMNS, "version", *_DERIVED_COLUMNS)
]
Progress = Callable[[int, int], None]
Record = dict[str, Any]


class _RollBack(Exception):
    """Leaves the transaction block without committing (dry run, or a failed all-or-none)."""


def _key(email: Any) -> str | None:
    """How rows, records and accounts meet on email: the stored `emailFolded` of the address."""
    return email_folded(email) if isinstance(email, str) and email.strip() else None


@dataclass
class _Known:
    """What the current batch needs from the database, kept in step with the batch's writes."""

    by_id: dict[str, Record] = field(default_factory=dict)
    by_email: dict[str, Record] = field(default_factory=dict)
    users_by_id: dict[str, Record] = field(default_factory=dict)
    users_by_email: dict[str, Record] = field(default_factory=dict)
    owners_with_record: set[str] = field(default_factory=set)

    def remember(self, record: Record) -> None:
        self.by_id[record["id"]] = record
        key = _key(record.get("email"))
        if key is not None:
            self.by_email[key] = record
        self.owners_with_record.add(record["userId"])

    def forget_email(self, email: Any) -> None:
        key = _key(email)
        if key is not None:
            self.by_email.pop(key, None)


class _Checked(NamedTuple):
    """One row after the first pass: its body (or the body's own problems: unreadable cells,
    unknown columns) and, for a good body, the row it would be inserted as and its audit
    changes, or why it cannot be. The changes are kept as JSON text with a slot for `userId`,
    which the second pass settles (`_changes_text`): text is far cheaper to spool than dicts."""

    number: int
    data: dict[str, Any]
    errors: dict[str, str]
    customer: Record | None = None
    changes: str | None = None
    invalid: dict[str, str] | None = None


@dataclass
class _RowChecker:
    """The first pass over one row: everything `Importer._create` does that needs no database
    (validation, the field rules, the derived columns, the audit changes)."""

    principal: Principal
    region: str
    now: datetime
    db: Database

    def __call__(self, number: int, body: RowBody) -> _Checked:
        if body.errors:
            return _Checked(number, body.data, body.errors)
        if not self.principal.is_staff:
            # SPEC §8: a user's import is their own record, whatever `userId` the file says.
            body.data["userId"] = self.principal.id
        try:
            creating = dict(customer_service.with_owner_metadata(self.principal, body.data))
            if not creating.get("userId"):
                creating["userId"] = _PLACEHOLDER_OWNER
            elif not self.principal.is_staff:
                # As the API's create: no name or email in the row, the account's (SPEC §12).
                # A user's file holds one row, so this is one read.
                with self.db.read() as conn:
                    customer_service.prefill_from_account(conn, creating["userId"], creating)
            values = validate_customer(creating, default_region=self.region)
            _check_fields(self.principal, body.data, values, current=None)
        except DomainError as exc:
            return _Checked(number, body.data, {}, invalid=exc.fields or {"row": exc.message})
        record_id = values.pop(ID, None) or new_id()
        customer = bulk.build_customer_row(
            values,
            record_id=record_id,
            created_at=self.now,
            created_by=self.principal.user_id,
            default_region=self.region,
        )
        changes: dict[str, Any] = {**_created(values), "userId": _OWNER_SLOT}
        return _Checked(number, body.data, {}, customer, orjson.dumps(changes).decode())


def _spooled(spool: IO[bytes]) -> Iterator[list[_Checked]]:
    """The batches `_first_pass` wrote into `spool`, in order."""
    spool.seek(0)
    while True:
        try:
            rows = pickle.load(spool)  # our own file, written just now
        except EOFError:
            return
        yield [_Checked._make(row) for row in rows]


@dataclass
class _Create:
    row: int
    customer: Record
    user: Record | None
    audit_rows: list[Record]


class Importer:
    """One import run over one open transaction (never commits)."""

    def __init__(
        self,
        conn: Connection,
        principal: Principal,
        options: ImportOptions,
        report: ImportReport,
        now: datetime,
    ) -> None:
        self.conn = conn
        self.principal = principal
        self.options = options
        self.report = report
        self.region = settings_of(conn).default_region
        self.reason = f"import {report.import_id}"
        self.now = now  # the first pass's: the rows it built carry it
        self.pending: list[_Create] = []
        self.audits: list[Record] = []  # of updates, written with the batch
        self.pending_ids: set[str] = set()
        self.known = _Known()
        self._staff_ids: set[str] | None = None
        self.sqlite = conn.dialect.name == "sqlite"

    # --- the batch loop ------------------------------------------------------------------------

    def run(self, batches: Iterable[list[_Checked]], progress: Progress | None = None) -> None:
        for batch in batches:
            self._batch(batch)
            if progress is not None:
                progress(self.report.processed_rows, self.report.total_rows)

    def _batch(self, batch: list[_Checked]) -> None:
        valid: list[_Checked] = []
        for row in batch:
            if row.errors:
                self.report.fail(row.number, row.errors)
            else:
                valid.append(row)
        self.known = self._lookup([row.data for row in valid])
        for row in valid:
            try:
                self._row(row)
            except DomainError as exc:
                self.report.fail(row.number, exc.fields or {"row": exc.message})
        self._flush()
        self._write_audits()
        self.report.processed_rows += len(batch)

    def _lookup(self, rows: list[dict[str, Any]]) -> _Known:
        """The records and accounts the rows can match, in a few indexed queries."""
        known = _Known()
        conn = self.conn
        ids = {r[ID] for r in rows if isinstance(r.get(ID), str)}
        emails = {key for r in rows if (key := _key(r.get("email"))) is not None}
        if not self.principal.is_staff:
            mine = customer_service.find_own_customer(conn, self.principal)
            if mine is not None:
                known.remember(mine)
            return known
        if ids:
            query = select(*_READ_COLUMNS).where(customers.c.id.in_(ids))
            for row in conn.execute(query).mappings():
                known.remember(dict(row))
        if emails:
            query = select(*_READ_COLUMNS).where(customers.c.emailFolded.in_(emails))
            for row in conn.execute(query).mappings():
                known.remember(dict(row))
        owner_ids = {r["userId"] for r in rows if isinstance(r.get("userId"), str)}
        account_columns = (users.c.id, users.c.email, users.c.emailFolded)
        if owner_ids:
            query = select(*account_columns).where(users.c.id.in_(owner_ids))
            known.users_by_id = {row.id: dict(row._mapping) for row in conn.execute(query)}
        if emails:
            query = select(*account_columns).where(users.c.emailFolded.in_(emails))
            for account in conn.execute(query):
                known.users_by_email[account.emailFolded] = dict(account._mapping)
                known.users_by_id[account.id] = dict(account._mapping)
        if known.users_by_id:
            query = select(customers.c.userId).where(customers.c.userId.in_(known.users_by_id))
            known.owners_with_record.update(conn.execute(query).scalars())
        return known

    # --- one row -------------------------------------------------------------------------------

    def _row(self, row: _Checked) -> None:
        data = row.data
        if not self.principal.is_staff:
            self._own_row(row)
            return
        record_id = data.get(ID)
        match = self.known.by_id.get(record_id) if isinstance(record_id, str) else None
        matched_on = ID
        if match is None and record_id is None:
            match = self.known.by_email.get(_key(data.get("email")) or "")
            matched_on = "email"
        if match is None:
            self._create(row)
        elif not self.options.overwrite:
            raise ValidationFailed({matched_on: _EXISTS})
        else:
            self._update(data, match)

    def _own_row(self, row: _Checked) -> None:
        """A user's import restores their own record: `userId` is always themselves (the
        first pass set it)."""
        data = row.data
        mine = next(iter(self.known.by_id.values()), None)
        if mine is None:
            self._create(row)
            return
        if data.get(ID) not in (None, mine["id"]):
            raise ValidationFailed({ID: "must be the id of your own record"})
        if not self.options.overwrite:
            raise ValidationFailed({ID: "exists: you have a customer record already (import "
                                    "with overwrite to update it)"})  # fmt: skip
        self._update(data, mine)

    def _create(self, row: _Checked) -> None:
        """The rest of a create, once the first pass has checked the row as one."""
        customer, changes = row.customer, row.changes
        if customer is None or changes is None:
            raise ValidationFailed(row.invalid or {})
        self._check_assignee(customer)
        key = _key(customer.get("email"))
        if key is not None and key in self.known.by_email:
            message = "A customer with this email already exists"
            raise ValidationFailed({"email": message})
        record_id = customer["id"]
        if record_id in self.known.by_id:
            raise ValidationFailed({ID: "This id is already used"})
        owner_id, user = self._owner_for(customer, row.data.get("userId"))
        customer["userId"] = owner_id
        audit_rows = []
        if user is not None:
            account = _created({k: user[k] for k in ("email", "name", "role", "status")})
            audit_rows.append(self._audit("user.created", "user", user["id"], account))
        created = self._audit("customer.created", "customer", record_id, None)
        created["changes"] = _changes_text(owner_id, changes)
        audit_rows.append(created)
        self.pending.append(_Create(row.number, customer, user, audit_rows))
        self.pending_ids.add(record_id)
        self.known.remember(customer)

    def _owner_for(self, values: Record, given: Any) -> tuple[str, Record | None]:
        """The row's owner, and the invited account to create for it (None when the owner has
        an account). Staff name any user without a record, or let the email find one."""
        if not self.principal.is_staff:
            return str(self.principal.id), None
        known = self.known
        email = values.get("email")
        if isinstance(given, str) and given in known.users_by_id:
            if given in known.owners_with_record:
                raise ValidationFailed({"userId": "This user already has a customer record"})
            return given, None
        if not given:
            account = known.users_by_email.get(_key(email) or "")
            if account is not None and account["id"] not in known.owners_with_record:
                return str(account["id"]), None
        # No account yet: invite one, with the row's email unless an account already has it.
        free_email = email if _key(email) not in known.users_by_email else None
        name = (values.get("name") or "")[:USER_NAME_MAX_LENGTH].strip()
        user = bulk.build_user_row(
            {"email": free_email, "name": name, "role": "user", "status": "invited"},
            user_id=given or new_id(),
            created_at=self.now,
        )
        known.users_by_id[user["id"]] = user
        if user["emailFolded"] is not None:
            known.users_by_email[user["emailFolded"]] = user
        return str(user["id"]), user

    def _update(self, data: dict[str, Any], current: Record) -> None:
        if current["id"] in self.pending_ids:
            self._flush()  # an earlier row of this batch creates it: write that first
        body = {k: v for k, v in data.items() if k != ID}
        body = dict(customer_service.with_owner_metadata(self.principal, body, current=current))
        values = validate_customer(body, current=current, default_region=self.region)
        changed = {k: v for k, v in values.items() if current.get(k) != v}
        if not changed:
            self.report.unchanged += 1
            return
        _check_fields(self.principal, changed, changed, current=current)
        self._check_assignee(changed)
        key = _key(changed.get("email"))
        holder = self.known.by_email.get(key) if key is not None else None
        if holder is not None and holder["id"] != current["id"]:
            raise ValidationFailed({"email": "A customer with this email already exists"})
        merged = {**current, **changed}
        derived = derive_customer_columns(merged, default_region=self.region)
        values = {
            **changed,
            **{k: v for k, v in derived.items() if k not in current or current[k] != v},
            "updatedAt": self.now,
            "updatedBy": self.principal.user_id,
            "version": current["version"] + 1,
        }
        params = {f"v_{name}": value for name, value in values.items()}
        params["_id"] = current["id"]
        try:
            with self._guarded():
                self.conn.execute(_update_statement(tuple(values)), params)
                if "metadata" in changed:
                    _replace_tags(self.conn, current["id"], changed["metadata"])
        except IntegrityError as exc:
            raise ValidationFailed(_conflict(exc)) from None
        self.known.forget_email(current.get("email"))
        # With the derived columns as now written: a later row of the file may match it again.
        self.known.remember({**merged, **derived, "version": current["version"] + 1})
        self.audits.append(self._audit("customer.updated", "customer", current["id"],
                                       audit.diff(current, changed)))  # fmt: skip
        self.report.updated += 1

    # --- rules -----------------------------------------------------------------------------

    def _check_assignee(self, values: dict[str, Any]) -> None:
        assignee = values.get("assignedTo")
        if assignee is None:
            return
        if self._staff_ids is None:
            query = select(users.c.id).where(
                users.c.role == "super_admin", users.c.status == "active"
            )
            self._staff_ids = set(self.conn.execute(query).scalars())
        if assignee not in self._staff_ids:
            raise ValidationFailed({"assignedTo": "must be an active staff user (super_admin)"})

    # --- writing ---------------------------------------------------------------------------

    def _audit(
        self, action: str, entity_type: str, entity_id: str, changes: audit.Changes | None
    ) -> Record:
        return audit.audit_row(
            self.principal, action, entity_type=entity_type, entity_id=entity_id,
            changes=changes, reason=self.reason, at=self.now,
        )  # fmt: skip

    def _write_audits(self) -> None:
        """The batch's update audit rows, in one executemany (the creates write their own)."""
        audits, self.audits = self.audits, []
        bulk.insert_rows(self.conn, "audit_logs", audits)

    def _guarded(self) -> AbstractContextManager[object]:
        """What undoes a write that hits a constraint, keeping the rest of the import.

        On PostgreSQL a savepoint (an error aborts the whole transaction otherwise). On SQLite
        the savepoint is left out: a trigger that runs inside a savepoint in a large
        transaction costs time in proportion to everything the transaction wrote (measured:
        each batch of an import slower than the one before, minutes for 30,000 rows), and
        nothing needs it. The one writer connection is held from the lookups to the writes,
        so the uniqueness checks `_row` makes against the database and the batch hold at
        write time; a single UPDATE that fails anyway is undone by SQLite on its own, and a
        failed create batch is deleted again (`_undo`)."""
        if self.sqlite:
            return nullcontext()
        return self.conn.begin_nested()

    def _flush(self) -> None:
        """Write the pending creates in one go; on a database conflict, one by one."""
        pending, self.pending = self.pending, []
        self.pending_ids.clear()
        if not pending:
            return
        try:
            with self._guarded():
                self._write(pending)
        except IntegrityError:
            self._undo(pending)
            for create in pending:
                try:
                    with self._guarded():
                        self._write([create])
                except IntegrityError as exc:
                    self._undo([create])
                    self.known.by_id.pop(create.customer["id"], None)
                    self.report.fail(create.row, _conflict(exc))
                    continue
                self.report.created += 1
            return
        self.report.created += len(pending)

    def _write(self, creates: list[_Create]) -> None:
        rows = bulk.BulkRows(
            users=[c.user for c in creates if c.user is not None],
            customers=[c.customer for c in creates],
        )
        bulk.insert_bulk(self.conn, rows)
        bulk.insert_rows(self.conn, "audit_logs", [a for c in creates for a in c.audit_rows])

    def _undo(self, creates: list[_Create]) -> None:
        """Delete whatever part of `creates` an interrupted `_write` wrote (SQLite only; on
        PostgreSQL the savepoint did). Deleting fires the same triggers as inserting did, so
        the full-text index and the counters come back too. The audit rows are written last,
        so they never exist for a failed write."""
        if not self.sqlite:
            return
        ids = [c.customer["id"] for c in creates]
        owners = [c.user["id"] for c in creates if c.user is not None]
        self.conn.execute(delete(customer_tags).where(customer_tags.c.customerId.in_(ids)))
        self.conn.execute(delete(customers).where(customers.c.id.in_(ids)))
        if owners:
            self.conn.execute(delete(users).where(users.c.id.in_(owners)))


def _check_fields(
    principal: Principal, sent: dict[str, Any], values: dict[str, Any], *, current: Record | None
) -> None:
    """The API's field rules for the fields a row sets. An owner's staff-only fields may
    hold what they already hold (their default on create): a user's own export carries
    them, and restoring it sets nothing."""
    names = [name for name in sent if name != ID]
    if not principal.is_staff:
        before = current if current is not None else _DEFAULTS
        names = [n for n in names if n not in STAFF_FIELDS or values.get(n) != before.get(n)]
    assert_can_set_customer_fields(principal, names, creating=current is None)


# An instant is formatted once while it recurs (most rows share `now`). Bounded: a file's own
# dates are mostly distinct, and a memo of every one held ~200 MB on a million rows.
_format_instant = lru_cache(maxsize=1024)(format_datetime)


def _created(values: dict[str, Any]) -> audit.Changes:
    """`audit.diff({}, values)`, what a single create records, built for a million rows:
    every set field from None."""
    changes: audit.Changes = {}
    for name, value in values.items():
        if value is None:
            continue
        if value.__class__ is datetime:
            value = _format_instant(value)
        changes[name] = {"from": None, "to": value}
    return changes


@lru_cache(maxsize=512)
def _update_statement(columns: tuple[str, ...]) -> Update:
    """The UPDATE of one record setting `columns` (`_id`, `v_<column>` parameters), built
    once per set of columns: building and compiling it per row cost ~4 times the UPDATE."""
    return (
        update(customers)
        .where(customers.c.id == bindparam("_id"))
        .values({name: bindparam(f"v_{name}") for name in columns})
    )


def _changes_text(owner_id: str, text: str) -> str:
    """A create's changes as `orjson.dumps` writes them, from the first pass's `text` with
    its owner slot. The slot's JSON cannot occur elsewhere: a `"` inside a value is escaped."""
    owner = orjson.dumps({"from": None, "to": owner_id}).decode()
    return text.replace(_OWNER_SLOT_JSON, f'"userId":{owner}', 1)


def _conflict(exc: IntegrityError) -> dict[str, str]:
    """The field a unique constraint protects, as the single-record services name it."""
    detail = str(exc.orig)
    messages = {**customer_service.UNIQUE_MESSAGES, **user_service.UNIQUE_MESSAGES}
    for fragment, (field_name, text) in messages.items():
        if fragment in detail:
            return {field_name: text}
    return {"row": "conflicts with a record in the database"}


def _replace_tags(conn: Connection, customer_id: str, metadata: str | None) -> None:
    """The `customer_tags` side table of one record, in step with its metadata."""
    conn.execute(delete(customer_tags).where(customer_tags.c.customerId == customer_id))
    rows = bulk.customer_tag_rows(customer_id, metadata)
    if rows:
        conn.execute(insert(customer_tags), rows)


# --- the use case ------------------------------------------------------------------------------


def prepare_source(
    principal: Principal, source: Source, *, max_rows: int
) -> tuple[int, ColumnMap | None]:
    """Count the rows and map the columns before anything is written: a file that is too big,
    has unknown columns, or (for a user) holds more than their one record is refused whole."""
    total = source.count(max_rows)
    if total > max_rows:
        message = f"more than {max_rows:,} rows: split the file"
        raise TooLarge(f"The file has {message}", fields={"file": message})
    if not principal.is_staff and total > 1:
        raise ValidationFailed({"file": "a user's import holds one row: their own record"})
    return total, source_columns(source)


def source_columns(source: Source) -> ColumnMap | None:
    """The mapping of a CSV or XLSX file's header, which `source.count` reads (None for JSON,
    whose keys vary by row); ValidationFailed naming unknown and repeated columns."""
    return map_columns(source.headers) if source.format in ("csv", "xlsx") else None


def _first_pass(
    source: Source,
    mapping: ColumnMap | None,
    check: _RowChecker,
    spool: IO[bytes],
    progress: Progress | None,
    report: ImportReport,
) -> None:
    """Read, convert and check every row into `spool`, batch by batch (see the module doc).
    A JSON file's ignored keys and the names its keys give fields go into `report` (a CSV or
    XLSX file's come from its header)."""
    spreadsheet = mapping is not None
    batch: list[_Checked] = []
    checked = 0
    ignored = dict.fromkeys(report.ignored_columns)  # an ordered set
    names = report.column_names
    for number, cells in source.rows():
        body = row_body(cells, mapping, spreadsheet=spreadsheet)
        if body.ignored is not None:
            ignored.update(dict.fromkeys(body.ignored))
        if body.named is not None:
            names.update({k: v for k, v in body.named.items() if k not in names})
        batch.append(check(number, body))
        if len(batch) >= BATCH_ROWS:
            _spool(batch, spool)
            checked += len(batch)
            batch = []
            if progress is not None:
                progress(checked, report.total_rows)
    if batch:
        _spool(batch, spool)
    report.ignored_columns = list(ignored)


def _spool(batch: list[_Checked], spool: IO[bytes]) -> None:
    """As plain tuples: a named tuple pickles as a call to its class, ~15% slower to spool."""
    pickle.dump([tuple(row) for row in batch], spool, protocol=pickle.HIGHEST_PROTOCOL)


def run_import(
    db: Database,
    principal: Principal | None,
    source: Source,
    options: ImportOptions,
    *,
    import_id: str | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import `source` in one transaction; the report says what was (or would be) done."""
    principal = require_authenticated(principal)
    import_id = import_id or new_id()
    report = ImportReport(import_id=import_id, format=source.format, options=options)
    report.total_rows, mapping = prepare_source(
        principal, source, max_rows=db.settings.max_import_rows
    )
    if mapping is not None:
        report.ignored_columns = list(mapping.ignored)
        report.column_names = column_names(mapping)
    first, second = _halves(progress)
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES) as spool:
        check = _RowChecker(principal, db.settings.default_region, utcnow(), db)
        _first_pass(source, mapping, check, spool, first, report)
        try:
            _second_pass(db, check, options, report, _spooled(spool), second)
        except _RollBack:
            if not options.dry_run:
                report.roll_back()
            return report
    report.applied = True
    return report


def _second_pass(
    db: Database,
    check: _RowChecker,
    options: ImportOptions,
    report: ImportReport,
    batches: Iterator[list[_Checked]],
    progress: Progress | None,
) -> None:
    """Apply the checked rows in one transaction; raises `_RollBack` when it must not commit."""
    with bulk.sorting_on_disk(db), db.transaction() as conn:
        # Into a (nearly) empty table, building the plain indexes once at the end is far
        # cheaper than keeping them up to date row by row (`bulk.DeferredIndexes`). SQLite
        # only: there readers keep their snapshot meanwhile, while on PostgreSQL the
        # dropped indexes would lock every reader of `users` and `customers` (sign-ins
        # included) out until the import ends. Not for a dry run, which rolls back.
        coming = {
            "users": report.total_rows,
            "customers": report.total_rows,
            "customer_tags": report.total_rows // 2,
            "audit_logs": 2 * report.total_rows,
        }
        fast = conn.dialect.name == "sqlite" and not options.dry_run
        with bulk.DeferredIndexes(conn, coming if fast else {}):
            Importer(conn, check.principal, options, report, check.now).run(batches, progress)
        if options.dry_run or (report.failed and not options.skip_errors):
            raise _RollBack
        audit.record(
            conn, check.principal, "import.completed", entity_type="customer", entity_id=None,
            changes=audit.diff({}, _summary(report)), reason=f"import {report.import_id}",
        )  # fmt: skip


def _halves(progress: Progress | None) -> tuple[Progress | None, Progress | None]:
    """One progress in two: the first pass fills its first half, the second the rest."""
    if progress is None:
        return None, None
    report = progress

    def first(done: int, total: int) -> None:
        report(done // 2, total)

    def second(done: int, total: int) -> None:
        report((total + done) // 2, total)

    return first, second


def _summary(report: ImportReport) -> dict[str, Any]:
    return {
        "format": report.format,
        "rows": report.total_rows,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "failed": report.failed,
    }
