"""`/api/customers/{id}/timeline` over HTTP: the item shape, keyset pages, and what an owner
sees (shared items, their record's events without anyone's request origin)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clientbook.access import Principal
from clientbook.services import customers as customer_service
from clientbook.services import interactions, notes
from tests.factories import as_principal, make_customer, make_staff, make_user

if TYPE_CHECKING:
    from tests.api.conftest import Api

STAFF_IP = "203.0.113.9"


def walk(api: Api, url: str, headers: dict[str, str], limit: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    params = {"limit": str(limit)}
    while True:
        body = api.get(url, params=params, headers=headers).json()
        assert set(body) == {"total", "rows", "cursor"}
        rows += body["rows"]
        if body["cursor"] is None:
            return rows
        params = {"limit": str(limit), "cursor": body["cursor"]}


def test_owner_and_staff_timelines(api: Api) -> None:
    owner = make_user(api.db)
    other = make_customer(api.db, name="Somebody Else")
    staff = make_staff(api.db)
    record = make_customer(api.db, owner=owner)
    boss = Principal(kind="user", id=staff["id"], role="super_admin", ip=STAFF_IP)
    with api.db.transaction() as conn:
        notes.add_note(conn, boss, record["id"], {"content": "Hidden", "visibility": "internal"})
        interactions.log_interaction(conn, boss, record["id"], {"type": "sms", "subject": "Hi"})
        notes.add_note(conn, as_principal(owner), record["id"], {"content": "Call after 6"})
        customer_service.change_status(conn, boss, record["id"], "lead", reason="Asked")
        customer_service.add_tag(conn, boss, other["id"], "vip")
    url = f"/api/customers/{record['id']}/timeline"

    mine = walk(api, url, api.bearer(owner), limit=2)
    kinds = [item["kind"] for item in mine]
    assert kinds == ["event", "note", "event", "interaction", "event"]  # + the contact it moved
    assert all(set(item) == {"kind", "at", item["kind"]} for item in mine)
    assert mine[0]["event"]["action"] == "customer.status_changed"
    assert mine[0]["event"]["reason"] == "Asked"
    assert STAFF_IP not in str(mine) and "Hidden" not in str(mine)
    assert "Somebody Else" not in str(mine) and other["id"] not in str(mine)

    everything = walk(api, url, api.bearer(staff), limit=1)
    assert len(everything) == 6
    assert everything[0]["event"]["ip"] == STAFF_IP
    assert [item["at"] for item in everything] == sorted(
        (item["at"] for item in everything), reverse=True
    )


def test_timeline_total_and_bad_parameters(api: Api) -> None:
    headers = api.staff_headers()
    record = make_customer(api.db)
    url = f"/api/customers/{record['id']}/timeline"
    assert api.get(url, headers=headers).json()["total"] == 1
    assert api.get(url, params={"total": "false"}, headers=headers).json()["total"] is None
    response = api.get(url, params={"limit": "5000", "sort": "at"}, headers=headers)
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"limit", "sort"}


def test_the_timeline_takes_an_offset_like_every_list(api: Api) -> None:
    headers = api.staff_headers()
    record = make_customer(api.db)
    url = f"/api/customers/{record['id']}/timeline"
    for subject in ("one", "two", "three"):
        body = {"type": "call", "subject": subject}
        assert api.post(f"{url.rsplit('/', 1)[0]}/interactions", json=body, headers=headers)
    whole = api.get(url, headers=headers).json()["rows"]
    assert len(whole) > 4  # three interactions, each with its contact event, and the creation
    skipped = api.get(url, params={"offset": "1", "limit": "2"}, headers=headers).json()
    assert skipped["rows"] == whole[1:3] and skipped["cursor"] is not None
    last = api.get(url, params={"offset": str(len(whole) - 1)}, headers=headers).json()
    assert last["rows"] == whole[-1:] and last["cursor"] is None
    bad = api.get(url, params={"offset": "-1"}, headers=headers)
    assert bad.status_code == 400 and set(bad.json()["error"]["fields"]) == {"offset"}
