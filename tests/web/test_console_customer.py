"""The console's customer page and new-customer form, through HTTP like a browser."""

from __future__ import annotations

import re

from clientbook.access import SYSTEM
from clientbook.services import customers as customer_service
from tests.factories import make_customer, make_staff, make_user
from tests.web.conftest import Pages, field_errors


def _staff(pages: Pages) -> dict:
    staff = make_staff(pages.db, name="Rep One")
    pages.sign_in(staff)
    return staff


def _record(pages: Pages, customer_id: str) -> dict:
    with pages.db.read() as conn:
        return customer_service.get_customer(conn, SYSTEM, customer_id)


def test_the_console_is_for_staff_only(pages: Pages) -> None:
    customer = make_customer(pages.db)
    assert (
        pages.get(f"/admin/customers/{customer['id']}", follow_redirects=False).status_code == 303
    )
    pages.sign_in(make_user(pages.db))
    response = pages.get(f"/admin/customers/{customer['id']}")
    assert response.status_code == 403
    assert "Not allowed" in response.text


def test_new_customer_reports_every_field_error_and_keeps_the_text(pages: Pages) -> None:
    _staff(pages)
    response = pages.post_form(
        "/admin/customers/new",
        {"name": "", "email": "bad", "customerType": "company", "totalRevenue": "lots"},
    )
    assert response.status_code == 422
    errors = field_errors(response.text)
    assert {"name", "email", "company", "totalRevenue"} <= set(errors)
    assert 'value="lots"' in response.text


def test_new_customer_invites_its_owner_and_opens_the_record(pages: Pages) -> None:
    _staff(pages)
    response = pages.post_form(
        "/admin/customers/new",
        {"name": "Acme", "email": "acme@example.com", "customerType": "company",
         "company": "Acme Sdn Bhd", "totalRevenue": "1,200.50", "status": "lead"},
    )  # fmt: skip
    assert response.status_code == 303
    location = response.headers["location"]
    customer_id = re.search(r"/admin/customers/([^?]+)", location).group(1)  # type: ignore[union-attr]
    page = pages.get(location)
    assert page.status_code == 200
    assert "Customer created" in page.text
    record = _record(pages, customer_id)
    assert record["totalRevenue"] == 1200.5
    assert record["status"] == "lead"


def test_status_change_with_reason_shows_in_the_timeline(pages: Pages) -> None:
    _staff(pages)
    customer = make_customer(pages.db, status="lead")
    url = f"/admin/customers/{customer['id']}"
    response = pages.post_form(
        f"{url}/status", {"status": "active", "reason": "Signed the contract", "version": "1"}
    )
    assert response.status_code == 303, field_errors(response.text)
    page = pages.get(url).text
    assert "Signed the contract" in page
    assert "Status changed" in page
    assert _record(pages, customer["id"])["status"] == "active"


def test_a_bad_status_is_shown_on_the_status_form(pages: Pages) -> None:
    _staff(pages)
    customer = make_customer(pages.db)
    response = pages.post_form(f"/admin/customers/{customer['id']}/status", {"status": "gone"})
    assert response.status_code == 422
    assert "s-status" in field_errors(response.text)


def test_details_save_only_what_changed(pages: Pages) -> None:
    _staff(pages)
    customer = make_customer(pages.db, city="Ipoh", lastContactAt="2026-01-02T03:04:05.678Z")
    url = f"/admin/customers/{customer['id']}"
    html = pages.get(url).text
    shown = dict(
        re.findall(r'<input id="f-([\w.]+)" name="[\w.]+" type="[\w-]+" value="([^"]*)"', html)
    )
    shown["city"] = "Kuala Lumpur"
    shown["version"] = "1"
    response = pages.post_form(f"{url}/details", shown)
    assert response.status_code == 303, field_errors(response.text)
    record = _record(pages, customer["id"])
    assert record["city"] == "Kuala Lumpur"
    # The form shows minutes only; the stored seconds survive a save of another field.
    assert record["lastContactAt"].second == 5


def test_a_field_error_on_details_is_shown_next_to_the_field(pages: Pages) -> None:
    _staff(pages)
    customer = make_customer(pages.db)
    response = pages.post_form(
        f"/admin/customers/{customer['id']}/details", {"email": "nope", "website": "ftp://x"}
    )
    assert response.status_code == 422
    assert {"email", "website"} <= set(field_errors(response.text))
    assert 'value="nope"' in response.text


def test_a_stale_version_says_the_record_changed(pages: Pages) -> None:
    _staff(pages)
    customer = make_customer(pages.db)
    url = f"/admin/customers/{customer['id']}"
    pages.post_form(f"{url}/details", {"city": "Ipoh", "version": "1"})
    response = pages.post_form(f"{url}/details", {"city": "Johor Bahru", "version": "1"})
    assert response.status_code == 412
    assert "changed this record" in response.text
    assert _record(pages, customer["id"])["city"] == "Ipoh"


def test_assignment_tags_contact_interactions_and_notes(pages: Pages) -> None:
    staff = _staff(pages)
    customer = make_customer(pages.db)
    url = f"/admin/customers/{customer['id']}"
    assert pages.post_form(f"{url}/assignment", {"assignedTo": staff["id"]}).status_code == 303
    assert pages.post_form(f"{url}/tags", {"tags": "VIP, wholesale"}).status_code == 303
    assert pages.post_form(f"{url}/contact", {"at": ""}).status_code == 303
    bad = pages.post_form(f"{url}/interactions", {"type": "call", "subject": ""})
    assert bad.status_code == 422
    assert "i-subject" in field_errors(bad.text)
    logged = pages.post_form(
        f"{url}/interactions",
        {"type": "meeting", "subject": "Quarterly review", "durationMinutes": "45"},
    )
    assert logged.status_code == 303
    noted = pages.post_form(
        f"{url}/notes", {"content": "Prefers WhatsApp", "visibility": "internal", "isPinned": "on"}
    )
    assert noted.status_code == 303
    record = _record(pages, customer["id"])
    assert record["assignedTo"] == staff["id"]
    assert record["lastContactAt"] is not None
    page = pages.get(url).text
    assert "Quarterly review" in page
    assert "Prefers WhatsApp" in page
    assert "vip, wholesale" in page.lower()


def test_deleting_an_interaction_and_the_customer(pages: Pages) -> None:
    _staff(pages)
    customer = make_customer(pages.db)
    url = f"/admin/customers/{customer['id']}"
    pages.post_form(f"{url}/interactions", {"type": "call", "subject": "Ring"})
    item_id = re.search(r"/interactions/([^/]+)/delete", pages.get(url).text).group(1)  # type: ignore[union-attr]
    assert pages.post_form(f"{url}/interactions/{item_id}/delete", {}).status_code == 303
    assert "Ring</strong>" not in pages.get(url).text
    response = pages.post_form(f"{url}/delete", {"version": ""})
    assert response.status_code == 303
    assert pages.get(url).status_code == 404


def test_the_page_speaks_malay(pages: Pages) -> None:
    _staff(pages)
    customer = make_customer(pages.db)
    page = pages.get(f"/admin/customers/{customer['id']}", headers={"Accept-Language": "ms"}).text
    assert "Tukar status" in page


def test_the_timeline_shows_the_tags_added_and_removed_and_the_reps_name(pages: Pages) -> None:
    staff = _staff(pages)
    customer = make_customer(pages.db, metadata={"tags": ["vip", "old"]})
    url = f"/admin/customers/{customer['id']}"
    assert pages.post_form(f"{url}/tags", {"tags": "VIP, wholesale"}).status_code == 303
    assert pages.post_form(f"{url}/assignment", {"assignedTo": staff["id"]}).status_code == 303
    page = pages.get(url).text
    assert "Tags added: wholesale" in page
    assert "Tags removed: old" in page
    assert "Assigned to: — → Rep One" in page
    assert staff["id"] + "</li>" not in page


def test_a_status_change_to_the_current_status_says_nothing_changed(pages: Pages) -> None:
    _staff(pages)
    customer = make_customer(pages.db, status="lead")
    url = f"/admin/customers/{customer['id']}"
    response = pages.post_form(f"{url}/status", {"status": "lead", "version": "1"})
    assert response.status_code == 303
    page = pages.get(response.headers["location"]).text
    assert "Status unchanged: the record already has this status" in page
    assert _record(pages, customer["id"])["version"] == 1
    changed = pages.post_form(f"{url}/status", {"status": "active", "version": "1"})
    assert "Status changed" in pages.get(changed.headers["location"]).text
