"""The console's customers table in a real browser: search as you type, filter, sort, select
rows and assign them in bulk; the home and statistics pages with their charts."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer, screenshot, sign_in


def _records(server: LiveServer, tag: str) -> dict[str, Any]:
    """Three customers whose names carry `tag` (signed up by their owners through the API), one
    of them a lead; and the admin's user object."""
    created = {}
    for first, company in (("Aminah", "Kopi Aminah"), ("Badrul", "Badrul Motor"), ("Chandra", "")):
        email = f"{first.lower()}.{tag}@example.com"
        account = {"email": email, "password": "browser-customer-password", "name": first}
        signup = httpx.post(server.url("/api/auth/signup"), json=account)
        assert signup.status_code == 201, signup.text
        bearer = {"Authorization": f"Bearer {signup.json()['token']}"}
        body = {"name": f"{first} {tag}", "country": "Malaysia"}
        if company:
            body["company"] = company
        record = httpx.post(server.url("/api/customers"), json=body, headers=bearer)
        assert record.status_code == 201, record.text
        created[first] = record.json()
    login = httpx.post(
        server.url("/api/auth/login"),
        json={"email": server.admin_email, "password": server.admin_password},
    )
    admin = {"Authorization": f"Bearer {login.json()['token']}"}
    lead = httpx.put(
        server.url(f"/api/customers/{created['Badrul']['$id']}/status"),
        json={"status": "lead"},
        headers=admin,
    )
    assert lead.status_code == 200, lead.text
    return {"customers": created, "admin": login.json()["user"]}


def _names(page: Page) -> list[str]:
    return page.locator("#results tbody th[scope=row]").all_inner_texts()


def test_staff_search_filter_sort_and_assign_in_bulk(
    browser_page: Page, live_server: LiveServer
) -> None:
    tag = "zq" + uuid.uuid4().hex[:6]
    made = _records(live_server, tag)
    page = browser_page
    sign_in(page, live_server, live_server.admin_email, live_server.admin_password)
    page.goto(live_server.url("/admin/customers"))

    # Search as you type: the table follows the box without a submit, the URL too.
    page.get_by_label("Search", exact=True).press_sequentially(tag, delay=20)
    expect(page.locator("#results tbody tr")).to_have_count(3)
    expect(page).to_have_url(f"{live_server.base}/admin/customers?q={tag}")

    # Filter by status.
    page.locator("details.more-filters summary").click()
    page.get_by_label("Status", exact=True).select_option("lead")
    expect(page.locator("#results tbody tr")).to_have_count(1)
    assert _names(page) == [f"Badrul {tag}"]
    page.get_by_label("Status", exact=True).select_option("")
    expect(page.locator("#results tbody tr")).to_have_count(3)

    # Sort by name, then the other way.
    page.locator("thead").get_by_role("link", name=re.compile(r"^Name")).click()
    expect(page.locator("th[aria-sort=ascending]")).to_have_text("Name")
    assert _names(page) == [f"Aminah {tag}", f"Badrul {tag}", f"Chandra {tag}"]
    page.locator("thead").get_by_role("link", name=re.compile(r"^Name")).click()
    expect(page.locator("th[aria-sort=descending]")).to_have_text("Name")
    assert _names(page) == [f"Chandra {tag}", f"Badrul {tag}", f"Aminah {tag}"]

    # Select two rows and assign them to the admin.
    page.get_by_label(f"Select Aminah {tag}").check()
    page.get_by_label(f"Select Chandra {tag}").check()
    expect(page.locator("[data-selected-count]")).to_have_text("2")
    expect(page.locator("tr.selected")).to_have_count(2)
    page.get_by_label("Action").select_option("assign")
    expect(page.get_by_label("New status")).to_be_hidden()
    page.get_by_label("Rep", exact=True).select_option(made["admin"]["$id"])
    screenshot(page, "console-customers-selected")
    page.get_by_role("button", name="Apply to selected").click()
    expect(page.get_by_role("status").first).to_contain_text("2 of 2 selected records changed.")
    # Back on the same list (search and order kept), the rep named in the two rows.
    assert _names(page) == [f"Chandra {tag}", f"Badrul {tag}", f"Aminah {tag}"]
    rep_cells = page.locator("#results tbody tr td:nth-child(6)").all_inner_texts()
    admin_name = made["admin"]["name"]
    assert rep_cells == [admin_name, "—", admin_name]
    screenshot(page, "console-customers")

    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "console-customers-phone")


def test_select_all_on_the_page_counts_every_row(
    browser_page: Page, live_server: LiveServer
) -> None:
    tag = "zs" + uuid.uuid4().hex[:6]
    _records(live_server, tag)
    page = browser_page
    sign_in(page, live_server, live_server.admin_email, live_server.admin_password)
    page.goto(live_server.url(f"/admin/customers?q={tag}"))
    page.get_by_label("Select every row on this page").check()
    expect(page.locator("[data-selected-count]")).to_have_text("3")
    page.get_by_label(f"Select Badrul {tag}").uncheck()
    expect(page.locator("[data-selected-count]")).to_have_text("2")
    expect(page.get_by_label("Select every row on this page")).not_to_be_checked()


def test_home_and_statistics_show_their_charts(browser_page: Page, live_server: LiveServer) -> None:
    _records(live_server, "zh" + uuid.uuid4().hex[:6])
    page = browser_page
    sign_in(page, live_server, live_server.admin_email, live_server.admin_password)
    page.goto(live_server.url("/admin"))
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    charts = page.locator("figure.chart img")
    expect(charts).to_have_count(3)
    for index in range(3):  # every picture decoded and drawn at a real size
        assert charts.nth(index).evaluate("img => img.complete && img.naturalWidth > 0")
    screenshot(page, "console-home")
    page.get_by_role("link", name="All statistics").click()
    expect(page.get_by_role("heading", name="Statistics", level=1)).to_be_visible()
    expect(page.locator("figure.chart img")).to_have_count(5)
    page.locator("figure.chart").nth(3).get_by_text("Show the numbers").click()
    expect(page.locator("figure.chart").nth(3).locator("table")).to_be_visible()
    screenshot(page, "console-stats")
