"""The HTML of the pages themselves: attributes a browser reads as written."""

from __future__ import annotations

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
