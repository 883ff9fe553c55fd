"""Sign in, sign up, sign out, the form token and the page language."""

from __future__ import annotations

import httpx
import pytest

from clientbook.web import i18n
from tests.factories import TEST_PASSWORD, make_staff, make_user
from tests.web.conftest import Pages, field_errors


def test_sign_up_shows_every_field_error_next_to_its_field(pages: Pages) -> None:
    response = pages.post_form("/signup", {"email": "bad", "password": "short", "name": ""})
    assert response.status_code == 422
    errors = field_errors(response.text)
    assert set(errors) == {"email", "password"}
    assert "at least 8 characters" in errors["password"]
    assert 'value="bad"' in response.text  # what was typed stays in the form


def test_sign_up_signs_in_and_goes_to_the_portal(pages: Pages) -> None:
    response = pages.post_form(
        "/signup", {"email": "ann@example.com", "password": TEST_PASSWORD, "name": "Ann"}
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/")
    assert "clientbook_session" in response.headers["set-cookie"]
    assert "HttpOnly" in response.headers["set-cookie"]


def test_a_taken_email_is_reported_on_the_email_field(pages: Pages) -> None:
    make_user(pages.db, email="taken@example.com")
    response = pages.post_form(
        "/signup", {"email": "taken@example.com", "password": TEST_PASSWORD, "name": "X"}
    )
    assert response.status_code in (409, 422)
    assert "email" in field_errors(response.text)


@pytest.mark.parametrize(("role", "home"), [("staff", "/admin"), ("user", "/")])
def test_sign_in_goes_home_by_role(pages: Pages, role: str, home: str) -> None:
    account = make_staff(pages.db) if role == "staff" else make_user(pages.db)
    response = pages.post_form("/signin", {"email": account["email"], "password": TEST_PASSWORD})
    assert response.status_code == 303
    assert response.headers["location"] == home


def test_wrong_password_says_so_without_naming_which(pages: Pages) -> None:
    user = make_user(pages.db)
    response = pages.post_form("/signin", {"email": user["email"], "password": "wrong-password"})
    assert response.status_code == 401
    assert 'role="alert"' in response.text
    assert "clientbook_session" not in response.headers.get("set-cookie", "")


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil"])
def test_next_never_leaves_the_site(pages: Pages, target: str) -> None:
    user = make_user(pages.db)
    response = pages.post_form(
        "/signin", {"email": user["email"], "password": TEST_PASSWORD, "next": target}
    )
    assert response.headers["location"] == "/"


def test_next_keeps_a_local_path(pages: Pages) -> None:
    staff = make_staff(pages.db)
    response = pages.post_form(
        "/signin", {"email": staff["email"], "password": TEST_PASSWORD, "next": "/admin/x?y=1"}
    )
    assert response.headers["location"] == "/admin/x?y=1"


def test_a_form_without_its_token_is_refused(pages: Pages) -> None:
    pages.get("/signin")
    response = pages.post("/signin", data={"email": "a@example.com", "password": "x"})
    assert response.status_code == 403
    staff = make_staff(pages.db)
    pages.sign_in(staff)
    response = pages.post("/signout", data={"csrf_token": "forged"})
    assert response.status_code == 403


def test_a_signed_out_token_needs_its_cookie(pages: Pages) -> None:
    token = pages.form_token()
    pages.cookies.clear()
    response = pages.post("/signin", data={"csrf_token": token, "email": "a@example.com"})
    assert response.status_code == 403


def test_sign_out_ends_the_session(pages: Pages) -> None:
    staff = make_staff(pages.db)
    pages.sign_in(staff)
    response = pages.post_form("/signout", {})
    assert response.status_code == 303
    assert pages.get("/signin", follow_redirects=False).status_code == 200  # signed out again


def test_the_page_language_follows_the_browser(pages: Pages) -> None:
    response = pages.get("/signin", headers={"Accept-Language": "ms-MY,ms;q=0.9,en;q=0.5"})
    assert response.headers["content-language"] == "ms"
    assert '<html lang="ms">' in response.text
    assert i18n.messages("ms")["Sign in"] in response.text
    english = pages.get("/signin", headers={"Accept-Language": "fr, en;q=0.2"})
    assert english.headers["content-language"] == "en"


def test_the_language_switch_remembers_the_choice(pages: Pages) -> None:
    response = pages.post_form("/language", {"language": "ms", "next": "/signin"})
    assert response.status_code == 303
    assert pages.get("/signin").headers["content-language"] == "ms"
    assert pages.post_form("/language", {"language": "xx"}).status_code == 422


def test_the_pages_cookies_are_secure_over_https(pages: Pages) -> None:
    # Only the session cookie was: the sign-in form's token and the language were not.
    pages.base_url = httpx.URL("https://testserver")
    cookies = pages.get("/signin").headers.get_list("set-cookie")
    cookies += pages.post_form("/language", {"language": "ms"}).headers.get_list("set-cookie")
    names = {cookie.split("=")[0] for cookie in cookies}
    assert names >= {"clientbook_csrf", "clientbook_language"}
    for cookie in cookies:
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie, cookie


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en"),
        ("ms", "ms"),
        ("en-GB,en;q=0.9", "en"),
        ("de;q=1, ms;q=0.8, en;q=0.5", "ms"),
        ("ms;q=0, en", "en"),
        ("*", "en"),
        ("garbage;;;q=x, ms", "ms"),
    ],
)
def test_negotiate(header: str | None, expected: str) -> None:
    assert i18n.negotiate(None, header) == expected
    assert i18n.negotiate("ms", header) == "ms"


def test_field_errors_keep_their_numbers_in_malay() -> None:
    i18n.set_language("ms")
    try:
        translated = i18n.translate_message("must be at most 255 characters")
    finally:
        i18n.set_language("en")
    assert "255" in translated
    assert translated != "must be at most 255 characters"


def test_an_invitation_link_sets_the_password_and_signs_in(pages: Pages) -> None:
    from clientbook.access import SYSTEM
    from clientbook.services import auth
    from clientbook.services import users as user_service

    invited = user_service.create_or_invite(pages.db, SYSTEM, {"email": "inv@example.com"})
    with pages.db.transaction() as conn:
        token = auth.issue_invitation(conn, SYSTEM, invited["id"]).token
    page = pages.get(f"/accept?token={token}")
    assert page.status_code == 200
    assert "inv@example.com" in page.text
    weak = pages.post_form("/accept", {"token": token, "password": "short"})
    assert weak.status_code == 422
    assert "password" in field_errors(weak.text)
    done = pages.post_form("/accept", {"token": token, "password": TEST_PASSWORD})
    assert done.status_code == 303
    assert "clientbook_session" in done.headers["set-cookie"]
    assert pages.get(f"/accept?token={token}").status_code == 404
