"""The console's customer page in a real browser: create, fix a field error, change status with
a reason and see it in the timeline, log an interaction, add an internal note."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer, screenshot, sign_in


def test_staff_work_a_customer_record(browser_page: Page, live_server: LiveServer) -> None:
    page = browser_page
    sign_in(page, live_server, live_server.admin_email, live_server.admin_password)
    page.goto(live_server.url("/admin/customers/new"))
    page.get_by_label("Name").first.fill("Kedai Runcit Aminah")
    page.get_by_label("Email").fill("kedai.aminah@example.com")
    page.get_by_label("Customer type").select_option("company")
    page.get_by_label("Total revenue").fill("not a number")
    page.get_by_role("button", name="Create customer").click()
    expect(page.locator("#e-company")).to_be_visible()
    expect(page.locator("#e-totalRevenue")).to_contain_text("must be a number")
    screenshot(page, "console-customer-new")
    page.get_by_label("Company").fill("Kedai Runcit Aminah Sdn Bhd")
    page.get_by_label("Total revenue").fill("2500")
    page.get_by_role("button", name="Create customer").click()
    expect(page.get_by_role("status")).to_contain_text("Customer created")
    expect(page.get_by_role("heading", level=1)).to_have_text("Kedai Runcit Aminah")

    # Status change with a reason, seen in the timeline.
    status = page.locator("form[action$='/status']")
    status.get_by_label("New status").select_option("lead")
    status.get_by_label("Reason").fill("Met at the trade show")
    status.get_by_role("button", name="Change status").click()
    expect(page.get_by_role("status")).to_contain_text("Status changed")
    timeline = page.locator("ol.timeline")
    expect(timeline).to_contain_text("Met at the trade show")
    expect(page.locator(".record-head .badge")).to_have_text("Lead")

    # A field error on the details form, then fixed.
    details = page.locator("form[action$='/details']")
    details.get_by_label("Website").fill("not a site")
    details.get_by_role("button", name="Save details").click()
    expect(page.locator("#e-website")).to_be_visible()
    details = page.locator("form[action$='/details']")
    details.get_by_label("Website").fill("https://kedai.example.com")
    details.get_by_label("City").fill("Shah Alam")
    details.get_by_role("button", name="Save details").click()
    expect(page.get_by_role("status")).to_contain_text("Details saved")
    expect(page.locator("form[action$='/details']").get_by_label("City")).to_have_value("Shah Alam")

    # An interaction and an internal note.
    interaction = page.locator("form[action$='/interactions']")
    interaction.get_by_label("Type").select_option("meeting")
    interaction.get_by_label("Subject").fill("Store visit")
    interaction.get_by_label("Duration (minutes)").fill("30")
    interaction.get_by_role("button", name="Log interaction").click()
    expect(timeline).to_contain_text("Store visit")
    note = page.locator("form[action$='/notes']")
    note.locator("#f-n-content").fill("Owner prefers morning calls")
    note.get_by_label("Visible to").select_option("internal")
    note.get_by_role("button", name="Add note").click()
    expect(timeline).to_contain_text("Owner prefers morning calls")
    expect(timeline).to_contain_text("Internal (staff only)")
    screenshot(page, "console-customer")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "console-customer-phone")
