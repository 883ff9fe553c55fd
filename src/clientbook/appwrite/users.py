"""Users (appwrite-compat §1): create, list, get, delete accounts — API key only.

`Users.list` takes its own small grammar (compat §5): `equal`/`notEqual` on `email`, `name`,
`status` (a boolean: false = blocked) and `labels` (`super_admin` is the staff role); orders on
`$createdAt`, `name`, `email`; limit, offset, cursors; and search: the `search` param (name or
email) and top-level `Query.search('name' | 'email', text)`: the name or email starts with the
text, as typed or in the usual case forms (`_search_filter`). Accounts have no full-text index,
so this is not SPEC §7's word search: every customer has an account, and matching words would
read them all.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from clientbook.appwrite import shapes
from clientbook.appwrite.auth import CurrentCaller
from clientbook.appwrite.catalog import USERS, read_page
from clientbook.appwrite.errors import (
    argument_invalid,
    check_id,
    delete_restricted,
    query_invalid,
    users_error,
)
from clientbook.appwrite.http import AppwriteRoute, JSONBytes, no_content
from clientbook.appwrite.params import json_body, params_of
from clientbook.appwrite.queries import MAX_QUERIES, Grammar, parse_list
from clientbook.domain.errors import Conflict, DomainError
from clientbook.query.model import MATCH_NOTHING, Condition, Filter, Group, Op, conjoin
from clientbook.query.search import check_search_text, name_variants, parse_terms
from clientbook.services import users as user_service
from clientbook.services.runtime import Database

router = APIRouter(prefix="/users", route_class=AppwriteRoute, tags=["appwrite users"])

_FILTERABLE = frozenset({"email", "name", "status", "labels"})
_ORDERABLE = frozenset({"$createdAt", "name", "email"})
_PAGING = frozenset({"limit", "offset", "cursorAfter", "cursorBefore"})
_SEARCHABLE = ("name", "email")
# Appwrite's `status` is "not blocked".
_STATUSES = {True: ("active", "invited"), False: ("blocked",)}


def _users_api_query(query: dict[str, Any]) -> dict[str, Any]:
    """One Users.list query in terms of the `users` fields (`status` and `role` enums)."""
    method, attribute = query["method"], query.get("attribute")
    values = query.get("values") or []
    if method in _PAGING:
        return query
    if method in ("orderAsc", "orderDesc"):
        if attribute not in _ORDERABLE:
            raise query_invalid(f"Users can be ordered by {', '.join(sorted(_ORDERABLE))} only")
        return query
    if method not in ("equal", "notEqual") or attribute not in _FILTERABLE:
        message = (
            "Users can be filtered with equal / notEqual on email, name, status, labels, and "
            "searched (top level) on name, email"
        )
        raise query_invalid(message)
    if attribute == "status":
        if not all(isinstance(v, bool) for v in values):
            raise query_invalid("`status` takes true (not blocked) or false (blocked)")
        statuses = [status for v in values for status in _STATUSES[v]]
        return {**query, "values": statuses}
    if attribute == "labels":
        # Only `super_admin` is a label here (the staff role); any other matches no one.
        roles = [v if v == shapes.STAFF_LABEL else f"label:{v}" for v in values]
        return {**query, "attribute": "role", "values": roles}
    return query


GRAMMAR = Grammar(USERS.grammar.resource, USERS.grammar.attributes, rewrite=_users_api_query)


@contextmanager
def translated() -> Iterator[None]:
    try:
        yield
    except DomainError as exc:
        raise users_error(exc) from exc


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _searched_text(text: object, *, param: str) -> str:
    if not isinstance(text, str):
        raise query_invalid(f"{param}: `search` takes a text")
    problem = check_search_text(text)
    if problem:
        raise query_invalid(f"{param}: {problem}")
    return text


def _split_searches(raw: Sequence[str]) -> tuple[list[str], list[tuple[tuple[str, ...], str]]]:
    """The queries without the top-level `search`es, and those as (attributes, text)."""
    if len(raw) > MAX_QUERIES:
        raise query_invalid(f"at most {MAX_QUERIES} queries are allowed")
    rest: list[str] = []
    searches: list[tuple[tuple[str, ...], str]] = []
    for index, text in enumerate(raw):
        try:
            query = orjson.loads(text)
        except orjson.JSONDecodeError:
            query = None
        if not isinstance(query, dict) or query.get("method") != "search":
            rest.append(text)  # the query parser checks (and refuses) everything else
            continue
        param = f"queries[{index}]"
        attribute, values = query.get("attribute"), query.get("values")
        if attribute not in _SEARCHABLE:
            raise query_invalid(f'Searching by attribute "{attribute}" requires a fulltext index.')
        if not isinstance(values, list) or len(values) != 1:
            raise query_invalid(f"{param}: `search` takes 1 value(s)")
        searches.append(((attribute,), _searched_text(values[0], param=param)))
    return rest, searches


def _search_filter(searches: Sequence[tuple[tuple[str, ...], str]]) -> Filter:
    """Each search as "one of its attributes starts with the text", the text in the case forms
    names are written in (as typed, lower, upper, capitalised words): each form is a range of an
    index. Accounts have no full-text index, and every customer has one: a scan matching words
    would read them all."""
    groups: list[Filter] = []
    for attributes, text in searches:
        forms = name_variants(parse_terms(text))
        if not forms:
            return MATCH_NOTHING
        items = tuple(Condition(a, Op.STARTS_WITH, (form,)) for a in attributes for form in forms)
        groups.append(Group("or", items))
    return conjoin(*groups)


@router.post("", status_code=201)
async def create_user(request: Request, caller: CurrentCaller) -> JSONBytes:
    """A new account (role `user`): active with a password, invited without one."""
    principal = caller.key()
    body = await json_body(request)
    if body.get("phone") is not None:
        raise argument_invalid("Phone numbers are not stored for accounts on this server")
    raw_id = body.get("userId")
    data: dict[str, Any] = {"email": body.get("email")}
    if raw_id not in (None, "unique()"):
        data["$id"] = check_id(raw_id, name="userId")
    for name in ("name", "password"):
        if body.get(name) is not None:
            data[name] = body[name]
    with translated():
        user = await run_in_threadpool(user_service.create_or_invite, _db(request), principal, data)
    return JSONBytes(shapes.user(user), status_code=201)


@router.get("")
async def list_users(request: Request, caller: CurrentCaller) -> JSONBytes:
    """Accounts, filtered, ordered and paged with queries; `search` by name or email."""
    principal = caller.key()
    params = params_of(request)
    queries, searches = _split_searches(params.array("queries"))
    parsed = parse_list(GRAMMAR, queries, with_total=params.flag("total", True))
    search = params.scalars.get("search", "").strip()
    if search:
        searches.append((_SEARCHABLE, _searched_text(search, param="search")))
    with translated(), _db(request).read() as conn:
        if searches:
            where = conjoin(parsed.query.where, _search_filter(searches))
            parsed = replace(parsed, query=replace(parsed.query, where=where))
        page = read_page(conn, USERS, principal, parsed)
    return JSONBytes({"total": page.total or 0, "users": [shapes.user(r) for r in page.rows]})


@router.get("/{user_id}")
async def get_user(user_id: str, request: Request, caller: CurrentCaller) -> JSONBytes:
    """One account."""
    principal = caller.key()
    with translated(), _db(request).read() as conn:
        user = user_service.read_user(conn, principal, user_id)
    return JSONBytes(shapes.user(user))


@router.delete("/{user_id}", status_code=204)
async def delete_user(user_id: str, request: Request, caller: CurrentCaller) -> Response:
    """Delete an account; refused while it owns a customer record (ON DELETE RESTRICT)."""
    principal = caller.key()
    await json_body(request)
    db = _db(request)

    def work() -> None:
        with translated(), db.transaction() as conn:
            try:
                user_service.delete_user(conn, principal, user_id)
            except Conflict as exc:
                raise delete_restricted(exc) from exc

    await run_in_threadpool(work)
    return no_content()
