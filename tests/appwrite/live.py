"""A live clientbook on 127.0.0.1 for the real Appwrite SDKs (appwrite-compat §8).

One server per backend for the whole run (SQLite, and PostgreSQL where
CLIENTBOOK_TEST_POSTGRES_URL is set): uvicorn in a thread, on a free port, over a freshly
migrated database of its own (a copy of the migrated SQLite template; a PostgreSQL schema of its
own, so that other tests emptying theirs never touch it). Tests isolate themselves by making
their own users and records, never by emptying tables. Every test here is in one xdist group, so
the servers start once per run.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from appwrite.client import Client
from appwrite.services.account import Account
from appwrite.services.databases import Databases
from appwrite.services.tables_db import TablesDB
from appwrite.services.users import Users

from clientbook.app import create_app
from clientbook.db.engine import Database
from clientbook.services import auth
from tests.factories import make_customer, make_staff, make_user
from tests.ports import free_port

PROJECT = "clientbook"
DATABASE_ID = "console-db"
_serial = itertools.count(1)


def unique(prefix: str) -> str:
    """A name no other test uses (tests share the live database)."""
    return f"{prefix}{os.getpid()}x{next(_serial)}x{time.time_ns() % 10**9}"


class QuietDatabases(Databases):
    """The Databases face, deprecated in SDK 27 for TablesDB and tested on purpose: its
    decorator forces its warning on (`simplefilter('always')`), so it is recorded away."""

    def __getattribute__(self, name: str) -> Any:
        attribute = super().__getattribute__(name)
        if name.startswith("_") or not callable(attribute):
            return attribute

        def quiet(*args: Any, **kwargs: Any) -> Any:
            with warnings.catch_warnings(record=True):
                return attribute(*args, **kwargs)

        return quiet


@dataclass
class Live:
    """A running server, its database handle, and SDK clients for it."""

    backend: str
    endpoint: str
    db: Database
    key: str

    def client(self, *, key: str | None = None, session: str | None = None) -> Client:
        client = Client().set_endpoint(self.endpoint).set_project(PROJECT)
        if key is not None:
            client.set_key(key)
        if session is not None:
            client.set_session(session)
        return client

    def admin(self) -> Client:
        """A server-side client with the API key (staff)."""
        return self.client(key=self.key)

    def tables(self, client: Client | None = None) -> TablesDB:
        return TablesDB(client or self.admin())

    def databases(self, client: Client | None = None) -> Databases:
        return QuietDatabases(client or self.admin())

    def account(self, client: Client) -> Account:
        return Account(client)

    def users(self, client: Client | None = None) -> Users:
        return Users(client or self.admin())

    # Accounts and records made through the service layer (quick, no password hashing).

    def user(self, **fields: Any) -> dict[str, Any]:
        return make_user(self.db, email=f"{unique('u')}@example.com", **fields)

    def staff(self) -> dict[str, Any]:
        return make_staff(self.db, email=f"{unique('s')}@example.com")

    def session_secret(self, user: dict[str, Any]) -> str:
        with self.db.transaction() as conn:
            return auth.create_session(conn, user["id"], origin=auth.ANONYMOUS).token

    def as_user(self, user: dict[str, Any]) -> Client:
        return self.client(session=self.session_secret(user))

    def customer(self, owner: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        return make_customer(self.db, owner or self.user(), **fields)


def serve(db: Database) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        create_app(db=db), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"clientbook-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live clientbook server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@dataclass
class Records:
    """One face's five record calls, with one signature for rows and documents."""

    face: str  # "row" | "document"
    api: TablesDB | Databases

    def create(self, table: str, record_id: str, data: dict[str, Any], **kwargs: Any) -> Any:
        if isinstance(self.api, TablesDB):
            return self.api.create_row(DATABASE_ID, table, record_id, data, **kwargs)
        return self.api.create_document(DATABASE_ID, table, record_id, data, **kwargs)

    def get(self, table: str, record_id: str, **kwargs: Any) -> Any:
        if isinstance(self.api, TablesDB):
            return self.api.get_row(DATABASE_ID, table, record_id, **kwargs)
        return self.api.get_document(DATABASE_ID, table, record_id, **kwargs)

    def list(self, table: str, queries: list[str] | None = None, **kwargs: Any) -> list[Any]:
        if isinstance(self.api, TablesDB):
            return self.api.list_rows(DATABASE_ID, table, queries, **kwargs).rows
        return self.api.list_documents(DATABASE_ID, table, queries, **kwargs).documents

    def update(
        self, table: str, record_id: str, data: dict[str, Any] | None = None, **kw: Any
    ) -> Any:
        if isinstance(self.api, TablesDB):
            return self.api.update_row(DATABASE_ID, table, record_id, data, **kw)
        return self.api.update_document(DATABASE_ID, table, record_id, data, **kw)

    def delete(self, table: str, record_id: str) -> Any:
        if isinstance(self.api, TablesDB):
            return self.api.delete_row(DATABASE_ID, table, record_id)
        return self.api.delete_document(DATABASE_ID, table, record_id)

    def path(self, table: str) -> str:
        """The collection's path, for the SDK's own `Client.call`."""
        if isinstance(self.api, TablesDB):
            return f"/tablesdb/{DATABASE_ID}/tables/{table}/rows"
        return f"/databases/{DATABASE_ID}/collections/{table}/documents"


def records(live: Live, face: str, client: Client | None = None) -> Records:
    api = live.tables(client) if face == "row" else live.databases(client)
    return Records(face, api)
