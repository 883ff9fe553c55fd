"""Every row of appwrite-compat §6 through the real SDK: status, `type`, and the error shape
`{message, code, type, version}`; the record rows on both faces."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from appwrite.exception import AppwriteException
from appwrite.id import ID
from appwrite.query import Query
from appwrite.services.account import Account
from sqlalchemy import update

from clientbook.appwrite import records as records_module
from clientbook.db.tables import users
from tests.appwrite.live import DATABASE_ID, PROJECT, Live, Records, records, unique
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.xdist_group("appwrite")  # one worker: the live servers start once
FACES = ["row", "document"]


def fails(code: int, type_: str, call: Callable[[], Any]) -> dict[str, Any]:
    """The Appwrite error `call` raises, checked: code, type, message, version."""
    with pytest.raises(AppwriteException) as info:
        call()
    error = info.value
    assert (error.code, error.type) == (code, type_), error.response
    body: dict[str, Any] = json.loads(error.response)
    assert body["code"] == code and body["type"] == type_ and body["version"] == "2.5.0"
    assert isinstance(body["message"], str) and body["message"]
    return body


@pytest.fixture(params=FACES)
def face(request: pytest.FixtureRequest, live: Live) -> Records:
    return records(live, request.param)


def _new_customer(live: Live) -> dict[str, Any]:
    return {"userId": live.user()["id"], "name": "Siti Aminah"}


# --- records ----------------------------------------------------------------------------------


def test_validation_failure_lists_every_field(live: Live, face: Records) -> None:
    data = {**_new_customer(live), "name": "x" * 201, "email": "nope", "nickname": "Sue"}
    body = fails(
        400, f"{face.face}_invalid_structure", lambda: face.create("customers", ID.unique(), data)
    )
    assert all(name in body["message"] for name in ("name", "email", "nickname"))


def test_bad_enum_is_an_invalid_structure(live: Live, face: Records) -> None:
    data = {**_new_customer(live), "status": "bogus"}
    fails(
        400, f"{face.face}_invalid_structure", lambda: face.create("customers", ID.unique(), data)
    )


def test_create_without_data_and_update_without_payload(live: Live, face: Records) -> None:
    client = live.admin()
    headers = {"X-Appwrite-Project": PROJECT, "content-type": "application/json"}
    id_key = f"{face.face}Id"
    fails(
        400,
        f"{face.face}_missing_data",
        lambda: client.call("post", face.path("customers"), headers, {id_key: "unique()"}),
    )
    # Empty data is no data either.
    fails(400, f"{face.face}_missing_data", lambda: face.create("customers", ID.unique(), {}))
    row = live.customer()
    fails(400, f"{face.face}_missing_payload", lambda: face.update("customers", row["id"]))


def test_relationship_to_a_missing_record(live: Live, face: Records) -> None:
    missing = {"userId": ID.unique(), "name": "Nobody's"}
    fails(400, "relationship_value_invalid", lambda: face.create("customers", ID.unique(), missing))
    nobody = {**_new_customer(live), "assignedTo": ID.unique()}
    fails(400, "relationship_value_invalid", lambda: face.create("customers", ID.unique(), nobody))
    note = {"customerId": ID.unique(), "content": "orphan"}
    fails(
        400, "relationship_value_invalid", lambda: face.create("customer_notes", ID.unique(), note)
    )


def test_an_assignee_who_is_not_active_staff_is_an_invalid_structure(
    live: Live, face: Records
) -> None:
    # SPEC §12: a 422 of the services, so a structure error; the user exists.
    data = {**_new_customer(live), "assignedTo": live.user()["id"]}
    body = fails(
        400, f"{face.face}_invalid_structure", lambda: face.create("customers", ID.unique(), data)
    )
    assert "assignedTo" in body["message"]
    row = live.customer()
    blocked = live.staff()
    with live.db.transaction() as conn:
        conn.execute(update(users).where(users.c.id == blocked["id"]).values(status="blocked"))
    fails(
        400,
        f"{face.face}_invalid_structure",
        lambda: face.update("customers", row["id"], {"assignedTo": blocked["id"]}),
    )


def test_malformed_id_permission_transaction_and_users_writes(live: Live, face: Records) -> None:
    data = _new_customer(live)
    invalid = "general_argument_invalid"
    fails(400, invalid, lambda: face.create("customers", "-bad id", data))
    fails(
        400, invalid, lambda: face.create("customers", ID.unique(), data, permissions=["read(any)"])
    )
    fails(400, invalid, lambda: face.create("customers", ID.unique(), data, transaction_id="t1"))
    # A status is verified/unverified only, and ids follow the id rules.
    for role in ("users/bogus", "user:c01/bogus", "user:-x", "member:m1/x", "label:a-b"):
        sent = [f'read("{role}")']
        fails(400, invalid, partial(face.create, "customers", ID.unique(), data, permissions=sent))
    fails(400, invalid, lambda: face.list("customers", transaction_id="t1"))
    fails(400, invalid, lambda: face.create("users", ID.unique(), {"name": "x"}))
    user = live.user()
    fails(400, invalid, lambda: face.update("users", user["id"], {"name": "x"}))
    fails(400, invalid, lambda: face.delete("users", user["id"]))


def test_valid_permissions_are_ignored_with_a_warning(
    live: Live, face: Records, capsys: pytest.CaptureFixture[str]
) -> None:
    owner = live.user()
    permissions = [
        'read("any")',
        f'update("user:{owner["id"]}")',
        f'read("user:{owner["id"]}/verified")',
        'read("users/unverified")',
        'read("team:t1/owner")',
        'delete("label:super_admin")',
    ]
    created = face.create("customers", ID.unique(), _new_customer(live), permissions=permissions)
    assert 'read("any")' not in created.permissions
    assert "permissions are derived" in capsys.readouterr().err


def test_bad_queries_and_an_unknown_cursor(live: Live, face: Records) -> None:
    bad = "general_query_invalid"
    fails(400, bad, lambda: face.list("customers", [Query.regex("name", "^T")]))
    fails(400, bad, lambda: face.list("customers", [Query.order_asc("jobTitle")]))
    fails(400, bad, lambda: face.list("customers", [Query.equal("nickname", "x")]))
    fails(400, bad, lambda: face.list("customers", [Query.search("city", "kl")]))
    fails(400, bad, lambda: face.list("customers", [Query.greater_than("totalRevenue", "lots")]))
    fails(400, bad, lambda: face.list("customers", ["{not json"]))
    fails(
        400,
        "general_cursor_not_found",
        lambda: face.list("customers", [Query.cursor_after(ID.unique())]),
    )


def test_an_id_already_used_and_unique_attributes(live: Live, face: Records) -> None:
    email = f"{unique('taken')}@example.com"
    first = live.customer(email=email)
    again = {**_new_customer(live), "email": f"{unique('free')}@example.com"}
    fails(409, f"{face.face}_already_exists", lambda: face.create("customers", first["id"], again))
    conflict = f"{face.face}_unique_constraint_violation"
    second_record = {"userId": first["userId"], "name": "Second record"}
    fails(409, conflict, lambda: face.create("customers", ID.unique(), second_record))
    same_email = {**_new_customer(live), "email": email.upper()}
    fails(409, conflict, lambda: face.create("customers", ID.unique(), same_email))


def test_not_found_and_not_visible(live: Live, face: Records) -> None:
    fails(404, f"{face.face}_not_found", lambda: face.get("customers", ID.unique()))
    theirs = live.customer()
    as_me = records(live, face.face, live.as_user(live.user()))
    fails(404, f"{face.face}_not_found", lambda: as_me.get("customers", theirs["id"]))
    fails(
        404,
        f"{face.face}_not_found",
        lambda: as_me.update("customers", theirs["id"], {"name": "Mine"}),
    )
    fails(404, f"{face.face}_not_found", lambda: as_me.delete("customers", theirs["id"]))


def test_unknown_database_and_collection(live: Live, face: Records) -> None:
    container = "table" if face.face == "row" else "collection"
    fails(404, f"{container}_not_found", lambda: face.list("audit_logs"))
    if face.face == "row":
        call = lambda: live.tables().list_rows("other-db", "customers")  # noqa: E731
    else:
        call = lambda: live.databases().list_documents("other-db", "customers")  # noqa: E731
    fails(404, "database_not_found", call)


def test_guest_dead_session_and_forbidden_writes(live: Live, face: Records) -> None:
    guest = records(live, face.face, live.client())
    fails(401, "user_unauthorized", lambda: guest.list("customers"))
    dead = records(live, face.face, live.client(session="no-such-session"))
    fails(401, "user_unauthorized", lambda: dead.list("customers"))
    user = live.user()
    own = live.customer(user)
    as_owner = records(live, face.face, live.as_user(user))
    body = fails(
        401,
        "user_unauthorized",
        lambda: as_owner.update("customers", own["id"], {"status": "archived"}),
    )
    assert "status" in body["message"]
    other = {"userId": live.user()["id"], "name": "Not mine"}
    fails(401, "user_unauthorized", lambda: as_owner.create("customers", ID.unique(), other))


def test_delete_answers_204_text_plain(live: Live, face: Records) -> None:
    row = live.customer()
    assert face.delete("customers", row["id"]) == b""
    fails(404, f"{face.face}_not_found", lambda: face.get("customers", row["id"]))


# --- credentials, accounts, users -------------------------------------------------------------


def test_bad_api_key_and_a_session_on_the_users_api(live: Live) -> None:
    scope = "general_unauthorized_scope"
    fails(
        401,
        scope,
        lambda: live.tables(live.client(key="cbk_wrong")).list_rows(DATABASE_ID, "customers"),
    )
    fails(401, scope, lambda: live.users(live.as_user(live.user())).list())
    fails(401, "user_unauthorized", lambda: live.users(live.client()).list())


def test_key_and_session_together(live: Live) -> None:
    client = live.client(key=live.key, session=live.session_secret(live.user()))
    fails(
        403,
        "user_api_key_and_session_set",
        lambda: live.tables(client).list_rows(DATABASE_ID, "customers"),
    )


def test_sign_in_failures(live: Live) -> None:
    account = Account(live.admin())
    invalid = "user_invalid_credentials"
    known = live.user()
    fails(
        401,
        invalid,
        lambda: account.create_email_password_session(known["email"], "wrong password!"),
    )
    invited = live.user(status="invited")
    fails(
        401, invalid, lambda: account.create_email_password_session(invited["email"], TEST_PASSWORD)
    )
    blocked = live.user(status="blocked")
    fails(
        403,
        "user_blocked",
        lambda: account.create_email_password_session(blocked["email"], TEST_PASSWORD),
    )


def test_sign_in_is_throttled(live: Live) -> None:
    account = Account(live.admin())
    user = live.user()
    for _ in range(5):
        fails(
            401,
            "user_invalid_credentials",
            lambda: account.create_email_password_session(user["email"], "not it at all"),
        )
    fails(
        429,
        "general_rate_limit_exceeded",
        lambda: account.create_email_password_session(user["email"], TEST_PASSWORD),
    )


def test_account_taken_and_password_length(live: Live) -> None:
    account = Account(live.client())
    taken = live.user()
    exists = "user_already_exists"
    fails(
        409,
        exists,
        lambda: account.create(taken["id"], f"{unique('n')}@example.com", TEST_PASSWORD),
    )
    fails(409, exists, lambda: account.create(ID.unique(), taken["email"].upper(), TEST_PASSWORD))
    invalid = "general_argument_invalid"
    fails(400, invalid, lambda: account.create(ID.unique(), f"{unique('s')}@example.com", "short"))
    fails(
        400, invalid, lambda: account.create(ID.unique(), f"{unique('l')}@example.com", "x" * 257)
    )
    users = live.users()
    fails(409, exists, lambda: users.create(taken["id"], f"{unique('k')}@example.com"))


def test_unknown_user_and_session(live: Live) -> None:
    fails(404, "user_not_found", lambda: live.users().get(ID.unique()))
    fails(404, "user_not_found", lambda: live.users().delete(ID.unique()))
    account = Account(live.as_user(live.user()))
    fails(404, "user_session_not_found", lambda: account.get_session(ID.unique()))
    fails(404, "user_session_not_found", lambda: account.delete_session(ID.unique()))


def test_deleting_a_user_who_owns_a_record_is_restricted(live: Live) -> None:
    owner = live.customer()["userId"]
    fails(403, "document_delete_restricted", lambda: live.users().delete(owner))


# --- transport ------------------------------------------------------------------------------


def test_unknown_route_and_wrong_project(live: Live) -> None:
    client = live.admin()
    headers = {"X-Appwrite-Project": PROJECT}
    fails(404, "general_route_not_found", lambda: client.call("get", "/storage/buckets", headers))
    fails(
        404,
        "general_route_not_found",
        lambda: client.call("put", f"/tablesdb/{DATABASE_ID}/tables/customers/rows/x", headers),
    )
    wrong = live.client(key=live.key).set_project("someone-else")
    fails(404, "project_not_found", lambda: live.tables(wrong).list_rows(DATABASE_ID, "customers"))


def test_the_native_api_keeps_its_own_404(live: Live) -> None:
    native = live.endpoint.removesuffix("/v1")
    import requests

    response = requests.get(f"{native}/api/no-such-thing", timeout=10)
    assert response.status_code == 404 and "error" in response.json()


def test_unexpected_errors_reveal_nothing(live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(records_module, "read_page", broken)
    body = fails(500, "general_unknown", lambda: live.tables().list_rows(DATABASE_ID, "customers"))
    assert "secret" not in body["message"]
