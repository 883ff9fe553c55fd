"""Account use cases: sign up, sign in, sign out, change password, who am I.

Password hashing takes ~0.1-0.3 s and 64 MiB, so the SQLite writer must never wait on it. The
use cases that hash therefore take the `Database` and run in three steps: read (one snapshot),
hash or verify (no connection held), write (one transaction with its audit rows). Every step is
a public function over a connection too, so tests and other faces can drive them one by one.
A failed sign-in is itself a write (throttle counter, audit row): the error is raised only after
that transaction has committed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from clientbook.access import Principal
from clientbook.db.engine import Database
from clientbook.db.tables import customers, users
from clientbook.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Throttled,
    Unauthenticated,
    ValidationFailed,
)
from clientbook.domain.ids import is_valid_id, new_id
from clientbook.domain.timestamps import utcnow
from clientbook.domain.users import validate_email_address, validate_password, validate_user_name
from clientbook.observability.metrics import count_login_failure
from clientbook.services import audit
from clientbook.services import users as user_service
from clientbook.services.auth import throttle
from clientbook.services.auth.api_keys import get_api_key, present_api_key
from clientbook.services.auth.credentials import Authentication
from clientbook.services.auth.sessions import (
    NewSession,
    create_session,
    prune_user_sessions,
    revoke_session,
    revoke_user_sessions,
)
from clientbook.services.passwords import hash_password, needs_rehash, verify_password

# One answer for an unknown email, a wrong password and an account without a password, so that
# sign-in never tells whether an account exists.
INVALID_CREDENTIALS = "Wrong email or password"
BLOCKED = "This account is blocked. Contact an administrator."
# The anonymous party of a sign-in attempt: never staff, so no permission check can go wrong.
ANONYMOUS = Principal(kind="user", id=None, role="user")
_CREDENTIAL_COLUMNS = [users.c[name] for name in ("id", "email", "role", "status", "passwordHash")]


@dataclass(frozen=True)
class SignedIn:
    """A user and the session just opened for them."""

    user: dict[str, Any]
    session: NewSession


@dataclass(frozen=True)
class LoginAttempt:
    """What the read step of a sign-in found: the account (if any) and the counters to check."""

    email: str
    account: dict[str, Any] | None
    counters: list[throttle.Counter]
    now: datetime


def anonymous(origin: Principal) -> Principal:
    """The origin of a request (request id, ip, user agent) as an unauthenticated party."""
    return ANONYMOUS.with_request(
        request_id=origin.request_id, ip=origin.ip, user_agent=origin.user_agent
    )


def as_user(origin: Principal, user_id: str, role: str) -> Principal:
    """`origin` (its request id, address, user agent) acting as the account `user_id`."""
    return replace(origin, kind="user", id=user_id, role=role)


# --- sign up ---------------------------------------------------------------------------------


def validate_signup(data: Mapping[str, Any]) -> dict[str, str]:
    """{email, password, name} cleaned, every failing field reported at once, unknown ones
    among them."""
    cleaned: dict[str, str] = {}
    rules = {
        "email": validate_email_address,
        "password": validate_password,
        "name": validate_user_name,
    }
    errors = dict.fromkeys((name for name in data if name not in rules), "unknown field")
    for field, rule in rules.items():
        value = data.get(field)
        if value is None:
            if field == "name":
                cleaned[field] = ""
            else:
                errors[field] = "is required"
            continue
        try:
            cleaned[field] = rule(value, field=field)
        except ValidationFailed as exc:
            errors.update(exc.fields)
    if errors:
        raise ValidationFailed(errors)
    return cleaned


def assert_email_free(conn: Connection, email: str) -> None:
    if user_service.find_user_by_email(conn, email) is not None:
        field, message = user_service.EMAIL_TAKEN
        raise Conflict(message, fields={field: message})


def register_account(
    conn: Connection,
    origin: Principal,
    values: Mapping[str, str],
    *,
    password_hash: str,
    user_id: str | None = None,
) -> dict[str, Any]:
    """Create a `user` account from validated sign-up values, without signing it in;
    `user_id` is the id the client chose (Appwrite's Account.create), else a new one."""
    user_id = user_id or new_id()
    actor = as_user(origin, user_id, "user")
    data = {"email": values["email"], "name": values.get("name", ""), "role": "user"}
    user = user_service.insert_user(conn, actor, data, password_hash=password_hash, user_id=user_id)
    audit.record(conn, actor, "user.signup", entity_type="user", entity_id=user_id)
    return user


def register(
    conn: Connection, origin: Principal, values: Mapping[str, str], *, password_hash: str
) -> SignedIn:
    """Create a `user` account from validated sign-up values and sign it in."""
    user = register_account(conn, origin, values, password_hash=password_hash)
    return open_session(conn, as_user(origin, user["id"], "user"), user["id"], utcnow())


def create_account(
    db: Database, origin: Principal, data: Mapping[str, Any], *, user_id: str | None = None
) -> dict[str, Any]:
    """Create a customer account (role `user`) without signing it in (Appwrite's
    Account.create: the session is a separate step). A taken id or email is Conflict."""
    values = validate_signup(data)
    if user_id is not None and not is_valid_id(user_id):
        raise ValidationFailed({"userId": "1-36 characters of a-z A-Z 0-9 . _ -"})
    with db.read() as conn:
        assert_email_free(conn, values["email"])
    password_hash = hash_password(values["password"])
    with db.transaction() as conn:
        return register_account(
            conn, anonymous(origin), values, password_hash=password_hash, user_id=user_id
        )


def signup(db: Database, origin: Principal, data: Mapping[str, Any]) -> SignedIn:
    """Create a customer account (role `user`) and sign it in."""
    values = validate_signup(data)
    with db.read() as conn:
        # Spare the slow hash when the email is taken; the unique index still decides races.
        assert_email_free(conn, values["email"])
    password_hash = hash_password(values["password"])
    with db.transaction() as conn:
        return register(conn, anonymous(origin), values, password_hash=password_hash)


# --- sign in ---------------------------------------------------------------------------------


def begin_login(conn: Connection, origin: Principal, email: str) -> LoginAttempt:
    """Read step: refuse a locked account or address (Throttled), and find the account."""
    now = utcnow()
    counters = throttle.counters_for(email, origin.ip)
    try:
        throttle.assert_not_locked(conn, counters, now)
    except Throttled:
        count_login_failure("throttled")
        raise
    account = user_service.find_user_by_email(conn, email) if email.strip() else None
    return LoginAttempt(email=email, account=account, counters=counters, now=now)


def check_password(attempt: LoginAttempt, password: str) -> tuple[bool, str | None]:
    """Slow step, no connection held: is the password right, and its rehash if one is due.

    An unknown account or one without a password is verified against a dummy hash, so that it
    takes as long as a wrong password.
    """
    stored = attempt.account["passwordHash"] if attempt.account else None
    if not verify_password(stored, password):
        return False, None
    assert stored is not None
    return True, hash_password(password) if needs_rehash(stored) else None


def finish_login(
    conn: Connection,
    origin: Principal,
    attempt: LoginAttempt,
    *,
    password_ok: bool,
    new_hash: str | None = None,
) -> SignedIn | DomainError:
    """Write step: count a failure or open a session, with the audit row.

    Returns the error rather than raising it, so that the caller's transaction commits the
    failure's counters and audit row before the error is raised.
    """
    account = attempt.account
    if account is not None:
        # The account may have changed since the read step (blocked, new password).
        current = _credentials_by_id(conn, account["id"])
        if current is None or current["passwordHash"] != account["passwordHash"]:
            password_ok = False
        account = current
    failure = _login_failure(account, password_ok)
    if failure is not None:
        return _record_failure(conn, origin, attempt, account, failure)
    assert account is not None
    return _record_success(conn, origin, attempt, account, new_hash)


def _login_failure(account: dict[str, Any] | None, password_ok: bool) -> str | None:
    """Why a sign-in fails (the audit reason), or None when it succeeds."""
    if account is None:
        return "unknown account"
    if account["status"] == "invited" or not account["passwordHash"]:
        return "account not activated"
    if not password_ok:
        return "wrong password"
    if account["status"] == "blocked":
        return "account blocked"
    return None


def _record_failure(
    conn: Connection,
    origin: Principal,
    attempt: LoginAttempt,
    account: dict[str, Any] | None,
    reason: str,
) -> DomainError:
    blocked = reason == "account blocked"
    if not blocked:
        # A blocked account's right password is not a guess; everything else counts.
        throttle.record_failure(conn, attempt.counters, attempt.now)
    entity_id = account["id"] if account else None
    audit.record(
        conn,
        anonymous(origin),
        "user.login_failed",
        entity_type="user",
        entity_id=entity_id,
        reason=reason,
    )
    count_login_failure(reason)
    return Forbidden(BLOCKED) if blocked else Unauthenticated(INVALID_CREDENTIALS)


def _record_success(
    conn: Connection,
    origin: Principal,
    attempt: LoginAttempt,
    account: dict[str, Any],
    new_hash: str | None,
) -> SignedIn:
    now = attempt.now
    user_id = account["id"]
    actor = as_user(origin, user_id, account["role"])
    throttle.reset(conn, attempt.counters[0])
    throttle.prune(conn, now)
    prune_user_sessions(conn, user_id, now)
    if new_hash is not None:
        # Compare-and-set: never overwrite a password changed in the meantime.
        conn.execute(
            update(users)
            .where(users.c.id == user_id, users.c.passwordHash == account["passwordHash"])
            .values(passwordHash=new_hash, passwordUpdatedAt=now)
        )
    audit.record(conn, actor, "user.login", entity_type="user", entity_id=user_id)
    return open_session(conn, actor, user_id, now)


def login(db: Database, origin: Principal, email: str, password: str) -> SignedIn:
    """Sign in with email and password. Raises Throttled, Unauthenticated or Forbidden."""
    with db.read() as conn:
        attempt = begin_login(conn, origin, email)
    password_ok, new_hash = check_password(attempt, password)
    with db.transaction() as conn:
        outcome = finish_login(conn, origin, attempt, password_ok=password_ok, new_hash=new_hash)
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome


# --- signed in -------------------------------------------------------------------------------


def logout(conn: Connection, authentication: Authentication) -> None:
    """End the session the request came with (an API key has none: nothing to do)."""
    if authentication.session_id is not None:
        revoke_session(conn, authentication.session_id)


def describe(conn: Connection, authentication: Authentication) -> dict[str, Any]:
    """`GET /auth/me`: the user (or API key), their customer record's id, the CSRF token."""
    principal = authentication.principal
    body: dict[str, Any] = {"user": None, "customerId": None}
    if principal.kind == "user" and principal.id is not None:
        body["user"] = user_service.present_user(user_service.get_user(conn, principal.id))
        body["customerId"] = conn.execute(
            select(customers.c.id).where(customers.c.userId == principal.id)
        ).scalar_one_or_none()
    elif authentication.api_key_id is not None:
        key = get_api_key(conn, principal, authentication.api_key_id)
        body["apiKey"] = present_api_key(key)
    body["csrfToken"] = authentication.csrf_token
    return body


def change_password(
    db: Database, authentication: Authentication, current_password: Any, new_password: Any
) -> SignedIn:
    """Check the current password, set the new one, end every session and open a fresh one
    (the native API and the web: the caller gets a new token).

    A wrong current password counts against the sign-in throttle, so that a stolen session
    cannot be used to guess the password.
    """
    principal, account, new_hash = _checked_password_change(
        db, authentication, current_password, new_password
    )
    with db.transaction() as conn:
        replace_password(conn, principal, account, new_hash)
        return open_session(conn, principal, account["id"], utcnow())


def change_password_keeping_session(
    db: Database, authentication: Authentication, current_password: Any, new_password: Any
) -> dict[str, Any]:
    """`change_password` as Appwrite does it: the session that asked stays signed in, every
    other session of the user ends. Returns the user."""
    principal, account, new_hash = _checked_password_change(
        db, authentication, current_password, new_password
    )
    with db.transaction() as conn:
        replace_password(conn, principal, account, new_hash, keep=authentication.session_id)
        return user_service.get_user(conn, account["id"])


def _checked_password_change(
    db: Database, authentication: Authentication, current_password: Any, new_password: Any
) -> tuple[Principal, dict[str, Any], str]:
    """Read and slow steps of a password change: who, their account, the new password's hash."""
    principal = authentication.principal
    if principal.kind != "user" or principal.id is None:
        raise Forbidden("Only a signed-in user can change their password")
    errors = _new_password_errors(new_password)
    if not isinstance(current_password, str) or not current_password:
        raise ValidationFailed({"currentPassword": "is required", **errors})
    with db.read() as conn:
        account = _credentials_by_id(conn, principal.id)
        if account is None:
            raise Unauthenticated("Sign in again")
        counters = throttle.counters_for(account["email"] or account["id"], principal.ip)
        throttle.assert_not_locked(conn, counters, utcnow())
    if not verify_password(account["passwordHash"], current_password):
        with db.transaction() as conn:
            throttle.record_failure(conn, counters, utcnow())
        raise ValidationFailed({"currentPassword": "is not correct", **errors})
    if errors:
        raise ValidationFailed(errors)
    return principal, account, hash_password(new_password)


def rename(conn: Connection, principal: Principal | None, name: Any) -> dict[str, Any]:
    """A signed-in user changes their own display name; one audit row (none when unchanged)."""
    if principal is None or principal.kind != "user" or principal.id is None:
        raise Forbidden("Only a signed-in user can change their name")
    clean = validate_user_name(name)
    current = user_service.get_user(conn, principal.id)
    if current["name"] == clean:
        return current
    conn.execute(
        update(users).where(users.c.id == principal.id).values(name=clean, updatedAt=utcnow())
    )
    audit.record(
        conn,
        principal,
        "user.updated",
        entity_type="user",
        entity_id=principal.id,
        changes=audit.diff(current, {"name": clean}),
    )
    return user_service.get_user(conn, principal.id)


def _new_password_errors(value: Any) -> dict[str, str]:
    if value is None:
        return {"newPassword": "is required"}
    try:
        validate_password(value, field="newPassword")
    except ValidationFailed as exc:
        return dict(exc.fields)
    return {}


def replace_password(
    conn: Connection,
    principal: Principal,
    account: Mapping[str, Any],
    new_hash: str,
    *,
    keep: str | None = None,
) -> None:
    """Write step of a password change: the hash (compare-and-set), the end of every session of
    the user but `keep` (the caller's, when it stays), the audit row."""
    now = utcnow()
    changed = conn.execute(
        update(users)
        .where(users.c.id == account["id"], users.c.passwordHash == account["passwordHash"])
        .values(passwordHash=new_hash, passwordUpdatedAt=now, updatedAt=now)
    ).rowcount
    if not changed:
        raise Conflict("The password was changed meanwhile; sign in again")
    revoke_user_sessions(conn, account["id"], keep=keep)
    audit.record(
        conn, principal, "user.password_changed", entity_type="user", entity_id=account["id"]
    )


# --- helpers ---------------------------------------------------------------------------------


def open_session(conn: Connection, actor: Principal, user_id: str, now: datetime) -> SignedIn:
    conn.execute(update(users).where(users.c.id == user_id).values(lastLoginAt=now))
    session = create_session(conn, user_id, origin=actor, now=now)
    return SignedIn(user=user_service.get_user(conn, user_id), session=session)


def _credentials_by_id(conn: Connection, user_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(*_CREDENTIAL_COLUMNS).where(users.c.id == user_id)).first()
    return None if row is None else dict(row._mapping)
