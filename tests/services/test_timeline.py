"""A customer's history at the service layer: the interaction and note lists and the timeline —
their order, their keyset pages (every item exactly once) and what an owner may see."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from clientbook.access import SYSTEM, Principal
from clientbook.db.engine import Database
from clientbook.domain.errors import BadQuery, NotFound, Unauthenticated
from clientbook.domain.timestamps import utcnow
from clientbook.services import customers as customer_service
from clientbook.services import interactions, notes, timeline
from tests.factories import as_principal, make_customer, make_staff, make_user

Params = list[tuple[str, str]]
INTERNAL = {"visibility": "internal"}


def log(db: Database, customer_id: str, **fields: Any) -> dict[str, Any]:
    data = {"type": "call", "subject": "Call", **fields}
    with db.transaction() as conn:
        return interactions.log_interaction(conn, SYSTEM, customer_id, data)


def note(db: Database, customer_id: str, **fields: Any) -> dict[str, Any]:
    with db.transaction() as conn:
        return notes.add_note(conn, SYSTEM, customer_id, {"content": "A note", **fields})


def every_page(read: Any, params: Params) -> list[list[Any]]:
    """Follow the cursors from the first page to the last."""
    pages = []
    cursor = None
    while True:
        page = read([*params, ("cursor", cursor)] if cursor else params)
        pages.append(page.rows)
        cursor = page.next_cursor
        if cursor is None:
            return pages


# --- interactions and notes ------------------------------------------------------------------


def test_interactions_come_newest_first_and_page_without_gaps_or_repeats(
    database: Database,
) -> None:
    record = make_customer(database)
    base = utcnow() - timedelta(days=30)
    # Ties on purpose: three interactions share each `occurredAt`.
    logged = [
        log(database, record["id"], occurredAt=base + timedelta(hours=i // 3)) for i in range(23)
    ]

    def read(params: Params) -> Any:
        with database.read() as conn:
            return timeline.list_interactions(conn, SYSTEM, record["id"], params)

    pages = every_page(read, [("limit", "5")])
    seen = [row["id"] for page in pages for row in page]
    assert len(pages) == 5 and sorted(seen) == sorted(i["id"] for i in logged)
    assert len(set(seen)) == len(seen)
    times = [row["occurredAt"] for page in pages for row in page]
    assert times == sorted(times, reverse=True)
    first = read([("limit", "5")])
    assert first.total == 23
    assert read([("limit", "5"), ("total", "false")]).total is None


def test_notes_come_pinned_first_then_newest(database: Database) -> None:
    record = make_customer(database)
    made = [note(database, record["id"], content=f"n{i}", isPinned=i % 4 == 0) for i in range(9)]

    def read(params: Params) -> Any:
        with database.read() as conn:
            return timeline.list_notes(conn, SYSTEM, record["id"], params)

    rows = [row for page in every_page(read, [("limit", "2")]) for row in page]
    pinned = [m["id"] for m in reversed(made) if m["isPinned"]]
    unpinned = [m["id"] for m in reversed(made) if not m["isPinned"]]
    assert [row["id"] for row in rows] == pinned + unpinned


def test_owner_lists_only_shared_items_of_their_own_record(database: Database) -> None:
    owner = make_user(database)
    record = make_customer(database, owner=owner)
    shared = log(database, record["id"])
    log(database, record["id"], visibility="internal")
    note(database, record["id"], visibility="internal")
    with database.read() as conn:
        page = timeline.list_interactions(conn, as_principal(owner), record["id"])
        # Asking for internal items explicitly changes nothing: the scope still applies.
        asked = timeline.list_interactions(
            conn, as_principal(owner), record["id"], [("visibility", "internal")]
        )
        no_notes = timeline.list_notes(conn, as_principal(owner), record["id"])
    assert [row["id"] for row in page.rows] == [shared["id"]] and page.total == 1
    assert asked.rows == [] and asked.total == 0
    assert no_notes.rows == []


def test_someone_elses_items_are_not_found_and_anonymous_is_refused(database: Database) -> None:
    record = make_customer(database)
    stranger = as_principal(make_user(database))
    with database.read() as conn:
        with pytest.raises(NotFound):
            timeline.list_interactions(conn, stranger, record["id"])
        with pytest.raises(NotFound):
            timeline.list_notes(conn, stranger, record["id"])
        with pytest.raises(NotFound):
            timeline.customer_timeline(conn, stranger, record["id"])
        with pytest.raises(Unauthenticated):
            timeline.customer_timeline(conn, None, record["id"])


def test_a_bad_list_parameter_is_refused_naming_it(database: Database) -> None:
    record = make_customer(database)
    with database.read() as conn, pytest.raises(BadQuery) as caught:
        timeline.list_interactions(conn, SYSTEM, record["id"], [("limit", "1001")])
    assert set(caught.value.fields) == {"limit"}


# --- timeline --------------------------------------------------------------------------------


def test_timeline_merges_items_and_record_events_newest_first(database: Database) -> None:
    staff = make_staff(database)
    record = make_customer(database)
    old = log(database, record["id"], occurredAt=utcnow() - timedelta(days=2), subject="Old")
    pinned = note(database, record["id"], isPinned=True)
    with database.transaction() as conn:
        customer_service.change_status(
            conn, as_principal(staff), record["id"], "lead", reason="Asked for a quote"
        )
    with database.read() as conn:
        page = timeline.customer_timeline(conn, SYSTEM, record["id"])
    kinds = [(item.kind, item.body.get("action") or item.body["$id"]) for item in page.rows]
    assert kinds == [
        ("event", "customer.status_changed"),
        ("note", pinned["id"]),
        ("event", "customer.contacted"),  # the interaction moved lastContactAt
        ("event", "customer.created"),
        ("interaction", old["id"]),
    ]
    status_event = page.rows[0].present()["event"]
    assert status_event["reason"] == "Asked for a quote"
    assert status_event["changes"]["status"] == {"from": "active", "to": "lead"}
    assert page.total == 5 and page.next_cursor is None


def test_timeline_pages_cover_every_item_once_even_with_equal_times(database: Database) -> None:
    record = make_customer(database)
    at = utcnow() - timedelta(hours=1)
    for i in range(7):
        log(database, record["id"], occurredAt=at, subject=f"s{i}")
        note(database, record["id"], content=f"c{i}")
    with database.transaction() as conn:
        for tag in ("a", "b", "c"):
            customer_service.add_tag(conn, SYSTEM, record["id"], tag)

    def read(params: Params) -> Any:
        with database.read() as conn:
            return timeline.customer_timeline(conn, SYSTEM, record["id"], params)

    everything = read([("limit", "1000")]).rows
    assert len(everything) == 7 + 7 + 5  # created, contacted (the first call), three tagged
    for size in (1, 3, 4, 17):
        pages = every_page(read, [("limit", str(size))])
        walked = [item.sort_key for page in pages for item in page]
        assert walked == [item.sort_key for item in everything]
        assert len(set(walked)) == len(walked)


def test_owner_timeline_has_shared_items_and_events_without_request_origin(
    database: Database,
) -> None:
    owner = make_user(database)
    staff = make_staff(database)
    record = make_customer(database, owner=owner)
    acting = Principal(kind="user", id=staff["id"], role="super_admin", ip="10.1.2.3")
    with database.transaction() as conn:
        interactions.log_interaction(
            conn,
            acting,
            record["id"],
            {"type": "call", "subject": "Secret", "visibility": "internal"},
        )
        notes.add_note(
            conn, acting, record["id"], {"content": "Bad payer", "visibility": "internal"}
        )
        shared = notes.add_note(conn, acting, record["id"], {"content": "Welcome"})
        customer_service.change_status(conn, acting, record["id"], "prospect")
    with database.read() as conn:
        page = timeline.customer_timeline(conn, as_principal(owner), record["id"])
        staff_page = timeline.customer_timeline(conn, as_principal(staff), record["id"])
    kinds = [(item.kind, item.body.get("action")) for item in page.rows]
    # The internal call stays hidden; the last contact it moved is the owner's record's own.
    assert kinds == [
        ("event", "customer.status_changed"),
        ("note", None),
        ("event", "customer.contacted"),
        ("event", "customer.created"),
    ]
    assert page.rows[1].body["$id"] == shared["id"]
    assert page.total == 4
    assert all("ip" not in item.body for item in page.rows if item.kind == "event")
    text = repr([item.present() for item in page.rows])
    assert "Secret" not in text and "Bad payer" not in text and "10.1.2.3" not in text
    assert staff_page.total == 6
    assert staff_page.rows[0].body["ip"] == "10.1.2.3"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ([("limit", "0")], "limit"),
        ([("limit", "x")], "limit"),
        ([("limit", "²")], "limit"),
        ([("cursor", "garbage")], "cursor"),
        ([("total", "maybe")], "total"),
        ([("kind", "note")], "kind"),
        ([("limit", "2"), ("limit", "3")], "limit"),
    ],
)
def test_timeline_refuses_a_bad_parameter_naming_it(
    database: Database, params: Params, field: str
) -> None:
    record = make_customer(database)
    with database.read() as conn, pytest.raises(BadQuery) as caught:
        timeline.customer_timeline(conn, SYSTEM, record["id"], params)
    assert set(caught.value.fields) == {field}


def test_a_list_cursor_is_not_a_timeline_cursor(database: Database) -> None:
    record = make_customer(database)
    for _ in range(3):
        log(database, record["id"])
    with database.read() as conn:
        page = timeline.list_interactions(conn, SYSTEM, record["id"], [("limit", "1")])
        assert page.next_cursor is not None
        with pytest.raises(BadQuery):
            timeline.customer_timeline(conn, SYSTEM, record["id"], [("cursor", page.next_cursor)])
