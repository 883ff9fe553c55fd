"""Browser tests: Debian's Chromium, driven by Playwright, against a real server on 127.0.0.1.

    def test_sign_up(browser_page: Page, live_server: LiveServer) -> None:
        browser_page.goto(live_server.url("/signup"))
        ...
        screenshot(browser_page, "portal-details")   # artifacts/screenshots/portal-details.png

One server (`clientbook serve` on a fresh SQLite database, first super_admin known) and one
browser serve every test of this folder; they run in one xdist group. Chromium comes from
Debian (`make install-dev` installs it); Playwright never downloads a browser. Without
/usr/bin/chromium the tests are skipped with a reason — except under CI, where they fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.ports import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "browser-admin-password"


@pytest.hookimpl(tryfirst=True)  # before xdist reads the group marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.xdist_group("browser"))


@dataclass(frozen=True)
class LiveServer:
    base: str
    admin_email: str = ADMIN_EMAIL
    admin_password: str = ADMIN_PASSWORD

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("live")
    port = free_port()
    env = {
        **os.environ,
        "CLIENTBOOK_DATABASE_URL": f"sqlite:///{folder}/clientbook.sqlite3",
        "CLIENTBOOK_ADMIN_EMAIL": ADMIN_EMAIL,
        "CLIENTBOOK_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "CLIENTBOOK_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    command = [str(Path(sys.executable).parent / "clientbook"), "serve", "--host", "127.0.0.1"]
    log = (folder / "server.log").open("wb")
    server = subprocess.Popen([*command, "--port", str(port)], env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # generous: a loaded CI machine starts slowly
        while True:
            try:
                if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                state = (
                    f"exited with {server.returncode}" if server.poll() is not None else "no answer"
                )
                log_text = (folder / "server.log").read_text()[-2000:]
                raise RuntimeError(f"clientbook serve did not get ready ({state}):\n{log_text}")
            time.sleep(0.1)
        yield LiveServer(base)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


# Per module, not per session: Playwright's sync API runs an event loop in this thread while it
# is open, and the non-browser tests that share the xdist worker need `asyncio.run` after it.
@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    if not CHROMIUM.exists():
        message = "Debian's chromium is not installed (make install-dev installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium: object) -> Iterator[object]:
    """A fresh browser context (no cookies) and page; English unless a test says otherwise."""
    from playwright.sync_api import Browser

    assert isinstance(chromium, Browser)
    context = chromium.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def screenshot(page: object, name: str) -> Path:
    """Save a full-page screenshot to artifacts/screenshots/<name>.png (not committed)."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: object, server: LiveServer, email: str, password: str) -> None:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    page.goto(server.url("/signin"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
