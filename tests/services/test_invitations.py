"""Invitation links: an invited account sets its password once, and becomes active."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from clientbook.access import SYSTEM
from clientbook.db.engine import Database
from clientbook.db.tables import audit_logs, invitations, users
from clientbook.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from clientbook.domain.timestamps import utcnow
from clientbook.services import auth
from clientbook.services import users as user_service
from tests.factories import TEST_PASSWORD, as_principal, make_staff, make_user

ORIGIN = auth.ANONYMOUS


def _invited(db: Database, email: str = "new.person@example.com") -> dict:
    return user_service.create_or_invite(db, SYSTEM, {"email": email, "name": "New Person"})


def _issue(db: Database, user_id: str) -> auth.IssuedInvitation:
    with db.transaction() as conn:
        return auth.issue_invitation(conn, SYSTEM, user_id)


def test_accepting_sets_the_password_and_signs_in(database: Database) -> None:
    invited = _invited(database)
    issued = _issue(database, invited["id"])
    signed = auth.accept_invitation(database, ORIGIN, issued.token, TEST_PASSWORD)
    assert signed.user["id"] == invited["id"]
    assert signed.user["status"] == "active"
    login = auth.login(database, ORIGIN, invited["email"], TEST_PASSWORD)
    assert login.user["id"] == invited["id"]
    with database.read() as conn:
        actions = conn.execute(
            select(audit_logs.c.action).where(audit_logs.c.entityId == invited["id"])
        ).scalars()
        assert {"user.invited", "user.activated"} <= set(actions)
        assert conn.execute(select(invitations)).first() is None  # spent


def test_a_link_works_once(database: Database) -> None:
    issued = _issue(database, _invited(database)["id"])
    auth.accept_invitation(database, ORIGIN, issued.token, TEST_PASSWORD)
    with pytest.raises(NotFound):
        auth.accept_invitation(database, ORIGIN, issued.token, "another-password")


def test_a_new_link_replaces_the_old_one(database: Database) -> None:
    invited = _invited(database)
    first = _issue(database, invited["id"])
    second = _issue(database, invited["id"])
    with pytest.raises(NotFound):
        auth.accept_invitation(database, ORIGIN, first.token, TEST_PASSWORD)
    auth.accept_invitation(database, ORIGIN, second.token, TEST_PASSWORD)


def test_an_expired_link_is_refused(database: Database) -> None:
    issued = _issue(database, _invited(database)["id"])
    with database.transaction() as conn:
        conn.execute(update(invitations).values(expiresAt=utcnow() - timedelta(seconds=1)))
    with pytest.raises(NotFound):
        auth.accept_invitation(database, ORIGIN, issued.token, TEST_PASSWORD)


@pytest.mark.parametrize("token", ["", "x" * 500, "not-a-real-token"])
def test_unknown_tokens_are_refused(database: Database, token: str) -> None:
    with pytest.raises(NotFound):
        auth.accept_invitation(database, ORIGIN, token, TEST_PASSWORD)


def test_a_weak_password_is_refused_and_the_link_still_works(database: Database) -> None:
    issued = _issue(database, _invited(database)["id"])
    with pytest.raises(ValidationFailed) as failed:
        auth.accept_invitation(database, ORIGIN, issued.token, "short")
    assert set(failed.value.fields) == {"password"}
    auth.accept_invitation(database, ORIGIN, issued.token, TEST_PASSWORD)


def test_only_invited_accounts_get_links_and_only_from_staff(database: Database) -> None:
    active = make_user(database)
    with pytest.raises(Conflict):
        _issue(database, active["id"])
    invited = _invited(database)
    with pytest.raises(Forbidden), database.transaction() as conn:
        auth.issue_invitation(conn, as_principal(active), invited["id"])
    staff = as_principal(make_staff(database))
    with database.transaction() as conn:
        assert auth.issue_invitation(conn, staff, invited["id"]).token


def test_a_blocked_account_cannot_use_an_old_link(database: Database) -> None:
    invited = _invited(database)
    issued = _issue(database, invited["id"])
    with database.transaction() as conn:
        conn.execute(update(users).where(users.c.id == invited["id"]).values(status="blocked"))
    with pytest.raises(NotFound):
        auth.accept_invitation(database, ORIGIN, issued.token, TEST_PASSWORD)
