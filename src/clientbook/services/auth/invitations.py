"""Invitation links: how an invited account (no password yet) becomes an active one.

Staff issue a link for an invited account (`issue_invitation`); it is shown once, lasts
`INVITATION_DAYS`, and a new one replaces the old. Whoever opens it chooses a password
(`accept_invitation`): the account turns `active` and is signed in, and every link of the
account is spent. The database keeps only the sha256 of a link's token, as for sessions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from clientbook.access import Principal, require_staff
from clientbook.db.engine import Database
from clientbook.db.tables import invitations, users
from clientbook.domain.errors import Conflict, NotFound
from clientbook.domain.ids import new_id
from clientbook.domain.timestamps import utcnow
from clientbook.domain.users import validate_password
from clientbook.services import audit
from clientbook.services import users as user_service
from clientbook.services.auth.accounts import SignedIn, as_user, open_session
from clientbook.services.auth.tokens import hash_token, new_token
from clientbook.services.passwords import hash_password

INVITATION_DAYS = 7
INVALID_INVITATION = "This invitation link is not valid any more: ask for a new one"
_TOKEN_MAX = 128  # far above a real token; refuses absurd input before hashing


@dataclass(frozen=True)
class IssuedInvitation:
    """A new link's token: the only copy, for staff to pass on (e.g. `/accept?token=…`)."""

    user_id: str
    token: str
    expires_at: datetime


def issue_invitation(
    conn: Connection, principal: Principal | None, user_id: str
) -> IssuedInvitation:
    """A fresh link for an invited account (an earlier one stops working); staff only."""
    principal = require_staff(principal)
    account = user_service.get_user(conn, user_id)
    if account["status"] != "invited":
        raise Conflict("Only an invited account can be sent an invitation link")
    now = utcnow()
    token = new_token()
    issued = IssuedInvitation(user_id, token, now + timedelta(days=INVITATION_DAYS))
    conn.execute(delete(invitations).where(invitations.c.userId == user_id))
    conn.execute(
        insert(invitations),
        [
            {
                "id": new_id(),
                "userId": user_id,
                "tokenHash": hash_token(token),
                "createdAt": now,
                "expiresAt": issued.expires_at,
                "createdBy": principal.user_id,
            }
        ],
    )
    audit.record(conn, principal, "user.invited", entity_type="user", entity_id=user_id)
    return issued


def invited_account(conn: Connection, token: str) -> dict[str, Any]:
    """The invited account a link opens; NotFound for an unknown, spent or expired link."""
    if not token or len(token) > _TOKEN_MAX:
        raise NotFound(INVALID_INVITATION)
    row = conn.execute(
        select(users.c.id, users.c.email, users.c.name)
        .join(invitations, invitations.c.userId == users.c.id)
        .where(
            invitations.c.tokenHash == hash_token(token),
            invitations.c.expiresAt > utcnow(),
            users.c.status == "invited",
        )
    ).first()
    if row is None:
        raise NotFound(INVALID_INVITATION)
    return dict(row._mapping)


def accept_invitation(db: Database, origin: Principal, token: str, password: Any) -> SignedIn:
    """Set the invited account's password, make it active and sign it in."""
    password = validate_password(password)
    with db.read() as conn:
        account = invited_account(conn, token)  # spare the slow hash for a dead link
    password_hash = hash_password(password)
    with db.transaction() as conn:
        account = invited_account(conn, token)  # still good, now inside the writer
        now = utcnow()
        conn.execute(
            update(users)
            .where(users.c.id == account["id"])
            .values(passwordHash=password_hash, status="active", passwordUpdatedAt=now,
                    updatedAt=now)
        )  # fmt: skip
        conn.execute(delete(invitations).where(invitations.c.userId == account["id"]))
        actor = as_user(origin, account["id"], "user")
        audit.record(
            conn, actor, "user.activated", entity_type="user", entity_id=account["id"],
            changes={"status": {"from": "invited", "to": "active"}},
        )  # fmt: skip
        return open_session(conn, actor, account["id"], now)
