"""The self-service portal in a real browser (issue #7 item 6): sign up → create the record →
edit it → tags, notes and the timeline → download my data → delete my data."""

from __future__ import annotations

import json

from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import LiveServer, screenshot

PASSWORD = "portal-browser-password"


def nav(page: Page, name: str) -> Locator:
    """A link of the portal's navigation bar."""
    return page.locator("nav.mainnav").get_by_role("link", name=name, exact=True)


def sign_up(page: Page, server: LiveServer, email: str, name: str) -> None:
    page.goto(server.url("/signup"))
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(server.url("/") + "**")


def test_a_customer_runs_their_own_record(browser_page: Page, live_server: LiveServer) -> None:
    page = browser_page
    sign_up(page, live_server, "nurul.portal@example.com", "Nurul Huda")
    expect(page.get_by_role("heading", name="Welcome, Nurul Huda!")).to_be_visible()

    # The first visit to "My details" starts from the account's name and email.
    page.get_by_role("link", name="Fill in my details").click()
    expect(page.get_by_label("Name")).to_have_value("Nurul Huda")
    expect(page.get_by_label("Email")).to_have_value("nurul.portal@example.com")
    expect(nav(page, "My details")).to_have_attribute("aria-current", "page")
    page.get_by_label("Phone").fill("012-345 6789")
    page.get_by_label("City").fill("Shah Alam")
    page.get_by_role("button", name="Create my record").click()
    expect(page.get_by_role("status")).to_contain_text("Your details have been saved.")
    expect(page.get_by_role("heading", name="Hello, Nurul Huda")).to_be_visible()

    # Edit: a field error is shown next to its field and the typed values stay.
    nav(page, "My details").click()
    page.get_by_label("Customer type").select_option("company")
    page.get_by_label("Website").fill("example.com")
    page.get_by_role("button", name="Save my details").click()
    expect(page.locator("#e-company")).to_contain_text("is required when customerType is company")
    expect(page.locator("#e-website")).to_contain_text("http:// or https://")
    expect(page.locator(".error-summary")).to_be_focused()
    expect(page.get_by_label("Website")).to_have_value("example.com")
    page.get_by_label("Company").fill("Huda Bakery Sdn Bhd")
    page.get_by_label("Website").fill("https://huda.example.com")
    page.get_by_role("button", name="Save my details").click()
    expect(page.get_by_role("status")).to_contain_text("Your details have been saved.")
    expect(page.get_by_label("Company")).to_have_value("Huda Bakery Sdn Bhd")

    # Tags: typed comma-separated, shown as chips, removed one by one.
    page.get_by_label("Add tags").fill("wholesale, newsletter")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator(".tag-chip")).to_have_count(2)
    page.get_by_role("button", name="Remove the tag newsletter").click()
    expect(page.locator(".tag-chip")).to_have_count(1)
    expect(page.locator(".tag-chip")).to_contain_text("wholesale")
    screenshot(page, "portal-details")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "portal-details-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    # Notes: added, edited; the timeline shows them with the record's history.
    nav(page, "Notes").click()
    page.get_by_label("Title").fill("Deliveries")
    page.get_by_role("textbox", name="Note", exact=True).fill("Please deliver before 9 am.")
    page.get_by_label("Pin to the top").check()
    page.get_by_role("button", name="Add the note").click()
    expect(page.get_by_role("status")).to_contain_text("Your note has been added.")
    page.get_by_role("link", name="Edit Deliveries").click()
    page.get_by_role("textbox", name="Note", exact=True).fill("Please deliver before 8 am.")
    page.get_by_role("button", name="Save the note").click()
    expect(page.locator(".note")).to_contain_text("before 8 am")
    screenshot(page, "portal-notes")

    nav(page, "Timeline").click()
    expect(page.get_by_role("heading", name="My timeline")).to_be_visible()
    expect(page.locator(".timeline")).to_contain_text("Please deliver before 8 am.")
    expect(page.locator(".timeline")).to_contain_text("Your details were updated")
    expect(page.locator(".timeline")).to_contain_text("Your record was created")
    screenshot(page, "portal-timeline")

    page.goto(live_server.url("/"))
    screenshot(page, "portal-home")

    # Settings: the page turns Malay at once.
    nav(page, "Settings").click()
    page.get_by_label("Time zone", exact=True).select_option("Asia/Kuala_Lumpur")
    page.locator("#f-language").select_option("ms")
    page.get_by_role("button", name="Save my settings").click()
    expect(page.locator("html")).to_have_attribute("lang", "ms")
    expect(page.get_by_role("status")).to_contain_text("Tetapan anda telah disimpan.")
    screenshot(page, "portal-settings-ms")

    # My data: the download, then the erase (asks the password, then signs out).
    nav(page, "Data saya").click()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Muat turun data saya").click()
    download = download_info.value
    assert download.suggested_filename.startswith("clientbook-my-data-")
    document = json.loads(download.path().read_text(encoding="utf-8"))
    assert document["customer"]["company"] == "Huda Bakery Sdn Bhd"
    assert [note["content"] for note in document["notes"]] == ["Please deliver before 8 am."]

    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_label("Kata laluan anda, untuk pengesahan").fill("not my password")
    page.get_by_role("button", name="Padam data saya").click()
    expect(page.locator("#e-password")).to_contain_text("tidak betul")
    page.get_by_label("Kata laluan anda, untuk pengesahan").fill(PASSWORD)
    page.get_by_role("button", name="Padam data saya").click()
    page.wait_for_url(live_server.url("/signin") + "**")
    expect(page.get_by_role("status")).to_contain_text("Data anda telah dipadam.")
    assert "clientbook_session" not in {cookie["name"] for cookie in page.context.cookies()}
