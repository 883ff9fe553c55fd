"""Import and export over HTTP (SPEC §8, §12): status codes, headers, limits, jobs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from clientbook.db.engine import Database
from clientbook.services import import_jobs
from tests.api.conftest import Api
from tests.factories import make_customer, make_user

CSV = b"name,email,city\nAda,ada@x.io,Ipoh\nBob,bob@x.io,Penang\n"


def upload(api: Api, headers: dict[str, str], data: bytes = CSV, **options: str) -> Any:
    files = {"file": ("people.csv", data, "text/csv")}
    return api.post("/api/customers/import", files=files, data=options, headers=headers)


@pytest.mark.parametrize(
    ("fmt", "media", "suffix"),
    [
        ("csv", "text/csv", "csv"),
        ("json", "application/json", "json"),
        ("jsonl", "application/x-ndjson", "jsonl"),
        ("excel", "application/vnd.openxmlformats", "xlsx"),
    ],
)
def test_export_answers_a_named_file(api: Api, fmt: str, media: str, suffix: str) -> None:
    make_customer(api.db, name="Ada")
    response = api.get(f"/api/customers/export?format={fmt}", headers=api.staff_headers())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media)
    today = datetime.now(UTC).date().isoformat()
    assert response.headers["content-disposition"] == (
        f'attachment; filename="customers-{today}.{suffix}"'
    )


def test_export_filters_and_scope(api: Api) -> None:
    owner = make_user(api.db)
    mine = make_customer(api.db, owner=owner, city="Ipoh")
    make_customer(api.db, city="Ipoh")
    staff = api.staff_headers()
    rows = api.get("/api/customers/export?format=json&city=Ipoh", headers=staff).json()
    assert len(rows) == 2
    rows = api.get("/api/customers/export?format=json", headers=api.bearer(owner)).json()
    assert [r["id"] for r in rows] == [mine["id"]]
    assert api.get("/api/customers/export?format=json").status_code == 401
    bad = api.get("/api/customers/export?format=pdf", headers=staff)
    assert bad.status_code == 400 and "format" in bad.json()["error"]["fields"]
    bad = api.get("/api/customers/export?nosuch=1", headers=staff)
    assert bad.status_code == 400 and "nosuch" in bad.json()["error"]["fields"]


def test_import_small_file_answers_with_its_report(api: Api) -> None:
    response = upload(api, api.staff_headers())
    assert response.status_code == 200, response.text
    job = response.json()["job"]
    assert job["status"] == "succeeded"
    assert job["report"]["created"] == 2
    again = api.get(f"/api/imports/{job['$id']}", headers=api.staff_headers())
    assert again.status_code == 200 and again.json()["report"]["created"] == 2


def test_import_options_and_row_errors(api: Api) -> None:
    staff = api.staff_headers()
    data = b"name,email\nOk,ok@x.io\n,bad\n"
    dry = upload(api, staff, data, dryRun="true", skipErrors="true").json()["job"]
    assert dry["report"]["dryRun"] and not dry["report"]["applied"]
    [failure] = dry["report"]["failures"]
    assert failure["row"] == 2 and set(failure["errors"]) == {"name", "email"}
    assert upload(api, staff, data, overwrite="maybe").status_code == 422


@pytest.mark.parametrize(
    ("query", "name"),
    [("format=xml", "format"), ("dryRun=maybe", "dryRun"), ("overwrite=2", "overwrite")],
)
def test_a_bad_import_option_in_the_query_string_is_400_naming_it(
    api: Api, query: str, name: str
) -> None:
    """SPEC §12 (they were 415 and 422); the same values as form fields stay body errors."""
    files = {"file": ("people.csv", CSV, "text/csv")}
    response = api.post(f"/api/customers/import?{query}", files=files, headers=api.staff_headers())
    assert response.status_code == 400, response.text
    assert set(response.json()["error"]["fields"]) == {name}
    field, value = query.split("=")
    form = upload(api, api.staff_headers(), **{field: value})
    assert form.status_code == (415 if field == "format" else 422), form.text


def _imported_nothing(api: Api) -> bool:
    rows = api.get("/api/customers?email=ada@x.io", headers=api.staff_headers()).json()
    return rows["total"] == 0


@pytest.mark.parametrize(
    ("query", "form", "fields"),
    [
        ("dryRun=true&dryRun=false", {}, {"dryRun"}),
        ("dryRun=false&dryRun=true", {}, {"dryRun"}),
        ("dryRun=true", {"dryRun": "false"}, {"dryRun"}),
        ("dryRun=true", {"dryRun": ""}, {"dryRun"}),
        ("bogus=1&dryRun=maybe", {}, {"bogus", "dryRun"}),
        ("bogus=1&bogus=2&format=pdf", {}, {"bogus", "format"}),
    ],
)
def test_an_import_option_given_twice_or_badly_in_the_query_is_one_400_that_writes_nothing(
    api: Api, query: str, form: dict[str, str], fields: set[str]
) -> None:
    """SPEC §12 (a parameter given twice is a 400): the import used to take one of the two
    values, the form's over the query's, and write; and it named only the unknown parameter."""
    files = {"file": ("people.csv", CSV, "text/csv")}
    response = api.post(
        f"/api/customers/import?{query}", files=files, data=form, headers=api.staff_headers()
    )
    assert response.status_code == 400, response.text
    assert set(response.json()["error"]["fields"]) == fields
    assert _imported_nothing(api)


def test_an_import_option_given_twice_in_the_form_is_422_with_the_other_errors(
    api: Api,
) -> None:
    files = {"file": ("people.csv", CSV, "text/csv")}
    form = {"dryRun": ["true", "false"], "overwrite": "maybe", "x": "1"}
    response = api.post(
        "/api/customers/import", files=files, data=form, headers=api.staff_headers()
    )
    assert response.status_code == 422, response.text
    assert set(response.json()["error"]["fields"]) == {"dryRun", "overwrite", "x"}
    assert _imported_nothing(api)


def test_good_import_options_in_the_query_string_are_taken(api: Api) -> None:
    files = {"file": ("people.csv", CSV, "text/csv")}
    response = api.post(
        "/api/customers/import?format=csv&dryRun=true", files=files, headers=api.staff_headers()
    )
    assert response.status_code == 200, response.text
    assert response.json()["job"]["report"]["dryRun"] is True


def test_import_media_and_format_errors(api: Api) -> None:
    staff = api.staff_headers()
    assert api.post("/api/customers/import", content=b"x", headers=staff).status_code == 415
    assert upload(api, staff, format="pdf").status_code == 415
    files = {"upload": ("x.csv", CSV, "text/csv")}
    assert api.post("/api/customers/import", files=files, headers=staff).status_code == 422
    assert upload(api, {}).status_code == 401


@pytest.fixture
def small_limit_api(database: Database) -> Iterator[Api]:
    db = Database(replace(database.settings, max_upload_bytes=1024))
    with Api(db) as client:
        yield client
    db.dispose()


def test_upload_over_the_limit_is_413_before_reading(small_limit_api: Api) -> None:
    api = small_limit_api
    big = b"name\n" + b"x\n" * 2000
    response = upload(api, api.staff_headers(), big)
    assert response.status_code == 413


def test_upload_without_length_is_cut_off_at_the_limit(small_limit_api: Api) -> None:
    api = small_limit_api
    boundary = "b0und"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.csv"\r\n'
        f"Content-Type: text/csv\r\n\r\nname\n" + "x\n" * 2000 + f"\r\n--{boundary}--\r\n"
    ).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 256):
            yield body[start : start + 256]

    headers = {**api.staff_headers(), "Content-Type": f"multipart/form-data; boundary={boundary}"}
    response = api.post("/api/customers/import", content=chunks(), headers=headers)
    assert response.status_code == 413


def test_large_import_is_a_job_polled_until_done(api: Api, monkeypatch: Any) -> None:
    monkeypatch.setattr(import_jobs, "JOB_THRESHOLD_ROWS", 1)
    staff = api.staff_headers()
    response = upload(api, staff)
    assert response.status_code == 202
    job_id = response.json()["job"]["$id"]
    assert response.headers["location"] == f"/api/imports/{job_id}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        job = api.get(f"/api/imports/{job_id}", headers=staff).json()
        if job["status"] not in ("queued", "running"):
            break
        time.sleep(0.05)
    assert job["status"] == "succeeded"
    assert (job["processedRows"], job["totalRows"]) == (2, 2)
    assert api.get(f"/api/imports/{job_id}", headers=api.user_headers()).status_code == 404


def test_owner_imports_restore_only_their_record(api: Api) -> None:
    owner = make_user(api.db)
    headers = api.bearer(owner)
    response = upload(api, headers, b"name,city\nMe,Ipoh\n")
    assert response.json()["job"]["report"]["created"] == 1
    record = api.get("/api/customers/me", headers=headers).json()
    assert record["userId"] == owner["id"]
    two = upload(api, headers, b"name\nA\nB\n")
    assert two.status_code == 422
    assert two.json()["job"]["status"] == "failed"
    assert orjson.dumps(two.json()["job"]["error"]).find(b"one row") != -1
