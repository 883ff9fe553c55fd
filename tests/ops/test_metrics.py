"""`/metrics` (issue 9, observability): requests by route template and status, pools, import
jobs, failed sign-ins; who may read it; several processes adding up."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import Api
from tests.factories import make_customer
from tests.ops.conftest import BuildApi, LogLines

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(api: Api, headers: dict[str, str] | None = None) -> Samples:
    response = api.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_requests_are_counted_by_route_template_and_status(ops_api: Api) -> None:
    staff = ops_api.staff_headers()
    records = [make_customer(ops_api.db) for _ in range(3)]
    route = "/api/customers/{customer_id}"
    before = scrape(ops_api)
    for record in records:
        assert ops_api.get(f"/api/customers/{record['id']}", headers=staff).status_code == 200
    assert ops_api.get("/api/customers/nosuchrecord", headers=staff).status_code == 404
    assert ops_api.get("/no/such/path/at-all").status_code == 404
    after = scrape(ops_api)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    ok = {"method": "GET", "route": route, "status": "200"}
    assert delta("clientbook_http_requests_total", **ok) == 3
    assert delta("clientbook_http_requests_total", **{**ok, "status": "404"}) == 1
    assert delta("clientbook_http_request_duration_seconds_count", **ok) == 3
    assert delta("clientbook_http_request_duration_seconds_bucket", **ok, le="+Inf") == 3
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert delta("clientbook_http_requests_total", **unmatched) == 1
    # Bounded labels: no series ever names a raw path.
    routes = {dict(labels).get("route") for _, labels in after}
    assert not any(r and (records[0]["id"] in r or "no/such" in r) for r in routes)


def test_pools_import_jobs_and_failed_sign_ins(ops_api: Api) -> None:
    before = scrape(ops_api)
    pools = ("writer", "reader") if ops_api.db.is_sqlite else ("primary",)
    for pool in pools:
        assert value(before, "clientbook_db_connections_capacity", pool=pool) >= 1
        assert ("clientbook_db_connections_in_use", frozenset({("pool", pool)})) in before
    body = {"email": "nobody@example.com", "password": "not the password"}
    assert ops_api.post("/api/auth/login", json=body).status_code == 401
    files = {"file": ("people.csv", b"name,email\nAda,ada@x.io\n", "text/csv")}
    imported = ops_api.post("/api/customers/import", files=files, headers=ops_api.key_headers())
    assert imported.status_code == 200, imported.text
    after = scrape(ops_api)
    failures = "clientbook_login_failures_total"
    reason = {"reason": "unknown_account"}
    assert value(after, failures, **reason) - value(before, failures, **reason) == 1
    assert value(after, "clientbook_import_jobs", state="succeeded") == 1
    assert value(after, "clientbook_import_jobs", state="running") == 0


def test_metrics_answer_loopback_only_unless_a_token_is_set(build_api: BuildApi) -> None:
    remote = build_api(client=("203.0.113.9", 40000))
    assert remote.get("/metrics").status_code == 403
    with_token = build_api(client=("203.0.113.9", 40000), metrics_token="s3cret-scrape")
    assert with_token.get("/metrics").status_code == 401
    wrong = {"Authorization": "Bearer s3cret-scrapX"}
    assert with_token.get("/metrics", headers=wrong).status_code == 401
    scrape(with_token, {"Authorization": "Bearer s3cret-scrape"})


@pytest.mark.slow
def test_several_processes_add_up_in_multiprocess_mode(
    tmp_path: Path, sqlite_template: Path
) -> None:
    """`serve --workers N`: with PROMETHEUS_MULTIPROC_DIR, any process's scrape counts all.
    (The counting does not depend on the database: SQLite only.)"""
    database = tmp_path / "metrics.sqlite3"
    shutil.copyfile(sqlite_template, database)
    database_url = f"sqlite:///{database}"
    script = textwrap.dedent(
        """
        import sys
        from fastapi.testclient import TestClient
        from clientbook.app import create_app
        from clientbook.config import Settings
        app = create_app(Settings(database_url=sys.argv[1]))
        with TestClient(app, client=("127.0.0.1", 1)) as client:
            for _ in range(int(sys.argv[2])):
                assert client.get("/healthz").status_code == 200
            if sys.argv[3] == "scrape":
                print(client.get("/metrics").text)
        """
    )
    folder = tmp_path / "prometheus"
    folder.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    for count, then in ((2, "-"), (3, "scrape")):
        done = subprocess.run(
            [sys.executable, "-c", script, database_url, str(count), then],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    line = 'clientbook_http_requests_total{method="GET",route="/healthz",status="200"}'
    totals = [ln for ln in done.stdout.splitlines() if ln.startswith(line)]
    assert totals and float(totals[0].split()[-1]) == 5.0, done.stdout[-2000:]


def test_the_route_label_is_the_whole_template_with_its_router_prefix(
    ops_api: Api, log_lines: LogLines
) -> None:
    staff = ops_api.staff_headers()
    calls = {
        ("GET", "/v1/users"): "/v1/users",
        ("GET", "/v1/databases/console-db/collections/customers/documents"): (
            "/v1/databases/{database_id}/collections/{container_id}/documents"
        ),
        ("GET", "/admin/users"): "/admin/users",
        ("POST", "/admin/customers/x1/status"): "/admin/customers/{customer_id}/status",
        ("GET", "/admin"): "/admin",
        ("GET", "/api/customers/x1"): "/api/customers/{customer_id}",
        ("GET", "/static/no-such-file.css"): "/static",
    }
    before = scrape(ops_api)
    for method, path in calls:
        ops_api.request(method, path, headers=staff, follow_redirects=False)
    after = scrape(ops_api)
    logged = [(line["method"], line["route"]) for line in log_lines.requests()]
    for (method, _path), route in calls.items():
        assert (method, route) in logged
        counted = sum(
            value(after, name, **dict(labels)) - value(before, name, **dict(labels))
            for name, labels in after
            if name == "clientbook_http_requests_total"
            and dict(labels).get("route") == route
            and dict(labels).get("method") == method
        )
        assert counted >= 1, route


def test_a_body_over_the_cap_is_counted_as_the_docs_say(build_api: BuildApi) -> None:
    """With its length announced: 413 before routing, `unmatched`; sent without a length: cut
    off while its route reads it, counted under the route (docs/observability.md)."""
    api = build_api(max_body_bytes=1024)
    staff = api.staff_headers()
    body = b'{"name": "' + b"a" * 4096 + b'"}'
    headers = {**staff, "content-type": "application/json"}
    before = scrape(api)
    assert api.post("/api/customers", content=body, headers=headers).status_code == 413
    assert api.post("/api/customers", content=iter([body]), headers=headers).status_code == 413
    after = scrape(api)
    for route in ("unmatched", "/api/customers"):
        labels = {"method": "POST", "route": route, "status": "413"}
        name = "clientbook_http_requests_total"
        assert value(after, name, **labels) - value(before, name, **labels) == 1, route
