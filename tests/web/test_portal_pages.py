"""The self-service portal at `/` (SPEC §9): details, tags, settings, timeline, notes, my data."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from clientbook.access import PROFILE_FIELDS, SYSTEM
from clientbook.db.engine import Database
from clientbook.services import customers as customer_service
from clientbook.services import interactions, notes, timeline
from clientbook.web import i18n, portal
from tests.factories import TEST_PASSWORD, make_customer, make_staff, make_user
from tests.web.conftest import Pages, field_errors


def own_record(db: Database, user: dict[str, Any]) -> dict[str, Any] | None:
    from tests.factories import as_principal

    with db.read() as conn:
        return customer_service.find_own_customer(conn, as_principal(user))


def signed_in_customer(pages: Pages, **fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    user = make_user(pages.db, name="Siti Aminah")
    record = make_customer(pages.db, user, name="Siti Aminah", **fields)
    pages.sign_in(user)
    return user, record


# --- who sees the portal ---------------------------------------------------------------------


def test_signed_out_visitors_go_to_sign_in(pages: Pages) -> None:
    response = pages.get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/signin")
    assert (
        pages.get("/me/notes", follow_redirects=False)
        .headers["location"]
        .startswith("/signin?next=%2Fme%2Fnotes")
    )


@pytest.mark.parametrize("path", ["/", "/me/details", "/me/timeline", "/me/data"])
def test_staff_are_sent_to_the_console(pages: Pages, path: str) -> None:
    pages.sign_in(make_staff(pages.db))
    response = pages.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin"


def test_the_detail_and_setting_forms_only_hold_profile_fields() -> None:
    assert set(portal.DETAIL_FIELDS) <= PROFILE_FIELDS
    assert set(portal.SETTING_FIELDS) <= PROFILE_FIELDS


# --- my details ------------------------------------------------------------------------------


def test_first_visit_offers_a_form_filled_from_the_account(pages: Pages) -> None:
    user = make_user(pages.db, name="Ahmad Faiz", email="ahmad.faiz@example.com")
    pages.sign_in(user)
    home = pages.get("/")
    assert home.status_code == 200
    assert 'href="/me/details"' in home.text
    form = pages.get("/me/details")
    assert 'value="Ahmad Faiz"' in form.text
    assert 'value="ahmad.faiz@example.com"' in form.text
    assert 'name="status"' not in form.text  # staff-only fields are not in the form


def test_saving_the_form_creates_the_record(pages: Pages) -> None:
    user = make_user(pages.db, name="Ahmad Faiz", email="ahmad.faiz@example.com")
    pages.sign_in(user)
    response = pages.post_form(
        "/me/details",
        {"name": "Ahmad Faiz", "email": "ahmad.faiz@example.com", "phone": "012-345 6789",
         "customerType": "individual", "city": "Shah Alam", "company": ""},
    )  # fmt: skip
    assert response.status_code == 303, response.text
    record = own_record(pages.db, user)
    assert record is not None
    assert (record["phone"], record["city"], record["company"]) == (
        "012-345 6789",
        "Shah Alam",
        None,
    )
    assert record["createdBy"] == user["id"]
    home = pages.get(response.headers["location"])
    assert "Your details have been saved." in home.text
    assert "Shah Alam" in home.text


def test_staff_only_fields_in_a_forged_form_are_refused_not_dropped(pages: Pages) -> None:
    """SPEC §5: a staff-only field from a customer is 403 naming it, never a silent drop."""
    user, record = signed_in_customer(pages)
    response = pages.post_form(
        "/me/details",
        {"name": "Siti", "customerType": "individual", "status": "archived",
         "totalRevenue": "999", "assignedTo": user["id"], "version": str(record["version"])},
    )  # fmt: skip
    assert response.status_code == 403
    assert "only staff may set this field" in response.text
    assert own_record(pages.db, user) == record


def test_field_errors_are_shown_next_to_the_fields_and_the_input_kept(pages: Pages) -> None:
    user, record = signed_in_customer(pages)
    response = pages.post_form(
        "/me/details",
        {"name": "", "email": "not-an-email", "website": "example.com",
         "customerType": "company", "company": "", "version": str(record["version"])},
    )  # fmt: skip
    assert response.status_code == 422
    errors = field_errors(response.text)
    assert set(errors) == {"name", "email", "website", "company"}
    assert errors["company"] == "is required when customerType is company"
    assert 'value="not-an-email"' in response.text
    assert own_record(pages.db, user) == record  # nothing half-written


def test_a_taken_email_is_named_on_the_email_field(pages: Pages) -> None:
    make_customer(pages.db, email="taken@example.com")
    _user, record = signed_in_customer(pages)
    response = pages.post_form(
        "/me/details",
        {"name": "Siti", "email": "TAKEN@example.com", "customerType": "individual",
         "version": str(record["version"])},
    )  # fmt: skip
    assert response.status_code == 409
    assert "already exists" in field_errors(response.text)["email"]


def test_a_stale_form_is_shown_again_not_saved(pages: Pages) -> None:
    user, record = signed_in_customer(pages)
    with pages.db.transaction() as conn:
        customer_service.update_customer(conn, SYSTEM, record["id"], {"city": "Ipoh"})
    response = pages.post_form(
        "/me/details",
        {"name": "Siti", "customerType": "individual", "city": "Kuantan",
         "version": str(record["version"])},
    )  # fmt: skip
    assert response.status_code == 412  # as the console and the API answer a stale version
    assert "changed elsewhere" in response.text
    assert 'value="Kuantan"' in response.text
    assert f'name="version" value="{record["version"] + 1}"' in response.text
    after = own_record(pages.db, user)
    assert after is not None and after["city"] == "Ipoh"


def test_clearing_a_field_removes_its_value(pages: Pages) -> None:
    user, record = signed_in_customer(pages, city="Melaka")
    response = pages.post_form(
        "/me/details",
        {"name": "Siti Aminah", "customerType": "individual", "city": "",
         "version": str(record["version"])},
    )  # fmt: skip
    assert response.status_code == 303
    after = own_record(pages.db, user)
    assert after is not None and after["city"] is None


def test_about_me_and_preferences_live_in_the_notes_object(pages: Pages) -> None:
    user, record = signed_in_customer(
        pages, notes={"importantInfo": "Allergic to nuts", "general": "Old text"}
    )
    response = pages.post_form(
        "/me/details",
        {"name": "Siti Aminah", "customerType": "individual", "notes.general": "",
         "notes.preferences": "WhatsApp after 6 pm", "version": str(record["version"])},
    )  # fmt: skip
    assert response.status_code == 303
    after = own_record(pages.db, user)
    assert after is not None
    assert orjson.loads(after["notes"]) == {
        "importantInfo": "Allergic to nuts",
        "preferences": "WhatsApp after 6 pm",
    }
    assert "WhatsApp after 6 pm</textarea>" in pages.get("/me/details").text
    too_long = pages.post_form(
        "/me/details",
        {"name": "Siti Aminah", "customerType": "individual", "notes.general": "x" * 5000,
         "notes.preferences": "y", "version": str(after["version"])},
    )  # fmt: skip
    assert too_long.status_code == 422
    assert field_errors(too_long.text) == {
        "notes.general": "must be at most 5000 characters as compact JSON"
    }


# --- tags ------------------------------------------------------------------------------------


def test_tags_are_added_comma_separated_and_removed(pages: Pages) -> None:
    user, _record = signed_in_customer(pages)
    assert pages.post_form("/me/tags", {"tags": "vip, newsletter,VIP, "}).status_code == 303
    page = pages.get("/me/details")
    assert re.findall(r'name="tag" value="([^"]+)"', page.text) == ["vip", "newsletter"]
    assert pages.post_form("/me/tags/remove", {"tag": "VIP"}).status_code == 303
    after = own_record(pages.db, user)
    assert after is not None
    assert orjson.loads(after["metadata"])["tags"] == ["newsletter"]
    timeline = pages.get("/me/timeline").text
    assert "Tags now: newsletter" in timeline and "Tags now: vip, newsletter" in timeline


def test_the_timeline_names_the_notes_texts_that_changed(pages: Pages) -> None:
    _user, record = signed_in_customer(pages)
    response = pages.post_form(
        "/me/details",
        {"name": "Siti Aminah", "customerType": "individual", "notes.general": "Hello",
         "notes.preferences": "", "version": str(record["version"])},
    )  # fmt: skip
    assert response.status_code == 303
    timeline = pages.get("/me/timeline").text
    assert re.search(r"Fields:\s*About me</p>", timeline), timeline


def test_a_bad_tag_is_shown_on_the_tags_field(pages: Pages) -> None:
    signed_in_customer(pages)
    response = pages.post_form("/me/tags", {"tags": "ok, " + "x" * 51})
    assert response.status_code == 422
    assert field_errors(response.text) == {"tags": "tag 2 must be at most 50 characters"}
    assert "x" * 51 in response.text


# --- settings and password -------------------------------------------------------------------


def test_settings_change_the_page_language(pages: Pages) -> None:
    user, _record = signed_in_customer(pages)
    response = pages.post_form(
        "/me/settings", {"language": "ms", "timezone": "Asia/Kuala_Lumpur", "currency": "SGD"}
    )
    assert response.status_code == 303
    page = pages.get(response.headers["location"])
    assert page.headers["content-language"] == "ms"
    assert i18n.messages("ms")["Your settings have been saved."] in page.text
    after = own_record(pages.db, user)
    assert after is not None
    assert (after["language"], after["timezone"], after["currency"]) == (
        "ms",
        "Asia/Kuala_Lumpur",
        "SGD",
    )


def test_bad_settings_are_named(pages: Pages) -> None:
    signed_in_customer(pages)
    response = pages.post_form(
        "/me/settings", {"language": "fr", "timezone": "Mars/Olympus", "currency": "usd"}
    )
    assert response.status_code == 422
    assert set(field_errors(response.text)) == {"language", "timezone", "currency"}


def test_changing_the_password_keeps_this_browser_signed_in(pages: Pages) -> None:
    signed_in_customer(pages)
    wrong = pages.post_form("/me/password", {"currentPassword": "not it", "newPassword": "short"})
    assert wrong.status_code == 422
    assert field_errors(wrong.text) == {
        "currentPassword": "is not correct",
        "newPassword": "must be at least 8 characters",
    }
    response = pages.post_form(
        "/me/password", {"currentPassword": TEST_PASSWORD, "newPassword": "a-brand-new-secret"}
    )
    assert response.status_code == 303
    assert "clientbook_session" in response.headers["set-cookie"]
    pages.csrf = None  # the new session has its own token
    page = pages.get(response.headers["location"])
    assert page.status_code == 200  # signed in with the new session
    assert "Your password has been changed." in page.text


# --- timeline and notes ----------------------------------------------------------------------


def test_the_timeline_shows_shared_items_and_status_changes_only(pages: Pages) -> None:
    _user, record = signed_in_customer(pages)
    staff = make_staff(pages.db)
    from tests.factories import as_principal

    with pages.db.transaction() as conn:
        interactions.log_interaction(
            conn, SYSTEM, record["id"], {"type": "call", "subject": "Welcome call"}
        )
        interactions.log_interaction(
            conn, SYSTEM, record["id"],
            {"type": "call", "subject": "Credit check", "visibility": "internal"},
        )  # fmt: skip
        notes.add_note(conn, SYSTEM, record["id"], {"content": "Secret", "visibility": "internal"})
        customer_service.change_status(
            conn, as_principal(staff), record["id"], "prospect", reason="Asked for a quote"
        )
    page = pages.get("/me/timeline")
    assert page.status_code == 200
    assert "Welcome call" in page.text
    assert "Credit check" not in page.text and "Secret" not in page.text
    assert "Status changed" in page.text
    assert "From Active to Prospect" in page.text
    assert "Asked for a quote" in page.text


def test_the_timeline_pages_with_a_cursor(pages: Pages) -> None:
    _user, record = signed_in_customer(pages)
    with pages.db.transaction() as conn:
        for n in range(25):
            notes.add_note(conn, SYSTEM, record["id"], {"content": f"Note number {n}"})
    first = pages.get("/me/timeline")
    assert first.text.count('class="timeline-item') == 20
    assert "26 entries in all" in first.text
    older = re.search(r'href="(/me/timeline\?cursor=[^"]+)" rel="next"', first.text)
    assert older is not None
    second = pages.get(older.group(1).replace("&amp;", "&"))
    assert second.text.count('class="timeline-item') == 6
    assert "Note number 0" in second.text and "Note number 0" not in first.text
    assert 'rel="next"' not in second.text
    assert pages.get("/me/timeline?cursor=garbage").status_code == 400


def test_notes_are_added_edited_and_deleted(pages: Pages) -> None:
    user, record = signed_in_customer(pages)
    empty = pages.post_form("/me/notes", {"title": "x", "content": "", "category": "general"})
    assert empty.status_code == 422
    assert field_errors(empty.text) == {"content": "is required"}
    added = pages.post_form(
        "/me/notes",
        {"title": "Delivery", "content": "Leave parcels\nat the guard house",
         "category": "preference", "isPinned": "on"},
    )  # fmt: skip
    assert added.status_code == 303
    page = pages.get("/me/notes")
    assert "Leave parcels\nat the guard house" in page.text
    note_id = re.search(r'/me/notes/([^/"]+)/edit', page.text).group(1)  # type: ignore[union-attr]
    edited = pages.post_form(
        f"/me/notes/{note_id}", {"title": "Delivery", "content": "Ring twice", "category": "other"}
    )
    assert edited.status_code == 303
    with pages.db.read() as conn:
        from tests.factories import as_principal

        note = notes.get_note(conn, as_principal(user), note_id)
    assert (note["content"], note["category"], note["isPinned"], note["visibility"]) == (
        "Ring twice",
        "other",
        False,
        "shared",
    )
    assert pages.post_form(f"/me/notes/{note_id}/delete", {}).status_code == 303
    assert "Ring twice" not in pages.get("/me/notes").text
    assert record["id"]


def test_notes_from_staff_are_read_only_here(pages: Pages) -> None:
    _user, record = signed_in_customer(pages)
    with pages.db.transaction() as conn:
        note = notes.add_note(conn, SYSTEM, record["id"], {"content": "Thanks for visiting"})
    page = pages.get("/me/notes")
    assert "Thanks for visiting" in page.text
    assert f"/me/notes/{note['id']}/edit" not in page.text
    forged = pages.post_form(f"/me/notes/{note['id']}", {"content": "changed"})
    assert forged.status_code == 403
    # Its edit form is refused as its save is (the API's PATCH is 403 too), not shown editable.
    edit = pages.get(f"/me/notes/{note['id']}/edit")
    assert edit.status_code == 403
    assert "<textarea" not in edit.text


@pytest.mark.parametrize("editing", [False, True])
def test_an_internal_note_is_refused_not_stored_as_shared(pages: Pages, editing: bool) -> None:
    """SPEC §12: an owner who asks for an `internal` note gets 403 naming `visibility` (§5:
    never a silent drop), on create and on edit alike."""
    user, record = signed_in_customer(pages)
    from tests.factories import as_principal

    path = "/me/notes"
    if editing:
        with pages.db.transaction() as conn:
            note = notes.add_note(conn, as_principal(user), record["id"], {"content": "Mine"})
        path = f"/me/notes/{note['id']}"
    response = pages.post_form(
        path, {"content": "x", "category": "general", "visibility": "internal"}
    )
    assert response.status_code == 403
    assert "visibility" in response.text
    with pages.db.read() as conn:
        stored = timeline.list_notes(conn, SYSTEM, record["id"]).rows
    assert [n["visibility"] for n in stored] == (["shared"] if editing else [])
    assert [n["content"] for n in stored] == (["Mine"] if editing else [])


def test_pages_that_need_a_record_ask_for_it_first(pages: Pages) -> None:
    pages.sign_in(make_user(pages.db))
    for path in ("/me/timeline", "/me/notes"):
        response = pages.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/me/details?notice=")


# --- my data ---------------------------------------------------------------------------------


def test_export_downloads_my_data_as_json(pages: Pages) -> None:
    _user, record = signed_in_customer(pages)
    response = pages.get("/me/data/export")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert "attachment" in response.headers["content-disposition"]
    document = orjson.loads(response.content)
    assert document["customer"]["$id"] == record["id"]
    assert "passwordHash" not in response.text


def test_erasing_needs_the_password_then_signs_out(pages: Pages) -> None:
    user, _record = signed_in_customer(pages)
    wrong = pages.post_form("/me/data/erase", {"password": "guess"})
    assert wrong.status_code == 422
    assert field_errors(wrong.text) == {"password": "is not correct"}
    assert own_record(pages.db, user) is not None
    response = pages.post_form("/me/data/erase", {"password": TEST_PASSWORD})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/signin?notice=")
    assert own_record(pages.db, user) is None
    assert pages.get("/", follow_redirects=False).headers["location"].startswith("/signin")


def test_every_portal_page_renders_in_malay(pages: Pages) -> None:
    signed_in_customer(pages, language="ms")
    for path in ("/", "/me/details", "/me/timeline", "/me/notes", "/me/settings", "/me/data"):
        page = pages.get(path)
        assert page.status_code == 200, path
        assert page.headers["content-language"] == "ms"
        assert 'aria-current="page"' in page.text or path == "/"
