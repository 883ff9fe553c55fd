"""`/api/customers/{id}/notes` and `/api/notes/{id}` over HTTP: pinned first, keyset pages,
internal notes that never reach the customer through any endpoint, and the audit rows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from clientbook.access import SYSTEM
from clientbook.db.engine import Database
from clientbook.db.tables import audit_logs
from clientbook.services import notes
from tests.factories import make_customer, make_staff, make_user

if TYPE_CHECKING:
    from tests.api.conftest import Api

SECRET = "Refuses to pay on time"
PUBLIC_KEYS = {
    "$id", "$createdAt", "$updatedAt", "customerId", "title", "content", "category", "isPinned",
    "visibility", "createdBy", "updatedBy",
}  # fmt: skip


def add(db: Database, customer_id: str, **fields: Any) -> dict[str, Any]:
    with db.transaction() as conn:
        return notes.add_note(conn, SYSTEM, customer_id, {"content": "A note", **fields})


def actions(db: Database, entity_id: str) -> list[str]:
    with db.read() as conn:
        query = select(audit_logs.c.action).where(audit_logs.c.entityId == entity_id)
        return list(conn.execute(query.order_by(audit_logs.c.seq)).scalars())


def test_add_read_update_delete_a_note(api: Api) -> None:
    staff = make_staff(api.db)
    headers = api.bearer(staff)
    record = make_customer(api.db)
    body = {"title": "Prefers", "content": "WhatsApp", "category": "preference", "isPinned": True}
    created = api.post(f"/api/customers/{record['id']}/notes", json=body, headers=headers)
    assert created.status_code == 201, created.text
    note = created.json()
    assert set(note) == PUBLIC_KEYS and note["isPinned"] is True
    assert created.headers["location"] == f"/api/notes/{note['$id']}"
    patched = api.patch(f"/api/notes/{note['$id']}", json={"isPinned": False}, headers=headers)
    assert patched.status_code == 200 and patched.json()["updatedBy"] == staff["id"]
    assert api.get(f"/api/notes/{note['$id']}", headers=headers).json() == patched.json()
    assert api.delete(f"/api/notes/{note['$id']}", headers=headers).status_code == 204
    assert actions(api.db, note["$id"]) == ["note.created", "note.updated", "note.deleted"]


def test_notes_list_pinned_first_then_newest_across_pages(api: Api) -> None:
    headers = api.staff_headers()
    record = make_customer(api.db)
    made = [add(api.db, record["id"], content=f"n{i}", isPinned=i in (2, 7)) for i in range(10)]
    expected = [made[7]["id"], made[2]["id"]] + [
        m["id"] for m in reversed(made) if m["id"] not in (made[2]["id"], made[7]["id"])
    ]
    seen: list[str] = []
    params = {"limit": "3"}
    while True:
        body = api.get(f"/api/customers/{record['id']}/notes", params=params, headers=headers)
        page = body.json()
        seen += [n["$id"] for n in page["rows"]]
        if page["cursor"] is None:
            break
        params = {"limit": "3", "cursor": page["cursor"]}
    assert seen == expected


def test_internal_notes_never_reach_the_customer_through_any_endpoint(api: Api) -> None:
    owner = make_user(api.db)
    record = make_customer(api.db, owner=owner)
    add(api.db, record["id"], content="Shared hello")
    secret = add(api.db, record["id"], content=SECRET, visibility="internal", isPinned=True)
    for headers in (api.bearer(owner), {}):
        if not headers:
            api.sign_in(owner)  # the browser's way: a session cookie
        for url in (
            f"/api/customers/{record['id']}/notes",
            f"/api/customers/{record['id']}/notes?visibility=internal",
            f"/api/customers/{record['id']}/notes?isPinned=true",
            f"/api/customers/{record['id']}/timeline",
            f"/api/customers/{record['id']}/timeline?limit=1000",
            f"/api/notes/{secret['id']}",
            "/api/me/export",
        ):
            response = api.get(url, headers=headers)
            assert response.status_code in (200, 404), url
            assert SECRET not in response.text and secret["id"] not in response.text, url
    api.sign_out()
    listing = api.get(f"/api/customers/{record['id']}/notes", headers=api.bearer(owner)).json()
    assert listing["total"] == 1


def test_an_owner_cannot_turn_their_note_internal(api: Api) -> None:
    owner = make_user(api.db)
    record = make_customer(api.db, owner=owner)
    headers = api.bearer(owner)
    note = api.post(
        f"/api/customers/{record['id']}/notes", json={"content": "Mine"}, headers=headers
    ).json()
    response = api.patch(
        f"/api/notes/{note['$id']}", json={"visibility": "internal"}, headers=headers
    )
    assert response.status_code == 403
    assert set(response.json()["error"]["fields"]) == {"visibility"}
