"""SPEC §9: "Forms show the same field errors as the API" — every refusal that names fields
(422, a duplicate's 409, a forbidden field's 403) comes back as the form, with the message next
to the field (or listed above the form when it has no input for it) and what was typed kept;
and a field a form does not have is refused as the API refuses it, never silently dropped."""

from __future__ import annotations

import re
from typing import Any

import pytest

from clientbook.access import SYSTEM
from clientbook.services import customers as customer_service
from clientbook.services import timeline
from clientbook.web.vocabulary import field_label
from tests.factories import make_customer, make_staff, make_user
from tests.web.conftest import Pages, field_errors


def _staff(pages: Pages) -> dict[str, Any]:
    staff = make_staff(pages.db, name="Rep One")
    pages.sign_in(staff)
    return staff


def _record(pages: Pages, customer_id: str) -> dict[str, Any]:
    with pages.db.read() as conn:
        return customer_service.get_customer(conn, SYSTEM, customer_id)


def _summary(html: str) -> str:
    found = re.search(r'class="error-summary".*?</(?:div|ul)>', html, re.S)
    return found.group(0) if found else ""


# --- a duplicate email (409) on the console's record forms ------------------------------------


def test_new_customer_with_a_taken_email_is_shown_on_the_email_field(pages: Pages) -> None:
    make_customer(pages.db, email="taken@example.com")
    _staff(pages)
    response = pages.post_form(
        "/admin/customers/new",
        {"name": "Someone", "email": "TAKEN@example.com", "customerType": "individual",
         "city": "Ipoh"},
    )  # fmt: skip
    assert response.status_code == 409
    assert field_errors(response.text) == {"email": "A customer with this email already exists"}
    assert 'value="Someone"' in response.text and 'value="Ipoh"' in response.text


def test_details_with_a_taken_email_are_shown_on_the_email_field(pages: Pages) -> None:
    make_customer(pages.db, email="taken@example.com")
    _staff(pages)
    customer = make_customer(pages.db, city="Ipoh")
    response = pages.post_form(
        f"/admin/customers/{customer['id']}/details",
        {"email": "taken@example.com", "city": "Kuantan", "version": "1"},
    )
    assert response.status_code == 409
    assert field_errors(response.text) == {"email": "A customer with this email already exists"}
    assert 'value="Kuantan"' in response.text
    assert _record(pages, customer["id"])["city"] == "Ipoh"


# --- tags: the record's `metadata.tags` (and the action's `tags`) on the tags input ----------


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("ok, " + "z" * 51, "tag 2 must be at most 50 characters"),
        (", ".join(f"t{n}" for n in range(51)), "at most 50 tags are allowed"),
    ],
)
def test_a_bad_tag_on_the_console_is_shown_on_the_tags_field(
    pages: Pages, typed: str, message: str
) -> None:
    _staff(pages)
    customer = make_customer(pages.db)
    response = pages.post_form(f"/admin/customers/{customer['id']}/tags", {"tags": typed})
    assert response.status_code == 422
    assert field_errors(response.text) == {"t-tags": message}


def test_a_tag_error_named_tags_is_shown_on_the_tags_field_too() -> None:
    from clientbook.web.forms import errors_by_input

    assert errors_by_input({"tags": "x"}, ("tags",)) == {"tags": "x"}
    assert errors_by_input({"metadata.tags": "x"}, ("tags",)) == {"tags": "x"}


def test_a_bad_tag_in_the_portal_is_numbered_among_the_tags_typed(pages: Pages) -> None:
    user = make_user(pages.db)
    make_customer(pages.db, user, metadata={"tags": ["a", "b", "c"]})
    pages.sign_in(user)
    response = pages.post_form("/me/tags", {"tags": "y" * 51})
    assert response.status_code == 422
    assert field_errors(response.text) == {"tags": "tag 1 must be at most 50 characters"}


# --- nested keys on their inputs --------------------------------------------------------------


def test_too_long_notes_on_the_console_are_shown_on_the_notes_text(pages: Pages) -> None:
    _staff(pages)
    customer = make_customer(pages.db)
    response = pages.post_form(
        f"/admin/customers/{customer['id']}/details", {"notes.general": "n" * 5100, "version": "1"}
    )
    assert response.status_code == 422
    assert field_errors(response.text) == {
        "notes.general": "must be at most 5000 characters as compact JSON"
    }
    assert 'href="#f-notes.general"' in _summary(response.text)
    assert 'href="#f-notes"' not in response.text


# --- fields a form does not have: refused as the API refuses them ----------------------------


@pytest.mark.parametrize(
    ("field", "value", "status"),
    [
        ("status", "archived", 403),
        ("totalRevenue", "999", 403),
        ("assignedTo", "someone", 403),
        ("userId", "someone", 403),
        ("createdBy", "someone", 403),
        ("bogus", "1", 422),
    ],
)
def test_the_portal_details_form_refuses_a_field_it_does_not_have(
    pages: Pages, field: str, value: str, status: int
) -> None:
    user = make_user(pages.db)
    record = make_customer(pages.db, user, name="Siti")
    pages.sign_in(user)
    response = pages.post_form(
        "/me/details",
        {"name": "Siti Aminah", "customerType": "individual", field: value,
         "version": str(record["version"])},
    )  # fmt: skip
    assert response.status_code == status
    assert f"<li>{field_label(field)}: " in _summary(response.text)
    assert f'href="#f-{field}"' not in response.text  # no input to link to
    assert 'value="Siti Aminah"' in response.text
    with pages.db.read() as conn:
        after = customer_service.get_customer(conn, SYSTEM, record["id"])
    assert after["name"] == "Siti"


def test_the_portal_settings_form_refuses_a_field_it_does_not_have(pages: Pages) -> None:
    user = make_user(pages.db)
    make_customer(pages.db, user)
    pages.sign_in(user)
    response = pages.post_form(
        "/me/settings", {"language": "en", "timezone": "", "currency": "MYR", "status": "lead"}
    )
    assert response.status_code == 403
    assert "<li>Status: only staff may set this field</li>" in _summary(response.text)


@pytest.mark.parametrize(
    ("field", "status"), [("userId", 403), ("createdBy", 403), ("$createdAt", 403), ("bogus", 422)]
)
def test_the_console_details_form_refuses_a_field_it_does_not_have(
    pages: Pages, field: str, status: int
) -> None:
    _staff(pages)
    customer = make_customer(pages.db, city="Ipoh")
    response = pages.post_form(
        f"/admin/customers/{customer['id']}/details",
        {"city": "Kuantan", field: "x", "version": "1"},
    )
    assert response.status_code == status
    assert field in _summary(response.text)
    assert _record(pages, customer["id"])["city"] == "Ipoh"


def test_a_console_action_form_names_a_field_it_does_not_have(pages: Pages) -> None:
    _staff(pages)
    customer = make_customer(pages.db, status="lead")
    response = pages.post_form(
        f"/admin/customers/{customer['id']}/status", {"status": "active", "bogus": "1"}
    )
    assert response.status_code == 422
    assert "bogus" in response.text and "unknown field" in response.text
    assert _record(pages, customer["id"])["status"] == "lead"


def test_a_note_form_refuses_a_system_field(pages: Pages) -> None:
    user = make_user(pages.db)
    record = make_customer(pages.db, user)
    pages.sign_in(user)
    response = pages.post_form(
        "/me/notes", {"content": "Hello", "category": "general", "createdBy": user["id"]}
    )
    assert response.status_code == 403
    assert "createdBy" in _summary(response.text)
    assert 'value="Hello"' in response.text or ">Hello</textarea>" in response.text
    with pages.db.read() as conn:
        assert timeline.list_notes(conn, SYSTEM, record["id"]).rows == []
