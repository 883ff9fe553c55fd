"""The HTML of the pages themselves: attributes a browser reads as written, ids unique."""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser
from typing import Any

from clientbook.access import SYSTEM
from clientbook.services import interactions, notes
from tests.factories import make_customer, make_staff, make_user
from tests.web.conftest import Pages


def _console_pages(pages: Pages) -> tuple[list[str], dict[str, Any]]:
    """Every console page worth reading, signed in as staff, over a small database."""
    staff = make_staff(pages.db, name="Rita Rep")
    owner = make_user(pages.db, name="Siti Aminah")
    record = make_customer(pages.db, owner, name="Siti Aminah", metadata={"tags": ["vip"]})
    make_customer(pages.db, name="Siti Aminah", status="inactive")
    with pages.db.transaction() as conn:
        interactions.log_interaction(conn, SYSTEM, record["id"], {"type": "call", "subject": "Hi"})
        notes.add_note(conn, SYSTEM, record["id"], {"content": "Shared"})
    pages.sign_in(staff)
    paths = [
        "/admin", "/admin/customers", "/admin/customers?status=inactive", "/admin/customers/new",
        f"/admin/customers/{record['id']}", "/admin/stats", "/admin/duplicates", "/admin/import",
        "/admin/export", "/admin/audit", "/admin/users", f"/admin/users/{owner['id']}",
        "/admin/api-keys",
    ]  # fmt: skip
    return paths, record


def test_attributes_passed_to_the_field_macro_keep_their_quotes(pages: Pages) -> None:
    """`autocomplete=&#34;off&#34;` is an attribute whose value holds the quotes (invalid)."""
    _paths, record = _console_pages(pages)
    table = pages.get("/admin/customers").text
    assert 'autocomplete="off"' in table
    assert "data-live-search" in table
    customer = pages.get(f"/admin/customers/{record['id']}").text
    assert 'inputmode="numeric"' in customer
    assert 'inputmode="decimal"' in customer
    assert 'list="known-actions"' in pages.get("/admin/audit").text
    for html in (table, customer):
        assert "=&#34;" not in html


_REFERENCES = ("for", "list", "aria-labelledby", "aria-describedby", "aria-controls")


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.referenced: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "id":
                self.ids.append(value or "")
            elif name in _REFERENCES:
                self.referenced.update((value or "").split())


def id_problems(html: str) -> dict[str, str]:
    """Ids given to more than one element, and ids referred to that no element has."""
    parser = _Ids()
    parser.feed(html)
    counts = Counter(parser.ids)
    problems = {name: f"{n} elements" for name, n in counts.items() if n > 1}
    problems.update({name: "missing" for name in parser.referenced - set(counts)})
    return problems


def test_no_console_page_repeats_an_id(pages: Pages) -> None:
    """aria-labelledby / aria-describedby / label for= name one element each."""
    paths, _record = _console_pages(pages)
    for path in paths:
        page = pages.get(path)
        assert page.status_code == 200, path
        assert id_problems(page.text) == {}, path


def test_no_portal_page_repeats_an_id(pages: Pages) -> None:
    owner = make_user(pages.db, name="Siti Aminah")
    record = make_customer(pages.db, owner, name="Siti Aminah", metadata={"tags": ["vip"]})
    from tests.factories import as_principal

    with pages.db.transaction() as conn:
        note = notes.add_note(conn, as_principal(owner), record["id"], {"content": "Mine"})
    pages.sign_in(owner)
    for path in (
        "/", "/me/details", "/me/timeline", "/me/notes", f"/me/notes/{note['id']}/edit",
        "/me/settings", "/me/data",
    ):  # fmt: skip
        page = pages.get(path)
        assert page.status_code == 200, path
        assert id_problems(page.text) == {}, path


def test_no_signed_out_page_repeats_an_id(pages: Pages) -> None:
    for path in ("/signin", "/signup"):
        page = pages.get(path)
        assert page.status_code == 200, path
        assert id_problems(page.text) == {}, path


def test_pages_name_their_icon_and_favicon_ico_answers(pages: Pages) -> None:
    """Browsers ask for an icon on every page; a 404 is a console error each time."""
    page = pages.get("/signin")
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page.text
    icon = pages.get("/static/favicon.svg")
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.text.startswith("<svg")
    legacy = pages.get("/favicon.ico")
    assert legacy.status_code == 200
    assert legacy.headers["content-type"].startswith("image/svg+xml")
    assert legacy.content == icon.content
    assert "no-store" not in legacy.headers["cache-control"]


def test_no_page_lets_the_browser_judge_an_email_address(pages: Pages) -> None:
    """A browser's type="email" refuses `Ösa@…`, which the service accepts (the sign-in form
    posted nothing for such an account), and rewrites IDN domains: every email box is text
    with the email keyboard."""
    anonymous = [pages.get(path).text for path in ("/signin", "/signup")]
    paths, _record = _console_pages(pages)
    console = [pages.get(path).text for path in paths]
    for html in anonymous + console:
        assert 'type="email"' not in html
    assert anonymous[0].count('inputmode="email"') == 1
    assert 'id="filter-email" name="email" type="text" inputmode="email"' in console[-3]
