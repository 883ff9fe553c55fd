"""Rows (TablesDB) and documents (Databases): one set of routes, built once per face.

    GET    …/rows                list   (queries, total)
    POST   …/rows                create {rowId, data, permissions?}          → 201
    GET    …/rows/{id}           get    (queries: select only)
    PATCH  …/rows/{id}           update {data?, permissions?}, partial
    DELETE …/rows/{id}           delete                                       → 204

Each route parses, makes one service call (`catalog`) inside `db.read()` or `db.transaction()`
and shapes the result; every rule is the services'. Short reads run inline on the event loop,
as in `/api`; writes run in the thread pool, since they may wait for the single SQLite writer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import Connection

from clientbook.access import Principal
from clientbook.appwrite import shapes
from clientbook.appwrite.auth import CurrentCaller
from clientbook.appwrite.catalog import (
    COLLECTIONS,
    Collection,
    Row,
    read_page,
    record_id_of,
    related_rows,
)
from clientbook.appwrite.errors import (
    RELATION_FIELDS,
    AppwriteError,
    argument_invalid,
    record_error,
)
from clientbook.appwrite.faces import DOCUMENTS, ROWS, Face
from clientbook.appwrite.http import AppwriteRoute, JSONBytes, no_content
from clientbook.appwrite.params import json_body, params_of
from clientbook.appwrite.queries import EVERYTHING, Selection, parse_list, parse_select
from clientbook.domain.errors import DomainError, Forbidden
from clientbook.domain.ids import is_valid_id
from clientbook.services.runtime import Database

# `action("role")` (compat §3): validated, then ignored — permissions derive from ownership.
_PERMISSION = re.compile(r'(?:read|create|update|delete|write)\("([^"]*)"\)')
_LABEL = re.compile(r"[A-Za-z0-9_]{1,36}")
# The only dimensions of `users` and `user:ID`, as Appwrite's role validator.
_STATUSES = frozenset({"verified", "unverified"})
PERMISSIONS_WARNING = (
    "permissions are derived from ownership on this server: the permissions sent were ignored"
)


@contextmanager
def translated(face: Face) -> Iterator[None]:
    """Domain errors of a record route as this face's Appwrite errors (compat §6)."""
    try:
        yield
    except DomainError as exc:
        raise record_error(exc, face) from exc


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _collection(request: Request, face: Face, database_id: str, container_id: str) -> Collection:
    if database_id != request.app.state.settings.appwrite_database_id:
        message = "Database with the requested ID could not be found."
        raise AppwriteError(404, "database_not_found", message)
    collection = COLLECTIONS.get(container_id)
    if collection is None:
        message = f"{face.container.title()} with the requested ID could not be found."
        raise AppwriteError(404, f"{face.container}_not_found", message)
    return collection


class Shaper:
    """Rows of one collection as this face's records, with owners and populated relations."""

    def __init__(
        self,
        conn: Connection,
        face: Face,
        database_id: str,
        principal: Principal | None,
    ) -> None:
        self.conn, self.face, self.database_id, self.principal = conn, face, database_id, principal

    def records(
        self, collection: Collection, rows: Sequence[Row], selection: Selection = EVERYTHING
    ) -> list[dict[str, Any]]:
        owners = collection.owners(self.conn, self.principal, rows)
        populated = {
            name: self._related(collection, name, rows) for name in sorted(selection.populate)
        }
        out = []
        for row in rows:
            shaped = shapes.record(
                self.face,
                collection.id,
                self.database_id,
                row,
                collection.present(row),
                owner_id=owners.get(row["id"]),
                selection=selection,
            )
            for name, found in populated.items():
                # A related row the principal may not read stays an id.
                shaped[name] = found.get(shaped[name], shaped[name])
            out.append(shaped)
        return out

    def _related(
        self, collection: Collection, name: str, rows: Sequence[Row]
    ) -> dict[str, dict[str, Any]]:
        target = COLLECTIONS[collection.relations[name]]
        ids = sorted({row[name] for row in rows if row[name] is not None})
        related = related_rows(self.conn, target, self.principal, ids)
        return {shaped["$id"]: shaped for shaped in self.records(target, related)}


def _data(body: Mapping[str, Any], face: Face) -> dict[str, Any] | None:
    """The body's `data` (an object, or JSON text of one); relationships may be `{"$id": …}`."""
    data = body.get("data")
    if isinstance(data, str):
        try:
            data = orjson.loads(data)
        except orjson.JSONDecodeError:
            data = None if not data.strip() else data
    if data is None:
        return None
    if not isinstance(data, dict):
        message = f"Invalid {face.record} structure: `data` must be an object"
        raise AppwriteError(400, f"{face.record}_invalid_structure", message)
    return {
        name: value["$id"]
        if name in RELATION_FIELDS and isinstance(value, dict) and "$id" in value
        else value
        for name, value in data.items()
    }


def _new_record_data(data: dict[str, Any], record_id: str | None, face: Face) -> dict[str, Any]:
    """A create's `data` without `$id`: `rowId` alone chooses the id (`unique()`: the server).
    `data.$id` may repeat it; a different one (or any, with `unique()`) is refused, not
    silently dropped."""
    if "$id" not in data:
        return data
    rest = {name: value for name, value in data.items() if name != "$id"}
    if record_id is None or data["$id"] != record_id:
        raise argument_invalid(
            f"Invalid `{face.id_key}`: `data.$id` differs from `{face.id_key}`, which alone "
            "chooses the id (send the same value, or leave `$id` out of `data`)"
        )
    return rest


def _without_shown_values(data: dict[str, Any], shown: Mapping[str, Any]) -> dict[str, Any]:
    """An update's `data` without its `$` attributes. A record sent back whole carries all that
    the record shows (`$id`, `$sequence`, `$createdAt`, `$tableId`, `$permissions`, ...): those
    still equal to what is shown are ignored, like any system value equal to what is stored;
    another value is refused as a system field is (compat §3: 401 naming it)."""
    changed = sorted(
        name for name, value in data.items() if name.startswith("$") and shown.get(name) != value
    )
    if changed:
        raise Forbidden(
            f"Not allowed to set: {', '.join(changed)}",
            fields={name: _SYSTEM_REFUSALS.get(name, "set by the system only") for name in changed},
        )
    return {name: value for name, value in data.items() if not name.startswith("$")}


_SYSTEM_REFUSALS = {"$id": "cannot be changed after creation"}


def _valid_role(role: str) -> bool:
    """`any`, `guests`, `users[/status]`, `user:ID[/status]`, `team:ID[/role]`, `member:ID`,
    `label:NAME`: ids (and a team role) follow the id rules, a status is verified/unverified."""
    if role in ("any", "guests", "users"):
        return True
    kind, colon, rest = role.partition(":")
    if not colon:
        group, _slash, status = role.partition("/")
        return group == "users" and status in _STATUSES
    if kind == "label":
        return _LABEL.fullmatch(rest) is not None
    identifier, slash, dimension = rest.partition("/")
    if not is_valid_id(identifier):
        return False
    if kind == "user":
        return not slash or dimension in _STATUSES
    if kind == "team":
        return not slash or is_valid_id(dimension)
    return kind == "member" and not slash


def _valid_permission(permission: object) -> bool:
    found = _PERMISSION.fullmatch(permission) if isinstance(permission, str) else None
    return found is not None and _valid_role(found.group(1))


def _permissions_sent(body: Mapping[str, Any]) -> bool:
    """Validate `permissions` (400 when malformed); True when any were sent (to warn)."""
    permissions = body.get("permissions")
    if permissions is None:
        return False
    if not isinstance(permissions, list) or not all(map(_valid_permission, permissions)):
        raise argument_invalid(
            'Invalid `permissions` param: each must look like read("user:ID") or '
            'update("label:super_admin")'
        )
    return True


def _warned(response: Response, warn: bool) -> Response:
    if warn:
        response.headers["X-Appwrite-Warning"] = PERMISSIONS_WARNING
    return response


def records_router(face: Face) -> APIRouter:
    """The five record routes of one face."""
    if face is ROWS:
        base = "/tablesdb/{database_id}/tables/{container_id}/rows"
    else:
        base = "/databases/{database_id}/collections/{container_id}/documents"
    router = APIRouter(route_class=AppwriteRoute, tags=[f"appwrite {face.list_key}"])

    @router.get(base)
    async def list_records(
        database_id: str, container_id: str, request: Request, caller: CurrentCaller
    ) -> JSONBytes:
        collection = _collection(request, face, database_id, container_id)
        params = params_of(request)
        parsed = parse_list(
            collection.grammar, params.array("queries"), with_total=params.flag("total", True)
        )
        principal = caller.principal
        with translated(face), _db(request).read() as conn:
            page = read_page(conn, collection, principal, parsed)
            shaper = Shaper(conn, face, database_id, principal)
            records = shaper.records(collection, page.rows, parsed.selection)
        return JSONBytes({"total": page.total or 0, face.list_key: records})

    @router.get(base + "/{record_id}")
    async def get_record(
        database_id: str,
        container_id: str,
        record_id: str,
        request: Request,
        caller: CurrentCaller,
    ) -> JSONBytes:
        collection = _collection(request, face, database_id, container_id)
        selection = parse_select(collection.grammar, params_of(request).array("queries"))
        principal = caller.principal
        with translated(face), _db(request).read() as conn:
            row = collection.get(conn, principal, record_id)
            shaped = Shaper(conn, face, database_id, principal).records(
                collection, [row], selection
            )
        return JSONBytes(shaped[0])

    @router.post(base, status_code=201)
    async def create_record(
        database_id: str, container_id: str, request: Request, caller: CurrentCaller
    ) -> Response:
        collection = _collection(request, face, database_id, container_id)
        create, _update, _delete = collection.writable()
        body = await json_body(request)
        record_id = record_id_of(body.get(face.id_key), face.id_key)
        data = _data(body, face)
        if not data:  # `{}` says nothing to create either (compat §6)
            message = f"The {face.record} data is missing."
            raise AppwriteError(400, f"{face.record}_missing_data", message)
        data = _new_record_data(data, record_id, face)
        warn = _permissions_sent(body)
        principal, db = caller.principal, _db(request)

        def work() -> dict[str, Any]:
            with translated(face), db.transaction() as conn:
                row = create(conn, principal, record_id, data)
                return Shaper(conn, face, database_id, principal).records(collection, [row])[0]

        shaped = await run_in_threadpool(work)
        return _warned(JSONBytes(shaped, status_code=201), warn)

    @router.patch(base + "/{record_id}")
    async def update_record(
        database_id: str,
        container_id: str,
        record_id: str,
        request: Request,
        caller: CurrentCaller,
    ) -> Response:
        collection = _collection(request, face, database_id, container_id)
        _create, update, _delete = collection.writable()
        body = await json_body(request)
        data = _data(body, face)
        warn = _permissions_sent(body)
        if not data and not warn:
            message = "Send `data` or `permissions` to update."
            raise AppwriteError(400, f"{face.record}_missing_payload", message)
        principal, db = caller.principal, _db(request)

        def work() -> dict[str, Any]:
            with translated(face), db.transaction() as conn:
                changes = data
                if data and any(name.startswith("$") for name in data):
                    # An unseen record is not found (404) before a value is refused (401).
                    current = collection.get(conn, principal, record_id)
                    shaper = Shaper(conn, face, database_id, principal)
                    shown = shaper.records(collection, [current])[0]
                    changes = _without_shown_values(data, shown)
                if changes:
                    row = update(conn, principal, record_id, changes)
                else:  # permissions (or what the record shows) only: the record as it is
                    row = collection.get(conn, principal, record_id)
                return Shaper(conn, face, database_id, principal).records(collection, [row])[0]

        return _warned(JSONBytes(await run_in_threadpool(work)), warn)

    @router.delete(base + "/{record_id}", status_code=204)
    async def delete_record(
        database_id: str,
        container_id: str,
        record_id: str,
        request: Request,
        caller: CurrentCaller,
    ) -> Response:
        collection = _collection(request, face, database_id, container_id)
        _create, _update, delete = collection.writable()
        await json_body(request)  # `{}`; a `transactionId` is refused
        principal, db = caller.principal, _db(request)

        def work() -> None:
            with translated(face), db.transaction() as conn:
                delete(conn, principal, record_id)

        await run_in_threadpool(work)
        return no_content()

    return router


ROWS_ROUTER = records_router(ROWS)
DOCUMENTS_ROUTER = records_router(DOCUMENTS)
