"""The console's import, export, audit log, users and API keys pages in a real browser
(issue #7 item 6: an import with a deliberate bad row, an export download, API keys)."""

from __future__ import annotations

import csv
import io
import uuid
from pathlib import Path

import httpx
from playwright.sync_api import Dialog, Page, expect

from tests.browser.conftest import LiveServer, screenshot, sign_in


def _csv(rows: list[tuple[str, str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "email", "status"])
    writer.writerows(rows)
    return out.getvalue().encode()


def _admin(page: Page, server: LiveServer) -> None:
    sign_in(page, server, server.admin_email, server.admin_password)


def _accept_dialogs(page: Page) -> None:
    def accept(dialog: Dialog) -> None:
        dialog.accept()

    page.on("dialog", accept)


def test_import_with_a_bad_row(browser_page: Page, live_server: LiveServer) -> None:
    page = browser_page
    _admin(page, live_server)
    tag = uuid.uuid4().hex[:8]
    content = _csv(
        [
            ("Aminah Browser", f"aminah.{tag}@example.com", "active"),
            ("Broken Row", "not-an-email", "lead"),
            ("Chong Browser", f"chong.{tag}@example.com", "prospect"),
        ]
    )
    page.goto(live_server.url("/admin/import"))
    expect(page.get_by_role("link", name="Import", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    page.get_by_label("File").set_input_files(
        {"name": "customers.csv", "mimeType": "text/csv", "buffer": content}
    )
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_role("heading", name="1 row has errors")).to_be_visible()
    errors = page.locator("table.row-errors tbody tr")
    expect(errors).to_have_count(1)
    expect(errors.first.locator("td").nth(0)).to_have_text("2")
    expect(errors.first.locator("td").nth(1)).to_have_text("email")
    expect(page.locator('[data-count="created"]')).to_have_text("2")
    screenshot(page, "console-import-preview")

    # All or nothing: importing the checked file as it is imports no row.
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_role("heading", name="Nothing was imported")).to_be_visible()
    expect(page.locator("table.row-errors tbody tr")).to_have_count(1)
    search = live_server.url(f"/admin/customers?q={tag}")

    # The same file with "Skip rows with errors": the two good rows are imported.
    page.goto(live_server.url("/admin/import"))
    page.get_by_label("File").set_input_files(
        {"name": "customers.csv", "mimeType": "text/csv", "buffer": content}
    )
    page.get_by_role("button", name="Check the file").click()
    page.locator("#run-skipErrors").check()
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_role("heading", name="Import done")).to_be_visible()
    expect(page.locator('[data-count="created"]')).to_have_text("2")
    expect(page.locator('[data-count="failed"]')).to_have_text("1")
    expect(page.locator("table.row-errors")).to_contain_text("email")
    screenshot(page, "console-import-done")
    api = httpx.Client(base_url=live_server.base, cookies=_cookies(page))
    found = api.get("/api/customers", params={"q": tag}).json()
    assert sorted(row["name"] for row in found["rows"]) == ["Aminah Browser", "Chong Browser"]
    assert search  # the customers table shows them too (its own tests cover that page)


def _cookies(page: Page) -> dict[str, str]:
    return {c["name"]: c["value"] for c in page.context.cookies() if "name" in c and "value" in c}


def test_a_large_check_shows_live_progress(browser_page: Page, live_server: LiveServer) -> None:
    page = browser_page
    _admin(page, live_server)
    tag = uuid.uuid4().hex[:8]
    rows = [(f"Bulk {n}", f"bulk{n}.{tag}@example.com", "lead") for n in range(6000)]
    page.goto(live_server.url("/admin/import"))
    page.get_by_label("File").set_input_files(
        {"name": "many.csv", "mimeType": "text/csv", "buffer": _csv(rows)}
    )
    page.get_by_role("button", name="Check the file").click()
    # A file over the job threshold runs in the background: the page follows its progress
    # (import.js polls the job) and shows the report once it is done.
    progress = page.locator("progress#import-progress")
    report = page.get_by_role("heading", name="Every row is valid")
    expect(progress.or_(report)).to_be_visible()
    saw_progress = progress.count() == 1
    if saw_progress:
        screenshot(page, "console-import-progress")
    expect(report).to_be_visible(timeout=60_000)
    expect(page.locator('[data-count="total"]')).to_have_text("6000")
    assert saw_progress, "a 6000-row check should have shown its progress bar"


def test_export_download(browser_page: Page, live_server: LiveServer, tmp_path: Path) -> None:
    page = browser_page
    _admin(page, live_server)
    page.goto(live_server.url("/admin/export"))
    page.get_by_label("Format").select_option("csv")
    page.get_by_label("Status").select_option("active")
    screenshot(page, "console-export")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download").click()
    download = info.value
    assert download.suggested_filename.startswith("customers-")
    assert download.suggested_filename.endswith(".csv")
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    header = next(csv.reader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    assert header[0] == "id"
    assert {"name", "email", "status", "tags", "metadata"} <= set(header)


def test_api_key_create_and_revoke(browser_page: Page, live_server: LiveServer) -> None:
    page = browser_page
    _accept_dialogs(page)
    _admin(page, live_server)
    name = f"browser key {uuid.uuid4().hex[:6]}"
    page.goto(live_server.url("/admin/api-keys"))
    expect(page.get_by_label("Name")).to_have_attribute("required", "")
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("heading", name="API key created")).to_be_visible()
    secret = page.locator("#new-secret").input_value()
    assert secret
    with httpx.Client(base_url=live_server.base) as api:
        assert api.get("/api/customers", headers={"X-API-Key": secret}).status_code == 200
        page.get_by_role("link", name="Done").click()
        row = page.locator("tr", has_text=name)
        expect(row).to_contain_text("Active")
        assert secret not in page.content()
        row.get_by_role("button", name="Revoke").click()
        expect(page.locator("tr", has_text=name)).to_contain_text("Revoked")
        screenshot(page, "console-api-keys")
        expect(page.get_by_role("status")).to_contain_text("API key revoked")
        assert api.get("/api/customers", headers={"X-API-Key": secret}).status_code == 401


def test_users_and_the_audit_log(browser_page: Page, live_server: LiveServer) -> None:
    page = browser_page
    _accept_dialogs(page)
    _admin(page, live_server)
    email = f"rep.{uuid.uuid4().hex[:6]}@example.com"
    page.goto(live_server.url("/admin/users"))
    page.locator("#f-email").fill(email)
    page.locator("#f-name").fill("Rep Browser")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("status")).to_contain_text("Account invited")
    page.get_by_label("Role").select_option("super_admin")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_contain_text("Changes saved")
    screenshot(page, "console-user-edit")
    page.goto(live_server.url("/admin/users"))
    expect(page.locator("tr", has_text=email)).to_contain_text("Staff (super admin)")
    screenshot(page, "console-users")

    page.goto(live_server.url("/admin/audit"))
    expect(page.locator("table.audit tbody tr").first).to_be_visible()
    page.get_by_label("Action").fill("user.role_changed")
    page.get_by_role("button", name="Filter", exact=True).click()
    expect(page.locator("table.audit tbody tr").first).to_contain_text("user.role_changed")
    page.goto(live_server.url("/admin/audit"))
    screenshot(page, "console-audit")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url("/admin/import"))
    screenshot(page, "console-import-phone")
    page.goto(live_server.url("/admin/users"))
    screenshot(page, "console-users-phone")


def test_duplicates_link_to_their_records(browser_page: Page, live_server: LiveServer) -> None:
    page = browser_page
    _admin(page, live_server)
    tag = uuid.uuid4().hex[:8]
    digits = str(uuid.uuid4().int)[:7]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "email", "phone"])
    writer.writerow(["Siti Twin", f"siti.{tag}@example.com", f"+60 12-{digits}"])
    writer.writerow(["Siti Twin Again", f"siti.again.{tag}@example.com", f"012{digits}"])
    page.goto(live_server.url("/admin/import"))
    page.get_by_label("File").set_input_files(
        {"name": "twins.csv", "mimeType": "text/csv", "buffer": out.getvalue().encode()}
    )
    page.get_by_role("button", name="Import without checking").click()
    expect(page.get_by_role("heading", name="Import done")).to_be_visible()
    page.goto(live_server.url("/admin/duplicates?reason=phone"))
    group = page.locator(".duplicate-group", has_text="Siti Twin Again")
    expect(group).to_contain_text("Same phone number")
    expect(group.get_by_role("link")).to_have_count(2)
    screenshot(page, "console-duplicates")
    group.get_by_role("link", name="Siti Twin Again").click()
    page.wait_for_url("**/admin/customers/*")


def test_delete_an_account_after_confirming(browser_page: Page, live_server: LiveServer) -> None:
    page = browser_page
    _accept_dialogs(page)
    _admin(page, live_server)
    email = f"leaving.{uuid.uuid4().hex[:6]}@example.com"
    page.goto(live_server.url("/admin/users"))
    page.locator("#f-email").fill(email)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name=email)).to_be_visible()
    page.get_by_role("button", name="Delete account").click()
    expect(page.get_by_role("status")).to_contain_text("Account deleted")
    expect(page.get_by_text(email)).to_have_count(0)
