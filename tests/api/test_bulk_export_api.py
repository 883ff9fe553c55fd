"""`POST /api/customers/bulk` with `"action": "export"` through HTTP (SPEC §6, §8, §12): the
export file itself over ids or a filter, the same bytes as `GET /api/customers/export`, staff
only, unknown ids 404, one `export.completed` audit row."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from clientbook.db.tables import audit_logs
from clientbook.services.imports import xlsx
from clientbook.services.transfer_format import EXPORT_COLUMNS
from tests.api.conftest import Api
from tests.factories import make_customer, make_user

BULK = "/api/customers/bulk"


def export_audits(api: Api) -> list[dict[str, Any]]:
    """The `changes` of every `export.completed` row, oldest first, as {name: new value}."""
    with api.db.read() as conn:
        query = select(audit_logs.c.changes).where(audit_logs.c.action == "export.completed")
        found = conn.execute(query.order_by(audit_logs.c.seq)).scalars()
        return [{k: v["to"] for k, v in orjson.loads(changes).items()} for changes in found]


def test_export_over_ids_is_the_same_file_as_the_get_export(api: Api) -> None:
    chosen = [make_customer(api.db, name=name) for name in ("Ada", "Bob")]
    make_customer(api.db, name="Cy")
    ids = [r["id"] for r in chosen]
    staff = api.staff_headers()
    body = {"action": "export", "ids": ids, "format": "csv"}
    response = api.post(BULK, json=body, headers=staff)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    today = datetime.now(UTC).date().isoformat()
    assert response.headers["content-disposition"] == (
        f'attachment; filename="customers-{today}.csv"'
    )
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0] == ",".join(EXPORT_COLUMNS)
    assert len(lines) == 3
    same = api.get(f"/api/customers/export?format=csv&ids={','.join(ids)}", headers=staff)
    assert response.content == same.content


def test_export_over_a_filter_defaults_to_json_and_is_audited(api: Api) -> None:
    ipoh = [make_customer(api.db, name="Tan Mei", city="Ipoh") for _ in range(2)]
    make_customer(api.db, name="Tan Mei", city="Penang")
    body = {"action": "export", "filter": "city=Ipoh&q=tan"}
    response = api.post(BULK, json=body, headers=api.staff_headers())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-disposition"].endswith('.json"')
    assert sorted(row["id"] for row in response.json()) == sorted(r["id"] for r in ipoh)
    assert export_audits(api) == [{"format": "json", "count": 2, "filter": "city=Ipoh&q=tan"}]


def test_export_over_ids_audits_them_as_the_get_export_does(api: Api) -> None:
    record = make_customer(api.db)
    body = {"action": "export", "ids": [record["id"]], "format": "jsonl"}
    response = api.post(BULK, json=body, headers=api.key_headers())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    assert [orjson.loads(line)["id"] for line in response.content.splitlines()] == [record["id"]]
    assert export_audits(api) == [{"format": "jsonl", "count": 1, "filter": f"ids={record['id']}"}]


@pytest.mark.parametrize("fmt", ["xlsx", "excel"])
def test_export_as_xlsx(api: Api, tmp_path: Path, fmt: str) -> None:
    record = make_customer(api.db, name="=Ada")
    body = {"action": "export", "ids": [record["id"]], "format": fmt}
    response = api.post(BULK, json=body, headers=api.staff_headers())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert response.headers["content-disposition"].endswith('.xlsx"')
    path = tmp_path / "customers.xlsx"
    path.write_bytes(response.content)
    header, row = list(xlsx.read_rows(path))
    assert list(header) == list(EXPORT_COLUMNS)
    assert row[0] == record["id"]
    assert row[EXPORT_COLUMNS.index("name")] == "=Ada"


def test_an_unknown_id_is_a_404_naming_it_and_exports_nothing(api: Api) -> None:
    record = make_customer(api.db)
    body = {"action": "export", "ids": [record["id"], "ghost"]}
    response = api.post(BULK, json=body, headers=api.staff_headers())
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert "ghost" in error["fields"]["ids"]
    assert export_audits(api) == []


@pytest.mark.parametrize(("actor", "expected"), [("anonymous", 401), ("owner", 403)])
def test_only_staff_export_in_bulk(api: Api, actor: str, expected: int) -> None:
    owner = make_user(api.db)
    record = make_customer(api.db, owner=owner)
    headers = api.bearer(owner) if actor == "owner" else {}
    body = {"action": "export", "ids": [record["id"]]}
    response = api.post(BULK, json=body, headers=headers)
    assert response.status_code == expected
    assert set(response.json()["error"]) >= {"code", "message"}
    assert export_audits(api) == []


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"action": "export", "ids": ["a"], "format": "pdf"}, "format", "must be one of csv"),
        ({"action": "export", "ids": ["a"], "dryRun": True}, "dryRun", "not used by the export"),
        ({"action": "export", "ids": ["a"], "tags": ["x"]}, "tags", "not used by the export"),
        ({"action": "delete", "ids": ["a"], "format": "csv"}, "format", "not used by the delete"),
        ({"action": "export", "filter": ""}, "filter", "at least one condition"),
        ({"action": "export"}, "ids", "exactly one of ids and filter"),
    ],
)
def test_bad_export_bodies_are_422_naming_the_field(
    api: Api, body: dict[str, Any], field: str, message: str
) -> None:
    response = api.post(BULK, json=body, headers=api.staff_headers())
    assert response.status_code == 422, response.text
    assert message in response.json()["error"]["fields"][field]


def test_an_unknown_action_is_told_the_actions_and_a_missing_one_that_it_is_required(
    api: Api,
) -> None:
    staff = api.staff_headers()
    unknown = api.post(BULK, json={"action": "explode", "ids": ["a"]}, headers=staff)
    assert unknown.status_code == 422
    message = unknown.json()["error"]["fields"]["action"]
    assert message.startswith("must be one of: status, assign")
    assert message.endswith(", export")
    missing = api.post(BULK, json={"ids": ["a"]}, headers=staff)
    assert missing.json()["error"]["fields"]["action"].startswith("required: one of status")


def test_openapi_documents_the_export_action_and_its_files(api: Api) -> None:
    bulk = api.get("/api/openapi.json").json()["paths"]["/api/customers/bulk"]["post"]
    body = bulk["requestBody"]["content"]["application/json"]["schema"]
    assert "export" in body["properties"]["action"]["enum"]
    assert body["properties"]["format"]["enum"] == ["csv", "json", "jsonl", "xlsx", "excel"]
    assert {"application/json", "text/csv"} <= set(bulk["responses"]["200"]["content"])
