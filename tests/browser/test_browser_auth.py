"""Signing up and in, in a real browser: forms, field errors, the language switch."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer, screenshot


def test_sign_up_shows_field_errors_then_signs_in(
    browser_page: Page, live_server: LiveServer
) -> None:
    page = browser_page
    page.goto(live_server.url("/signup"))
    page.get_by_label("Your name").fill("Browser Tester")
    page.get_by_label("Email").fill("not-an-email")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#e-password")).to_contain_text("at least 8 characters")
    expect(page.get_by_label("Email")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "signup-errors")
    page.get_by_label("Email").fill("browser.tester@example.com")
    page.get_by_label("Password").fill("a-long-enough-password")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(live_server.url("/") + "**")
    cookies = {cookie["name"] for cookie in page.context.cookies()}
    assert "clientbook_session" in cookies


def test_the_language_switch_turns_the_page_malay(
    browser_page: Page, live_server: LiveServer
) -> None:
    page = browser_page
    page.goto(live_server.url("/signin"))
    page.get_by_label("Language").select_option("ms")
    expect(page.locator("html")).to_have_attribute("lang", "ms")
    expect(page.get_by_role("heading", name="Log masuk")).to_be_visible()
    screenshot(page, "signin-ms")
