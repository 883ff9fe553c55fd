"""Console import/export, duplicates, audit log, users and API keys pages (SPEC §8, §9)."""

from __future__ import annotations

import csv
import io
import os
import re
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from clientbook.db.engine import Database
from clientbook.services import import_jobs
from clientbook.web import i18n
from clientbook.web.console import transfer
from tests.factories import make_customer, make_staff, make_user
from tests.web.conftest import Pages, field_errors

CSV_WITH_A_BAD_ROW = (
    "name,email,status\n"
    "Ann Tan,ann.tan@example.com,active\n"
    "Bad Row,not-an-email,active\n"
    "Cara Lim,cara.lim@example.com,lead\n"
)
GOOD_CSV = "name,email,status\nDan Ong,dan.ong@example.com,active\n"


def upload(
    pages: Pages, content: str, filename: str = "people.csv", **fields: Any
) -> httpx.Response:
    data = {"csrf_token": pages.form_token(), **{k: str(v) for k, v in fields.items()}}
    files = {"file": (filename, content.encode(), "text/csv")}
    return pages.post("/admin/import", data=data, files=files, follow_redirects=False)


def follow(pages: Pages, response: httpx.Response) -> httpx.Response:
    assert response.status_code == 303, response.text[:500]
    return pages.get(response.headers["location"])


def error_rows(html: str) -> list[tuple[str, str]]:
    """(row number, field) of every line of the per-row error table."""
    return re.findall(r"<tr><td>(\d+)</td><td><code>([^<]+)</code></td>", html)


def customer_emails(pages: Pages) -> set[str]:
    response = pages.get("/api/customers?limit=100")
    return {row["email"] for row in response.json()["rows"]}


@pytest.fixture
def staff_pages(pages: Pages) -> Pages:
    pages.sign_in(make_staff(pages.db, email="boss@example.com"))
    return pages


# --- access ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/admin/import", "/admin/export", "/admin/duplicates", "/admin/audit", "/admin/users",
             "/admin/api-keys"],
)  # fmt: skip
def test_the_pages_are_for_staff_only(pages: Pages, path: str) -> None:
    signed_out = pages.get(path, follow_redirects=False)
    assert signed_out.status_code == 303
    assert signed_out.headers["location"].startswith("/signin?next=")
    pages.sign_in(make_user(pages.db))
    assert pages.get(path).status_code == 403


def test_a_form_post_without_its_token_is_refused(staff_pages: Pages) -> None:
    response = staff_pages.post("/admin/api-keys", data={"name": "x"})
    assert response.status_code == 403
    files = {"file": ("a.csv", GOOD_CSV.encode(), "text/csv")}
    assert staff_pages.post("/admin/import", files=files).status_code == 403


# --- import ----------------------------------------------------------------------------------


def test_the_dry_run_lists_each_bad_row_and_writes_nothing(staff_pages: Pages) -> None:
    page = follow(staff_pages, upload(staff_pages, CSV_WITH_A_BAD_ROW, action="check"))
    assert page.status_code == 200
    assert error_rows(page.text) == [("2", "email")]
    assert "Nothing was written" in page.text
    assert re.search(r'data-count="created">2<', page.text)
    assert 'action="/admin/import/run"' in page.text  # the checked file can be imported next
    assert customer_emails(staff_pages) == set()


def test_running_the_checked_file_is_all_or_nothing(staff_pages: Pages) -> None:
    checked = follow(staff_pages, upload(staff_pages, CSV_WITH_A_BAD_ROW, action="check"))
    staged = re.search(r'name="staged" value="([^"]+)"', checked.text)
    assert staged
    ran = follow(staff_pages, staff_pages.post_form("/admin/import/run", {"staged": staged[1]}))
    assert "Nothing was imported" in ran.text
    assert error_rows(ran.text) == [("2", "email")]
    assert customer_emails(staff_pages) == set()
    # The file is handed to the import: it cannot be run twice.
    again = staff_pages.post_form("/admin/import/run", {"staged": staged[1]})
    assert again.status_code == 404


def test_skipping_errors_imports_the_good_rows_and_reports_the_bad(staff_pages: Pages) -> None:
    checked = follow(staff_pages, upload(staff_pages, CSV_WITH_A_BAD_ROW, action="check"))
    staged = re.search(r'name="staged" value="([^"]+)"', checked.text)
    assert staged
    response = staff_pages.post_form(
        "/admin/import/run", {"staged": staged[1], "skipErrors": "true"}
    )
    done = follow(staff_pages, response)
    assert "Import done" in done.text
    assert re.search(r'data-count="created">2<', done.text)
    assert error_rows(done.text) == [("2", "email")]
    assert customer_emails(staff_pages) == {"ann.tan@example.com", "cara.lim@example.com"}


def test_import_without_checking(staff_pages: Pages) -> None:
    done = follow(staff_pages, upload(staff_pages, GOOD_CSV, action="run"))
    assert "Import done" in done.text
    assert customer_emails(staff_pages) == {"dan.ong@example.com"}
    assert "/admin/import/run" not in done.text


def test_a_staged_file_is_only_its_uploaders(staff_pages: Pages) -> None:
    checked = follow(staff_pages, upload(staff_pages, GOOD_CSV, action="check"))
    staged = re.search(r'name="staged" value="([^"]+)"', checked.text)
    assert staged
    staff_pages.sign_in(make_staff(staff_pages.db))
    assert staff_pages.post_form("/admin/import/run", {"staged": staged[1]}).status_code == 404
    for bad in ("../../etc/passwd", "", "x" * 100):
        assert staff_pages.post_form("/admin/import/run", {"staged": bad}).status_code == 404


def test_an_unreadable_file_is_shown_on_the_form(staff_pages: Pages) -> None:
    response = upload(staff_pages, "", filename="people", action="check")
    assert response.status_code == 422
    assert field_errors(response.text) == {"file": "is empty"}
    response = upload(staff_pages, GOOD_CSV, action="check", format="pdf")
    assert response.status_code == 422
    assert "format" in field_errors(response.text)


def test_a_file_that_is_not_what_it_says_shows_why(staff_pages: Pages) -> None:
    response = upload(staff_pages, "[1, 2", filename="people.json", action="run")
    assert response.status_code == 422
    assert "JSON" in field_errors(response.text)["file"]


def test_kept_files_are_removed_after_use_failure_or_an_hour(
    staff_pages: Pages, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transfer, "STAGING", tmp_path / "staging")
    assert upload(staff_pages, "", filename="people", action="check").status_code == 422
    assert list((tmp_path / "staging").iterdir()) == []
    checked = follow(staff_pages, upload(staff_pages, GOOD_CSV, action="check"))
    staged = re.search(r'name="staged" value="([^"]+)"', checked.text)
    assert staged
    assert len(list((tmp_path / "staging").iterdir())) == 2  # the file and who may use it
    staff_pages.post_form("/admin/import/run", {"staged": staged[1]})
    assert list((tmp_path / "staging").iterdir()) == []
    checked = follow(staff_pages, upload(staff_pages, GOOD_CSV, action="check"))
    staged = re.search(r'name="staged" value="([^"]+)"', checked.text)
    assert staged
    old = time.time() - transfer.STAGED_FOR_SECONDS - 1
    for path in (tmp_path / "staging").iterdir():
        os.utime(path, (old, old))
    assert staff_pages.post_form("/admin/import/run", {"staged": staged[1]}).status_code == 404
    follow(staff_pages, upload(staff_pages, GOOD_CSV, action="check"))  # sweeps the stale ones
    assert len(list((tmp_path / "staging").iterdir())) == 2


def test_a_missing_file_is_named(staff_pages: Pages) -> None:
    data = {"csrf_token": staff_pages.form_token(), "action": "check"}
    response = staff_pages.post("/admin/import", data=data, files={"file": ("", b"", "text/csv")})
    assert response.status_code == 422
    assert "file" in field_errors(response.text)


def test_an_upload_over_the_limit_is_refused(database: Database) -> None:
    db = Database(replace(database.settings, max_upload_bytes=1024))
    try:
        with Pages(db) as pages:
            pages.sign_in(make_staff(db))
            response = upload(pages, GOOD_CSV + "x\n" * 2000, action="check")
            assert response.status_code == 413
            assert "limit of 0 MiB" in response.text or "limit" in response.text
    finally:
        db.dispose()


def test_a_running_job_shows_a_progress_bar(
    staff_pages: Pages, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(import_jobs, "present_job", _as_running(import_jobs.present_job))
    done = follow(staff_pages, upload(staff_pages, GOOD_CSV, action="run"))
    assert "<progress" in done.text
    assert 'value="3"' in done.text and 'max="10"' in done.text
    assert 'http-equiv="refresh"' in done.text  # without JavaScript, the page refreshes
    assert "/static/import.js" in done.text
    # What import.js polls: the API's job, read with the page's own session cookie.
    job_id = re.search(r'data-import-job="([^"]+)"', done.text)
    assert job_id
    polled = staff_pages.get(f"/api/imports/{job_id[1]}")
    assert polled.status_code == 200
    assert polled.json()["processedRows"] == 3


def _as_running(present: Any) -> Any:
    def running(row: dict[str, Any]) -> dict[str, Any]:
        job = present(row)
        return {**job, "status": "running", "processedRows": 3, "totalRows": 10, "report": None}

    return running


def test_a_long_list_of_row_errors_is_cut_short(staff_pages: Pages) -> None:
    rows = "".join(
        f"Bad {n},not-an-email-{n},active\n" for n in range(transfer.SHOWN_ROW_ERRORS + 5)
    )
    page = follow(staff_pages, upload(staff_pages, "name,email,status\n" + rows, action="check"))
    assert len(error_rows(page.text)) == transfer.SHOWN_ROW_ERRORS
    assert "Only the first rows with errors are listed." in page.text
    assert re.search(rf'data-count="failed">{transfer.SHOWN_ROW_ERRORS + 5}<', page.text)


def test_someone_elses_job_is_not_found(staff_pages: Pages) -> None:
    assert staff_pages.get("/admin/import/jobs/nope").status_code == 404


# --- export ----------------------------------------------------------------------------------


def test_export_downloads_the_filtered_records(staff_pages: Pages) -> None:
    make_customer(staff_pages.db, email="a@example.com", status="active")
    make_customer(staff_pages.db, email="b@example.com", status="lead")
    form = staff_pages.get("/admin/export")
    assert 'action="/admin/export/download"' in form.text
    response = staff_pages.get("/admin/export/download?format=csv&status=lead&q=&tag=")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    assert re.search(r"customers-\d{4}-\d\d-\d\d\.csv", response.headers["content-disposition"])
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert [row["email"] for row in rows] == ["b@example.com"]
    assert "id" in rows[0] and "tags" in rows[0]


def test_the_assignee_filter_lists_staff_by_name(staff_pages: Pages) -> None:
    make_staff(staff_pages.db, name="Zed Rep", status="blocked")
    make_staff(staff_pages.db, name="Ali Rep")
    make_user(staff_pages.db, name="Customer Person")
    page = staff_pages.get("/admin/export").text
    select = page[page.index('id="f-assignedTo"') :]
    select = select[: select.index("</select>")]
    names = re.findall(r'<option value="[^"]+"[^>]*>([^<]+)</option>', select)
    assert names == sorted(names, key=str.casefold)
    assert {"Zed Rep", "Ali Rep"} <= set(names)
    assert "Customer Person" not in names


def test_a_bad_export_filter_is_shown_on_the_form(staff_pages: Pages) -> None:
    response = staff_pages.get("/admin/export/download?format=pdf&status=nonsense")
    assert response.status_code == 400
    assert "format" in field_errors(response.text) or "status" in field_errors(response.text)


def test_export_keeps_the_customer_tables_other_filters(staff_pages: Pages) -> None:
    page = staff_pages.get("/admin/export?status=lead&city=Ipoh")
    assert '<input type="hidden" name="city" value="Ipoh">' in page.text


# --- duplicates ------------------------------------------------------------------------------


def test_duplicates_show_each_group_with_links(staff_pages: Pages) -> None:
    first = make_customer(staff_pages.db, phone="+60 12-345 6789", name="Siti One")
    second = make_customer(staff_pages.db, phone="+60123456789", name="Siti Two")
    page = staff_pages.get("/admin/duplicates")
    assert page.status_code == 200
    assert "Same phone number" in page.text
    assert f'href="/admin/customers/{first["id"]}"' in page.text
    assert f'href="/admin/customers/{second["id"]}"' in page.text
    assert staff_pages.get("/admin/duplicates?reason=email").text.count("duplicate-group") == 0
    assert staff_pages.get("/admin/duplicates?cursor=junk").status_code == 400


# --- audit -----------------------------------------------------------------------------------


def test_the_audit_log_filters_and_pages(staff_pages: Pages) -> None:
    for number in range(55):
        make_user(staff_pages.db, email=f"audited{number}@example.com")
    page = staff_pages.get("/admin/audit?entityType=user&action=user.created")
    assert page.status_code == 200
    assert page.text.count("<code>user.created</code>") == 50
    older = re.search(r'rel="next" href="([^"]+)"', page.text)
    assert older
    second = staff_pages.get(older[1].replace("&amp;", "&"))
    assert second.text.count("<code>user.created</code>") >= 5
    assert 'rel="prev"' in second.text


def test_audit_filter_errors_are_shown_next_to_the_fields(staff_pages: Pages) -> None:
    response = staff_pages.get("/admin/audit?from=yesterday")
    assert response.status_code == 400
    assert "from" in field_errors(response.text)
    response = staff_pages.get("/admin/audit?entityId=abc")
    assert response.status_code == 400
    assert "entityId" in field_errors(response.text)


def test_audit_dates_are_whole_days(staff_pages: Pages) -> None:
    assert staff_pages.get("/admin/audit?from=2020-01-01&until=2099-12-31").status_code == 200
    empty = staff_pages.get("/admin/audit?until=2000-01-01")
    assert "No audit entries match" in empty.text


# --- users -----------------------------------------------------------------------------------


def test_create_and_invite_accounts(staff_pages: Pages) -> None:
    response = staff_pages.post_form(
        "/admin/users", {"email": "new.rep@example.com", "name": "New Rep", "role": "super_admin",
                         "password": "a-long-password"},
    )  # fmt: skip
    assert response.status_code == 303
    page = staff_pages.get(response.headers["location"])
    assert "new.rep@example.com" in page.text and "Account created" in page.text
    invited = staff_pages.post_form("/admin/users", {"email": "guest@example.com", "name": "G"})
    assert "Invited" in staff_pages.get(invited.headers["location"]).text


def test_account_errors_are_shown_next_to_the_fields(staff_pages: Pages) -> None:
    response = staff_pages.post_form(
        "/admin/users", {"email": "nope", "name": "X", "password": "short"}
    )
    assert response.status_code == 422
    assert set(field_errors(response.text)) == {"email", "password"}
    assert 'value="nope"' in response.text
    taken = staff_pages.post_form("/admin/users", {"email": "boss@example.com", "name": "X"})
    assert taken.status_code == 409
    assert "email" in field_errors(taken.text)


def test_change_role_and_block(staff_pages: Pages) -> None:
    rep = make_user(staff_pages.db, email="rep@example.com")
    response = staff_pages.post_form(
        f"/admin/users/{rep['id']}", {"name": "Rep", "role": "super_admin", "status": "blocked"}
    )
    assert response.status_code == 303
    with staff_pages.db.read() as conn:
        from clientbook.services import users

        changed = users.get_user(conn, rep["id"])
    assert (changed["role"], changed["status"]) == ("super_admin", "blocked")


def test_staff_cannot_lock_themselves_out(staff_pages: Pages) -> None:
    with staff_pages.db.read() as conn:
        from clientbook.services import users

        me = users.find_user_by_email(conn, "boss@example.com")
    assert me is not None
    response = staff_pages.post_form(
        f"/admin/users/{me['id']}", {"name": "Boss", "role": "user", "status": "active"}
    )
    assert response.status_code == 403
    assert "role" in field_errors(response.text)
    assert "Delete account" not in response.text  # no delete button for oneself


def test_staff_cannot_delete_themselves(pages: Pages) -> None:
    # The service's rule comes back as the page's error (there is no button for it, but a
    # crafted post gets the same answer as the API).
    me = make_staff(pages.db, email="me@example.com")
    pages.sign_in(me)
    response = pages.post_form(f"/admin/users/{me['id']}/delete", {})
    assert response.status_code == 403
    assert "DELETE /api/me" in response.text
    assert 'role="alert"' in response.text


def test_delete_an_account_and_the_record_rule(staff_pages: Pages) -> None:
    owner = make_user(staff_pages.db, email="owner@example.com")
    record = make_customer(staff_pages.db, owner)
    refused = staff_pages.post_form(f"/admin/users/{owner['id']}/delete", {})
    assert refused.status_code == 409
    assert "still owns a customer record" in refused.text
    assert f'href="/admin/customers/{record["id"]}"' in refused.text
    loner = make_user(staff_pages.db, email="loner@example.com")
    deleted = staff_pages.post_form(f"/admin/users/{loner['id']}/delete", {})
    assert deleted.status_code == 303
    assert "loner@example.com" not in staff_pages.get("/admin/users").text


def test_users_list_filters(staff_pages: Pages) -> None:
    make_user(staff_pages.db, email="blocked.one@example.com", status="blocked")
    page = staff_pages.get("/admin/users?status=blocked")
    assert "blocked.one@example.com" in page.text
    assert "boss@example.com" not in page.text


# --- API keys --------------------------------------------------------------------------------


def test_create_an_api_key_shown_once_then_revoke_it(staff_pages: Pages) -> None:
    created = staff_pages.post_form("/admin/api-keys", {"name": "invoicing sync"})
    assert created.status_code == 200
    secret = re.search(r'id="new-secret" type="text" readonly value="([^"]+)"', created.text)
    assert secret
    assert created.headers["cache-control"] == "no-store"
    listing = staff_pages.get("/admin/api-keys")
    assert "invoicing sync" in listing.text
    assert secret[1] not in listing.text  # never shown again
    works = httpx.Headers({"X-API-Key": secret[1]})
    assert staff_pages.get("/api/customers", headers=works).status_code == 200
    key_id = re.search(r'action="/admin/api-keys/([^/"]+)/revoke"', listing.text)
    assert key_id
    revoked = staff_pages.post_form(f"/admin/api-keys/{key_id[1]}/revoke", {})
    assert revoked.status_code == 303
    assert "Revoked" in staff_pages.get(revoked.headers["location"]).text
    staff_pages.cookies.clear()
    assert staff_pages.get("/api/customers", headers=works).status_code == 401


def test_an_api_key_needs_a_name(staff_pages: Pages) -> None:
    response = staff_pages.post_form("/admin/api-keys", {"name": ""})
    assert response.status_code == 422
    assert field_errors(response.text) == {"name": "is required"}


def test_the_pages_speak_malay(staff_pages: Pages) -> None:
    staff_pages.cookies.set("clientbook_language", "ms")
    for path in ("/admin/import", "/admin/export", "/admin/users", "/admin/api-keys",
                 "/admin/audit", "/admin/duplicates"):  # fmt: skip
        page = staff_pages.get(path)
        assert page.status_code == 200, path
        assert 'lang="ms"' in page.text
    assert "Import pelanggan" in staff_pages.get("/admin/import").text
    assert "Log audit" in staff_pages.get("/admin/audit").text
    checked = follow(staff_pages, upload(staff_pages, CSV_WITH_A_BAD_ROW, action="check"))
    assert "1 baris mempunyai ralat" in checked.text
    assert "Tiada apa-apa ditulis" in checked.text


def test_an_invited_account_gets_an_invitation_link_that_works(pages: Pages) -> None:
    import re

    from clientbook.access import SYSTEM
    from clientbook.services import users as user_service
    from tests.factories import TEST_PASSWORD, make_staff

    pages.sign_in(make_staff(pages.db))
    invited = user_service.create_or_invite(pages.db, SYSTEM, {"email": "later@example.com"})
    response = pages.post_form(f"/admin/users/{invited['id']}/invitation", {})
    assert response.status_code == 200
    token = re.search(r"/accept\?token=([\w-]+)", response.text).group(1)  # type: ignore[union-attr]
    pages.sign_out()
    pages.csrf = None
    accepted = pages.post_form("/accept", {"token": token, "password": TEST_PASSWORD})
    assert accepted.status_code == 303


def test_a_keys_state_is_not_a_geographical_state_in_malay(staff_pages: Pages) -> None:
    """The word State names two things: a key's Active/Revoked column (msgctxt "api key")
    and an address's state (Negeri); each has its own Malay word."""
    staff_pages.post_form("/admin/api-keys", {"name": "invoicing sync"})
    staff_pages.cookies.set("clientbook_language", "ms")
    page = staff_pages.get("/admin/api-keys").text
    assert '<th scope="col">Status</th>' in page
    assert "Negeri" not in page
    i18n.set_language("ms")
    assert i18n.gettext("State") == "Negeri"
    assert i18n.pgettext("api key", "State") == "Status"
    i18n.set_language("en")
    assert i18n.pgettext("api key", "State") == "State"
