"""Accounts and sessions (`Account`), the permission matrix of SPEC §5 through /v1, and the
`Users` API, with the real SDK's models checking every response."""

from __future__ import annotations

from typing import Any

import pytest
from appwrite.exception import AppwriteException
from appwrite.id import ID
from appwrite.query import Query
from appwrite.services.account import Account

from tests.appwrite.live import DATABASE_ID, Live, records, unique
from tests.appwrite.seed import Seed
from tests.factories import TEST_PASSWORD, make_user

pytestmark = pytest.mark.xdist_group("appwrite")  # one worker: the live servers start once


def _code(call: Any) -> tuple[int, str | None]:
    with pytest.raises(AppwriteException) as info:
        call()
    return info.value.code, info.value.type


# --- the account flow ------------------------------------------------------------------------


def test_account_flow(live: Live) -> None:
    email = f"{unique('flow')}@example.com"
    password = "a long enough password"

    # Sign up as a guest; the server-side way to sign in is with the API key.
    user = Account(live.client()).create(ID.unique(), email, password, "Nur Aisyah")
    assert user.email == email and user.name == "Nur Aisyah" and user.status is True
    assert user.labels == [] and user.prefs is not None
    guest_session = Account(live.client()).create_email_password_session(email, password)
    assert guest_session.secret == "" and guest_session.userid == user.id
    session = Account(live.admin()).create_email_password_session(email, password)
    assert session.secret and session.provider == "email" and session.current is True

    client = live.client(session=session.secret)
    me = Account(client)
    assert me.get().id == user.id
    current = me.get_session("current")
    assert current.id == session.id and current.current is True and current.secret == ""

    # Create and read the own record; someone else's is not found.
    customer = Seed(live.tables(client)).create_customer({"name": "Nur Aisyah"}, user.id)
    assert live.tables(client).get_row(DATABASE_ID, "customers", customer.id).id == customer.id
    listed = live.tables(client).list_rows(DATABASE_ID, "customers")
    assert listed.total == 1 and [row.id for row in listed.rows] == [customer.id]
    other = live.customer()
    assert _code(lambda: live.tables(client).get_row(DATABASE_ID, "customers", other["id"])) == (
        404,
        "row_not_found",
    )
    # The own `users` row is readable (the seed's getRow(users, userId)); others' are not.
    assert live.tables(client).get_row(DATABASE_ID, "users", user.id).data["email"] == email
    assert (
        _code(lambda: live.tables(client).get_row(DATABASE_ID, "users", other["userId"]))[0] == 404
    )

    assert me.update_name("Nur Aisyah binti Ali").name == "Nur Aisyah binti Ali"
    me.delete_session("current")
    assert _code(me.get) == (401, "user_unauthorized")


def test_password_change_keeps_this_session_and_ends_the_others(live: Live) -> None:
    user = live.user()
    client, elsewhere = live.as_user(user), live.as_user(user)
    account = Account(client)
    assert _code(lambda: account.update_password("new password here", "wrong old one")) == (
        401,
        "user_invalid_credentials",
    )
    assert _code(lambda: account.update_password("short", TEST_PASSWORD)) == (
        400,
        "general_argument_invalid",
    )

    changed = account.update_password("new password here", TEST_PASSWORD)

    assert changed.id == user["id"] and changed.passwordupdate
    # As Appwrite: the caller stays signed in, every other session of the user ends.
    assert account.get().id == user["id"]
    assert _code(Account(elsewhere).get) == (401, "user_unauthorized")
    fresh = Account(live.admin()).create_email_password_session(user["email"], "new password here")
    assert Account(live.client(session=fresh.secret)).get().id == user["id"]


def test_sign_out_everywhere_but_here(live: Live) -> None:
    user = live.user()
    here, elsewhere = live.as_user(user), live.as_user(user)
    Account(here).delete_sessions(current=False)
    assert Account(here).get().id == user["id"]
    assert _code(Account(elsewhere).get) == (401, "user_unauthorized")
    Account(here).delete_sessions()
    assert _code(Account(here).get) == (401, "user_unauthorized")


def test_an_api_key_has_no_account(live: Live) -> None:
    assert _code(Account(live.admin()).get) == (401, "user_unauthorized")


# --- the permission matrix through /v1 --------------------------------------------------------


@pytest.mark.parametrize("face", ["row", "document"])
def test_owners_see_shared_items_only_and_no_staff_fields(live: Live, face: str) -> None:
    owner = live.user()
    customer = live.customer(owner)
    staff = records(live, face)
    shared = staff.create(
        "customer_interactions",
        ID.unique(),
        {"customerId": customer["id"], "type": "call", "subject": "Welcome call"},
    )
    internal = staff.create(
        "customer_notes",
        ID.unique(),
        {"customerId": customer["id"], "content": "Pays late", "visibility": "internal"},
    )
    assert internal.permissions == [
        'read("label:super_admin")',
        'update("label:super_admin")',
        'delete("label:super_admin")',
    ]
    assert f'read("user:{owner["id"]}")' in shared.permissions
    mine = records(live, face, live.as_user(owner))

    by_customer = [Query.equal("customerId", customer["id"])]
    assert [r.id for r in mine.list("customer_interactions", by_customer)] == [shared.id]
    assert mine.list("customer_notes", by_customer) == []
    assert _code(lambda: mine.get("customer_notes", internal.id))[0] == 404
    denied = (401, "user_unauthorized")
    note = {"customerId": customer["id"], "content": "Mine", "visibility": "internal"}
    assert _code(lambda: mine.create("customer_notes", ID.unique(), note)) == denied
    assert _code(lambda: mine.update("customers", customer["id"], {"totalRevenue": 9.5})) == denied
    own_note = mine.create(
        "customer_notes", ID.unique(), {"customerId": customer["id"], "content": "Call after 6"}
    )
    assert own_note.data["createdBy"] == owner["id"]
    populated = mine.get(
        "customer_notes", own_note.id, queries=[Query.select(["*", "customerId.*"])]
    )
    assert populated.data["customerId"]["$id"] == customer["id"]
    # Staff-only fields at their current value are accepted (the seed's tolerance).
    kept = mine.update("customers", customer["id"], {"status": "active", "city": "Ipoh"})
    assert kept.data["city"] == "Ipoh" and kept.data["status"] == "active"


@pytest.mark.parametrize("face", ["row", "document"])
def test_interaction_and_note_lifecycle(live: Live, face: str) -> None:
    staff = records(live, face)
    customer = live.customer()
    made = staff.create(
        "customer_interactions",
        "call-" + unique("x")[-20:],
        {"customerId": customer["id"], "type": "meeting", "subject": "Demo", "durationMinutes": 30},
    )
    assert made.data["occurredAt"] and made.data["visibility"] == "shared"
    changed = staff.update(
        "customer_interactions", made.id, {"outcome": "Signed", "customerId": customer["id"]}
    )
    assert changed.data["outcome"] == "Signed"
    moved = {"customerId": live.customer()["id"]}
    assert _code(lambda: staff.update("customer_interactions", made.id, moved))[0] == 400
    listed = staff.list(
        "customer_interactions",
        [Query.equal("customerId", customer["id"]), Query.equal("type", ["meeting", "call"])],
    )
    assert [r.id for r in listed] == [made.id]
    row = staff.get("customers", customer["id"])
    assert row.data["lastContactAt"] is not None  # logging moved the last contact
    assert staff.delete("customer_interactions", made.id) == b""


# --- Users ------------------------------------------------------------------------------------


def test_users_create_list_get_delete(live: Live) -> None:
    users = live.users()
    email = f"{unique('new')}@example.com"
    created = users.create(ID.unique(), email, password="a long enough password", name="Kumar")
    invited = users.create(ID.unique(), f"{unique('inv')}@example.com", name="Invited")
    assert created.status is True and created.passwordupdate and invited.passwordupdate == ""
    assert users.get(created.id).email == email

    by_email = users.list([Query.equal("email", email.upper())])
    assert by_email.total == 1 and by_email.users[0].id == created.id
    found = users.list(search=email[:12])
    assert created.id in [u.id for u in found.users]
    staff = live.staff()
    admins = users.list([Query.equal("labels", "super_admin"), Query.limit(5000)])
    assert staff["id"] in [u.id for u in admins.users]
    assert all(u.labels == ["super_admin"] for u in admins.users)
    blocked = live.user(status="blocked")
    not_active = users.list([Query.equal("status", False), Query.limit(5000)])
    assert blocked["id"] in [u.id for u in not_active.users]
    assert all(u.status is False for u in not_active.users)
    ordered = users.list([Query.order_desc("$createdAt"), Query.limit(2)])
    assert len(ordered.users) == 2
    assert _code(lambda: users.list([Query.equal("role", "user")])) == (
        400,
        "general_query_invalid",
    )

    users.delete(invited.id)
    assert _code(lambda: users.get(invited.id)) == (404, "user_not_found")


def test_users_cursor_pages(live: Live) -> None:
    users = live.users()
    first = users.list([Query.limit(3)])
    after = users.list([Query.limit(3), Query.cursor_after(first.users[-1].id)])
    assert {u.id for u in first.users}.isdisjoint({u.id for u in after.users})
    assert first.total == after.total


def test_user_rows_for_staff(live: Live) -> None:
    user: dict[str, Any] = live.user()
    row = live.tables().get_row(DATABASE_ID, "users", user["id"])
    assert row.data["email"] == user["email"] and row.data["role"] == "user"
    listed = live.tables().list_rows(DATABASE_ID, "users", [Query.equal("email", user["email"])])
    assert [r.id for r in listed.rows] == [user["id"]]


def test_users_search_is_a_prefix_of_the_name_or_email_in_its_usual_cases(live: Live) -> None:
    # It was the prefix exactly as typed: `repro` did not find "Repro".
    users = live.users()
    word = unique("Quokka")  # one word no other test's account holds: capitalised, then lower
    one = live.user(name=f"{word} Repro One")
    two = live.user(name=f"{word} Second")

    def found(search: str) -> set[str]:
        page = users.list(search=search)
        assert page.total == len(page.users)
        return {user.id for user in page.users}

    assert found(f"{word} Repro") == found(f"{word.lower()} repro") == {one["id"]}
    assert found(f"{word.upper()} REPRO ONE") == found(f"{word.lower()} repro one") == {one["id"]}
    assert found(word.lower()) == {one["id"], two["id"]}
    assert found(f"{word} nobody") == found("Repro One") == set()  # not a word search
    assert found(one["email"].upper()) == {one["id"]}


def test_users_search_queries_on_name_and_email(live: Live) -> None:
    users = live.users()
    word = unique("Wombat")
    named = live.user(name=f"Ada {word}")
    mailed = make_user(live.db, name="Ada", email=f"{word.lower()}@example.com")

    def found(*queries: str) -> set[str]:
        return {user.id for user in users.list([*queries, Query.limit(5000)]).users}

    assert found(Query.search("name", f"ada {word.lower()}")) == {named["id"]}
    assert found(Query.search("email", word)) == {mailed["id"]}
    assert found(Query.search("name", "ada"), Query.search("email", word)) == {mailed["id"]}
    assert found(Query.search("name", f"Ada {word}"), Query.equal("status", True)) == {named["id"]}
    for refused in (Query.search("role", "user"), Query.or_queries([Query.search("name", "x")])):
        assert _code(lambda q=refused: users.list([q])) == (400, "general_query_invalid")


def test_users_search_pages_with_cursors_and_a_total(live: Live) -> None:
    users = live.users()
    word = unique("Numbat")
    made = [live.user(name=f"{word} {n}")["id"] for n in range(5)]
    search = [Query.search("name", word), Query.order_desc("name"), Query.limit(2)]
    first = users.list(search)
    second = users.list([*search, Query.cursor_after(first.users[-1].id)])
    third = users.list([*search, Query.cursor_after(second.users[-1].id)])
    back = users.list([*search, Query.cursor_before(third.users[0].id)])
    pages = [[u.id for u in page.users] for page in (first, second, third)]
    assert [page.total for page in (first, second, third)] == [5, 5, 5]
    assert [user_id for page in pages for user_id in page] == made[::-1]
    assert [u.id for u in back.users] == pages[1]
    offset = users.list([*search, Query.offset(4)], search=word.lower())
    assert [u.id for u in offset.users] == [made[0]] and offset.total == 5
