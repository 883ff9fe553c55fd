"""Bulk actions at the service layer: all or nothing, one audit row per changed record, the same
rules as the single-record actions, dry runs that write nothing."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from clientbook.access import SYSTEM, Principal
from clientbook.db.engine import Database
from clientbook.db.tables import audit_logs, customer_notes, customer_tags, customers
from clientbook.domain.customers import derive_customer_columns
from clientbook.domain.errors import Forbidden, NotFound, Unauthenticated, ValidationFailed
from clientbook.services import bulk_actions as bulk
from clientbook.services import customers as customer_service
from clientbook.services import exports
from tests.factories import as_principal, make_customer, make_staff, make_user

DERIVED = (
    "phoneNormalized", "phoneValid", "emailFolded", "emailKey", "duplicateNameKey", "searchText"
)  # fmt: skip


def run(db: Database, principal: Principal | None, body: dict[str, Any]) -> dict[str, Any]:
    """What the API face does: parse, then a read-only connection for a dry run."""
    request = bulk.parse_bulk_request(principal, body)
    with db.read() if request.dry_run else db.transaction() as conn:
        return bulk.run_bulk_action(conn, principal, request).as_json()


def rows(db: Database, ids: list[str]) -> dict[str, dict[str, Any]]:
    with db.read() as conn:
        found = conn.execute(select(customers).where(customers.c.id.in_(ids))).mappings()
        return {row["id"]: dict(row) for row in found}


def audit_rows(db: Database) -> list[dict[str, Any]]:
    """The audit rows of customer changes (creation aside), oldest first."""
    with db.read() as conn:
        query = select(audit_logs).where(audit_logs.c.entityType == "customer")
        found = conn.execute(query.order_by(audit_logs.c.seq)).mappings()
        return [dict(row) for row in found if row["action"] != "customer.created"]


def tag_table(db: Database, customer_id: str) -> list[str]:
    with db.read() as conn:
        query = select(customer_tags.c.tag).where(customer_tags.c.customerId == customer_id)
        return sorted(conn.execute(query).scalars())


@pytest.fixture
def staff(database: Database) -> Principal:
    return as_principal(make_staff(database))


@pytest.fixture
def three(database: Database) -> list[dict[str, Any]]:
    return [
        make_customer(database, name="Tan Mei Ling", status="lead", country="Malaysia"),
        make_customer(database, name="Lim Wei Jie", status="lead", country="Singapore"),
        make_customer(database, name="Siti Aminah", status="active", country="Malaysia"),
    ]


def ids_of(records: list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in records]


# --- permissions and the request -------------------------------------------------------------


def test_anonymous_is_refused(database: Database) -> None:
    with pytest.raises(Unauthenticated):
        bulk.parse_bulk_request(None, {"action": "delete", "ids": ["x"]})


def test_owner_is_forbidden_before_the_body_is_judged(database: Database) -> None:
    owner = as_principal(make_user(database))
    with pytest.raises(Forbidden):
        bulk.parse_bulk_request(owner, {"action": "nonsense"})


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"action": "explode", "ids": ["a"]}, {"action"}),
        ({"action": "delete"}, {"ids", "filter"}),
        ({"action": "delete", "ids": ["a"], "filter": "status=lead"}, {"ids", "filter"}),
        ({"action": "delete", "ids": []}, {"ids"}),
        ({"action": "delete", "ids": [1, 2]}, {"ids"}),
        ({"action": "delete", "ids": ["a"] * 1001}, {"ids"}),
        ({"action": "delete", "ids": ["a"], "colour": "red"}, {"colour"}),
        ({"action": "delete", "ids": ["a"], "status": "lead"}, {"status"}),
        ({"action": "status", "ids": ["a"]}, {"status"}),
        ({"action": "status", "ids": ["a"], "status": "gone"}, {"status"}),
        ({"action": "status", "ids": ["a"], "status": "lead", "reason": 5}, {"reason"}),
        ({"action": "assign", "ids": ["a"]}, {"assignedTo"}),
        ({"action": "tag", "ids": ["a"], "tags": []}, {"tags"}),
        ({"action": "tag", "ids": ["a"], "tags": ["x" * 51]}, {"tags"}),
        ({"action": "untag", "ids": ["a"], "tags": "vip"}, {"tags"}),
        ({"action": "delete", "ids": ["a"], "dryRun": "yes"}, {"dryRun"}),
        ({"action": "delete", "filter": "status=gone"}, {"filter.status"}),
        ({"action": "delete", "filter": "jobTitle=CEO"}, {"filter.jobTitle"}),
        ({"action": "delete", "filter": "status=lead&sort=name"}, {"filter"}),
        ({"action": "delete", "filter": "limit=5"}, {"filter"}),
        ({"action": "delete", "filter": ""}, {"filter"}),
        ({"action": "delete", "filter": 7}, {"filter"}),
        ({"action": "delete", "ids": ["a"], "format": "csv"}, {"format"}),
        ({"action": "export", "ids": ["a"], "format": "pdf"}, {"format"}),
        ({"action": "export", "ids": ["a"], "format": 5}, {"format"}),
        ({"action": "export", "ids": ["a"], "dryRun": True}, {"dryRun"}),
        ({"action": "export", "ids": ["a"], "reason": "x"}, {"reason"}),
        ({"action": "export", "filter": "status=lead&limit=5"}, {"filter"}),
    ],
)
def test_bad_requests_list_every_failing_field(
    staff: Principal, body: dict[str, Any], fields: set[str]
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        bulk.parse_bulk_request(staff, body)
    assert set(caught.value.fields) == fields


def test_an_unknown_action_lists_the_actions_and_a_missing_one_is_required(
    staff: Principal,
) -> None:
    with pytest.raises(ValidationFailed) as unknown:
        bulk.parse_bulk_request(staff, {"action": "explode", "ids": ["a"]})
    actions = "status, assign, unassign, tag, untag, delete, export"
    assert unknown.value.fields["action"] == f"must be one of: {actions}"
    with pytest.raises(ValidationFailed) as missing:
        bulk.parse_bulk_request(staff, {"ids": ["a"]})
    assert missing.value.fields["action"] == f"required: one of {actions}"


def test_unknown_ids_are_not_found_by_name_and_nothing_changes(
    database: Database, staff: Principal, three: list[dict[str, Any]]
) -> None:
    body = {"action": "delete", "ids": [*ids_of(three), "missing1", "missing2"]}
    with pytest.raises(NotFound) as caught:
        run(database, staff, body)
    assert "missing1, missing2" in caught.value.fields["ids"]
    assert len(rows(database, ids_of(three))) == 3
    assert audit_rows(database) == []


# --- status ----------------------------------------------------------------------------------


def test_status_change_merges_metadata_and_audits_each_changed_record(
    database: Database, staff: Principal, three: list[dict[str, Any]]
) -> None:
    body = {"action": "status", "ids": ids_of(three), "status": "active", "reason": " Signed "}
    result = run(database, staff, body)
    assert result == {"action": "status", "matched": 3, "changed": 2, "dryRun": False}
    after = rows(database, ids_of(three))
    for record in three[:2]:
        row = after[record["id"]]
        meta = orjson.loads(row["metadata"])
        assert row["status"] == "active"
        assert meta["statusChangeReason"] == "Signed"
        assert meta["statusChangedBy"] == staff.id
        assert "statusChangedAt" in meta
        assert row["version"] == record["version"] + 1
        assert row["updatedBy"] == staff.id
        assert row["updatedAt"] > record["updatedAt"]
    # Already active: no write, no audit row (SPEC §12).
    assert after[three[2]["id"]]["version"] == three[2]["version"]
    audits = audit_rows(database)
    assert [a["entityId"] for a in audits] == ids_of(three[:2])
    assert {a["action"] for a in audits} == {"customer.status_changed"}
    assert {a["reason"] for a in audits} == {"Signed"}
    changes = orjson.loads(audits[0]["changes"])
    assert changes["status"] == {"from": "lead", "to": "active"}


def test_bulk_status_writes_what_the_single_record_change_writes(
    database: Database, staff: Principal
) -> None:
    one = make_customer(database, status="lead", metadata={"tags": ["vip"], "x": 1})
    two = make_customer(database, status="lead", metadata={"tags": ["vip"], "x": 1})
    with database.transaction() as conn:
        single = customer_service.change_status(conn, staff, one["id"], "prospect")
    run(database, staff, {"action": "status", "ids": [two["id"]], "status": "prospect"})
    bulk_row = rows(database, [two["id"]])[two["id"]]
    single_meta, bulk_meta = orjson.loads(single["metadata"]), orjson.loads(bulk_row["metadata"])
    for meta in (single_meta, bulk_meta):
        del meta["statusChangedAt"]
    assert bulk_meta == single_meta
    actions = [a["action"] for a in audit_rows(database)]
    assert actions == ["customer.status_changed", "customer.status_changed"]


def test_one_metadata_overflow_fails_the_whole_status_change(
    database: Database, staff: Principal, three: list[dict[str, Any]]
) -> None:
    # 4,900 characters of metadata leave no room for the status fields the change merges in.
    full = make_customer(database, status="lead", metadata={"customFields": {"n": "x" * 4900}})
    body = {"action": "status", "ids": [*ids_of(three), full["id"]], "status": "prospect"}
    with pytest.raises(ValidationFailed) as caught:
        run(database, staff, body)
    assert list(caught.value.fields) == [f"customers.{full['id']}.metadata"]
    after = rows(database, [*ids_of(three), full["id"]])
    assert [after[r["id"]]["status"] for r in three] == ["lead", "lead", "active"]
    assert audit_rows(database) == []


# --- assignment ------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["user", "blocked_staff", "nobody"])
def test_assignee_must_be_an_active_staff_user(
    database: Database, staff: Principal, three: list[dict[str, Any]], who: str
) -> None:
    assignee = {
        "user": lambda: make_user(database)["id"],
        "blocked_staff": lambda: make_staff(database, status="blocked")["id"],
        "nobody": lambda: "no-such-user",
    }[who]()
    with pytest.raises(ValidationFailed) as caught:
        run(database, staff, {"action": "assign", "ids": ids_of(three), "assignedTo": assignee})
    assert set(caught.value.fields) == {"assignedTo"}
    assert {r["assignedTo"] for r in rows(database, ids_of(three)).values()} == {None}
    assert audit_rows(database) == []


def test_assign_then_unassign_skips_records_already_so(
    database: Database, staff: Principal, three: list[dict[str, Any]]
) -> None:
    rep = make_staff(database)
    run(database, staff, {"action": "assign", "ids": ids_of(three[:1]), "assignedTo": rep["id"]})
    result = run(
        database, staff, {"action": "assign", "ids": ids_of(three), "assignedTo": rep["id"]}
    )
    assert (result["matched"], result["changed"]) == (3, 2)
    assert {r["assignedTo"] for r in rows(database, ids_of(three)).values()} == {rep["id"]}
    result = run(database, staff, {"action": "unassign", "ids": ids_of(three)})
    assert (result["matched"], result["changed"]) == (3, 3)
    after = rows(database, ids_of(three))
    assert {r["assignedTo"] for r in after.values()} == {None}
    assert after[three[0]["id"]]["version"] == three[0]["version"] + 2
    audits = audit_rows(database)
    assert len(audits) == 1 + 2 + 3
    assert {a["action"] for a in audits} == {"customer.assigned"}


# --- tags ------------------------------------------------------------------------------------


def test_tag_and_untag_are_case_insensitive_and_keep_the_side_table_in_step(
    database: Database, staff: Principal
) -> None:
    tagged = make_customer(database, metadata={"tags": ["VIP"], "customFields": {"a": 1}})
    plain = make_customer(database)
    ids = [tagged["id"], plain["id"]]
    result = run(database, staff, {"action": "tag", "ids": ids, "tags": ["vip", "Enterprise"]})
    assert (result["matched"], result["changed"]) == (2, 2)
    after = rows(database, ids)
    assert orjson.loads(after[tagged["id"]]["metadata"]) == {
        "tags": ["VIP", "Enterprise"],
        "customFields": {"a": 1},
    }
    assert tag_table(database, tagged["id"]) == ["Enterprise", "VIP"]
    assert tag_table(database, plain["id"]) == ["Enterprise", "vip"]

    result = run(database, staff, {"action": "tag", "ids": ids, "tags": ["ENTERPRISE"]})
    assert result["changed"] == 0
    result = run(database, staff, {"action": "untag", "ids": ids, "tags": ["vip", "nothing"]})
    assert result["changed"] == 2
    assert tag_table(database, tagged["id"]) == ["Enterprise"]
    assert tag_table(database, plain["id"]) == ["Enterprise"]
    audits = audit_rows(database)
    assert [a["action"] for a in audits] == ["customer.tagged"] * 4


def test_a_record_that_would_exceed_fifty_tags_fails_the_whole_tagging(
    database: Database, staff: Principal
) -> None:
    full = make_customer(database, metadata={"tags": [f"t{i}" for i in range(50)]})
    other = make_customer(database)
    body = {"action": "tag", "ids": [other["id"], full["id"]], "tags": ["one-more"]}
    with pytest.raises(ValidationFailed) as caught:
        run(database, staff, body)
    assert list(caught.value.fields) == [f"customers.{full['id']}.metadata.tags"]
    assert tag_table(database, other["id"]) == []
    assert audit_rows(database) == []


def test_derived_columns_stay_in_step(database: Database, staff: Principal) -> None:
    record = make_customer(
        database, name="Tan Mei Ling", email="Mei.Ling+x@gmail.com", phone="012-345 6789",
        company="Acme", status="lead",
    )  # fmt: skip
    rep = make_staff(database)
    for body in (
        {"action": "tag", "tags": ["vip"]},
        {"action": "status", "status": "prospect"},
        {"action": "assign", "assignedTo": rep["id"]},
        {"action": "untag", "tags": ["vip"]},
    ):
        run(database, staff, {**body, "ids": [record["id"]]})
    row = rows(database, [record["id"]])[record["id"]]
    expected = derive_customer_columns(row)
    assert {name: row[name] for name in DERIVED} == {name: expected[name] for name in DERIVED}


# --- delete ----------------------------------------------------------------------------------


def test_delete_removes_records_with_their_notes_and_tags(
    database: Database, staff: Principal, three: list[dict[str, Any]]
) -> None:
    run(database, staff, {"action": "tag", "ids": ids_of(three), "tags": ["vip"]})
    with database.transaction() as conn:
        conn.execute(
            customer_notes.insert(),
            [{"id": "note1", "customerId": three[0]["id"], "content": "hello",
              "createdAt": three[0]["createdAt"], "updatedAt": three[0]["createdAt"]}],
        )  # fmt: skip
    result = run(database, staff, {"action": "delete", "ids": ids_of(three[:2])})
    assert (result["matched"], result["changed"]) == (2, 2)
    assert list(rows(database, ids_of(three))) == [three[2]["id"]]
    with database.read() as conn:
        assert conn.execute(select(func.count()).select_from(customer_notes)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(customer_tags)).scalar_one() == 1
    deleted = [a for a in audit_rows(database) if a["action"] == "customer.deleted"]
    assert [a["entityId"] for a in deleted] == ids_of(three[:2])
    assert orjson.loads(deleted[0]["changes"]) == {"name": {"from": "Tan Mei Ling", "to": None}}


# --- filters ---------------------------------------------------------------------------------


def test_filter_selects_through_the_native_query_syntax(
    database: Database, staff: Principal, three: list[dict[str, Any]]
) -> None:
    body = {"action": "status", "filter": "status=lead&country=Malaysia", "status": "prospect"}
    result = run(database, staff, body)
    assert (result["matched"], result["changed"]) == (1, 1)
    statuses = {r["name"]: r["status"] for r in rows(database, ids_of(three)).values()}
    assert statuses == {"Tan Mei Ling": "prospect", "Lim Wei Jie": "lead", "Siti Aminah": "active"}


def test_filter_takes_search_and_tags(
    database: Database, staff: Principal, three: list[dict[str, Any]]
) -> None:
    run(database, staff, {"action": "tag", "ids": ids_of(three[1:]), "tags": ["VIP"]})
    result = run(database, staff, {"action": "delete", "filter": "tag=vip&q=siti", "dryRun": True})
    assert (result["matched"], result["changed"]) == (1, 1)
    result = run(database, staff, {"action": "untag", "filter": "?tag=vip", "tags": ["vip"]})
    assert result["changed"] == 2


def test_filter_matching_more_than_the_bound_is_refused(
    database: Database, staff: Principal, three: list[dict[str, Any]], monkeypatch: Any
) -> None:
    monkeypatch.setattr(bulk, "MAX_FILTER_MATCHES", 2)
    with pytest.raises(ValidationFailed) as caught:
        run(database, staff, {"action": "delete", "filter": "status=lead,active"})
    assert set(caught.value.fields) == {"filter"}
    assert len(rows(database, ids_of(three))) == 3
    result = run(database, staff, {"action": "delete", "filter": "status=lead"})
    assert result["changed"] == 2


# --- dry runs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"action": "status", "status": "prospect"},
        {"action": "tag", "tags": ["x"]},
        {"action": "delete"},
    ],
)
def test_dry_run_counts_and_writes_nothing(
    database: Database, staff: Principal, three: list[dict[str, Any]], body: dict[str, Any]
) -> None:
    before = rows(database, ids_of(three))
    result = run(database, staff, {**body, "ids": ids_of(three), "dryRun": True})
    assert result == {"action": body["action"], "matched": 3, "changed": 3, "dryRun": True}
    assert rows(database, ids_of(three)) == before
    assert audit_rows(database) == []


def test_dry_run_reports_the_failures_a_real_run_would_hit(
    database: Database, staff: Principal
) -> None:
    full = make_customer(database, metadata={"tags": [f"t{i}" for i in range(50)]})
    body = {"action": "tag", "ids": [full["id"]], "tags": ["more"], "dryRun": True}
    with pytest.raises(ValidationFailed):
        run(database, staff, body)


def test_system_and_api_keys_act_without_an_updating_user(
    database: Database, three: list[dict[str, Any]]
) -> None:
    key = Principal(kind="api_key", id="key1", role="super_admin")
    run(database, key, {"action": "status", "ids": ids_of(three[:1]), "status": "inactive"})
    run(database, SYSTEM, {"action": "status", "ids": ids_of(three[1:2]), "status": "inactive"})
    after = rows(database, ids_of(three[:2]))
    assert {r["updatedBy"] for r in after.values()} == {None}
    assert [a["actorType"] for a in audit_rows(database)] == ["api_key", "system"]


# --- export ----------------------------------------------------------------------------------


def export_rows(database: Database, principal: Principal, body: dict[str, Any]) -> list[Any]:
    """What the API face does for an export: plan on a read, then stream the one export."""
    request = bulk.parse_bulk_request(principal, body)
    with database.read() as conn:
        plan = bulk.plan_bulk_export(conn, principal, request)
    return [
        orjson.loads(line)
        for line in b"".join(exports.stream_export(database, principal, plan)).splitlines()
    ]


@pytest.mark.parametrize(("given", "expected"), [(None, "json"), ("CSV", "csv"), ("excel", "xlsx")])
def test_export_takes_the_get_exports_format_names_and_default(
    staff: Principal, given: str | None, expected: str
) -> None:
    body = {"action": "export", "ids": ["a"], **({"format": given} if given else {})}
    assert bulk.parse_bulk_request(staff, body).format == expected


def test_export_over_a_filter_takes_search_and_is_not_bound_by_the_write_cap(
    database: Database, staff: Principal, three: list[dict[str, Any]], monkeypatch: Any
) -> None:
    monkeypatch.setattr(bulk, "MAX_FILTER_MATCHES", 1)
    body = {"action": "export", "filter": "country=Malaysia&q=", "format": "jsonl"}
    found = export_rows(database, staff, body)
    assert sorted(r["name"] for r in found) == ["Siti Aminah", "Tan Mei Ling"]
    found = export_rows(database, staff, {**body, "filter": "country=Malaysia&q=siti"})
    assert [r["id"] for r in found] == [three[2]["id"]]


def test_export_of_unknown_ids_is_not_found_before_any_byte(
    database: Database, staff: Principal, three: list[dict[str, Any]]
) -> None:
    request = bulk.parse_bulk_request(staff, {"action": "export", "ids": [three[0]["id"], "gone"]})
    with database.read() as conn, pytest.raises(NotFound) as caught:
        bulk.plan_bulk_export(conn, staff, request)
    assert "gone" in caught.value.fields["ids"]


def test_export_is_staff_only_and_never_run_as_a_change(
    database: Database, staff: Principal, three: list[dict[str, Any]]
) -> None:
    request = bulk.parse_bulk_request(staff, {"action": "export", "ids": ids_of(three)})
    owner = as_principal(make_user(database))
    with database.read() as conn:
        with pytest.raises(Forbidden):
            bulk.plan_bulk_export(conn, owner, request)
        with pytest.raises(ValueError):
            bulk.run_bulk_action(conn, staff, request)
